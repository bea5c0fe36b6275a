"""``costpipe predict``, ``costpipe serve`` and ``costpipe deploy``: using the registered model.

``predict`` and ``serve`` use the local registry (``predict --target sagemaker`` invokes an
endpoint instead); ``deploy --target sagemaker`` makes an endpoint from a SageMaker model
package. ``add_commands(subparsers)`` adds the three to the parser; each command returns
its exit code (0, or 2 after one line on stderr for bad input, via the CLI's InputError
handling; 1 for a failed AWS call).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli.flags import add_home, add_json
from pipeline.errors import InputError

if TYPE_CHECKING:  # scoring pulls in pandas, scikit-learn and xgboost: only when a command runs
    from pipeline.serving.registered import RegisteredModel
    from steps.decision import DecisionModel

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Seconds ``serve`` waits for the first worker to answer /ping.
READY_TIMEOUT = 60.0
#: gunicorn's request timeout, as the container's SAGEMAKER_MODEL_SERVER_TIMEOUT default.
WORKER_TIMEOUT = 60


def _model_options(parser: argparse.ArgumentParser, required: bool = True) -> None:
    which = parser.add_mutually_exclusive_group(required=required)
    which.add_argument(
        "--model",
        metavar="GROUP[/VERSION]",
        help="a registered version (a group alone: its latest version)",
    )
    which.add_argument(
        "--approved",
        nargs="?",
        const="",
        metavar="GROUP",
        help="the latest Approved version (of GROUP, or of the only group)",
    )
    add_home(parser)


def add_commands(subparsers: Any) -> None:
    """Register ``predict``, ``deploy`` and ``serve``."""
    predict = subparsers.add_parser(
        "predict", help="score a CSV or Parquet file with a registered model"
    )
    predict.add_argument("--data", type=Path, required=True, help="CSV or Parquet rows to score")
    predict.add_argument(
        "--out", type=Path, help="write the rows here (.csv or .parquet); default: CSV on stdout"
    )
    _model_options(predict, required=False)
    predict.add_argument(
        "--target",
        dest="serving_target",
        choices=("local", "sagemaker"),
        default="local",
        help="score with the local registry's model (default) or a SageMaker endpoint",
    )
    predict.add_argument("--endpoint", help="the SageMaker endpoint (with --target sagemaker)")
    predict.add_argument(
        "--package",
        metavar="GROUP/VERSION|ARN",
        help="batch transform (--target sagemaker, --data s3://...csv|.jsonl): the model package",
    )
    predict.add_argument(
        "--instance-type", default="ml.m5.large", help="batch transform instance (ml.m5.large)"
    )
    predict.add_argument(
        "--allow-unapproved", action="store_true", help="batch: a package that is not Approved"
    )
    predict.add_argument("--role-arn", help="batch: the execution role the model runs as")
    _add_region(predict)
    predict.set_defaults(handler=command_predict)

    deploy = subparsers.add_parser(
        "deploy", help="make a SageMaker endpoint from a registered model package"
    )
    deploy.add_argument("package", metavar="GROUP/VERSION|ARN", help="the model package")
    deploy.add_argument(
        "--target",
        dest="serving_target",
        choices=("sagemaker",),
        required=True,
        help="where to deploy: sagemaker",
    )
    deploy.add_argument("--endpoint-name", help="default: <group>-v<version>")
    deploy.add_argument("--instance-type", default="ml.m5.large", help="default: ml.m5.large")
    deploy.add_argument(
        "--allow-unapproved", action="store_true", help="deploy a package that is not Approved"
    )
    deploy.add_argument(
        "--no-wait", action="store_true", help="return once the endpoint is being created"
    )
    deploy.add_argument("--role-arn", help="the execution role the endpoint runs as")
    _add_region(deploy)
    add_json(deploy)
    deploy.set_defaults(handler=command_deploy)

    serve = subparsers.add_parser(
        "serve", help="serve a registered model over SageMaker's /ping and /invocations"
    )
    _model_options(serve)
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: 8080)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.set_defaults(handler=command_serve)


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION, the config's)"
    )
    parser.add_argument("--config", type=Path, help="a TOML config file (its [aws] section)")


def _aws_settings(args: argparse.Namespace) -> Any:
    from pipeline.aws.session import resolve_settings
    from pipeline.config import load_config

    flags = {"region": args.region, "role_arn": getattr(args, "role_arn", None)}
    return resolve_settings(flags, load_config(args.config).aws)


def _resolve(args: argparse.Namespace) -> RegisteredModel:
    from pipeline.serving.registered import registered_model

    home = Path(args.home).expanduser().absolute()
    return registered_model(home, args.model, args.approved)


def _load(registered: RegisteredModel) -> DecisionModel:
    from steps.decision import DecisionModel

    try:
        return DecisionModel.load(registered.artifact)
    except InputError as error:
        raise InputError(
            f"{registered.label} cannot be served: {error}; run the pipeline again to register "
            "a decision artifact"
        ) from None


def command_predict(args: argparse.Namespace) -> int:
    from pipeline.serving.predict import (
        check_destination,
        score_file,
        summary_json,
        summary_line,
        write_rows,
    )

    batch = str(args.data).startswith("s3:/")
    if args.out is not None and not batch:
        check_destination(args.out)
    given_for_batch = [
        flag
        for flag, value in (
            ("--package", args.package),
            ("--role-arn", args.role_arn),
            ("--allow-unapproved", args.allow_unapproved),
        )
        if value
    ]
    if given_for_batch and not (batch and args.serving_target == "sagemaker"):
        raise InputError(
            f"{given_for_batch[0]} is for a batch transform (--target sagemaker --data s3://...): "
            "drop it"
        )
    if args.serving_target == "sagemaker":
        return _predict_on_sagemaker(args)
    if batch:
        raise InputError("an s3:// input is scored by a batch transform: add --target sagemaker")
    if args.endpoint:
        raise InputError("--endpoint is for --target sagemaker: drop it, or add --target sagemaker")
    if args.model is None and args.approved is None:
        raise InputError("name the model: --model GROUP[/VERSION] or --approved [GROUP]")
    registered = _resolve(args)
    model = _load(registered)
    rows, summary = score_file(model, args.data)
    summary["model_package"] = registered.package["arn"]
    if args.out is not None:
        write_rows(rows, args.out)
    if args.json:
        extra: dict[str, Any] = {"version": registered.label, "out": str(args.out or "")}
        if args.out is None:
            extra["predictions"] = json.loads(rows.to_json(orient="records"))
        print(summary_json(summary, extra))
        return 0
    if args.out is None:
        sys.stdout.write(rows.to_csv(index=False))
        print(summary_line(summary, registered.label), file=sys.stderr)
    else:
        print(f"{summary_line(summary, registered.label)}; rows in {args.out}")
    return 0


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise InputError(f"--port {port} is not a port: give 1-65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise InputError(
                f"cannot listen on {host}:{port} ({error.strerror}): choose another --port"
            ) from None


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise InputError(f"the server exited with code {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    server.terminate()
    raise InputError(f"the server did not answer {url}/ping within {READY_TIMEOUT:.0f} s")


def command_serve(args: argparse.Namespace) -> int:
    from pipeline.serving.app import MODEL_DIR_ENV
    from steps.artifact import open_artifact
    from steps.model_package import MODEL_PACKAGE_ENV

    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: give at least 1")
    registered = _resolve(args)
    _check_port(args.host, args.port)
    with tempfile.TemporaryDirectory(prefix="costpipe-serve-") as scratch:
        # Like SageMaker: the archive is extracted once, each worker loads the folder.
        model_dir = open_artifact(registered.artifact, Path(scratch) / "model")
        _load(registered)  # refuse a broken artifact here, with one line, not in the workers
        environment = {
            **os.environ,
            MODEL_DIR_ENV: str(model_dir),
            MODEL_PACKAGE_ENV: registered.package["arn"],
            # The container's default (serving.set_default_serving_env_if_unspecified).
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and Path(p).is_dir()),
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}",
            "--workers",
            str(args.workers),
            "--timeout",
            str(WORKER_TIMEOUT),
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
            "pipeline.serving.app:application",
        ]
        server = subprocess.Popen(command, env=environment)

        def stop(signum: int, frame: Any) -> None:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)  # gunicorn: graceful shutdown

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            url = f"http://{args.host}:{args.port}"
            _wait_ready(url, server)
            ready = {"url": url, "model_package": registered.package["arn"], "pid": os.getpid()}
            if args.json:
                print(json.dumps({**ready, "version": registered.label}), flush=True)
            else:
                print(
                    f"serving {registered.label} ({registered.package['approval_status']}) on "
                    f"{url} with {args.workers} worker(s): POST /invocations, GET /ping; "
                    "stop with Ctrl-C or SIGTERM",
                    flush=True,
                )
            code = server.wait()
        finally:
            stop(signal.SIGTERM, None)
            server.wait()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    # gunicorn exits 0 after a graceful stop.
    return 0 if code == 0 else 1


def _aws_failures_exit_1(command: Any) -> Any:
    """An AWS call that fails for a reason other than setup: one line on stderr, exit 1."""

    def run(args: argparse.Namespace) -> int:
        from pipeline.aws.session import AwsError

        try:
            return command(args)
        except AwsError as error:
            print(f"costpipe: error: {error}", file=sys.stderr)
            return 1

    return run


@_aws_failures_exit_1
def _predict_on_sagemaker(args: argparse.Namespace) -> int:
    from pipeline.aws import session
    from pipeline.serving.predict import write_rows
    from pipeline.serving.sagemaker import endpoint_decision, invoke_rows
    from steps.data import find_data_file, read_table

    if str(args.data).startswith("s3:/"):
        return _batch_on_sagemaker(args)
    if not args.endpoint:
        raise InputError("--target sagemaker needs --endpoint NAME (see costpipe deploy)")
    if args.model is not None or args.approved is not None:
        raise InputError("the endpoint names the model: drop --model/--approved")
    frame = read_table(find_data_file(args.data))
    settings = _aws_settings(args)
    with session.aws_errors(f"invoking endpoint {args.endpoint}"):
        sm = session.client("sagemaker", settings.region)
        decision = endpoint_decision(sm, session.client("s3", settings.region), args.endpoint)
        rows = invoke_rows(
            session.client("sagemaker-runtime", settings.region), args.endpoint, frame, decision
        )
    if args.out is not None:
        write_rows(rows, args.out)
    summary = {"endpoint": args.endpoint, "rows": len(rows), "model": decision["name"]}
    if args.json:
        extra = {"out": str(args.out or "")}
        if args.out is None:
            extra["predictions"] = json.loads(rows.to_json(orient="records"))
        print(json.dumps({**summary, **extra}))
    elif args.out is None:
        sys.stdout.write(rows.to_csv(index=False))
        print(f"{args.endpoint} ({decision['name']}) scored {len(rows)} rows", file=sys.stderr)
    else:
        print(f"{args.endpoint} ({decision['name']}) scored {len(rows)} rows; rows in {args.out}")
    return 0


def _batch_on_sagemaker(args: argparse.Namespace) -> int:
    """``predict --target sagemaker --data s3://... --package P --out s3://...``: a batch
    transform job with the package's model."""
    from pipeline.aws import session
    from pipeline.serving.sagemaker import batch_transform, resolve_package_arn

    if not args.package or args.endpoint or args.model is not None or args.approved is not None:
        raise InputError(
            "a batch transform of an s3:// input needs --package GROUP/VERSION|ARN (a SageMaker "
            "model package) and no --endpoint, --model or --approved"
        )
    data = _s3_text(args.data)
    if args.out is None or not str(args.out).startswith("s3:/"):
        raise InputError("a batch transform writes to S3: give --out s3://bucket/prefix/")
    settings = _aws_settings(args)
    settings.require("role_arn")
    with session.aws_errors("running the batch transform"):
        sm = session.client("sagemaker", settings.region)
        arn = resolve_package_arn(sm, args.package)
        result = batch_transform(
            sm,
            arn,
            settings.role_arn,
            data,
            _s3_text(args.out),
            instance_type=args.instance_type,
            allow_unapproved=args.allow_unapproved,
        )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"transform job {result['transform_job_name']} {result['status']}: {data} scored by "
            f"{arn}; rows in {result['output']}"
        )
    return 0


def _s3_text(path: Path | str) -> str:
    """An s3:// URI given as a path keeps its two slashes (Path folds them into one)."""
    text = str(path)
    return "s3://" + text[len("s3:/") :].lstrip("/") if text.startswith("s3:/") else text


@_aws_failures_exit_1
def command_deploy(args: argparse.Namespace) -> int:
    from pipeline.aws import session
    from pipeline.serving.sagemaker import deploy, resolve_package_arn

    settings = _aws_settings(args)
    settings.require("role_arn")
    with session.aws_errors("deploying the model package"):
        sm = session.client("sagemaker", settings.region)
        arn = resolve_package_arn(sm, args.package)
        result = deploy(
            sm,
            arn,
            settings.role_arn,
            endpoint_name=args.endpoint_name,
            instance_type=args.instance_type,
            allow_unapproved=args.allow_unapproved,
            wait=not args.no_wait,
        )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"endpoint {result['endpoint_name']} is {result['status']}: model package "
            f"{arn} ({result['approval_status']}) on {args.instance_type}"
        )
    return 0
