"""The inference handlers, called the way the stock XGBoost container calls them.

``pipeline.serving.container.ContainerTransformer`` replays sagemaker-containers 2.8.6's
``Transformer`` (``initialize`` -> ``model_fn``; per request ``input_fn`` -> ``predict_fn`` ->
``output_fn``, each wrapped by ``error_wrapper``, so an exception is a 500) and ``_worker.Request``
(body as text only for exactly ``application/json`` and ``text/csv``; ``Accept`` missing or
``*/*`` -> ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``). See steps/inference.py's docstring.
"""

from __future__ import annotations

import importlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.serving.app import ServingApp
from pipeline.serving.container import ContainerTransformer, module_name
from steps import inference
from steps.artifact import open_artifact
from steps.decision import DecisionModel
from tests.test_decision import artifact  # noqa: F401  (the module-scoped fixture)

JOB_CONFIG = "/opt/ml/config/processingjobconfig.json"
ROWS = pd.DataFrame({"amount": [0.25, -1.5, 2.0], "site": ["c", "a", "b"]})


@pytest.fixture(scope="module")
def model_dir(artifact, tmp_path_factory):  # noqa: F811
    """The artifact extracted, as SageMaker extracts model.tar.gz into /opt/ml/model."""
    return open_artifact(artifact[0], tmp_path_factory.mktemp("opt-ml-model"))


@pytest.fixture
def worker(model_dir, monkeypatch):
    monkeypatch.delenv(inference.MODEL_PACKAGE_ENV, raising=False)
    transformer = ContainerTransformer("steps.inference", str(model_dir), environ={})
    transformer.initialize()
    return transformer


@pytest.fixture(scope="module")
def expected(model_dir):
    model = DecisionModel.load(model_dir)
    return model.predict_proba(ROWS)[:, 0], model.predict(ROWS)[:, 0]


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(header=False, index=False).encode()


def _scores(reply) -> tuple[list[float], list[int]]:
    document = json.loads(reply.body)
    rows = document["predictions"]
    return [r["scores"]["bad"] for r in rows], [r["decisions"]["bad"] for r in rows]


def test_the_program_the_environment_names_is_this_module():
    environment = inference.model_environment("s3://b/p/code/abc/sourcedir.tar.gz", "eu-west-1")
    assert environment == {
        "SAGEMAKER_PROGRAM": "steps.inference",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/p/code/abc/sourcedir.tar.gz",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "eu-west-1",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json",
    }
    # sagemaker-containers only strips '.py': a path would name an unimportable module.
    assert module_name("steps/inference.py") == "steps/inference"
    assert importlib.import_module(module_name(environment["SAGEMAKER_PROGRAM"])) is inference


def test_csv_rows_without_a_header_score_like_the_python_api(worker, expected):
    reply = worker.invoke({"Content-Type": "text/csv"}, _csv(ROWS))
    assert reply.status == 200 and reply.mimetype == "application/json"
    scores, decisions = _scores(reply)
    np.testing.assert_array_equal(scores, expected[0])
    assert decisions == expected[1].tolist()
    document = json.loads(reply.body)
    assert document["thresholds"] == {"bad": 0.4} and document["model"] == "fn5-fp1"
    assert "model_package" not in document


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps(ROWS.to_dict(orient="records"))),
        ("application/json", json.dumps({"instances": ROWS.to_dict(orient="records")})),
        ("application/json", json.dumps({"instances": ROWS.to_numpy().tolist()})),
        ("application/jsonlines", "\n".join(json.dumps(r) for r in ROWS.to_dict("records"))),
        ("text/csv; charset=utf-8", ROWS.to_csv(header=False, index=False)),
    ],
)
def test_every_request_format_gives_the_same_scores(worker, expected, content_type, body):
    reply = worker.invoke({"Content-Type": content_type}, body.encode())
    assert reply.status == 200, reply.body
    np.testing.assert_array_equal(_scores(reply)[0], expected[0])


def test_csv_and_json_lines_responses(worker, expected):
    reply = worker.invoke({"Content-Type": "text/csv", "Accept": "text/csv"}, _csv(ROWS))
    assert reply.status == 200 and reply.mimetype == "text/csv"
    lines = [line.split(",") for line in reply.body.decode().splitlines()]
    assert [float(line[0]) for line in lines] == expected[0].tolist()
    assert [int(line[1]) for line in lines] == expected[1].tolist()
    assert {line[2] for line in lines} == {"0.4"}
    reply = worker.invoke(
        {"Content-Type": "text/csv", "Accept": "application/jsonlines"}, _csv(ROWS)
    )
    rows = [json.loads(line) for line in reply.body.decode().splitlines()]
    assert [r["scores"]["bad"] for r in rows] == expected[0].tolist()
    assert rows[0]["thresholds"] == {"bad": 0.4}


def test_a_missing_accept_takes_the_containers_default(model_dir, expected):
    transformer = ContainerTransformer(
        "steps.inference",
        str(model_dir),
        environ={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    )
    transformer.initialize()
    reply = transformer.invoke({"Content-Type": "text/csv", "Accept": "*/*"}, _csv(ROWS))
    assert reply.mimetype == "text/csv"


def test_the_model_package_is_named_when_the_environment_sets_it(worker, monkeypatch):
    monkeypatch.setenv(inference.MODEL_PACKAGE_ENV, "arn:aws:sagemaker:local:0:model-package/g/3")
    reply = worker.invoke({"Content-Type": "text/csv"}, _csv(ROWS))
    assert json.loads(reply.body)["model_package"] == "arn:aws:sagemaker:local:0:model-package/g/3"


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({"Content-Type": "text/csv"}, b"", 400, "the request body is empty"),
        (
            {"Content-Type": "text/csv"},
            b"1.0\n",
            400,
            "CSV line 1 has 1 values but the model takes 2",
        ),
        ({"Content-Type": "text/csv"}, b"amount,site\n1,a\n", 400, "the first row is a header"),
        (
            {"Content-Type": "text/csv"},
            b"abc,a\n",
            400,
            "column 'amount' is numeric but holds 'abc'",
        ),
        ({"Content-Type": "text/csv"}, b"1,zz\n", 400, "column 'site' holds the category 'zz'"),
        ({"Content-Type": "application/json"}, b'[{"amount": 1}]', 400, "column 'site' is missing"),
        (
            {"Content-Type": "application/json"},
            b'[{"amount": 1, "site": "a", "x": 2}]',
            400,
            "column 'x' is not one the model was trained on",
        ),
        (
            {"Content-Type": "application/json"},
            b'[{"amount": 1, "site": "a"}, {"amount": 2}]',
            400,
            "record 2 lacks column 'site'",
        ),
        ({"Content-Type": "application/json"}, b"{nope", 400, "the JSON body is not valid JSON"),
        ({"Content-Type": "application/json"}, b'{"rows": []}', 400, "without 'instances'"),
        ({"Content-Type": "text/plain"}, b"1,a", 415, "content type 'text/plain' is not supported"),
        (
            {"Content-Type": "text/csv", "Accept": "image/png"},
            b"1,a",
            406,
            "accept type 'image/png'",
        ),
        (
            {"Content-Type": "text/csv"},
            b"1,a\n" * (inference.MAX_REQUEST_BYTES // 4 + 1),
            413,
            "more than the 6,291,456 allowed",
        ),
    ],
)
def test_bad_requests_are_4xx_with_one_line(worker, headers, body, status, message):
    reply = worker.invoke(headers, body)
    assert reply.status == status
    assert reply.mimetype == "application/json"
    text = reply.body.decode()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert message in json.loads(text)["error"]


def test_a_failure_to_score_is_the_containers_500(worker):
    worker.model = None  # predict_fn raises: error_wrapper -> ClientError -> Flask's 500
    reply = worker.invoke({"Content-Type": "text/csv"}, _csv(ROWS))
    assert reply.status == 500


def _call(app, method: str, path: str, body: bytes = b"", **headers: str):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    if "HTTP_CONTENT_TYPE" in environ:
        environ["CONTENT_TYPE"] = environ.pop("HTTP_CONTENT_TYPE")
    seen = {}

    def start_response(status, response_headers):
        seen["status"] = status
        seen["headers"] = dict(response_headers)

    chunks = app(environ, start_response)
    return seen["status"], b"".join(chunks)


def test_the_wsgi_app_speaks_sagemakers_http_contract(model_dir, expected):
    app = ServingApp(str(model_dir))
    assert _call(app, "GET", "/ping")[0] == "200 OK"
    status, body = _call(app, "POST", "/invocations", _csv(ROWS), content_type="text/csv")
    assert status == "200 OK"
    scores = [r["scores"]["bad"] for r in json.loads(body)["predictions"]]
    np.testing.assert_array_equal(scores, expected[0])
    assert _call(app, "GET", "/invocations")[0] == "405 Method Not Allowed"
    assert _call(app, "GET", "/other")[0] == "404 Not Found"
    status, body = _call(app, "POST", "/invocations", b"1,zz\n", content_type="text/csv")
    assert status == "400 Bad Request" and b"'site'" in body


def test_the_registered_package_runs_these_handlers_on_the_artifact(breast_cancer_csv):
    from pipeline.code_bundle import CodeBundle
    from pipeline.definition import build_definition
    from pipeline.runner import local_target
    from tests.conftest import fast_config

    config = fast_config(breast_cancer_csv)
    target = local_target(config)
    code = CodeBundle.from_directory()
    definition = build_definition(config, target, code, "s3://bucket/in.csv")
    check = next(s for s in definition["Steps"] if s["Type"] == "Condition")
    register = check["Arguments"]["IfSteps"][0]["Arguments"]
    spec = register["InferenceSpecification"]
    container = spec["Containers"][0]
    assert container["Environment"] == inference.model_environment(
        code.sourcedir_uri(target.bucket, target.pipeline_name), target.region
    )
    assert container["ModelDataUrl"]["Std:JsonGet"]["Path"] == "best.model_uri"
    assert spec["SupportedContentTypes"] == list(inference.REQUEST_TYPES)
    evaluate = next(s for s in definition["Steps"] if s["Name"] == "Evaluate")["Arguments"]
    outputs = {o["OutputName"]: o for o in evaluate["ProcessingOutputConfig"]["Outputs"]}
    assert outputs["artifact"]["S3Output"]["LocalPath"] == "/opt/ml/processing/output/artifact"
    # No argument names the execution: Evaluate reads the artifact's S3 address from its job
    # config, so the step's cache key stays the same from one execution to the next.
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert "PipelineExecutionId" not in json.dumps(arguments)
    assert {"Std:Join": {"On": "", "Values": ["--job-config=", JOB_CONFIG]}} in arguments
    assert "PipelineExecutionId" in json.dumps(outputs["artifact"]["S3Output"]["S3Uri"])
