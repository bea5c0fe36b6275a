"""The local executor: runs a SageMaker pipeline definition JSON on this machine.

It interprets the definition itself (never a second, hand-kept copy of the DAG): steps whose
inputs are ready run at once, up to ``max_parallel`` jobs at a time; ``Get``, ``Std:Join``,
``Std:JsonGet``, parameters, execution variables and ``DependsOn`` are honoured; a condition
step releases its true or false branch; a fail step fails the execution with its message; a
registration step writes to the local model registry. Step caching follows SageMaker's: the
same cache-key attributes within ``ExpireAfter`` reuse the earlier outputs. A failed step
fails the execution with its reason, and nothing that depends on it runs.

The scheduler thread resolves expressions and records outcomes; worker threads run the job
processes and record only when their job starts executing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import string
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.definition.expressions import (
    ExpressionError,
    condition_holds,
    evaluate,
    lookup,
    parse_path,
)
from pipeline.definition.graph import all_steps, check_graph, dependencies
from pipeline.definition.parameters import resolve_parameters
from pipeline.errors import UsageError
from pipeline.home import bucket_folder, database_path, job_folder
from pipeline.local.bucket import LocalBucket
from pipeline.local.jobs import (
    JobContext,
    JobError,
    JobStoppedError,
    clean_job_folder,
    run_processing_job,
    run_training_job,
)
from pipeline.local.registry import ModelRegistry
from pipeline.local.store import (
    EXECUTING,
    FAILED,
    STARTING,
    STOPPED,
    SUCCEEDED,
    ExecutionStore,
)
from steps.champion import LOCAL_BUCKET_VARIABLE, LOCAL_REGISTRY_VARIABLE
from steps.data import file_digest

LOCAL_ACCOUNT = "000000000000"
#: The attributes SageMaker compares to decide a cache hit, per step type.
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
}
JOB_STEP_TYPES = ("Processing", "Training")

StepEvent = Callable[[str, str, dict[str, Any]], None]


def new_execution_id() -> str:
    """Twelve lowercase letters and digits, like SageMaker's execution ids."""
    alphabet = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(alphabet) for _ in range(11)
    )


def parse_duration(text: str) -> timedelta:
    """ISO 8601 durations as CacheConfig's ExpireAfter uses them: P30D, PT1H, P1Y2M, 30d."""
    match = re.fullmatch(
        r"P?(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?",
        text.strip().upper(),
    )
    if not match or not any(match.groups()):
        raise UsageError(f"cache ExpireAfter '{text}' is not an ISO 8601 duration such as P30D")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(
        days=365 * years + 30 * months + 7 * weeks + days,
        hours=hours,
        minutes=minutes,
        seconds=seconds,
    )


@dataclass
class ExecutionResult:
    execution_id: str
    arn: str
    status: str
    failure_reason: str | None
    registered: dict[str, Any] | None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Run:
    """Mutable state of one execution, owned by the scheduler thread."""

    execution_id: str
    arn: str
    pipeline_name: str
    definition: dict[str, Any]
    parameters: dict[str, Any]
    started: datetime
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_files: dict[tuple[str, str], Any] = field(default_factory=dict)
    failure_reason: str | None = None
    stopped: bool = False
    registered: dict[str, Any] | None = None

    def variable(self, name: str) -> Any:
        values = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.arn,
            "PipelineName": self.pipeline_name,
            "PipelineArn": self.arn.split("/execution/")[0],
            "StartDateTime": self.started.isoformat(),
            "CurrentDateTime": datetime.now(UTC).isoformat(),
        }
        return values[name]


class LocalExecutor:
    """Runs definitions against a home folder (bucket, database, job folders).

    The scheduler thread resolves expressions and records step outcomes; worker threads run
    job processes and record only that their job began executing (the store is locked).

    Parameters
    ----------
    home : Path
        Where the local bucket, the database and the job folders live.
    max_parallel : int
        Jobs that may run at once (default: the CPU count).
    on_step : callable, optional
        Called as ``on_step(step_name, status, details)`` whenever a step changes status.
    retry_interval_scale : float
        Multiplies retry policies' intervals (tests use 0 to retry at once).
    job_python : str, optional
        The interpreter that stands in for the images' Python in every job (default: this
        environment's), e.g. one built with the container's pins
        (``infra/container-requirements.txt``); see :func:`pipeline.local.jobs.check_job_python`.
    """

    def __init__(
        self,
        home: Path,
        max_parallel: int | None = None,
        on_step: StepEvent | None = None,
        retry_interval_scale: float = 1.0,
        job_python: str | None = None,
    ):
        cpus = os.cpu_count() or 1
        self.max_parallel = max_parallel or cpus
        if self.max_parallel < 1:
            raise UsageError(f"--max-parallel must be at least 1, got {self.max_parallel}")
        # Absolute once, here: jobs run in their own folders, where a relative home would be
        # joined again.
        self.home = Path(home).absolute()
        self.job_python = job_python or sys.executable
        self.bucket = LocalBucket(bucket_folder(self.home))
        self.store = ExecutionStore(self.home)
        self.registry = ModelRegistry(self.home)
        self.on_step = on_step or (lambda name, status, details: None)
        self.retry_interval_scale = retry_interval_scale
        self.cpus = cpus
        self.stop_event = threading.Event()
        self._threads_per_job = 1

    def close(self) -> None:
        self.store.close()
        self.registry.close()

    # public --------------------------------------------------------------------------------
    def start(
        self,
        definition: dict[str, Any],
        pipeline_name: str,
        parameters: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Run one execution to its end (Succeeded, Failed or Stopped) and return its result."""
        check_graph(definition)
        values = resolve_parameters(definition.get("Parameters", []), parameters or {})
        execution_id = new_execution_id()
        arn = (
            f"arn:aws:sagemaker:local:{LOCAL_ACCOUNT}:pipeline/{pipeline_name.lower()}"
            f"/execution/{execution_id}"
        )
        self.store.upsert_pipeline(pipeline_name, definition)
        self.store.create_execution(execution_id, arn, pipeline_name, values, definition)
        run = _Run(execution_id, arn, pipeline_name, definition, values, datetime.now(UTC))
        try:
            self._schedule(run)
        except KeyboardInterrupt:
            run.stopped = True
            run.failure_reason = "stopped by the user"
            raise
        finally:
            status = STOPPED if run.stopped else FAILED if run.failure_reason else SUCCEEDED
            self.store.finish_execution(execution_id, status, run.failure_reason)
        steps = {record.name: record.as_dict() for record in self.store.steps(execution_id)}
        return ExecutionResult(execution_id, arn, status, run.failure_reason, run.registered, steps)

    # scheduling ----------------------------------------------------------------------------
    def _schedule(self, run: _Run) -> None:
        pending = list(run.definition.get("Steps", []))
        done: set[str] = set()
        running: dict[Future, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="job") as pool:
            try:
                while True:
                    # Launching can finish steps at once (conditions, cache hits) and release
                    # others, so keep launching until nothing more is ready.
                    ready = self._ready(run, pending, done)
                    while ready:
                        self._share_cores(ready, running)
                        for step in ready:
                            pending.remove(step)
                            self._launch(run, step, pool, running, pending, done)
                        ready = self._ready(run, pending, done)
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        step = running.pop(future)
                        self._collect(run, step, future, done)
            except KeyboardInterrupt:
                self.stop_event.set()
                for future, step in running.items():
                    # Wait for the job to notice the stop; how it ended no longer matters.
                    with contextlib.suppress(Exception):
                        future.result()
                    self.store.finish_step(run.execution_id, step["Name"], STOPPED)
                    self.on_step(step["Name"], STOPPED, {})
                raise
        if run.failure_reason is None and pending:
            names = ", ".join(s["Name"] for s in pending)
            run.failure_reason = f"steps never became ready (unmet dependencies): {names}"

    def _share_cores(self, ready: list[dict[str, Any]], running: dict[Future, Any]) -> None:
        """Threads for each job about to start: the cores shared by every job that will run at
        once. Decided for the whole batch before any of it starts: a job that picked its share
        when it started could see itself alone, take every core, and then run beside another
        job with more threads than cores (OpenMP threads spinning on an oversubscribed machine
        ran five times slower here). A job that runs alone (Preprocess, Evaluate) gets them all.
        """
        jobs = sum(1 for step in ready if step["Type"] in JOB_STEP_TYPES)
        if jobs:
            at_once = min(self.max_parallel, len(running) + jobs)
            self._threads_per_job = max(1, self.cpus // at_once)

    @staticmethod
    def _ready(run: _Run, pending: list[dict[str, Any]], done: set[str]) -> list[dict[str, Any]]:
        if run.failure_reason is not None:
            return []  # a failed execution starts nothing new
        return [step for step in pending if dependencies(step) <= done]

    def _launch(
        self,
        run: _Run,
        step: dict[str, Any],
        pool: ThreadPoolExecutor,
        running: dict[Future, dict[str, Any]],
        pending: list[dict[str, Any]],
        done: set[str],
    ) -> None:
        name, kind = step["Name"], step["Type"]
        # A job waits for a free slot as Starting; its worker marks it Executing.
        status = STARTING if kind in JOB_STEP_TYPES else EXECUTING
        self.store.start_step(run.execution_id, step, status=status)
        self.on_step(name, status, {})
        try:
            arguments = self._resolve(run, step.get("Arguments", {}), step)
        except ExpressionError as error:
            self._fail(run, step, f"cannot resolve the step's arguments: {error}")
            return
        if kind in JOB_STEP_TYPES:
            hit = self._cache_hit(run, step, arguments)
            if hit is not None:
                source, properties = hit
                run.properties[name] = properties
                done.add(name)
                self.store.finish_step(
                    run.execution_id, name, SUCCEEDED, properties, cache_source=source
                )
                self.on_step(name, SUCCEEDED, {"cache_source": source})
                return
            running[pool.submit(self._run_job, run, step, arguments, self._threads_per_job)] = step
        elif kind == "Condition":
            self._run_condition(run, step, pending, done)
        elif kind == "Fail":
            message = str(arguments.get("ErrorMessage", "") or "the pipeline reached a fail step")
            self._fail(run, step, message, execution_reason=message)
        elif kind == "RegisterModel":
            self._run_registration(run, step, arguments, done)
        else:
            self._fail(run, step, f"the local executor cannot run {kind} steps")

    def _collect(self, run: _Run, step: dict[str, Any], future: Future, done: set[str]) -> None:
        name = step["Name"]
        try:
            properties = future.result()
        except JobStoppedError:
            run.stopped = True
            run.failure_reason = run.failure_reason or "stopped"
            self.store.finish_step(run.execution_id, name, STOPPED)
            self.on_step(name, STOPPED, {})
            return
        except JobError as failure:
            self._fail(run, step, failure.reason)
            return
        run.properties[name] = properties
        done.add(name)
        self.store.finish_step(run.execution_id, name, SUCCEEDED, properties)
        key = self._cache_key(step, properties)
        if key is not None:
            self.store.remember(key, run.execution_id, name, properties)
        self.on_step(name, SUCCEEDED, {})

    def _fail(
        self, run: _Run, step: dict[str, Any], reason: str, execution_reason: str | None = None
    ) -> None:
        self.store.finish_step(run.execution_id, step["Name"], FAILED, failure_reason=reason)
        self.on_step(step["Name"], FAILED, {"reason": reason})
        if run.failure_reason is None:
            run.failure_reason = execution_reason or f"step {step['Name']} failed: {reason}"

    # expressions ---------------------------------------------------------------------------
    def _get(self, run: _Run, path: str) -> Any:
        tokens = parse_path(path)
        if tokens[0] == "Parameters":
            return run.parameters[str(tokens[1])]
        if tokens[0] == "Execution":
            return run.variable(str(tokens[1]))
        step = str(tokens[1])
        if step not in run.properties:
            raise ExpressionError(f"{path}: step '{step}' has not succeeded")
        return lookup(run.properties[step], tokens[2:], path)

    def _property_file(self, run: _Run, step_name: str, file_name: str) -> Any:
        key = (step_name, file_name)
        if key not in run.property_files:
            step = next(s for s in all_steps(run.definition) if s["Name"] == step_name)
            declared = next(
                f for f in step.get("PropertyFiles", []) if f["PropertyFileName"] == file_name
            )
            output = lookup(
                run.properties[step_name],
                ["ProcessingOutputConfig", "Outputs", declared["OutputName"], "S3Output", "S3Uri"],
                f"{step_name}.{file_name}",
            )
            path = self.bucket.path(f"{output.rstrip('/')}/{declared['FilePath']}")
            try:
                run.property_files[key] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ExpressionError(
                    f"property file {file_name} of {step_name}: {error}"
                ) from None
        return run.property_files[key]

    def _resolve(self, run: _Run, value: Any, step: dict[str, Any]) -> Any:
        if step["Type"] == "Condition":
            return {}  # conditions are evaluated lazily, branches are not arguments
        return evaluate(
            value, lambda p: self._get(run, p), lambda s, f: self._property_file(run, s, f)
        )

    # steps ---------------------------------------------------------------------------------
    def _run_job(
        self, run: _Run, step: dict[str, Any], arguments: dict[str, Any], threads: int
    ) -> dict[str, Any]:
        """Worker thread: run the job, retrying as its retry policies allow."""
        policies = step.get("RetryPolicies", [])
        attempt = 0
        while True:
            attempt += 1
            self.store.start_step(run.execution_id, step, attempt=attempt)
            self.on_step(step["Name"], EXECUTING, {"attempt": attempt})
            context = self._context(run, step, attempt, threads)
            try:
                try:
                    if step["Type"] == "Processing":
                        properties = run_processing_job(
                            arguments, self.bucket, context, self._local_services()
                        )
                    else:
                        properties = run_training_job(arguments, self.bucket, context)
                    clean_job_folder(context)
                    return properties
                except OSError as error:
                    # The runner's own file work failed (a full disk, say): the step's reason.
                    raise JobError(
                        f"copying the job's inputs or outputs failed: {error}", "ClientError"
                    ) from None
            except JobError as failure:
                delay = _retry_delay(policies, failure.exception_type, attempt)
                if delay is None:
                    raise
                if self.stop_event.wait(delay * self.retry_interval_scale):
                    raise JobStoppedError() from None

    def _local_services(self) -> dict[str, str]:
        """What a processing job reads instead of SageMaker and S3: the local registry's
        database and the local bucket's folder (``steps/champion.py``)."""
        return {
            LOCAL_REGISTRY_VARIABLE: str(database_path(self.home)),
            LOCAL_BUCKET_VARIABLE: str(bucket_folder(self.home)),
        }

    def _context(self, run: _Run, step: dict[str, Any], attempt: int, threads: int) -> JobContext:
        suffix = secrets.token_hex(4)
        name = f"pipelines-{run.execution_id}-{step['Name']}-{suffix}"[:63].rstrip("-").lower()
        folder = job_folder(self.home, run.execution_id, step["Name"], attempt)
        folder.mkdir(parents=True, exist_ok=True)
        return JobContext(
            name=name, folder=folder, stop=self.stop_event, threads=threads, python=self.job_python
        )

    def _run_condition(
        self, run: _Run, step: dict[str, Any], pending: list[dict[str, Any]], done: set[str]
    ) -> None:
        arguments = step["Arguments"]
        try:
            outcome = all(
                condition_holds(
                    condition,
                    lambda p: self._get(run, p),
                    lambda s, f: self._property_file(run, s, f),
                )
                for condition in arguments.get("Conditions", [])
            )
        except ExpressionError as error:
            self._fail(run, step, f"cannot evaluate the conditions: {error}")
            return
        properties = {"Outcome": "True" if outcome else "False"}
        run.properties[step["Name"]] = properties
        done.add(step["Name"])
        self.store.finish_step(run.execution_id, step["Name"], SUCCEEDED, properties)
        self.on_step(step["Name"], SUCCEEDED, properties)
        pending.extend(arguments.get("IfSteps" if outcome else "ElseSteps", []))

    def _run_registration(
        self, run: _Run, step: dict[str, Any], arguments: dict[str, Any], done: set[str]
    ) -> None:
        try:
            container = arguments["InferenceSpecification"]["Containers"][0]
            model_url = container["ModelDataUrl"]
            model_file = self.bucket.path(model_url)
            if not model_file.is_file():
                raise ExpressionError(f"no model artifact at {model_url}")
            metrics = None
            statistics = (
                arguments.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
            )
            if statistics.get("S3Uri"):
                metrics = json.loads(self.bucket.path(statistics["S3Uri"]).read_text("utf-8"))
            package = self.registry.create_model_package(
                group=arguments["ModelPackageGroupName"],
                model_data_url=model_url,
                approval_status=arguments.get("ModelApprovalStatus", "PendingManualApproval"),
                metadata={
                    k: str(v) for k, v in arguments.get("CustomerMetadataProperties", {}).items()
                },
                metrics=metrics,
                image=container.get("Image"),
                environment={k: str(v) for k, v in container.get("Environment", {}).items()},
                description=arguments.get("ModelPackageDescription"),
                model_sha256=file_digest(model_file),
                execution_arn=run.arn,
            )
        except (KeyError, ExpressionError, OSError, ValueError) as error:
            self._fail(run, step, f"registration failed: {error}")
            return
        properties = {
            "ModelPackageArn": package["arn"],
            "ModelPackageGroupName": package["group"],
            "ModelPackageVersion": package["version"],
        }
        run.properties[step["Name"]] = properties
        run.registered = package
        done.add(step["Name"])
        self.store.finish_step(run.execution_id, step["Name"], SUCCEEDED, properties)
        self.on_step(step["Name"], SUCCEEDED, properties)

    # cache ---------------------------------------------------------------------------------
    def _cache_key(self, step: dict[str, Any], arguments: dict[str, Any]) -> str | None:
        config = step.get("CacheConfig") or {}
        if not config.get("Enabled") or step["Type"] not in CACHE_KEY_ATTRIBUTES:
            return None
        attributes = {k: arguments.get(k) for k in CACHE_KEY_ATTRIBUTES[step["Type"]]}
        payload = json.dumps([step["Type"], attributes], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _cache_hit(
        self, run: _Run, step: dict[str, Any], arguments: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        key = self._cache_key(step, arguments)
        if key is None:
            return None
        max_age = parse_duration(step["CacheConfig"].get("ExpireAfter", "P3650D"))
        for source, properties in self.store.cached(key, max_age):
            if self._outputs_exist(step["Type"], properties):
                return source, properties
        return None

    def _outputs_exist(self, kind: str, properties: dict[str, Any]) -> bool:
        if kind == "Training":
            uris = [properties["ModelArtifacts"]["S3ModelArtifacts"]]
        else:
            outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
            uris = [o["S3Output"]["S3Uri"] for o in outputs]
        return all(self.bucket.exists(uri) for uri in uris)


def _retry_delay(policies: list[dict[str, Any]], exception_type: str, attempt: int) -> float | None:
    """Seconds to wait before the next attempt, or None when no policy retries this failure."""
    for policy in policies:
        if exception_type in policy.get("ExceptionType", []):
            if attempt >= int(policy.get("MaxAttempts", 0)):
                return None
            interval = float(policy.get("IntervalSeconds", 1))
            return interval * float(policy.get("BackoffRate", 1.0)) ** (attempt - 1)
    return None
