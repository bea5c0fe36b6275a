"""Processing and training jobs as subprocesses, with SageMaker's container conventions.

Each job gets a folder that plays the container's root: its ``opt/ml/...`` tree holds the
inputs (downloaded from the local bucket), the code, the model and the outputs, and every
``/opt/ml/...`` path in the job's arguments and environment is rewritten to point there.
Jobs run the way their containers run them, or not at all:

* a processing job runs its ``ContainerEntrypoint`` and ``ContainerArguments`` as given; the
  only program the executor can stand in for is the image's Python (``python``/``python3``),
  which becomes the job interpreter (``--job-python``, default: this environment's);
* a training job runs in script mode as the stock XGBoost container's launcher does
  (``sagemaker_xgboost_container/training.py`` calls sagemaker-containers' ``run_module``):
  the archive named by ``sagemaker_submit_directory`` is extracted to ``/opt/ml/code``, the
  module name is ``sagemaker_program`` less a ``.py`` suffix (``_env._parse_module_name``), and
  it runs as ``python -m <module> --name value ...`` from ``/opt/ml/code`` with SageMaker's
  ``SM_*`` variables; ``/opt/ml/model`` is tarred into ``model.tar.gz`` under the output path.
  A job with ``InstanceCount`` N runs as N such processes at once, hosts ``algo-1`` to
  ``algo-N``, each in a folder of its own (its own ``/opt/ml``, its own share of a
  ``ShardedByS3Key`` channel) with its own ``SM_CURRENT_HOST``, the host names mapped to
  127.0.0.1 and a tracker port of the job's own (``steps.collective``); when one host fails,
  the others are stopped and the job fails with that host's reason.

Anything the executor cannot run that way (another entrypoint program, a training job without
script mode, a source bundle the container would ``pip install``) fails the step with a reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.errors import UsageError
from pipeline.local.bucket import LocalBucket
from steps.collective import HOST_ADDRESSES_VARIABLE, TRACKER_PORT_VARIABLE
from steps.model_io import safe_extract

CONTAINER_ROOT = "/opt/ml"
_CONTAINER_PATH = re.compile(r"(?<![\w/.])/opt/ml(?=/|$)")
#: How many characters of a failure reason are kept (SageMaker's FailureReason limit).
REASON_LIMIT = 1024
#: Environment variables a job never inherits: credentials stay with the runner.
_PRIVATE_ENV = re.compile(r"^(AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|SECURITY_TOKEN))$")
POLL_SECONDS = 0.1
#: How long the other hosts of a job get to end on their own once one has failed: hosts that
#: fail together (a check every host makes, a peer gone) end within moments of each other, and
#: the reason is chosen among all of them.
FAILURE_GRACE_SECONDS = 5.0
#: Where the local executor's hosts listen: each host is a process on this machine.
LOOPBACK = "127.0.0.1"
#: Starts a job so that the kernel kills it when its runner dies (Linux PR_SET_PDEATHSIG),
#: then becomes the job (exec). Jobs run in their own session, so that stopping one also
#: stops its children; without this, a runner killed with SIGKILL would leave them running.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(137)  # the runner died before the guard was in place\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def _guarded(command: list[str]) -> list[str]:
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]


class JobError(Exception):
    """A job that did not complete; ``exception_type`` is what retry policies match."""

    def __init__(self, reason: str, exception_type: str = "AlgorithmError"):
        super().__init__(reason)
        self.reason = reason[:REASON_LIMIT]
        self.exception_type = exception_type


class JobStoppedError(Exception):
    """The execution was stopped while this job ran."""


@dataclass
class JobContext:
    """One job attempt: its name, its folder (absolute: it plays the container's root and is
    the process's working directory), the stop signal, its cores and its interpreter."""

    name: str
    folder: Path
    stop: threading.Event
    threads: int
    python: str = sys.executable

    def __post_init__(self) -> None:
        if not self.folder.is_absolute():
            # A relative folder would be joined twice: once in the rewritten /opt/ml paths and
            # once more by the job, whose working directory it is.
            raise ValueError(f"a job folder must be absolute, got {self.folder}")

    def container_path(self, path: str) -> Path:
        return self.folder / PurePosixPath(path).relative_to("/")


def map_container_paths(value: str, root: Path) -> str:
    """Rewrite every /opt/ml path inside ``value`` (also after ``--flag=``) to ``root``."""
    return _CONTAINER_PATH.sub(lambda _: str(root / "opt" / "ml"), value)


def _job_environment(extra: dict[str, str], context: JobContext) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not _PRIVATE_ENV.match(k)}
    # One process per job, sharing the machine: give each its share of the cores.
    threads = str(context.threads)
    environment.update({"OMP_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"})
    environment.update({k: map_container_paths(str(v), context.folder) for k, v in extra.items()})
    if "PYTHONPATH" in extra:
        # Make the container's PYTHONPATH win over the runner's own.
        environment["PYTHONPATH"] = map_container_paths(str(extra["PYTHONPATH"]), context.folder)
    return environment


#: Programs of the stock images that the executor runs with the job interpreter.
CONTAINER_PYTHONS = ("python", "python3")


def container_module_name(program: str) -> str:
    """The module the XGBoost container's script mode runs for ``sagemaker_program``.

    sagemaker-containers 2.8 (``_env.Environment._parse_module_name``) drops a ``.py`` suffix and
    nothing else; ``run_module`` then runs ``python -m <name>`` from ``/opt/ml/code``. So
    ``steps.train`` runs the ``steps`` package's ``train`` module, while ``steps/train.py``
    becomes ``python -m steps/train``, which no interpreter can import.
    """
    return program[: -len(".py")] if program.endswith(".py") else program


def _processing_command(specification: dict[str, Any], context: JobContext) -> list[str]:
    entrypoint = [str(part) for part in specification.get("ContainerEntrypoint", [])]
    if not entrypoint:
        raise JobError(
            "ClientError: the job has no ContainerEntrypoint, so it would run the image's own "
            "entrypoint, which the local executor cannot run: give the step an entrypoint",
            "ClientError",
        )
    if entrypoint[0] not in CONTAINER_PYTHONS:
        raise JobError(
            f"ClientError: the local executor runs processing entrypoints that start with the "
            f"image's Python ({' or '.join(CONTAINER_PYTHONS)}), not '{entrypoint[0]}'",
            "ClientError",
        )
    command = [*entrypoint, *(str(a) for a in specification.get("ContainerArguments", []))]
    mapped = [map_container_paths(part, context.folder) for part in command]
    return [context.python, *mapped[1:]]


def run_process(
    command: list[str],
    environment: dict[str, str],
    context: JobContext,
    max_runtime: float | None,
    cwd: Path | None = None,
) -> None:
    """Run one job process to completion, streaming its output to files under logs/; it runs
    in ``cwd`` (default: the job folder). A job on one host (see :func:`run_hosts`)."""
    launch = HostLaunch("algo-1", command, environment, cwd or context.folder, context)
    run_hosts([launch], max_runtime)


def _start(
    command: list[str], environment: dict[str, str], context: JobContext, cwd: Path | None
) -> subprocess.Popen:
    """Start one job process, its output going to files under the job folder's logs/."""
    logs = context.folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout.log", "wb") as stdout, open(logs / "stderr.log", "wb") as stderr:
        try:
            return subprocess.Popen(
                _guarded(command),
                cwd=cwd or context.folder,
                env=environment,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so a stop ends its children too
            )
        except OSError as error:
            raise JobError(f"could not start {command[0]}: {error}", "Step.SERVICE_FAULT") from None


@dataclass
class HostLaunch:
    """One host of a job (a processing job and most training jobs have one): what it runs,
    where, and its container root."""

    host: str
    command: list[str]
    environment: dict[str, str]
    cwd: Path
    context: JobContext


def run_hosts(launches: list[HostLaunch], max_runtime: float | None) -> None:
    """Run a job's hosts at once until all of them succeed.

    When one fails, the others get FAILURE_GRACE_SECONDS to end on their own, then are stopped
    (they would wait for it in the collective until their timeout), and the job fails with a
    failed host's reason (named, when there are several). A host killed by a signal is named
    before one that then failed because its peer was gone; a host that reported bad input (exit
    code 2) before one with another error; among equals, the first host.
    A stop or the runtime limit ends every host. No host process outlives this call.
    """
    stop = launches[0].context.stop
    processes: list[subprocess.Popen] = []
    try:
        for launch in launches:
            processes.append(_start(launch.command, launch.environment, launch.context, launch.cwd))
        started = time.monotonic()
        while True:
            codes = [process.poll() for process in processes]
            failed = [index for index, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                grace = time.monotonic() + FAILURE_GRACE_SECONDS
                while time.monotonic() < grace and None in codes:
                    time.sleep(POLL_SECONDS)
                    codes = [process.poll() for process in processes]
                failed = [index for index, code in enumerate(codes) if code not in (None, 0)]
                index = min(failed, key=lambda i: (codes[i] >= 0, codes[i] != 2, i))
                _terminate_all(processes)
                reason, kind = _failure(codes[index], launches[index].context)
                if len(launches) > 1:
                    reason = f"host {launches[index].host} of {len(launches)}: {reason}"
                raise JobError(reason, kind)
            if all(code == 0 for code in codes):
                return
            if stop.is_set():
                raise JobStoppedError()
            if max_runtime is not None and time.monotonic() - started > max_runtime:
                raise JobError(
                    f"MaxRuntimeExceeded: the job ran longer than {max_runtime:g} seconds",
                    "SageMaker.JOB_INTERNAL_ERROR",
                )
            time.sleep(POLL_SECONDS)
    finally:
        _terminate_all(processes)


def _terminate_all(processes: list[subprocess.Popen]) -> None:
    """Stop every process still running, all at once: SIGTERM to each group, then SIGKILL to
    those that have not ended within five seconds."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _failure(code: int, context: JobContext) -> tuple[str, str]:
    """The reason SageMaker would show: the failure file, else the end of stderr."""
    failure_file = context.container_path(f"{CONTAINER_ROOT}/output/failure")
    if failure_file.is_file() and failure_file.read_text(errors="replace").strip():
        reason = failure_file.read_text(errors="replace").strip()
    else:
        lines = (context.folder / "logs" / "stderr.log").read_text(errors="replace").splitlines()
        reason = _reason_line([line.strip() for line in lines if line.strip()])
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        # Killed from outside (out of memory, say): SageMaker calls that an internal error.
        return f"the job was killed by signal {name}: {reason}", "SageMaker.JOB_INTERNAL_ERROR"
    return f"{reason} (exit code {code})", "AlgorithmError"


_ERROR_LINE = re.compile(r"^(error: |[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:?)")


def _reason_line(lines: list[str]) -> str:
    """The line that says what went wrong: the last ``error: ...`` or ``SomeError: ...`` line
    (a native library may print a stack trace after it), else the last line."""
    if not lines:
        return "the job wrote nothing to stderr"
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line
    return lines[-1]


def run_processing_job(
    arguments: dict[str, Any],
    bucket: LocalBucket,
    context: JobContext,
    local_environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run a CreateProcessingJob request; returns its DescribeProcessingJob-like properties."""
    for item in arguments.get("ProcessingInputs", []):
        source = item["S3Input"]
        bucket.download_prefix(source["S3Uri"], context.container_path(source["LocalPath"]))
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        context.container_path(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    config_dir = context.container_path(f"{CONTAINER_ROOT}/config")
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "processingjobconfig.json").write_text(json.dumps(arguments, indent=1))
    command = _processing_command(arguments["AppSpecification"], context)
    environment = _job_environment(arguments.get("Environment", {}), context)
    # What stands in for the AWS APIs a job calls (Evaluate's champion lookup): not part of the
    # request, so it never enters the step's cache key.
    environment.update(local_environment or {})
    max_runtime = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    run_process(command, environment, context, max_runtime)
    for item in outputs:
        output = item["S3Output"]
        bucket.upload_folder(context.container_path(output["LocalPath"]), output["S3Uri"])
    return {
        **arguments,
        "ProcessingJobName": context.name,
        "ProcessingJobArn": f"arn:aws:sagemaker:local:000000000000:processing-job/{context.name}",
        "ProcessingJobStatus": "Completed",
    }


def host_names(count: int) -> list[str]:
    """The hosts of a job with ``count`` instances, as SageMaker names them."""
    return [f"algo-{index}" for index in range(1, count + 1)]


def _free_port() -> int:
    """A port nothing listens on now, for one job's tracker: on SageMaker each job has its
    instances to itself, here several training jobs share the machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def run_training_job(
    arguments: dict[str, Any], bucket: LocalBucket, context: JobContext
) -> dict[str, Any]:
    """Run a CreateTrainingJob request in script mode, on as many hosts as it asks for.

    One instance runs in the job folder itself; each of several gets a folder of its own
    (``algo-1/`` ...) and the job's share of the cores divided between them. Returns
    DescribeTrainingJob-like properties.
    """
    hyperparameters = {k: str(v) for k, v in arguments.get("HyperParameters", {}).items()}
    program = hyperparameters.get("sagemaker_program")
    submit_directory = hyperparameters.get("sagemaker_submit_directory")
    if not program or not submit_directory:
        raise JobError(
            "ClientError: the local executor runs training jobs in script mode only; the job "
            "needs the sagemaker_program and sagemaker_submit_directory hyperparameters",
            "ClientError",
        )
    count = int(arguments.get("ResourceConfig", {}).get("InstanceCount", 1))
    if count < 1:
        raise JobError(
            f"ClientError: the training job asks for {count} instances: give at least 1",
            "ClientError",
        )
    hosts = host_names(count)
    contexts = (
        [context]
        if count == 1
        else [
            replace(context, folder=context.folder / host, threads=max(1, context.threads // count))
            for host in hosts
        ]
    )
    # Every host reaches the others on loopback, the tracker on a port of this job's own.
    network = (
        {}
        if count == 1
        else {
            HOST_ADDRESSES_VARIABLE: json.dumps(dict.fromkeys(hosts, LOOPBACK)),
            TRACKER_PORT_VARIABLE: str(_free_port()),
        }
    )
    launches = [
        _training_host(arguments, hyperparameters, bucket, host_context, hosts, host, network)
        for host, host_context in zip(hosts, contexts, strict=True)
    ]
    max_runtime = arguments.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    run_hosts(launches, max_runtime)
    output_path = arguments["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    artifacts = f"{output_path}/{context.name}/output/model.tar.gz"
    archive = context.folder / "model.tar.gz"
    _pack_models([c.container_path(f"{CONTAINER_ROOT}/model") for c in contexts], archive)
    bucket.put_file(artifacts, archive)
    return {
        **arguments,
        "TrainingJobName": context.name,
        "TrainingJobArn": f"arn:aws:sagemaker:local:000000000000:training-job/{context.name}",
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": artifacts},
    }


def _training_host(
    arguments: dict[str, Any],
    hyperparameters: dict[str, str],
    bucket: LocalBucket,
    context: JobContext,
    hosts: list[str],
    host: str,
    network: dict[str, str],
) -> HostLaunch:
    """Set up one host's container root (code, channels, config) and its command."""
    program = hyperparameters["sagemaker_program"]
    submit_directory = hyperparameters["sagemaker_submit_directory"]
    code_dir = context.container_path(f"{CONTAINER_ROOT}/code")
    code_dir.mkdir(parents=True, exist_ok=True)
    safe_extract(bucket.path(submit_directory), code_dir)
    installed = [name for name in ("setup.py", "requirements.txt") if (code_dir / name).exists()]
    if installed:
        # The container pip-installs such a bundle into its own environment before running it;
        # doing that here would change the job interpreter's environment.
        raise JobError(
            f"ClientError: the source bundle holds {installed[0]}, which the container would "
            "pip install before training; the local executor does not install packages",
            "ClientError",
        )
    module = container_module_name(program)
    channels = []
    for channel in arguments.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel["DataSource"]["S3DataSource"]
        destination = context.container_path(f"{CONTAINER_ROOT}/input/data/{name}")
        if source.get("S3DataDistributionType") == "ShardedByS3Key":
            bucket.download_share(source["S3Uri"], destination, hosts.index(host), len(hosts))
        else:
            bucket.download_prefix(source["S3Uri"], destination)
        channels.append(name)
    model_dir = context.container_path(f"{CONTAINER_ROOT}/model")
    output_data = context.container_path(f"{CONTAINER_ROOT}/output/data")
    model_dir.mkdir(parents=True, exist_ok=True)
    output_data.mkdir(parents=True, exist_ok=True)
    user = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    config_dir = context.container_path(f"{CONTAINER_ROOT}/input/config")
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=1))
    (config_dir / "inputdataconfig.json").write_text(
        json.dumps({name: {"TrainingInputMode": "File"} for name in channels}, indent=1)
    )
    (config_dir / "resourceconfig.json").write_text(
        json.dumps({"current_host": host, "hosts": hosts})
    )
    user_args = [part for key, value in user.items() for part in (f"--{key}", value)]
    sm_environment = {
        "SM_MODEL_DIR": f"{CONTAINER_ROOT}/model",
        "SM_OUTPUT_DATA_DIR": f"{CONTAINER_ROOT}/output/data",
        "SM_OUTPUT_DIR": f"{CONTAINER_ROOT}/output",
        "SM_INPUT_DIR": f"{CONTAINER_ROOT}/input",
        "SM_INPUT_CONFIG_DIR": f"{CONTAINER_ROOT}/input/config",
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(user),
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_USER_ENTRY_POINT": program,
        "SM_MODULE_DIR": submit_directory,
        "SM_HOSTS": json.dumps(hosts),
        "SM_CURRENT_HOST": host,
        "SM_NUM_CPUS": str(context.threads),
        "SM_NUM_GPUS": "0",
        **{
            f"SM_CHANNEL_{name.upper()}": f"{CONTAINER_ROOT}/input/data/{name}" for name in channels
        },
        **{f"SM_HP_{key.upper()}": value for key, value in user.items()},
        **arguments.get("Environment", {}),
    }
    environment = _job_environment(sm_environment, context)
    # Not part of the request (SageMaker's hosts resolve through /etc/hosts), so never part of
    # the step's cache key.
    environment.update(network)
    command = [context.python, "-m", module, *user_args]
    return HostLaunch(host, command, environment, code_dir, context)


def _pack_models(model_dirs: list[Path], archive: Path) -> None:
    """Every host's model folder in one model.tar.gz. A file written by two hosts fails the
    job: which copy would be kept is not defined (steps.train writes on the first host only)."""
    seen: dict[str, int] = {}
    with tarfile.open(archive, "w:gz") as tar:
        for index, model_dir in enumerate(model_dirs):
            for item in sorted(model_dir.iterdir()):
                if item.name in seen:
                    raise JobError(
                        f"AlgorithmError: hosts algo-{seen[item.name] + 1} and algo-{index + 1} "
                        f"both wrote '{item.name}' into the model folder: write it on one host",
                        "AlgorithmError",
                    )
                seen[item.name] = index
                tar.add(item, arcname=item.name)


def clean_job_folder(context: JobContext) -> None:
    """Drop a finished job's copies of its inputs and outputs (each host's, when it ran on
    several); keep its logs."""
    shutil.rmtree(context.folder / "opt", ignore_errors=True)
    for host_root in context.folder.glob("algo-*/opt"):
        shutil.rmtree(host_root, ignore_errors=True)
    (context.folder / "model.tar.gz").unlink(missing_ok=True)


#: What every job imports: an interpreter without these cannot stand in for the images' Python.
JOB_MODULES = ("numpy", "pandas", "pyarrow", "sklearn", "xgboost")
_JOB_PYTHON_PROBE = (
    "import importlib, json, sys\n"
    "missing = []\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "    except Exception:\n"
    "        missing.append(name)\n"
    "print(json.dumps({'version': list(sys.version_info[:2]), 'missing': missing}))\n"
)
MIN_JOB_PYTHON = (3, 10)


def check_job_python(python: str) -> str:
    """The job interpreter as an absolute path, once it is known to run the steps' imports."""
    found = shutil.which(python)
    if found is None:
        raise UsageError(
            f"job interpreter '{python}' is not an executable file: give the path of a Python "
            "(for example .venv-container/bin/python)"
        )
    try:
        probe = subprocess.run(
            [found, "-c", _JOB_PYTHON_PROBE, *JOB_MODULES],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        report = json.loads(probe.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        raise UsageError(
            f"job interpreter '{python}' did not run as Python: give the path of a Python"
        ) from None
    if tuple(report["version"]) < MIN_JOB_PYTHON:
        raise UsageError(
            f"job interpreter '{python}' is Python {'.'.join(map(str, report['version']))}; the "
            f"steps need {'.'.join(map(str, MIN_JOB_PYTHON))} or newer"
        )
    if report["missing"]:
        raise UsageError(
            f"job interpreter '{python}' cannot import {', '.join(report['missing'])}: install "
            "the steps' libraries into it (pip install -r infra/container-requirements.txt)"
        )
    # Not resolve(): a virtual environment's python is a link whose target is not that venv.
    return str(Path(found).absolute())
