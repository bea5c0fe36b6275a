"""The translated state machine on moto's Step Functions, as it is: created, started, and
driven from the command line (upsert, start, wait). Running it is in
test_stepfunctions_run.py."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from pipeline.aws.stepfunctions import new_execution_name, state_statuses
from pipeline.cli import main
from tests.aws.support import (
    BUCKET,
    PIPELINE,
    REGION,
    ROLE,
    SFN_ROLE,
    create_state_machine,
    write_config,
    write_dataset,
)

EXECUTE = {"stepfunctions": {"execute_state_machine": True}}


def test_moto_accepts_the_state_machine(machine):
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = create_state_machine(sfn, machine)
        stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        assert stored == machine
        started = sfn.start_execution(
            stateMachineArn=arn, name=new_execution_name(), input=json.dumps({"Parameters": {}})
        )
        execution = sfn.describe_execution(executionArn=started["executionArn"])
        assert execution["status"] == "RUNNING"  # moto does not run it unless told to


def test_failed_job_reason_comes_from_the_describe_cause():
    cause = json.dumps({"TrainingJobName": "t", "FailureReason": "AlgorithmError: no data"})
    events = [
        {"id": 1, "type": "ParallelStateEntered", "stateEnteredEventDetails": {"name": "P"}},
        {
            "id": 2,
            "previousEventId": 1,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "A"},
        },
        {
            "id": 3,
            "previousEventId": 1,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "B"},
        },
        {"id": 4, "previousEventId": 2, "type": "TaskScheduled"},
        {
            "id": 5,
            "previousEventId": 4,
            "type": "TaskFailed",
            "taskFailedEventDetails": {"error": "States.TaskFailed", "cause": cause},
        },
    ]
    statuses = {s.name: (s.status, s.failure_reason) for s in state_statuses(events)}
    assert statuses["A"] == ("Failed", "States.TaskFailed: AlgorithmError: no data")
    assert statuses["B"] == ("Executing", None)


def test_cli_upsert_start_wait(tmp_path, capsys):
    config = write_config(
        tmp_path,
        write_dataset(tmp_path),
        aws={"bucket": BUCKET, "role_arn": ROLE, "state_machine_role_arn": SFN_ROLE},
    )
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        argv = ["upsert", "--target", "stepfunctions", "--config", str(config)]
        assert main([*argv, "--pipeline-name", PIPELINE, "--json"]) == 0
        upserted = json.loads(capsys.readouterr().out)
        assert upserted["action"] == "created"
        sfn = boto3.client("stepfunctions", region_name=REGION)
        described = sfn.describe_state_machine(stateMachineArn=upserted["arn"])
        assert described["roleArn"] == SFN_ROLE
        assert json.loads(described["definition"])["StartAt"] == "DefaultParameters"

        argv = ["start", "--target", "stepfunctions", "--pipeline-name", PIPELINE, "--json"]
        assert main([*argv, "--parameter", "MaxCostPerDecision=14000"]) == 0
        arn = json.loads(capsys.readouterr().out)["execution_arn"]
        execution = sfn.describe_execution(executionArn=arn)
        given = json.loads(execution["input"])["Parameters"]
        assert given["MaxCostPerDecision"] == 14000.0 and given["NumRound"] == 300
        assert len(execution["name"]) <= 36

        argv = ["wait", "--target", "stepfunctions", "--execution-arn", arn]
        assert main([*argv, "--timeout", "0.05", "--poll", "0.01"]) == 1
        assert "timed out after 0.05 s" in capsys.readouterr().err
