"""The translated state machine run end to end by moto's Step Functions interpreter, its
SageMaker job tasks swapped for what that interpreter executes (it rejects ``.sync``): the
parameters, the Parallel state, the job requests, getObject + StringToJson on a stored
evaluation.json, the Choice rule, createModelPackage and the Fail state's cause."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline.cli import main
from tests.aws.support import (
    BUCKET,
    PIPELINE,
    REGION,
    create_state_machine,
    emulate_sync_jobs,
    evaluation_report,
    read_string_body_from_aws_sdk_tasks,
    wait_for_execution,
)

EXECUTE = {"stepfunctions": {"execute_state_machine": True}}


def _run(
    sfn: Any, s3: Any, arn: str, name: str, report: str, parameters: dict[str, Any] | None
) -> dict[str, Any]:
    key = f"{PIPELINE}/executions/{name}/Evaluate/evaluation/evaluation.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=report.encode())
    payload = {} if parameters is None else {"Parameters": parameters}
    started = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
    return wait_for_execution(sfn, started["executionArn"])


@pytest.fixture(scope="module")
def world(machine):
    """moto with execution on (one for the module: starting it costs seconds), the bucket,
    the emulated state machine and the translated one as it is."""
    with pytest.MonkeyPatch.context() as patch, mock_aws(config=EXECUTE):
        read_string_body_from_aws_sdk_tasks(patch)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "x")):
            patch.setenv(name, value)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sm = boto3.client("sagemaker", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        yield {
            "sfn": sfn,
            "s3": s3,
            "sm": sm,
            "emulated": create_state_machine(sfn, emulate_sync_jobs(machine), "emulated"),
            "as-is": create_state_machine(sfn, machine),
        }


@pytest.fixture
def emulated(world, request):
    """The shared world with a model package group of this test's own."""
    group = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")
    world["sm"].create_model_package_group(ModelPackageGroupName=group)
    return world["sfn"], world["s3"], world["sm"], world["emulated"], group


def test_moto_interpreter_cannot_run_sync_sagemaker_jobs(world):
    """Documents the limit that the emulated runs below work around."""
    sfn = world["sfn"]
    started = sfn.start_execution(stateMachineArn=world["as-is"], name="sync", input="{}")
    execution = wait_for_execution(sfn, started["executionArn"])
    assert execution["status"] == "FAILED"
    assert "Unsupported sync callback" in execution["cause"]
    assert "createProcessingJob.sync" in execution["cause"]


def test_cheap_enough_model_is_registered(emulated):
    sfn, s3, sm, arn, group = emulated
    report = evaluation_report(True, 3.25, "fn20-fp1 costs 3.25 per decision")
    parameters = {"MaxCostPerDecision": 5.0, "ModelPackageGroupName": group, "NumRound": 50}
    execution = _run(sfn, s3, arn, "cheap", report, parameters)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")

    # The jobs moto recorded carry the execution name, the retry count and text values.
    training = sm.describe_training_job(TrainingJobName="TrainFn20Fp1-cheap-0")
    assert training["HyperParameters"]["num_round"] == "50"
    assert training["OutputDataConfig"]["S3OutputPath"] == (
        f"s3://{BUCKET}/{PIPELINE}/executions/cheap/TrainFn20Fp1"
    )
    channel = training["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == f"s3://{BUCKET}/{PIPELINE}/executions/cheap/Preprocess/train"
    evaluate = sm.describe_processing_job(ProcessingJobName="Evaluate-cheap-0")
    arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert "--max-cost-per-decision=5.0" in arguments
    assert any(a.startswith("--model=fn20-fp1=s3://") for a in arguments)

    (package,) = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    described = sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    best = json.loads(report)["best"]
    assert described["CustomerMetadataProperties"] == best["metadata"]
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == best["model_uri"]
    output = json.loads(execution["output"])
    assert output["steps"]["RegisterCheapest"]["ModelPackageArn"] == package["ModelPackageArn"]


@pytest.mark.parametrize(
    ("beats_baseline", "cost", "verdict", "champion_passed"),
    [
        (True, 7.5, "too dear: 7.5 > 5", True),
        (False, 1.0, "no better than calling all positive", True),
        # Only the champion blocks: the Choice state's last rule.
        (
            True,
            1.0,
            "fn20-fp1 costs 1.00 per decision on test against 0.90 for approved version 4 "
            "(difference +0.10 [-0.02, +0.20])",
            False,
        ),
    ],
)
def test_otherwise_the_execution_fails_with_the_verdict(
    emulated, beats_baseline, cost, verdict, champion_passed
):
    sfn, s3, sm, arn, group = emulated
    report = evaluation_report(beats_baseline, cost, verdict, champion_passed)
    parameters = {"MaxCostPerDecision": 5.0, "ModelPackageGroupName": group}
    name = f"dear-{int(beats_baseline)}-{int(champion_passed)}"
    execution = _run(sfn, s3, arn, name, report, parameters)
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "NothingRegistered",
        f"nothing registered: {verdict}",
    )
    assert sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"] == []


def test_input_without_parameters_runs_on_the_defaults(emulated):
    sfn, s3, sm, arn, _ = emulated
    # The default MaxCostPerDecision is the largest float; the default group is the config's.
    sm.create_model_package_group(ModelPackageGroupName="costpipe")
    execution = _run(sfn, s3, arn, "defaults", evaluation_report(True, 1e12, "ok"), None)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["parameters"]["NumRound"] == 300


def test_wait_reports_the_fail_state_cause(emulated, capsys):
    sfn, s3, _, arn, _ = emulated
    report = evaluation_report(True, 9.0, "too dear")
    execution = _run(sfn, s3, arn, "waited", report, {"MaxCostPerDecision": 5.0})
    argv = ["wait", "--target", "stepfunctions", "--execution-arn", execution["executionArn"]]
    assert main([*argv, "--poll", "0.01", "--json"]) == 1
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["failure_reason"] == "NothingRegistered: nothing registered: too dear"
    steps = {step["name"]: step["status"] for step in result["steps"]}
    assert steps["CheckCheapest"] == "Succeeded" and steps["NothingRegistered"] == "Failed"
    last = captured.err.strip().splitlines()[-1]
    assert last == "costpipe: execution FAILED: NothingRegistered: nothing registered: too dear"
