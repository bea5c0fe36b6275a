"""``costpipe predict`` and ``costpipe serve``: the registered model on this machine.

``add_serving_commands(subparsers)`` adds both to a parser; each command returns its exit
code (0, or 2 after one line on stderr for bad input, via the CLI's InputError handling).
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
from typing import Any

from pipeline.errors import InputError
from pipeline.serving.app import MODEL_DIR_ENV
from pipeline.serving.predict import (
    check_destination,
    score_file,
    summary_json,
    summary_line,
    write_rows,
)
from pipeline.serving.registered import RegisteredModel, registered_model
from steps.artifact import open_artifact
from steps.decision import DecisionModel
from steps.inference import MODEL_PACKAGE_ENV

DEFAULT_HOME = ".costpipe"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Seconds ``serve`` waits for the first worker to answer /ping.
READY_TIMEOUT = 60.0
#: gunicorn's request timeout, as the container's SAGEMAKER_MODEL_SERVER_TIMEOUT default.
WORKER_TIMEOUT = 60


def _model_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
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
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get("COSTPIPE_HOME", DEFAULT_HOME)),
        help="where the local registry and bucket live (default: ./.costpipe)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_serving_commands(subparsers: Any) -> None:
    predict = subparsers.add_parser(
        "predict", help="score a CSV or Parquet file with a registered model"
    )
    predict.add_argument("--data", type=Path, required=True, help="CSV or Parquet rows to score")
    predict.add_argument(
        "--out", type=Path, help="write the rows here (.csv or .parquet); default: CSV on stdout"
    )
    _model_options(predict)
    predict.set_defaults(handler=command_predict)

    serve = subparsers.add_parser(
        "serve", help="serve a registered model over SageMaker's /ping and /invocations"
    )
    _model_options(serve)
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: 8080)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.set_defaults(handler=command_serve)


def _resolve(args: argparse.Namespace) -> RegisteredModel:
    home = Path(args.home).expanduser().absolute()
    return registered_model(home, args.model, args.approved)


def _load(registered: RegisteredModel) -> DecisionModel:
    try:
        return DecisionModel.load(registered.artifact)
    except InputError as error:
        raise InputError(
            f"{registered.label} cannot be served: {error}; run the pipeline again to register "
            "a decision artifact"
        ) from None


def command_predict(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_destination(args.out)
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
