"""``costpipe run``: check the input, stage it, build the definition, execute it locally.

Everything that can be found wrong before the execution starts is found here (the data is read
and checked with the same code the Preprocess job runs), so bad input exits 2 and no execution
is recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.code_bundle import CodeBundle
from pipeline.config import Config
from pipeline.definition import (
    EVALUATION_OUTPUT,
    STEP_EVALUATE,
    Target,
    build_definition,
)
from pipeline.errors import UsageError
from pipeline.local.bucket import LocalBucket
from pipeline.local.executor import BUCKET_FOLDER, ExecutionResult, LocalExecutor, StepEvent
from steps.data import (
    TableSpec,
    file_digest,
    find_data_file,
    prepare_table,
    prepare_test_table,
    read_table,
)
from steps.options import delimiter_option
from steps.preprocess import check_label_counts
from steps.split import stratified_split

LOCAL_BUCKET = "costpipe-local"
LOCAL_ROLE = "arn:aws:iam::000000000000:role/costpipe-local"


@dataclass
class LocalRun:
    result: ExecutionResult
    evaluation: dict[str, Any] | None


def local_target(config: Config) -> Target:
    return Target(
        bucket=LOCAL_BUCKET,
        role_arn=LOCAL_ROLE,
        region=config.aws.region,
        pipeline_name=config.aws.pipeline_name,
    )


def table_spec(config: Config) -> TableSpec:
    data = config.data
    return TableSpec(
        target=data.target,
        positive_label=data.positive_label or None,
        label_name=data.label_name or None,
        categorical=data.categorical,
        drop=data.drop,
        targets=data.targets,
        label_delimiter=data.label_delimiter or None,
        text=data.text,
        no_label=data.no_label or None,
    )


def check_data(config: Config) -> None:
    """Read and check the data (and test file) as the Preprocess job will; raise on problems."""
    data = config.data
    if not data.path:
        raise UsageError("no data given: pass --data FILE (CSV or Parquet) or --example NAME")
    if not data.target and not data.targets:
        raise UsageError("no target column given: pass --target COLUMN (or --targets A,B,C)")
    spec = table_spec(config)
    delimiter = delimiter_option(data.delimiter)
    prepared = prepare_table(read_table(Path(data.path), delimiter), spec)
    unknown = sorted(set(config.costs.labels) - set(prepared.schema["labels"]))
    if unknown:
        raise UsageError(
            f"per-label costs name '{unknown[0]}', which is not a label of the data (labels: "
            f"{', '.join(prepared.schema['labels'][:10])}): fix the label name"
        )
    has_test = bool(data.test_path)
    if has_test:
        prepare_test_table(read_table(Path(data.test_path), delimiter), spec, prepared.schema)
    rows = stratified_split(
        prepared.labels,
        config.split.validation_fraction,
        0.0 if has_test else config.split.test_fraction,
        config.split.seed,
    )
    check_label_counts(
        prepared.labels[rows["train"]],
        prepared.schema["labels"],
        config.split.min_label_count,
        config.split.oversample_min_count,
    )


def stage_file(bucket: LocalBucket, target: Target, location: str) -> str:
    """Put a local file in the local bucket under its content's digest; return its URI.

    The same bytes always get the same URI, so a rerun on the same data hits the step cache.
    """
    if location.startswith("s3://"):
        if not bucket.exists(location):
            raise UsageError(
                f"'{location}' is not in the local bucket ({bucket.root}): local runs read local "
                "files; give a path"
            )
        return location
    path = find_data_file(Path(location))
    digest = file_digest(path).removeprefix("sha256:")
    uri = f"{target.prefix}/data/{digest}/{path.name}"
    if not bucket.exists(uri):
        bucket.put_file(uri, path)
    return uri


def stage_code(bucket: LocalBucket, target: Target, code: CodeBundle) -> None:
    for uri, content in code.objects(target.bucket, target.pipeline_name).items():
        bucket.put_bytes(uri, content)


def run_locally(
    config: Config,
    home: Path,
    max_parallel: int | None = None,
    on_step: StepEvent | None = None,
) -> LocalRun:
    """Check, stage, build and execute; returns the execution and its evaluation report."""
    check_data(config)
    target = local_target(config)
    bucket = LocalBucket(Path(home) / BUCKET_FOLDER)
    code = CodeBundle.from_directory()
    stage_code(bucket, target, code)
    input_uri = stage_file(bucket, target, config.data.path)
    test_uri = stage_file(bucket, target, config.data.test_path) if config.data.test_path else None
    definition = build_definition(config, target, code, input_uri, test_uri)
    executor = LocalExecutor(home, max_parallel=max_parallel, on_step=on_step)
    try:
        result = executor.start(definition, target.pipeline_name)
    finally:
        executor.close()
    return LocalRun(result=result, evaluation=evaluation_report(bucket, result))


def evaluation_report(bucket: LocalBucket, result: ExecutionResult) -> dict[str, Any] | None:
    """evaluation.json of an execution, when its Evaluate step succeeded."""
    step = result.steps.get(STEP_EVALUATE)
    if not step or step["status"] != "Succeeded":
        return None
    outputs = step["properties"]["ProcessingOutputConfig"]["Outputs"]
    uri = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == EVALUATION_OUTPUT)
    path = bucket.path(f"{uri.rstrip('/')}/evaluation.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
