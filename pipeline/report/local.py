"""Load a local execution (the home folder's database and bucket) into :class:`ReportData`.

evaluation.json and scores.parquet are found the way the pipeline itself finds them: through
the Evaluate step's ``evaluation`` output URI in the local bucket. A cached Evaluate step's
properties point at the execution it came from, so a cache hit finds that execution's files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.definition.names import EVALUATION_OUTPUT, STEP_EVALUATE, STEP_REGISTER
from pipeline.errors import InputError, UsageError
from pipeline.home import bucket_folder, database_path
from pipeline.local.bucket import LocalBucket
from pipeline.local.registry import ModelRegistry
from pipeline.local.store import ExecutionStore, StepRecord
from pipeline.report.model import ReportData, StepView, parse_time
from steps.evaluate import EVALUATION_FILE, SCORES_FILE


def step_view(record: StepRecord) -> StepView:
    return StepView(
        name=record.name,
        type=record.type,
        status=record.status,
        display_name=record.display_name,
        started=parse_time(record.started),
        ended=parse_time(record.ended),
        attempts=record.attempts,
        failure_reason=record.failure_reason,
        cache_source=record.cache_source,
        outcome=record.properties.get("Outcome") if record.type == "Condition" else None,
    )


def evaluation_prefix(properties: dict[str, Any]) -> str | None:
    """The ``evaluation`` output's S3 URI among a processing step's properties."""
    outputs = (properties.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        if output.get("OutputName") == EVALUATION_OUTPUT:
            uri = (output.get("S3Output") or {}).get("S3Uri")
            return str(uri).rstrip("/") if uri else None
    return None


def load_local(home: Path, execution_id: str) -> ReportData:
    """Read one execution from a home folder; raises UsageError when it is not there."""
    home = Path(home)
    if not database_path(home).is_file():
        raise UsageError(f"no costpipe home at {home}: pass --home, or run costpipe run first")
    store = ExecutionStore(home)
    try:
        execution = store.execution(execution_id)
        if execution is None:
            raise UsageError(
                f"no execution '{execution_id}' in {home}: see costpipe executions list"
            )
        records = store.steps(execution_id)
        definition = store.definition(execution_id)
    finally:
        store.close()
    data = ReportData(
        source="local",
        execution=execution,
        steps=[step_view(record) for record in records],
        definition=definition,
    )
    by_name = {record.name: record for record in records}
    _load_outputs(data, LocalBucket(bucket_folder(home)), by_name.get(STEP_EVALUATE))
    register = by_name.get(STEP_REGISTER)
    if register is not None and register.status == "Succeeded":
        data.registered = _registered(home, register.properties)
    return data


def _load_outputs(data: ReportData, bucket: LocalBucket, evaluate: StepRecord | None) -> None:
    if evaluate is None or evaluate.status != "Succeeded":
        return
    prefix = evaluation_prefix(evaluate.properties)
    if prefix is None:
        data.problems.append("the Evaluate step names no evaluation output")
        return
    try:
        path = bucket.path(f"{prefix}/{EVALUATION_FILE}")
        data.evaluation = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        data.problems.append(f"{EVALUATION_FILE} could not be read: {error}")
        return
    try:
        data.scores = pd.read_parquet(bucket.path(f"{prefix}/{SCORES_FILE}"))
    except (OSError, ValueError) as error:
        data.problems.append(f"{SCORES_FILE} could not be read: {error}")


def _registered(home: Path, properties: dict[str, Any]) -> dict[str, Any]:
    """The model package the execution registered, with its current approval status."""
    registered = {
        "arn": properties.get("ModelPackageArn"),
        "group": properties.get("ModelPackageGroupName"),
        "version": properties.get("ModelPackageVersion"),
    }
    if registered["group"] and registered["version"] is not None:
        registry = ModelRegistry(home)
        try:
            package = registry.package(str(registered["group"]), int(registered["version"]))
            registered["approval_status"] = package["approval_status"]
            registered["model_uri"] = package["model_data_url"]
        except InputError:
            pass  # the package is gone (another home?): show what the step recorded
        finally:
            registry.close()
    return registered
