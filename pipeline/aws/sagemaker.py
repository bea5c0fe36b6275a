"""SageMaker Pipelines and the SageMaker Model Registry through boto3.

Every function takes a SageMaker client, so the same code runs against AWS, moto, or a
botocore ``Stubber``. Results are plain dicts shaped like the local executor's and the local
registry's (``execution_id``, ``status``, ``failure_reason``...), so the command line prints both
the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.aws.waiting import FAILED, RUNNING, STOPPED, SUCCEEDED, Snapshot, StepState
from pipeline.definition.expressions import _as_text
from pipeline.definition.parameters import resolve_parameters
from pipeline.errors import UsageError
from pipeline.options import APPROVAL_STATUSES

#: SageMaker's execution statuses, by outcome.
OUTCOMES = {
    "Executing": RUNNING,
    "Stopping": RUNNING,
    "Succeeded": SUCCEEDED,
    "Failed": FAILED,
    "Stopped": STOPPED,
}
#: The step type each ``Metadata`` key of ListPipelineExecutionSteps stands for.
STEP_TYPES = {
    "TrainingJob": "Training",
    "ProcessingJob": "Processing",
    "RegisterModel": "RegisterModel",
    "Model": "Model",
    "Condition": "Condition",
    "Fail": "Fail",
    "TransformJob": "Transform",
    "TuningJob": "Tuning",
    "Lambda": "Lambda",
    "Callback": "Callback",
}


@dataclass(frozen=True)
class Upserted:
    """What an upsert did: ``created`` or ``updated``, and the resource's ARN."""

    action: str
    arn: str


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _pages(sm: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [item for page in sm.get_paginator(operation).paginate(**kwargs) for item in page[key]]


# pipelines -----------------------------------------------------------------------------------
def pipeline_arn(sm: Any, name: str) -> str | None:
    """The pipeline's ARN, or None when no pipeline has that name."""
    for summary in _pages(sm, "list_pipelines", "PipelineSummaries", PipelineNamePrefix=name):
        if summary.get("PipelineName") == name:
            return str(summary["PipelineArn"])
    return None


def upsert_pipeline(
    sm: Any, name: str, definition: dict[str, Any], role_arn: str, description: str
) -> Upserted:
    """Create the pipeline, or update it to this definition when it exists.

    Parameters
    ----------
    sm : botocore client
        A SageMaker client.
    name : str
        The pipeline's name.
    definition : dict
        The pipeline definition (``build_definition``'s result).
    role_arn : str
        The role SageMaker Pipelines runs as (it starts the jobs).
    description : str
        Shown in Studio.
    """
    body = json.dumps(definition, separators=(",", ":"))
    arguments = {
        "PipelineName": name,
        "PipelineDefinition": body,
        "RoleArn": role_arn,
        "PipelineDescription": description,
    }
    if pipeline_arn(sm, name) is None:
        return Upserted("created", sm.create_pipeline(**arguments)["PipelineArn"])
    return Upserted("updated", sm.update_pipeline(**arguments)["PipelineArn"])


def existing_pipeline_arn(sm: Any, name: str) -> str:
    """The pipeline's ARN; a :class:`UsageError` when there is no such pipeline."""
    arn = pipeline_arn(sm, name)
    if arn is None:
        raise UsageError(
            f"no SageMaker pipeline named '{name}' in this region: run costpipe upsert first, or "
            "pass --pipeline-name/--region"
        )
    return arn


def pipeline_definition(sm: Any, name: str) -> dict[str, Any]:
    """The stored definition of an existing pipeline."""
    existing_pipeline_arn(sm, name)
    return json.loads(sm.describe_pipeline(PipelineName=name)["PipelineDefinition"])


def start_pipeline(sm: Any, name: str, overrides: dict[str, str]) -> str:
    """Start an execution with some parameters overridden; return its ARN.

    Overrides are checked against the stored definition's parameters (names and types) first,
    so a typo is a usage error rather than a failed execution.
    """
    declared = pipeline_definition(sm, name).get("Parameters", [])
    values = resolve_parameters(declared, overrides)
    # PipelineParameters carry text, written as Std:Join writes values.
    parameters = [{"Name": key, "Value": _as_text(values[key])} for key in overrides]
    response = sm.start_pipeline_execution(PipelineName=name, PipelineParameters=parameters)
    return str(response["PipelineExecutionArn"])


# executions ----------------------------------------------------------------------------------
def execution_arn(sm: Any, pipeline_name: str, execution: str) -> str:
    """An execution's ARN from its ARN or its id (the ARN's last part)."""
    if execution.startswith("arn:"):
        return execution
    return f"{existing_pipeline_arn(sm, pipeline_name)}/execution/{execution}"


def execution_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _execution_dict(raw: dict[str, Any], pipeline: str) -> dict[str, Any]:
    arn = raw["PipelineExecutionArn"]
    status = raw.get("PipelineExecutionStatus", "")
    reason = raw.get("FailureReason", raw.get("PipelineExecutionFailureReason")) or None
    if reason == "None":  # moto's summaries
        reason = None
    terminal = OUTCOMES.get(status, RUNNING) != RUNNING
    modified = _iso(raw.get("LastModifiedTime"))
    return {
        "execution_id": execution_id(arn),
        "arn": arn,
        "pipeline": pipeline,
        "display_name": raw.get("PipelineExecutionDisplayName"),
        "status": status,
        "failure_reason": reason,
        "created": _iso(raw.get("CreationTime", raw.get("StartTime"))),
        "modified": modified,
        "ended": modified if terminal else None,
    }


def list_executions(sm: Any, pipeline_name: str, limit: int) -> list[dict[str, Any]]:
    """The pipeline's most recent executions, newest first."""
    existing_pipeline_arn(sm, pipeline_name)
    response = sm.list_pipeline_executions(
        PipelineName=pipeline_name,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=max(1, min(limit, 100)),
    )
    return [
        _execution_dict(summary, pipeline_name)
        for summary in response["PipelineExecutionSummaries"][:limit]
    ]


def _step_dict(raw: dict[str, Any]) -> dict[str, Any]:
    metadata = raw.get("Metadata", {}) or {}
    kind = next((STEP_TYPES.get(key, key) for key in metadata), "")
    reason = raw.get("FailureReason") or (metadata.get("Fail", {}) or {}).get("ErrorMessage")
    cache = (raw.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    return {
        "name": raw["StepName"],
        "type": kind,
        "display_name": raw.get("StepDisplayName"),
        "status": raw.get("StepStatus", ""),
        "started": _iso(raw.get("StartTime")),
        "ended": _iso(raw.get("EndTime")),
        "attempts": raw.get("AttemptCount", 1),
        "failure_reason": reason,
        "cache_hit_source": cache,
        "metadata": json.loads(json.dumps(metadata, default=str)),
    }


def execution_steps(sm: Any, arn: str) -> list[dict[str, Any]]:
    """Every step of an execution in the order they started."""
    steps = _pages(
        sm,
        "list_pipeline_execution_steps",
        "PipelineExecutionSteps",
        PipelineExecutionArn=arn,
        SortOrder="Ascending",
    )
    return [_step_dict(step) for step in steps]


def describe_execution(sm: Any, arn: str) -> dict[str, Any]:
    """One execution (shaped like a local execution) with its steps."""
    raw = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    pipeline = raw.get("PipelineArn", "").rsplit("/", 1)[-1]
    execution = _execution_dict(raw, pipeline)
    return {"execution": execution, "steps": execution_steps(sm, arn)}


def snapshot(sm: Any, arn: str) -> Snapshot:
    """The execution's status and its steps' statuses, for ``waiting.wait_for``."""
    shown = describe_execution(sm, arn)
    execution = shown["execution"]
    return Snapshot(
        arn=arn,
        status=execution["status"],
        outcome=OUTCOMES.get(execution["status"], RUNNING),
        failure_reason=execution["failure_reason"],
        steps=tuple(
            StepState(step["name"], step["status"], step["failure_reason"])
            for step in shown["steps"]
        ),
    )


# model registry ------------------------------------------------------------------------------
def _package_dict(raw: dict[str, Any]) -> dict[str, Any]:
    containers = (raw.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return {
        "arn": raw["ModelPackageArn"],
        "group": raw.get("ModelPackageGroupName"),
        "version": raw.get("ModelPackageVersion"),
        "status": raw.get("ModelPackageStatus"),
        "approval_status": raw.get("ModelApprovalStatus"),
        "approval_description": raw.get("ApprovalDescription"),
        "model_data_url": containers[0].get("ModelDataUrl"),
        "image": containers[0].get("Image"),
        "description": raw.get("ModelPackageDescription"),
        "metadata": dict(raw.get("CustomerMetadataProperties") or {}),
        "execution_arn": (raw.get("MetadataProperties") or {}).get("GeneratedBy"),
        "created": _iso(raw.get("CreationTime")),
        "modified": _iso(raw.get("LastModifiedTime")),
    }


def list_groups(sm: Any) -> list[str]:
    """Every model package group's name."""
    groups = _pages(sm, "list_model_package_groups", "ModelPackageGroupSummaryList")
    return [str(group["ModelPackageGroupName"]) for group in groups]


def list_packages(sm: Any, group: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """Model package versions (newest first), each described for its metadata.

    Parameters
    ----------
    sm : botocore client
        A SageMaker client.
    group : str or None
        One model package group, or None for every group.
    limit : int
        At most this many versions per group.
    """
    packages = []
    for name in [group] if group else list_groups(sm):
        summaries = sm.list_model_packages(
            ModelPackageGroupName=name,
            ModelPackageType="Versioned",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=max(1, min(limit, 100)),
        )["ModelPackageSummaryList"]
        for summary in summaries[:limit]:
            raw = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            packages.append(_package_dict(raw))
    return packages


def package_arn(sm: Any, group: str, version: int) -> str:
    """The ARN of one version of a model package group."""
    summaries = _pages(
        sm,
        "list_model_packages",
        "ModelPackageSummaryList",
        ModelPackageGroupName=group,
        ModelPackageType="Versioned",
    )
    for summary in summaries:
        if summary.get("ModelPackageVersion") == version:
            return str(summary["ModelPackageArn"])
    versions = ", ".join(str(s.get("ModelPackageVersion")) for s in summaries) or "none"
    raise UsageError(
        f"model package group '{group}' has no version {version} (versions: {versions}): see "
        "costpipe registry list --target sagemaker"
    )


def describe_package(sm: Any, group: str, version: int) -> dict[str, Any]:
    """One model package version."""
    raw = sm.describe_model_package(ModelPackageName=package_arn(sm, group, version))
    return _package_dict(raw)


def set_approval(
    sm: Any, group: str, version: int, status: str, description: str | None = None
) -> dict[str, Any]:
    """Approve or reject one version; returns it as it is afterwards."""
    if status not in APPROVAL_STATUSES:
        raise UsageError(f"approval status must be one of {', '.join(APPROVAL_STATUSES)}")
    arn = package_arn(sm, group, version)
    arguments: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if description:
        arguments["ApprovalDescription"] = description
    sm.update_model_package(**arguments)
    return _package_dict(sm.describe_model_package(ModelPackageName=arn))
