"""Shared pieces of the AWS tests: a small dataset and config, the definition built once,
and a moto-executable variant of the translated state machine."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "costpipe-test-artifacts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/costpipe-sagemaker"
SFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/costpipe-states"
PIPELINE = "costpipe-test"
SETTINGS = "1:1,20:1"
ENVIRONMENT_NAMES = (
    "COSTPIPE_ROLE_ARN",
    "COSTPIPE_BUCKET",
    "COSTPIPE_PIPELINE_NAME",
    "COSTPIPE_STATE_MACHINE_ROLE_ARN",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def write_dataset(folder: Path, rows: int = 200, seed: int = 0) -> Path:
    """A small binary-classification CSV (target column ``y``, positive label 1)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    target = (features[:, 0] + 0.5 * rng.normal(size=rows) > 0.4).astype(int)
    frame = pd.DataFrame(features, columns=["a", "b", "c"]).assign(y=target)
    path = folder / "small.csv"
    frame.to_csv(path, index=False)
    return path


def write_config(folder: Path, data: Path, aws: dict[str, str] | None = None) -> Path:
    """A config file for the small dataset, with an optional ``[aws]`` section."""
    lines = [
        "[data]",
        f'path = "{data}"',
        'target = "y"',
        'positive_label = "1"',
        "[costs]",
        "fn = 10.0",
        "fp = 1.0",
        "[training]",
        f'cost_settings = "{SETTINGS}"',
    ]
    if aws:
        lines.append("[aws]")
        lines += [f'{key} = "{value}"' for key, value in aws.items()]
    path = folder / "costpipe.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_DEFINITION: dict[str, Any] = {}


def built_definition(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The definition for the small dataset, built once per test session (a few seconds)."""
    if not _DEFINITION:
        from pipeline.code_bundle import CodeBundle
        from pipeline.config import load_config
        from pipeline.definition import Target, build_definition
        from pipeline.definition.inputs import data_uri

        folder = tmp_path_factory.mktemp("definition")
        config = load_config(write_config(folder, write_dataset(folder)))
        target = Target(bucket=BUCKET, role_arn=ROLE, region=REGION, pipeline_name=PIPELINE)
        _DEFINITION.update(
            build_definition(
                config, target, CodeBundle.from_directory(), data_uri(config.data.path, target)
            )
        )
    return copy.deepcopy(_DEFINITION)


def create_state_machine(sfn: Any, machine: dict[str, Any], name: str = PIPELINE) -> str:
    """Create a state machine in moto; return its ARN."""
    created = sfn.create_state_machine(name=name, definition=json.dumps(machine), roleArn=SFN_ROLE)
    return str(created["stateMachineArn"])


def emulate_sync_jobs(machine: dict[str, Any]) -> dict[str, Any]:
    """The state machine with each ``.sync`` SageMaker job task swapped for what moto runs.

    moto's interpreter rejects ``sagemaker:create*Job.sync``. Each such task becomes the
    non-sync ``sagemaker:create*Job`` (same name, same Parameters: moto's SageMaker records
    the job) followed by ``aws-sdk:sagemaker:describe*Job`` carrying the original
    ResultSelector, ResultPath, Retry and Next: what ``.sync`` returns is the describe
    response once the job has ended.
    """
    emulated = copy.deepcopy(machine)

    def rewrite(states: dict[str, Any]) -> None:
        for name, state in list(states.items()):
            for branch in state.get("Branches", []):
                rewrite(branch["States"])
            resource = state.get("Resource", "")
            if not resource.endswith(".sync"):
                continue
            action = resource.removesuffix(".sync").rsplit(":", 1)[-1]  # createTrainingJob
            noun = action.removeprefix("create")  # TrainingJob
            describe_name = f"{name}Describe"
            states[describe_name] = {
                key: value
                for key, value in state.items()
                if key in ("ResultSelector", "ResultPath", "Retry", "Next", "End")
            } | {
                "Type": "Task",
                "Resource": f"arn:aws:states:::aws-sdk:sagemaker:describe{noun}",
                "Parameters": {
                    f"{noun}Name.$": f"States.ArrayGetItem(States.StringSplit("
                    f"$.emulated.{noun}Arn, '/'), 1)"
                },
            }
            states[name] = {
                "Type": "Task",
                "Resource": resource.removesuffix(".sync"),
                "Parameters": state["Parameters"],
                "ResultPath": "$.emulated",
                "Next": describe_name,
            }

    rewrite(emulated["States"])
    return emulated


def read_string_body_from_aws_sdk_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's aws-sdk tasks return s3:getObject's Body as text, as Step Functions does.

    moto 5.2 hands the botocore stream object to the next step, where States.StringToJson
    fails on it; AWS returns the body as a string.
    """
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )

    def normalise(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            for key, value in list(response.items()):
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8")

    monkeypatch.setattr(sdk.StateTaskServiceAwsSdk, "_normalise_response", normalise)


def wait_for_execution(sfn: Any, arn: str, seconds: float = 20.0) -> dict[str, Any]:
    """Poll a moto execution until it leaves RUNNING."""
    deadline = time.monotonic() + seconds
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def evaluation_report(
    beats_baseline: bool, expected_cost: float, verdict: str, champion_passed: bool = True
) -> str:
    """An evaluation.json with the fields the condition and the registration read."""
    metadata = {
        "threshold": "0.031",
        "label": "y",
        "cost_setting": "20:1",
        "fn_weight": "20",
        "fp_weight": "1",
        "cost_matrix": "tp=0,fp=1,fn=10,tn=0",
        "expected_cost": str(expected_cost),
        "data_digest": "sha256:abc",
    }
    return json.dumps(
        {
            "best": {
                "name": "fn20-fp1",
                "model_uri": f"s3://{BUCKET}/{PIPELINE}/executions/x/model.tar.gz",
                "expected_cost": expected_cost,
                "beats_baseline": beats_baseline,
                "verdict": verdict,
                "metadata": metadata,
            },
            "checks": {"passed": True},
            "champion": {"passed": champion_passed, "verdict": verdict},
        }
    )
