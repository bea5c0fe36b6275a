"""``costpipe run``: check the input, stage it, build the definition, execute it locally.

Everything that can be found wrong before the execution starts is found here (the data is read
and checked with the same code the Preprocess job runs, :func:`pipeline.definition.inputs.
check_data`), so bad input exits 2 and no execution is recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.code_bundle import CodeBundle
from pipeline.config import Config
from pipeline.definition import Target, build_definition
from pipeline.definition.inputs import check_data, data_uri
from pipeline.definition.names import EVALUATION_OUTPUT, STEP_EVALUATE
from pipeline.errors import UsageError
from pipeline.home import bucket_folder
from pipeline.local.bucket import LocalBucket
from pipeline.local.executor import ExecutionResult, LocalExecutor, StepEvent
from pipeline.local.jobs import check_job_python
from steps.data import find_data_file

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


def stage_file(bucket: LocalBucket, target: Target, location: str) -> str:
    """Put a local file in the local bucket at its content address; return its URI.

    The address is :func:`~pipeline.definition.inputs.data_uri`'s, the one an upload to AWS
    uses: the same bytes always get the same URI, so a rerun on the same data hits the cache.
    """
    if location.startswith("s3://"):
        if not bucket.exists(location):
            raise UsageError(
                f"'{location}' is not in the local bucket ({bucket.root}): local runs read local "
                "files; give a path"
            )
        return location
    uri = data_uri(location, target)
    if not bucket.exists(uri):
        bucket.put_file(uri, find_data_file(Path(location)))
    return uri


def stage_code(bucket: LocalBucket, target: Target, code: CodeBundle) -> None:
    for uri, content in code.objects(target.bucket, target.pipeline_name).items():
        bucket.put_bytes(uri, content)


def run_locally(
    config: Config,
    home: Path,
    max_parallel: int | None = None,
    on_step: StepEvent | None = None,
    job_python: str | None = None,
) -> LocalRun:
    """Check, stage, build and execute; returns the execution and its evaluation report.

    ``job_python`` is the interpreter every job runs with (default: this environment's).
    """
    job_python = check_job_python(job_python) if job_python else None
    check_data(config)
    home = Path(home).absolute()
    target = local_target(config)
    bucket = LocalBucket(bucket_folder(home))
    code = CodeBundle.from_directory()
    stage_code(bucket, target, code)
    input_uri = stage_file(bucket, target, config.data.path)
    test_uri = stage_file(bucket, target, config.data.test_path) if config.data.test_path else None
    definition = build_definition(config, target, code, input_uri, test_uri)
    executor = LocalExecutor(
        home, max_parallel=max_parallel, on_step=on_step, job_python=job_python
    )
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
