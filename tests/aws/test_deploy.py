"""costpipe deploy and costpipe predict --target sagemaker, against moto.

moto implements CreateModel (with a ModelPackageName container), CreateEndpointConfig,
CreateEndpoint (InService at once) and InvokeEndpoint; its InvokeEndpoint answers from a queue of
canned results, so the test queues what our handlers answer for the same rows (run locally in
the container's call sequence) and checks the client's request splitting and joining.
"""

from __future__ import annotations

import json

import boto3
import numpy as np
import pandas as pd
import pytest
import requests
from moto import mock_aws

from pipeline.cli import main
from pipeline.serving.container import ContainerTransformer
from pipeline.serving.sagemaker import csv_bodies
from steps.artifact import open_artifact
from steps.decision import DecisionModel
from steps.inference import MAX_REQUEST_BYTES
from steps.model_package import model_environment
from tests.aws.support import BUCKET, REGION, ROLE
from tests.test_decision import artifact  # noqa: F401  (the module-scoped fixture)

GROUP = "fraud"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROWS = pd.DataFrame({"amount": [0.25, -1.5, 2.0, 0.0], "site": ["c", "a", "b", "a"]})


@pytest.fixture
def registered(artifact):  # noqa: F811
    """moto's S3 holding the artifact and its registry one version of GROUP, pending approval."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="a/model.tar.gz", Body=artifact[0].read_bytes())
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        package = sm.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": f"s3://{BUCKET}/a/model.tar.gz",
                        "Environment": model_environment(f"s3://{BUCKET}/code/s.tar.gz", REGION),
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )
        yield sm, package["ModelPackageArn"], artifact[0]


def _deploy(*extra: str) -> list[str]:
    return ["deploy", "--target", "sagemaker", "--role-arn", ROLE, "--region", REGION, *extra]


def test_a_package_that_is_not_approved_is_refused(registered, capsys):
    sm, arn, _ = registered
    assert main(_deploy(arn, "--json")) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"costpipe: error: model package {arn} is PendingManualApproval, not Approved: approve "
        "it (costpipe registry approve --target sagemaker) or pass --allow-unapproved"
    )
    assert sm.list_endpoints()["Endpoints"] == []


def test_deploy_makes_an_endpoint_that_names_its_package(registered, capsys):
    sm, arn, _ = registered
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert main(_deploy(f"{GROUP}/1", "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["endpoint_name"] == "fraud-v1" and result["status"] == "InService"
    model = sm.describe_model(ModelName="fraud-v1")
    container = model["Containers"][0]
    assert container["ModelPackageName"] == arn
    assert container["Environment"] == {"COSTPIPE_MODEL_PACKAGE": arn}
    config = sm.describe_endpoint_config(EndpointConfigName="fraud-v1")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"


def test_deploy_needs_a_role(registered, capsys, monkeypatch):
    _, arn, _ = registered
    monkeypatch.delenv("COSTPIPE_ROLE_ARN", raising=False)
    assert main(["deploy", arn, "--target", "sagemaker", "--region", REGION]) == 2
    assert "the SageMaker execution role" in capsys.readouterr().err


def test_predict_on_an_endpoint_sends_csv_in_column_order_and_joins_the_answers(
    registered, tmp_path, capsys
):
    _, arn, archive = registered
    assert main(_deploy(arn, "--allow-unapproved", "--endpoint-name", "fraud-test")) == 0
    capsys.readouterr()
    model_dir = open_artifact(archive, tmp_path / "model")
    worker = ContainerTransformer("steps.inference", str(model_dir), environ={})
    worker.initialize()
    body = csv_bodies(ROWS, DecisionModel.load(model_dir).input_schema_["columns"])[0]
    answer = worker.invoke(
        {"Content-Type": "text/csv", "Accept": "application/json"}, body.encode()
    )
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={
            "region": REGION,
            "results": [{"Body": answer.body.decode(), "ContentType": "application/json"}],
        },
        timeout=10,
    )
    data = tmp_path / "rows.csv"
    ROWS[["site", "amount"]].to_csv(data, index=False)  # any column order in the file
    out = tmp_path / "out.csv"
    code = main(
        [
            *("predict", "--data", str(data), "--target", "sagemaker"),
            *("--endpoint", "fraud-test", "--region", REGION, "--out", str(out)),
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = pd.read_csv(out)
    expected = DecisionModel.load(model_dir).predict_proba(ROWS)[:, 0]
    np.testing.assert_allclose(rows["score:bad"], expected, rtol=0, atol=1e-12)
    assert rows["row"].tolist() == [0, 1, 2, 3]


def test_bodies_stay_under_the_request_limit_and_keep_row_order():
    frame = pd.DataFrame({"text": ["x" * 1000] * 20000, "n": np.arange(20000, dtype=float)})
    bodies = csv_bodies(frame, ["text", "n"])
    assert len(bodies) == 4
    assert all(len(b.encode()) <= MAX_REQUEST_BYTES for b in bodies)
    lines = [line for b in bodies for line in b.splitlines()]
    assert [float(line.split(",")[1]) for line in lines] == frame["n"].tolist()


def _batch(*extra: str) -> list[str]:
    return ["predict", "--target", "sagemaker", "--role-arn", ROLE, "--region", REGION, *extra]


def test_a_batch_transform_scores_an_s3_file_with_the_package(registered, capsys):
    """--data s3://... runs a transform job: a Model from the package (naming it to the
    handlers), JSON Lines in and out, one record a request, the output where SageMaker puts it.
    moto completes transform jobs without running them, so this checks the requests."""
    sm, arn, _ = registered
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    data = f"s3://{BUCKET}/batch/rows.jsonl"
    assert (
        main(
            _batch(
                "--data", data, "--package", f"{GROUP}/1", "--out", f"s3://{BUCKET}/o/", "--json"
            )
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "Completed" and result["model_package_arn"] == arn
    assert result["output"] == f"s3://{BUCKET}/o/rows.jsonl.out"
    job = sm.describe_transform_job(TransformJobName=result["transform_job_name"])
    assert job["TransformInput"]["ContentType"] == "application/jsonlines"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == data
    assert job["TransformOutput"] == {
        "S3OutputPath": f"s3://{BUCKET}/o",
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
    }
    model = sm.describe_model(ModelName=job["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == arn
    assert model["Containers"][0]["Environment"] == {"COSTPIPE_MODEL_PACKAGE": arn}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--data", f"s3://{BUCKET}/rows.parquet", "--package", "fraud/1", "--out", "s3://b/o/"],
            "must end in .csv",
        ),
        (["--data", f"s3://{BUCKET}/rows.csv", "--out", "s3://b/o/"], "needs --package"),
        (["--data", f"s3://{BUCKET}/rows.csv", "--package", "fraud/1"], "writes to S3"),
        (
            ["--data", f"s3://{BUCKET}/rows.csv", "--package", "fraud/1", "--out", "s3://b/o/"],
            "not Approved",
        ),
    ],
)
def test_bad_batch_requests_are_one_line_and_start_nothing(registered, capsys, extra, message):
    sm, _, _ = registered
    assert main(_batch(*extra)) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and message in error, error
    assert sm.list_transform_jobs()["TransformJobSummaries"] == []


def test_batch_flags_without_a_batch_are_refused(capsys, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("amount,site\n1,a\n")
    assert main(["predict", "--data", str(rows), "--package", "fraud/1", "--model", "x"]) == 2
    assert "--package is for a batch transform" in capsys.readouterr().err
