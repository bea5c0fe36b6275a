"""The report of a SageMaker execution: S3 through moto, the SageMaker calls moto lacks
(``ListPipelineExecutionSteps``, ``DescribePipelineDefinitionForExecution``, ...) through
botocore's Stubber, which also checks every request and response against the service model."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipeline.cli import main
from pipeline.errors import UsageError
from pipeline.report.page import render_page
from pipeline.report.sagemaker import (
    SageMakerLoader,
    evaluation_uri_from_definition,
    load_sagemaker,
    parse_execution_arn,
)
from tests.report_support import multilabel_data, small_definition

REGION = "eu-west-1"
ACCOUNT = "123456789012"
PIPELINE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/costpipe"
EXECUTION_ID = "k2m4x9a7b1c3"
EXECUTION_ARN = f"{PIPELINE_ARN}/execution/{EXECUTION_ID}"
BUCKET = "costpipe-artifacts"
JOB_PREFIX = f"s3://{BUCKET}/costpipe/executions/source1234ab/Evaluate/evaluation"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/breast-cancer/3"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def definition() -> dict[str, Any]:
    """The small pipeline, its Evaluate output URI built from the execution id as ours is."""
    result = small_definition()
    evaluate = next(s for s in result["Steps"] if s["Name"] == "Evaluate")
    evaluate["Arguments"]["ProcessingOutputConfig"] = {
        "Outputs": [
            {
                "OutputName": "evaluation",
                "S3Output": {
                    "S3Uri": {
                        "Std:Join": {
                            "On": "/",
                            "Values": [
                                f"s3://{BUCKET}/costpipe/executions",
                                {"Get": "Execution.PipelineExecutionId"},
                                "Evaluate",
                                "evaluation",
                            ],
                        }
                    },
                    "LocalPath": "/opt/ml/processing/output/evaluation",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    return result


def upload_outputs(s3: Any, prefix: str) -> dict[str, Any]:
    """evaluation.json and scores.parquet of a one-label execution, under ``prefix``."""
    data = multilabel_data(labels=("malignant",))
    bucket, key = prefix.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=f"{key}/evaluation.json", Body=json.dumps(data.evaluation))
    buffer = io.BytesIO()
    data.scores.drop(columns="label_name").to_parquet(buffer, index=False)
    s3.put_object(Bucket=bucket, Key=f"{key}/scores.parquet", Body=buffer.getvalue())
    return data.evaluation


def step(name: str, status: str, offset: int, seconds: int, **extra: Any) -> dict[str, Any]:
    summary = {
        "StepName": name,
        "StepDisplayName": extra.pop("display", name),
        "StartTime": START + timedelta(seconds=offset),
        "StepStatus": status,
        "AttemptCount": extra.pop("attempts", 1),
        "Metadata": extra.pop("metadata", {}),
    }
    if status in ("Succeeded", "Failed"):
        summary["EndTime"] = START + timedelta(seconds=offset + seconds)
    summary.update(extra)
    return summary


def job(kind: str, name: str) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}-job/pipelines-{name.lower()}"
    return {"ProcessingJob" if kind == "processing" else "TrainingJob": {"Arn": arn}}


def succeeded_steps() -> list[dict[str, Any]]:
    cache = {"SourcePipelineExecutionArn": f"{PIPELINE_ARN}/execution/source1234ab"}
    return [
        step(
            "Preprocess",
            "Succeeded",
            0,
            60,
            metadata=job("processing", "pre"),
            CacheHitResult=cache,
        ),
        step("TrainA", "Succeeded", 61, 300, metadata=job("training", "a")),
        step("TrainB", "Succeeded", 61, 420, metadata=job("training", "b"), attempts=2),
        step("Evaluate", "Succeeded", 482, 90, metadata=job("processing", "evaluate-xyz")),
        step("CheckCheapest", "Succeeded", 573, 1, metadata={"Condition": {"Outcome": "True"}}),
        step(
            "RegisterCheapest",
            "Succeeded",
            575,
            2,
            metadata={"RegisterModel": {"Arn": PACKAGE_ARN}},
        ),
    ]


def execution_response(status: str, reason: str | None = None) -> dict[str, Any]:
    response = {
        "PipelineArn": PIPELINE_ARN,
        "PipelineExecutionArn": EXECUTION_ARN,
        "PipelineExecutionStatus": status,
        "CreationTime": START,
        "LastModifiedTime": START + timedelta(minutes=10),
    }
    if reason:
        response["FailureReason"] = reason
    return response


def stub_execution(
    stubber: Stubber, status: str, steps: list[dict[str, Any]], reason: str | None = None
) -> None:
    """The calls every load makes, in order, with parameters in two pages."""
    by_execution = {"PipelineExecutionArn": EXECUTION_ARN}
    stubber.add_response(
        "describe_pipeline_execution", execution_response(status, reason), by_execution
    )
    stubber.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": "CostFn", "Value": "252000.0"}], "NextToken": "page2"},
        by_execution,
    )
    stubber.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": "Target", "Value": "diagnosis"}]},
        {**by_execution, "NextToken": "page2"},
    )
    stubber.add_response(
        "describe_pipeline_definition_for_execution",
        {"PipelineDefinition": json.dumps(definition()), "CreationTime": START},
        by_execution,
    )
    stubber.add_response(
        "list_pipeline_execution_steps",
        {"PipelineExecutionSteps": steps},
        {**by_execution, "SortOrder": "Ascending"},
    )


def processing_job_response(output_uri: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": "pipelines-evaluate-xyz",
        "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/"
        "pipelines-evaluate-xyz",
        "ProcessingJobStatus": "Completed",
        "CreationTime": START,
        "AppSpecification": {"ImageUri": "image"},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            }
        },
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": output_uri,
                        "LocalPath": "/opt/ml/processing/output/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }


def model_package_response() -> dict[str, Any]:
    return {
        "ModelPackageName": "breast-cancer",
        "ModelPackageArn": PACKAGE_ARN,
        "CreationTime": START,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }


def clients() -> tuple[Any, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return boto3.client("sagemaker", region_name=REGION), s3


def test_registered_execution_is_read_through_the_evaluate_job(aws: None):
    sagemaker, s3 = clients()
    evaluation = upload_outputs(s3, JOB_PREFIX)  # a cache hit: the source job's folder
    with Stubber(sagemaker) as stubber:
        stub_execution(stubber, "Succeeded", succeeded_steps())
        stubber.add_response(
            "describe_processing_job",
            processing_job_response(JOB_PREFIX + "/"),
            {"ProcessingJobName": "pipelines-evaluate-xyz"},
        )
        stubber.add_response(
            "describe_model_package", model_package_response(), {"ModelPackageName": PACKAGE_ARN}
        )
        data = SageMakerLoader(sagemaker, s3).load(EXECUTION_ARN)
        stubber.assert_no_pending_responses()
    assert data.source == "sagemaker" and data.problems == []
    assert data.execution["execution_id"] == EXECUTION_ID
    assert data.execution["pipeline"] == "costpipe"
    assert data.execution["parameters"] == {"CostFn": "252000.0", "Target": "diagnosis"}
    assert data.evaluation == evaluation
    assert len(data.scores) == 2 * 2 * 120
    assert data.registered == {
        "arn": PACKAGE_ARN,
        "group": "breast-cancer",
        "version": "3",
        "approval_status": "Approved",
        "model_uri": "s3://b/model.tar.gz",
    }
    steps = {s.name: s for s in data.steps}
    assert steps["Preprocess"].cache_source == "source1234ab"
    assert steps["TrainB"].attempts == 2 and steps["TrainB"].duration_s == 420
    assert steps["CheckCheapest"].type == "Condition" and steps["CheckCheapest"].outcome == "True"
    page = render_page(data)
    assert "ran</dt><dd>SageMaker" in page
    assert page.count('data-plot="') == 4
    assert "<b>Registered</b> breast-cancer version 3 (Approved)" in page
    assert 'data-step="NothingRegistered" data-status="NotStarted"' in page


def test_evaluation_found_from_the_definition_when_the_job_cannot_be_described(aws: None):
    sagemaker, s3 = clients()
    upload_outputs(s3, f"s3://{BUCKET}/costpipe/executions/{EXECUTION_ID}/Evaluate/evaluation")
    steps = succeeded_steps()[:-1]
    with Stubber(sagemaker) as stubber:
        stub_execution(stubber, "Succeeded", steps)
        stubber.add_client_error(
            "describe_processing_job", "AccessDeniedException", "not allowed", 400
        )
        data = load_sagemaker(EXECUTION_ARN, sagemaker=sagemaker, s3=s3)
        stubber.assert_no_pending_responses()
    assert data.evaluation is not None and data.scores is not None
    assert data.registered is None


def test_failed_execution_has_no_evaluation(aws: None):
    sagemaker, s3 = clients()
    reason = "ClientError: target column 'nope' is not in the data <b>"
    steps = [step("Preprocess", "Failed", 0, 30, FailureReason=reason)]
    with Stubber(sagemaker) as stubber:
        stub_execution(stubber, "Failed", steps, reason=f"Step failure: {reason}")
        data = SageMakerLoader(sagemaker, s3).load(EXECUTION_ARN)
        stubber.assert_no_pending_responses()
    assert data.evaluation is None and data.registered is None
    assert data.execution["status"] == "Failed"
    page = render_page(data)
    assert "<b>No evaluation.</b>" in page
    assert "is not in the data &lt;b&gt;" in page and "data <b>" not in page
    assert 'data-step="Preprocess" data-status="Failed"' in page
    assert 'data-step="Evaluate" data-status="NotStarted"' in page


def test_missing_outputs_are_reported_not_raised(aws: None):
    sagemaker, s3 = clients()  # nothing uploaded
    with Stubber(sagemaker) as stubber:
        stub_execution(stubber, "Succeeded", succeeded_steps()[:4])
        stubber.add_response(
            "describe_processing_job",
            processing_job_response(JOB_PREFIX),
            {"ProcessingJobName": "pipelines-evaluate-xyz"},
        )
        data = SageMakerLoader(sagemaker, s3).load(EXECUTION_ARN)
    assert data.evaluation is None
    assert len(data.problems) == 1 and "evaluation.json could not be read" in data.problems[0]
    assert "evaluation.json could not be read" in render_page(data)


def test_an_execution_that_cannot_be_described_is_a_usage_error(aws: None):
    sagemaker, s3 = clients()
    with Stubber(sagemaker) as stubber:
        stubber.add_client_error("describe_pipeline_execution", "ResourceNotFound", "no such")
        with pytest.raises(UsageError, match="cannot describe execution"):
            SageMakerLoader(sagemaker, s3).load(EXECUTION_ARN)


def test_evaluation_uri_from_definition():
    execution = {"execution_id": "abc", "arn": EXECUTION_ARN, "pipeline": "costpipe"}
    uri = evaluation_uri_from_definition(copy.deepcopy(definition()), execution)
    assert uri == f"s3://{BUCKET}/costpipe/executions/abc/Evaluate/evaluation"


@pytest.mark.parametrize(
    "text", ["k2m4x9a7b1c3", f"{PIPELINE_ARN}/execution/", "arn:aws:s3:::bucket/key"]
)
def test_parse_execution_arn_rejects_what_is_not_an_execution_arn(text):
    with pytest.raises(UsageError, match="is not a SageMaker pipeline execution ARN"):
        parse_execution_arn(text)


def test_report_command_for_sagemaker(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    sagemaker, s3 = clients()
    upload_outputs(s3, JOB_PREFIX)
    stubber = Stubber(sagemaker)
    stub_execution(stubber, "Succeeded", succeeded_steps()[:4])
    stubber.add_response(
        "describe_processing_job",
        processing_job_response(JOB_PREFIX),
        {"ProcessingJobName": "pipelines-evaluate-xyz"},
    )
    from pipeline.report import sagemaker as module

    real = module.load_sagemaker
    monkeypatch.setattr(module, "load_sagemaker", lambda arn: real(arn, sagemaker, s3))
    with stubber:
        code = main(
            ["report", EXECUTION_ARN, "--target", "sagemaker", "--home", str(tmp_path), "--json"]
        )
    assert code == 0
    path = Path(json.loads(capsys.readouterr().out)["report"])
    assert path == (tmp_path / "reports" / f"{EXECUTION_ID}.html").resolve()
    assert path.read_text(encoding="utf-8").count('data-plot="') == 4
