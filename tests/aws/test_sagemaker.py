"""SageMaker Pipelines from the command line, against moto (and botocore's Stubber where moto
has no ListPipelineExecutionSteps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipeline.aws import sagemaker, session
from pipeline.aws.waiting import RUNNING, Snapshot, WaitTimeoutError, wait_for
from pipeline.cli import main
from pipeline.code_bundle import CodeBundle
from tests.aws.support import (
    BUCKET,
    PIPELINE,
    REGION,
    ROLE,
    built_definition,
    write_config,
    write_dataset,
)

EXECUTION = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{PIPELINE}/execution/abc123def456"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def config_file(tmp_path):
    return write_config(tmp_path, write_dataset(tmp_path))


def _upsert(config_file, *extra: str) -> list[str]:
    return [
        "upsert",
        "--target",
        "sagemaker",
        "--config",
        str(config_file),
        "--role-arn",
        ROLE,
        "--bucket",
        BUCKET,
        "--pipeline-name",
        PIPELINE,
        "--region",
        REGION,
        "--json",
        *extra,
    ]


def _keys(s3: Any) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_upsert_creates_then_updates_and_uploads_only_once(config_file, capsys, tmp_path_factory):
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        assert main(_upsert(config_file)) == 0
        first = json.loads(capsys.readouterr().out)
        sm = boto3.client("sagemaker", region_name=REGION)
        stored = json.loads(sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"])
        assert first["action"] == "created"
        assert stored == built_definition(tmp_path_factory)
        code = CodeBundle.from_directory().objects(BUCKET, PIPELINE)
        expected = {uri.removeprefix(f"s3://{BUCKET}/") for uri in code}
        expected.add(first["input_uri"].removeprefix(f"s3://{BUCKET}/"))
        assert _keys(s3) == expected
        assert sorted(first["uploads"]["uploaded"]) == sorted(
            f"s3://{BUCKET}/{k}" for k in expected
        )

        assert main(_upsert(config_file, "--max-cost-per-decision", "4.5")) == 0
        second = json.loads(capsys.readouterr().out)
        assert second["action"] == "updated"
        assert second["uploads"] == {
            "uploaded": [],
            "already_there": len(expected),
            "bytes_uploaded": 0,
        }
        stored = json.loads(sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"])
        limit = next(p for p in stored["Parameters"] if p["Name"] == "MaxCostPerDecision")
        assert limit["DefaultValue"] == 4.5


def _create_pipeline(tmp_path_factory) -> Any:
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps(built_definition(tmp_path_factory)),
        RoleArn=ROLE,
    )
    return sm


def test_start_overrides_parameters(capsys, tmp_path_factory):
    with mock_aws():
        sm = _create_pipeline(tmp_path_factory)
        argv = ["start", "--target", "sagemaker", "--pipeline-name", PIPELINE, "--json"]
        overrides = ["--parameter", "MaxCostPerDecision=14000", "--parameter", "NumRound=50"]
        assert main(argv + overrides) == 0
        arn = json.loads(capsys.readouterr().out)["execution_arn"]
        given = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
        assert given["PipelineParameters"] == [
            {"Name": "MaxCostPerDecision", "Value": "14000.0"},
            {"Name": "NumRound", "Value": "50"},
        ]
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        assert described["PipelineExecutionStatus"] == "Succeeded"  # moto runs nothing


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("NumRounds=5", "unknown pipeline parameter 'NumRounds'"),
        ("NumRound=many", "pipeline parameter 'NumRound' must be Integer"),
        ("NumRound", "--parameter 'NumRound' is not NAME=VALUE"),
    ],
)
def test_start_rejects_bad_parameters(capsys, tmp_path_factory, parameter, message):
    with mock_aws():
        sm = _create_pipeline(tmp_path_factory)
        argv = ["start", "--pipeline-name", PIPELINE, "--parameter", parameter]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert (
            sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"] == []
        )


def test_pipeline_name_from_environment_then_config(
    capsys, tmp_path, monkeypatch, tmp_path_factory
):
    config = write_config(tmp_path, tmp_path / "unused.csv", aws={"pipeline_name": "from-config"})
    with mock_aws():
        _create_pipeline(tmp_path_factory)
        assert main(["start", "--config", str(config)]) == 2
        assert "no SageMaker pipeline named 'from-config'" in capsys.readouterr().err
        monkeypatch.setenv("COSTPIPE_PIPELINE_NAME", PIPELINE)
        assert main(["start", "--config", str(config)]) == 0
        assert capsys.readouterr().out.startswith(f"arn:aws:sagemaker:{REGION}:")
        monkeypatch.setenv("AWS_REGION", "eu-west-1")  # the environment beats the config
        assert main(["start", "--config", str(config)]) == 2
        assert "in this region" in capsys.readouterr().err


def test_registry_list_and_approve(capsys):
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model_package_group(ModelPackageGroupName="cancer")
        for cost in ("14100.5", "13900.25"):
            sm.create_model_package(
                ModelPackageGroupName="cancer",
                ModelApprovalStatus="PendingManualApproval",
                CustomerMetadataProperties={"expected_cost": cost, "cost_setting": "200:1"},
                InferenceSpecification={
                    "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{BUCKET}/m.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )
        argv = ["registry", "list", "--target", "sagemaker", "--group", "cancer", "--json"]
        assert main(argv) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed["groups"] == ["cancer"]
        assert sorted(p["version"] for p in listed["model_packages"]) == [1, 2]
        assert {p["metadata"]["expected_cost"] for p in listed["model_packages"]} == {
            "14100.5",
            "13900.25",
        }
        assert main(["registry", "list", "--target", "sagemaker"]) == 0
        assert "13,900.25" in capsys.readouterr().out

        argv = ["registry", "approve", "cancer", "2", "--target", "sagemaker"]
        assert main([*argv, "--description", "cheapest"]) == 0
        assert "cancer version 2: Approved" in capsys.readouterr().out
        arn = next(p["arn"] for p in listed["model_packages"] if p["version"] == 2)
        described = sm.describe_model_package(ModelPackageName=arn)
        assert described["ModelApprovalStatus"] == "Approved"
        assert main(["registry", "reject", "cancer", "7", "--target", "sagemaker"]) == 2
        assert "has no version 7 (versions: 1, 2)" in capsys.readouterr().err


# wait and steps with a Stubber ---------------------------------------------------------------
def _execution(status: str, reason: str | None = None) -> dict[str, Any]:
    response = {
        "PipelineArn": f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{PIPELINE}",
        "PipelineExecutionArn": EXECUTION,
        "PipelineExecutionStatus": status,
        "CreationTime": T0,
        "LastModifiedTime": T0,
    }
    if reason:
        response["FailureReason"] = reason
    return response


def _steps(*steps: tuple[str, str, str | None]) -> dict[str, Any]:
    kinds = {
        "Preprocess": "ProcessingJob",
        "TrainFn1Fp1": "TrainingJob",
        "Evaluate": "ProcessingJob",
    }
    listed = []
    for name, status, reason in steps:
        job = "processing-job" if kinds[name] == "ProcessingJob" else "training-job"
        step = {
            "StepName": name,
            "StepStatus": status,
            "StartTime": T0,
            "AttemptCount": 1,
            "Metadata": {
                kinds[name]: {"Arn": f"arn:aws:sagemaker:{REGION}:123456789012:{job}/{name}"}
            },
        }
        if status != "Executing":
            step["EndTime"] = T0
        if reason:
            step["FailureReason"] = reason
        listed.append(step)
    return {"PipelineExecutionSteps": listed}


def _stubbed(monkeypatch, script: list[tuple[str, dict[str, Any]]]) -> Stubber:
    client = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(client)
    for operation, response in script:
        stubber.add_response(operation, response, None)
    stubber.activate()
    monkeypatch.setattr(session, "client", lambda service, region: client)
    return stubber


def test_list_pipeline_execution_steps_shapes_come_from_the_service_model():
    model = boto3.client("sagemaker", region_name=REGION).meta.service_model
    shape = model.operation_model("ListPipelineExecutionSteps").output_shape
    step = shape.members["PipelineExecutionSteps"].member
    for key in ("StepName", "StepStatus", "FailureReason", "Metadata", "AttemptCount"):
        assert key in step.members
    assert set(sagemaker.OUTCOMES) <= set(
        model.operation_model("DescribePipelineExecution")
        .output_shape.members["PipelineExecutionStatus"]
        .enum
    )


def test_wait_fails_with_the_failed_steps_reason(monkeypatch, capsys):
    reason = "ClientError: AlgorithmError: evaluation.json: no model beats the baseline"
    stubber = _stubbed(
        monkeypatch,
        [
            ("describe_pipeline_execution", _execution("Executing")),
            ("list_pipeline_execution_steps", _steps(("Preprocess", "Executing", None))),
            ("describe_pipeline_execution", _execution("Executing")),
            (
                "list_pipeline_execution_steps",
                _steps(("Preprocess", "Succeeded", None), ("TrainFn1Fp1", "Executing", None)),
            ),
            (
                "describe_pipeline_execution",
                _execution("Failed", "Step failure: One or multiple steps failed."),
            ),
            (
                "list_pipeline_execution_steps",
                _steps(
                    ("Preprocess", "Succeeded", None),
                    ("TrainFn1Fp1", "Succeeded", None),
                    ("Evaluate", "Failed", reason),
                ),
            ),
        ],
    )
    argv = ["wait", "--target", "sagemaker", "--execution-arn", EXECUTION, "--poll", "0.01"]
    assert main(argv) == 1
    stubber.assert_no_pending_responses()
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last == (
        "costpipe: execution Failed: Step failure: One or multiple steps failed.; "
        f"step Evaluate: {reason}"
    )
    # Progress lines (stdout is not a terminal here): one per change of a step's status.
    assert "Preprocess: Executing" in captured.err and "Evaluate: Failed" in captured.err


def test_wait_succeeds(monkeypatch, capsys):
    stubber = _stubbed(
        monkeypatch,
        [
            ("describe_pipeline_execution", _execution("Executing")),
            ("list_pipeline_execution_steps", _steps(("Preprocess", "Executing", None))),
            ("describe_pipeline_execution", _execution("Succeeded")),
            ("list_pipeline_execution_steps", _steps(("Preprocess", "Succeeded", None))),
        ],
    )
    argv = ["wait", "--execution-arn", EXECUTION, "--poll", "0.01", "--json"]
    assert main(argv) == 0
    stubber.assert_no_pending_responses()
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "Succeeded" and result["failure_reason"] is None
    assert result["steps"] == [
        {"name": "Preprocess", "status": "Succeeded", "failure_reason": None}
    ]


def test_wait_times_out(monkeypatch, capsys):
    running = Snapshot(EXECUTION, "Executing", RUNNING)
    monkeypatch.setattr(session, "client", lambda service, region: object())
    monkeypatch.setattr(sagemaker, "snapshot", lambda client, arn: running)
    argv = ["wait", "--execution-arn", EXECUTION, "--timeout", "0.05", "--poll", "0.01"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "timed out after 0.05 s" in err and "still Executing" in err


def test_wait_for_counts_time_with_the_clock_it_is_given():
    now = [0.0]
    polls = []

    def poll() -> Snapshot:
        polls.append(now[0])
        return Snapshot(EXECUTION, "Executing", RUNNING)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(WaitTimeoutError) as raised:
        wait_for(poll, timeout=100, interval=30, clock=lambda: now[0], sleep=sleep)
    assert polls == [0.0, 30.0, 60.0, 90.0, 100.0]
    assert raised.value.snapshot.status == "Executing"


def test_wait_rejects_an_arn_of_the_other_target(capsys):
    argv = ["wait", "--target", "stepfunctions", "--execution-arn", EXECUTION]
    assert main(argv) == 2
    assert "is a sagemaker ARN, not a stepfunctions execution" in capsys.readouterr().err


def test_executions_show_lists_the_steps(monkeypatch, capsys):
    pipelines = {
        "PipelineSummaries": [
            {
                "PipelineName": PIPELINE,
                "PipelineArn": f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{PIPELINE}",
            }
        ]
    }
    steps = _steps(("Preprocess", "Succeeded", None), ("Evaluate", "Failed", "bad data"))
    steps["PipelineExecutionSteps"][0]["CacheHitResult"] = {
        "SourcePipelineExecutionArn": f"{EXECUTION}0"
    }
    script = [
        ("list_pipelines", pipelines),
        ("describe_pipeline_execution", _execution("Failed", "Step failure")),
        ("list_pipeline_execution_steps", steps),
    ]
    stubber = _stubbed(monkeypatch, script)
    argv = ["executions", "show", "abc123def456", "--target", "sagemaker", "--json"]
    assert main([*argv, "--pipeline-name", PIPELINE]) == 0
    stubber.assert_no_pending_responses()
    shown = json.loads(capsys.readouterr().out)
    assert shown["execution"]["execution_id"] == "abc123def456"
    assert shown["execution"]["failure_reason"] == "Step failure"
    assert [(s["name"], s["type"], s["status"]) for s in shown["steps"]] == [
        ("Preprocess", "Processing", "Succeeded"),
        ("Evaluate", "Processing", "Failed"),
    ]
    assert shown["steps"][0]["cache_hit_source"] == f"{EXECUTION}0"
    assert shown["steps"][1]["failure_reason"] == "bad data"

    stubber = _stubbed(monkeypatch, script[1:])
    assert main(["executions", "show", EXECUTION, "--target", "sagemaker"]) == 0
    out = capsys.readouterr().out
    assert "failure reason: Step failure" in out and "cached from" in out


def test_executions_list_on_moto(capsys, tmp_path_factory):
    with mock_aws():
        sm = _create_pipeline(tmp_path_factory)
        arn = sm.start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"]
        argv = ["executions", "list", "--target", "sagemaker", "--pipeline-name", PIPELINE]
        assert main([*argv, "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)["executions"]
        assert [(e["arn"], e["status"]) for e in listed] == [(arn, "Succeeded")]


def test_local_target_is_still_the_default(tmp_path, capsys):
    assert main(["executions", "list", "--home", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"executions": []}
    assert main(["registry", "list", "--target", "local", "--home", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_packages"] == []


# setup errors --------------------------------------------------------------------------------
def test_missing_role_and_bucket_stop_before_anything_happens(config_file, capsys, monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        assert main(["upsert", "--config", str(config_file), "--pipeline-name", PIPELINE]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "--role-arn ARN, set COSTPIPE_ROLE_ARN" in err and "--bucket NAME" in err
        monkeypatch.setenv("COSTPIPE_ROLE_ARN", "not-an-arn")
        assert main(["upsert", "--config", str(config_file), "--bucket", BUCKET]) == 2
        assert "'not-an-arn' is not an IAM role ARN" in capsys.readouterr().err
        argv = ["upsert", "--target", "stepfunctions", "--config", str(config_file)]
        assert main([*argv, "--role-arn", ROLE, "--bucket", BUCKET]) == 2
        assert "--state-machine-role-arn ARN" in capsys.readouterr().err
        assert _keys(s3) == set()
        sm = boto3.client("sagemaker", region_name=REGION)
        assert sm.list_pipelines()["PipelineSummaries"] == []


def test_no_credentials_is_one_line_and_exit_2(config_file, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(_upsert(config_file)) == 2
    err = capsys.readouterr().err
    assert err.startswith("costpipe: error: no AWS credentials found while checking your AWS")
    assert err.count("\n") == 1
    assert main(["start", "--pipeline-name", PIPELINE]) == 2
    assert "no AWS credentials found while starting an execution" in capsys.readouterr().err


def test_expired_credentials_upload_nothing(config_file, capsys, monkeypatch):
    sts = boto3.client("sts", region_name=REGION)
    stubber = Stubber(sts)
    stubber.add_client_error(
        "get_caller_identity",
        "ExpiredToken",
        "The security token included in the request is expired",
    )
    stubber.activate()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        real = session.client
        monkeypatch.setattr(
            session,
            "client",
            lambda service, region: sts if service == "sts" else real(service, region),
        )
        assert main(_upsert(config_file)) == 2
        err = capsys.readouterr().err
        assert "your AWS credentials have expired" in err and err.count("\n") == 1
        assert _keys(s3) == set()


def test_access_denied_is_a_setup_error(monkeypatch, capsys):
    client = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "list_pipelines",
        "AccessDeniedException",
        "not authorized to perform sagemaker:ListPipelines",
    )
    stubber.activate()
    monkeypatch.setattr(session, "client", lambda service, region: client)
    assert main(["executions", "list", "--target", "sagemaker"]) == 2
    err = capsys.readouterr().err
    assert "AWS denied access while reading executions" in err
    assert "sagemaker:ListPipelines" in err


def test_other_aws_errors_exit_1(monkeypatch, capsys):
    client = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("list_pipelines", "ValidationException", "bad name")
    stubber.activate()
    monkeypatch.setattr(session, "client", lambda service, region: client)
    assert main(["executions", "list", "--target", "sagemaker"]) == 1
    assert "AWS refused reading executions of SageMaker pipeline" in capsys.readouterr().err
