"""The local commands: ``run``, ``definition``, ``executions``, ``registry`` and ``report``.

``executions`` and ``registry`` also take ``--target sagemaker``, which hands them to
:mod:`pipeline.cli.aws`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.aws import add_target_option
from pipeline.cli.flags import (
    CliParser,
    add_config_options,
    add_hidden_home,
    add_home,
    config_from_args,
)
from pipeline.cli.render import (
    RunProgress,
    console,
    cost_table,
    emit_json,
    executions_table,
    print_execution,
    print_package,
    registry_table,
)
from pipeline.errors import EXIT_FAILED, UsageError


def add_commands(commands: Any) -> None:
    """Register ``run``, ``definition``, ``executions`` and ``registry``."""
    run = commands.add_parser("run", help="build the definition and run it locally")
    add_config_options(run)
    run.add_argument("--max-parallel", type=int, help="jobs at once (default: the CPU count)")
    run.add_argument(
        "--no-report",
        action="store_true",
        help="skip the HTML report (costpipe report ID writes it)",
    )
    run.add_argument(
        "--job-python",
        default=os.environ.get("COSTPIPE_JOB_PYTHON"),
        metavar="PATH",
        help="the interpreter that runs every job, standing in for the container images' "
        "Python (default: COSTPIPE_JOB_PYTHON, else this environment's)",
    )
    add_home(run)
    run.set_defaults(handler=command_run)

    definition = commands.add_parser("definition", help="print the SageMaker definition JSON")
    add_config_options(definition)
    definition.add_argument("--format", choices=("sagemaker", "asl"), default="sagemaker")
    definition.add_argument(
        "--role-arn", help="the SageMaker execution role (default: a placeholder)"
    )
    definition.add_argument("--bucket", help="the artifact bucket (default: a placeholder)")
    definition.add_argument("--region", help="the AWS region (default: us-east-1)")
    add_hidden_home(definition)
    definition.set_defaults(handler=command_definition)

    executions = commands.add_parser("executions", help="local executions, step by step")
    executions_commands = executions.add_subparsers(
        dest="action", required=True, parser_class=CliParser
    )
    listing = executions_commands.add_parser("list", help="recent executions")
    listing.add_argument("--limit", type=int, default=20)
    add_home(listing)
    add_target_option(listing)
    show = executions_commands.add_parser("show", help="one execution and its steps")
    show.add_argument("execution_id")
    add_home(show)
    add_target_option(show)
    executions.set_defaults(handler=command_executions)

    registry = commands.add_parser("registry", help="the local model registry")
    registry_commands = registry.add_subparsers(
        dest="action", required=True, parser_class=CliParser
    )
    registry_list = registry_commands.add_parser("list", help="model packages, by group")
    registry_list.add_argument("--group", help="only this model package group")
    add_home(registry_list)
    add_target_option(registry_list)
    for action in ("show", "approve", "reject", "verify"):
        sub = registry_commands.add_parser(action, help=f"{action} one model package version")
        sub.add_argument("group")
        sub.add_argument("version", type=int)
        if action in ("approve", "reject"):
            sub.add_argument("--description", help="why (kept with the approval status)")
        add_home(sub)
        add_target_option(sub)
    registry.set_defaults(handler=command_registry)


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # A terminated run stops like an interrupted one: jobs are ended, the execution is Stopped.
    raise KeyboardInterrupt


def command_run(args: argparse.Namespace) -> int:
    from pipeline.runner import run_locally

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError(f"--max-parallel must be at least 1, got {args.max_parallel}")
    config = config_from_args(args)
    interactive = sys.stdout.isatty() and not args.json
    with RunProgress(interactive) as progress:
        run = run_locally(
            config,
            args.home,
            max_parallel=args.max_parallel,
            on_step=progress,
            job_python=args.job_python,
        )
    result = run.result
    report = None if args.no_report else _run_report(args.home, result.execution_id)
    registered = None
    if result.registered:
        package = result.registered
        registered = {
            "group": package["group"],
            "version": package["version"],
            "arn": package["arn"],
            "model_uri": package["model_data_url"],
            "approval_status": package["approval_status"],
        }
    if args.json:
        emit_json(
            {
                "execution_id": result.execution_id,
                "status": result.status,
                "failure_reason": result.failure_reason,
                "registered": registered,
                "evaluation": run.evaluation,
                "report": str(report) if report else None,
            }
        )
    else:
        out = console()
        if run.evaluation:
            out.print(cost_table(run.evaluation))
        out.print(f"execution {result.execution_id}: {result.status}")
        if registered:
            out.print(
                f"registered {registered['group']} version {registered['version']} "
                f"({registered['approval_status']}): {run.evaluation['best']['verdict']}"
                if run.evaluation
                else f"registered {registered['group']} version {registered['version']}"
            )
        else:
            reason = result.failure_reason or ""
            prefix = "" if reason.startswith("nothing registered") else "nothing registered: "
            out.print(f"{prefix}{reason}")
        if report:
            print(f"report: {report}", flush=True)
    return 0 if registered else EXIT_FAILED


def _run_report(home: Path, execution_id: str) -> Path | None:
    from pipeline.report.command import write_run_report

    return write_run_report(home, execution_id)


def command_definition(args: argparse.Namespace) -> int:
    from pipeline.code_bundle import CodeBundle
    from pipeline.definition import Target, build_definition
    from pipeline.definition.inputs import data_uri
    from pipeline.definition.names import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE

    config = config_from_args(args)
    target = Target(
        bucket=args.bucket or config.aws.bucket or PLACEHOLDER_BUCKET,
        role_arn=args.role_arn or config.aws.role_arn or PLACEHOLDER_ROLE,
        region=args.region or config.aws.region,
        pipeline_name=config.aws.pipeline_name,
    )
    test = data_uri(config.data.test_path, target) if config.data.test_path else None
    definition = build_definition(
        config, target, CodeBundle.from_directory(), data_uri(config.data.path, target), test
    )
    if args.format == "asl":
        from pipeline.aws.asl import translate

        definition = translate(definition)
    emit_json(definition)
    return 0


def command_executions(args: argparse.Namespace) -> int:
    if args.target != "local":
        from pipeline.cli.aws import command_executions as on_aws

        return on_aws(args)
    from pipeline.local.store import ExecutionStore

    store = ExecutionStore(args.home)
    try:
        if args.action == "list":
            executions = store.executions(limit=args.limit)
            if args.json:
                emit_json({"executions": executions})
                return 0
            console().print(executions_table(executions, f"Executions in {args.home}"))
            return 0
        execution = store.execution(args.execution_id)
        if execution is None:
            raise UsageError(
                f"no execution '{args.execution_id}' in {args.home}: see costpipe executions list"
            )
        steps = [record.as_dict() for record in store.steps(args.execution_id)]
        if args.json:
            emit_json({"execution": execution, "steps": steps})
            return 0
        print_execution(execution, steps)
        return 0
    finally:
        store.close()


def command_registry(args: argparse.Namespace) -> int:
    if args.target != "local":
        if args.action == "verify":
            raise UsageError("registry verify checks the local registry's artifacts: drop --target")
        from pipeline.cli.aws import command_registry as on_aws

        return on_aws(args)
    from pipeline.home import bucket_folder
    from pipeline.local.bucket import LocalBucket
    from pipeline.local.registry import ModelRegistry, verify_artifact

    registry = ModelRegistry(args.home)
    try:
        if args.action == "list":
            packages = registry.packages(args.group)
            if args.json:
                emit_json({"groups": registry.groups(), "model_packages": packages})
                return 0
            console().print(registry_table(packages, f"Model registry in {args.home}"))
            return 0
        bucket = LocalBucket(bucket_folder(args.home))
        if args.action in ("show", "verify"):
            package = registry.package(args.group, args.version)
        else:
            if args.action == "approve":
                check = verify_artifact(registry.package(args.group, args.version), bucket)
                if not check["ok"]:
                    raise UsageError(
                        f"refusing to approve {args.group} version {args.version}: its model "
                        "artifact is missing or no longer matches the sha256 it was registered "
                        "with; register a new version"
                    )
            status = "Approved" if args.action == "approve" else "Rejected"
            package = registry.set_approval(args.group, args.version, status, args.description)
        integrity = verify_artifact(package, bucket)
        package = {**package, "integrity": integrity}
        if args.json:
            emit_json(package)
        else:
            state = (
                "verified"
                if integrity["ok"]
                else (
                    "MISSING"
                    if integrity["actual"] is None
                    else f"MISMATCH: now {integrity['actual']}"
                )
            )
            model = f"model: {package['model_data_url']} ({package['model_sha256']}, {state})"
            print_package(package, model, metadata=args.action == "show")
        # A model whose bytes are not the ones registered must not pass silently.
        return 0 if integrity["ok"] or args.action in ("approve", "reject") else EXIT_FAILED
    finally:
        registry.close()
