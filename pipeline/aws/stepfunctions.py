"""The translated state machine on AWS Step Functions: upsert, start, poll.

The state machine has the pipeline's name. Its execution input is ``{"Parameters": {...}}``
(see :mod:`pipeline.aws.asl`); ``start`` sends every parameter: the state machine's defaults,
overridden by the values given, each checked against the default's type.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from pipeline.aws.asl import execution_input, parameter_declarations
from pipeline.aws.sagemaker import Upserted
from pipeline.aws.waiting import FAILED, RUNNING, STOPPED, SUCCEEDED, Snapshot, StepState
from pipeline.definition.parameters import resolve_parameters
from pipeline.errors import UsageError

OUTCOMES = {
    "RUNNING": RUNNING,
    "SUCCEEDED": SUCCEEDED,
    "FAILED": FAILED,
    "TIMED_OUT": FAILED,
    "ABORTED": STOPPED,
    "PENDING_REDRIVE": FAILED,
}
#: History events that fail the state they belong to.
_FAILURE_EVENTS = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}


def new_execution_name() -> str:
    """A time-ordered, unique execution name of 23 characters: letters, digits and dashes.

    Job names are ``<step>-<execution name>-<retry>``, so the name must be short (SageMaker
    allows 63 characters) and use only characters job names allow.
    """
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def state_machine_arn(sfn: Any, name: str) -> str | None:
    """The ARN of the state machine with this name, or None."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


def upsert_state_machine(
    sfn: Any, name: str, definition: dict[str, Any], role_arn: str
) -> Upserted:
    """Create the state machine, or update its definition and role when it exists.

    Parameters
    ----------
    sfn : botocore client
        A Step Functions client.
    name : str
        The state machine's name (the pipeline's).
    definition : dict
        The Amazon States Language document (:func:`pipeline.aws.asl.translate`).
    role_arn : str
        The role Step Functions runs as: it starts the SageMaker jobs, reads the bucket and
        creates model packages.
    """
    body = json.dumps(definition, separators=(",", ":"))
    arn = state_machine_arn(sfn, name)
    if arn is None:
        created = sfn.create_state_machine(
            name=name, definition=body, roleArn=role_arn, type="STANDARD"
        )
        return Upserted("created", str(created["stateMachineArn"]))
    sfn.update_state_machine(stateMachineArn=arn, definition=body, roleArn=role_arn)
    return Upserted("updated", arn)


def start_execution(sfn: Any, name: str, overrides: dict[str, str]) -> str:
    """Start an execution with every parameter in its input; return the execution's ARN."""
    arn = state_machine_arn(sfn, name)
    if arn is None:
        raise UsageError(
            f"no state machine named '{name}' in this region: run costpipe upsert --target "
            "stepfunctions first, or pass --pipeline-name/--region"
        )
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    values = resolve_parameters(parameter_declarations(definition), overrides)
    started = sfn.start_execution(
        stateMachineArn=arn,
        name=new_execution_name(),
        input=json.dumps(execution_input(values)),
    )
    return str(started["executionArn"])


def _reason(details: dict[str, Any]) -> str:
    """``error: cause``, with a failed SageMaker job's own FailureReason pulled out."""
    error, cause = details.get("error", ""), details.get("cause", "")
    try:
        described = json.loads(cause)
    except (TypeError, ValueError):
        described = None
    if isinstance(described, dict) and described.get("FailureReason"):
        cause = str(described["FailureReason"])
    return ": ".join(part for part in (error, cause) if part) or "failed"


def state_statuses(events: list[dict[str, Any]]) -> list[StepState]:
    """Each state's status from an execution's history, in the order the states started.

    A failure event belongs to the state whose ``...StateEntered`` event its chain of
    ``previousEventId`` leads back to (branches of a Parallel state interleave).
    """
    by_id = {event["id"]: event for event in events}
    statuses: dict[str, StepState] = {}
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            statuses[name] = StepState(name, "Executing")
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            statuses[name] = StepState(name, "Succeeded")
        elif kind in _FAILURE_EVENTS:
            name = _entered_state(event, by_id)
            if name and statuses.get(name, StepState(name, "")).status != "Failed":
                statuses[name] = StepState(
                    name, "Failed", _reason(event.get(_FAILURE_EVENTS[kind], {}))
                )
    return list(statuses.values())


def _entered_state(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> str | None:
    for _ in range(len(by_id)):
        event = by_id.get(event.get("previousEventId", -1), {})
        if "stateEnteredEventDetails" in event:
            return str(event["stateEnteredEventDetails"]["name"])
        if not event:
            return None
    return None


def snapshot(sfn: Any, arn: str) -> Snapshot:
    """The execution's status and each state's, for ``waiting.wait_for``."""
    execution = sfn.describe_execution(executionArn=arn)
    status = execution["status"]
    events = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
    ]
    reason = None
    if status != "RUNNING" and (execution.get("error") or execution.get("cause")):
        reason = _reason(execution)
    return Snapshot(
        arn=arn,
        status=status,
        outcome=OUTCOMES.get(status, RUNNING),
        failure_reason=reason,
        steps=tuple(state_statuses(events)),
    )
