"""The AWS commands: ``upsert``, ``start``, ``wait``, and ``--target sagemaker`` for
``executions`` and ``registry`` (which :mod:`pipeline.cli.local` hands here).

Settings come from flags, then the environment (``COSTPIPE_ROLE_ARN``, ``COSTPIPE_BUCKET``,
``COSTPIPE_PIPELINE_NAME``, ``COSTPIPE_STATE_MACHINE_ROLE_ARN``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``), then the config file's ``[aws]`` section. Missing settings or
credentials exit 2 with one line before anything is uploaded or created; an execution that
fails or a wait that times out exits 1.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.aws import session
from pipeline.aws.session import AwsError, AwsSettings, aws_errors, resolve_settings
from pipeline.cli.flags import add_config_options, add_hidden_home, add_json, config_from_args
from pipeline.cli.render import (
    WaitProgress,
    console,
    emit_json,
    executions_table,
    print_execution,
    print_package,
    registry_table,
)
from pipeline.config import load_config
from pipeline.errors import EXIT_FAILED, UsageError

DEPLOY_TARGETS = ("sagemaker", "stepfunctions")
DEFAULT_TIMEOUT = 3 * 3600
DEFAULT_POLL = 30.0
ARN_SERVICES = {"sagemaker": "sagemaker", "stepfunctions": "states"}

Command = Callable[[argparse.Namespace], int]


# arguments -----------------------------------------------------------------------------------
def _add_aws_settings(
    parser: argparse.ArgumentParser, *, data_flags: bool = False, deploy: bool = False
) -> None:
    """The AWS settings flags; ``data_flags`` when the parser already has the data flags
    (``--config``, ``--pipeline-name``)."""
    group = parser.add_argument_group(
        "AWS (flags, else COSTPIPE_* / AWS_REGION variables, else the config's [aws] section)"
    )
    if not data_flags:
        group.add_argument("--config", type=Path, help="a TOML config file (its [aws] section)")
        group.add_argument("--pipeline-name", help="the pipeline's (and state machine's) name")
    group.add_argument("--region", help="the AWS region")
    if deploy:
        group.add_argument("--role-arn", help="the SageMaker execution role the jobs run as")
        group.add_argument("--bucket", help="the artifact bucket (code, data, outputs)")
        group.add_argument(
            "--state-machine-role-arn", help="the role Step Functions runs as (stepfunctions)"
        )


def _add_deploy_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        dest="deploy_target",
        choices=DEPLOY_TARGETS,
        default="sagemaker",
        help="SageMaker Pipelines (default) or Step Functions",
    )


def add_target_option(parser: argparse.ArgumentParser) -> None:
    """``--target local|sagemaker`` (default local) and the AWS settings, for executions and
    registry subcommands."""
    parser.add_argument(
        "--target",
        choices=("local", "sagemaker"),
        default="local",
        help="the local store (default) or SageMaker",
    )
    _add_aws_settings(parser)


def add_commands(commands: Any) -> None:
    """Register ``upsert``, ``start`` and ``wait`` on the CLI's subcommand parsers."""
    # The data flags include --target (the target column); here --target is where to deploy,
    # so the column moves to --target-column.
    upsert = commands.add_parser(
        "upsert",
        help="upload code and data, create or update the pipeline or state machine",
        conflict_handler="resolve",
    )
    add_config_options(upsert)
    upsert.add_argument("--target-column", help="the target column")
    _add_deploy_target(upsert)
    _add_aws_settings(upsert, data_flags=True, deploy=True)
    add_json(upsert)
    add_hidden_home(upsert)
    upsert.set_defaults(handler=command_upsert)

    start = commands.add_parser("start", help="start an execution on AWS")
    _add_deploy_target(start)
    _add_aws_settings(start)
    start.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline parameter (repeatable)",
    )
    add_json(start)
    start.set_defaults(handler=command_start)

    wait = commands.add_parser("wait", help="wait for an AWS execution to end")
    _add_deploy_target(wait)
    wait.add_argument("--execution-arn", required=True, help="the execution to wait for")
    wait.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"give up after this many seconds (default {DEFAULT_TIMEOUT}; 0: no limit)",
    )
    wait.add_argument(
        "--poll", type=float, default=DEFAULT_POLL, help="seconds between checks (default 30)"
    )
    add_json(wait)
    wait.set_defaults(handler=command_wait)


def parse_parameters(assignments: list[str]) -> dict[str, str]:
    """``["Name=Value", ...]`` -> ``{"Name": "Value"}``; types are checked by the target."""
    values: dict[str, str] = {}
    for text in assignments:
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals or not name:
            raise UsageError(f"--parameter '{text}' is not NAME=VALUE")
        if name in values:
            raise UsageError(f"--parameter {name} is given twice: give it once")
        values[name] = value
    return values


def settings_from_args(args: argparse.Namespace, config: Any = None) -> AwsSettings:
    """Flags > environment > the config's ``[aws]`` section (``--config`` or ``config``)."""
    if config is None:
        config = load_config(getattr(args, "config", None))
    flags = {
        name: getattr(args, name, None)
        for name in ("region", "pipeline_name", "role_arn", "bucket", "state_machine_role_arn")
    }
    return resolve_settings(flags, config.aws)


def _reported(command: Command) -> Command:
    """AWS failures other than setup: one line on stderr, exit 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except AwsError as error:
            print(f"costpipe: error: {error}", file=sys.stderr)
            return EXIT_FAILED

    return run


# upsert / start / wait -----------------------------------------------------------------------
@_reported
def command_upsert(args: argparse.Namespace) -> int:
    """Build the definition, upload what is missing, create or update the pipeline."""
    from pipeline.aws import asl, sagemaker, stepfunctions, uploads
    from pipeline.code_bundle import CodeBundle
    from pipeline.definition import build_definition
    from pipeline.definition.inputs import check_data

    column_args = argparse.Namespace(**{**vars(args), "target": args.target_column})
    config = config_from_args(column_args)
    settings = settings_from_args(args, config)
    required = ["role_arn", "bucket"]
    if args.deploy_target == "stepfunctions":
        required.append("state_machine_role_arn")
    settings.require(*required)
    if not any(p.startswith("s3://") for p in (config.data.path, config.data.test_path)):
        check_data(config)  # the checks Preprocess runs, on local files: bad data exits 2 now
    # The credentials first: the definition takes seconds to build, and nothing may change
    # in the account before every check has passed.
    account = session.account_id(settings.region)
    target = settings.target()
    code = CodeBundle.from_directory()
    plan = uploads.plan(config, target, code)
    definition = build_definition(config, target, code, plan.input_uri, plan.test_uri)
    machine = asl.translate(definition) if args.deploy_target == "stepfunctions" else None
    with aws_errors(f"uploading to s3://{settings.bucket}"):
        s3 = session.client("s3", settings.region)
        uploads.check_bucket(s3, settings.bucket)
        report = uploads.upload_missing(s3, plan.objects)
    if machine is None:
        with aws_errors(f"creating or updating SageMaker pipeline {settings.pipeline_name}"):
            done = sagemaker.upsert_pipeline(
                session.client("sagemaker", settings.region),
                settings.pipeline_name,
                definition,
                settings.role_arn,
                f"costpipe: {len(config.settings)} cost settings, code {code.digest[:12]}",
            )
        what = "SageMaker pipeline"
    else:
        with aws_errors(f"creating or updating state machine {settings.pipeline_name}"):
            done = stepfunctions.upsert_state_machine(
                session.client("stepfunctions", settings.region),
                settings.pipeline_name,
                machine,
                settings.state_machine_role_arn,
            )
        what = "Step Functions state machine"
    if args.json:
        emit_json(
            {
                "target": args.deploy_target,
                "action": done.action,
                "name": settings.pipeline_name,
                "arn": done.arn,
                "account": account,
                "region": settings.region,
                "input_uri": plan.input_uri,
                "test_uri": plan.test_uri,
                "code_digest": code.digest,
                "uploads": report.as_dict(),
            }
        )
        return 0
    out = console()
    out.print(
        f"uploaded {len(report.uploaded)} objects ({report.bytes_uploaded:,} bytes) to "
        f"s3://{settings.bucket}/{settings.pipeline_name}/, {len(report.skipped)} already there"
    )
    out.print(f"{done.action} {what} {settings.pipeline_name}: {done.arn}")
    return 0


@_reported
def command_start(args: argparse.Namespace) -> int:
    """Start an execution with parameter overrides; print its ARN."""
    from pipeline.aws import sagemaker, stepfunctions

    settings = settings_from_args(args)
    overrides = parse_parameters(args.parameter)
    name = settings.pipeline_name
    with aws_errors(f"starting an execution of {name}"):
        if args.deploy_target == "sagemaker":
            arn = sagemaker.start_pipeline(
                session.client("sagemaker", settings.region), name, overrides
            )
        else:
            arn = stepfunctions.start_execution(
                session.client("stepfunctions", settings.region), name, overrides
            )
    if args.json:
        emit_json({"execution_arn": arn})
    else:
        print(arn)
    return 0


def arn_region(arn: str, deploy_target: str) -> str:
    """The region inside an execution ARN, after checking the ARN belongs to the target."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[3]:
        raise UsageError(f"'{arn}' is not an execution ARN: pass the ARN costpipe start printed")
    if parts[2] != ARN_SERVICES[deploy_target]:
        raise UsageError(
            f"'{arn}' is a {parts[2]} ARN, not a {deploy_target} execution: check --target"
        )
    return parts[3]


@_reported
def command_wait(args: argparse.Namespace) -> int:
    """Poll until the execution ends: 0 when it succeeded, 1 when it failed or time ran out."""
    from pipeline.aws import sagemaker, stepfunctions
    from pipeline.aws.waiting import SUCCEEDED, WaitTimeoutError, wait_for

    if args.poll <= 0 or args.timeout < 0:
        raise UsageError("--poll must be above 0 and --timeout at least 0")
    region = arn_region(args.execution_arn, args.deploy_target)
    if args.deploy_target == "sagemaker":
        client = session.client("sagemaker", region)
        poll = functools.partial(sagemaker.snapshot, client, args.execution_arn)
    else:
        client = session.client("stepfunctions", region)
        poll = functools.partial(stepfunctions.snapshot, client, args.execution_arn)
    timed_out, message = False, ""
    with (
        aws_errors(f"checking execution {args.execution_arn}"),
        WaitProgress(sys.stdout.isatty() and not args.json) as display,
    ):
        try:
            last = wait_for(poll, args.timeout, args.poll, on_update=display)
        except WaitTimeoutError as timeout:
            last, timed_out, message = timeout.snapshot, True, str(timeout)
    succeeded = not timed_out and last.outcome == SUCCEEDED
    reason = None if succeeded or timed_out else last.failure_summary()
    if args.json:
        emit_json(
            {
                "execution_arn": last.arn,
                "status": last.status,
                "timed_out": timed_out,
                "failure_reason": reason,
                "steps": [vars(step) for step in last.steps],
            }
        )
    elif succeeded:
        console().print(f"{last.arn}: {last.status}")
    if timed_out:
        print(f"costpipe: error: {message}", file=sys.stderr)
    elif not succeeded:
        print(f"costpipe: execution {last.status}: {reason}", file=sys.stderr)
    return 0 if succeeded else EXIT_FAILED


# executions / registry on SageMaker ----------------------------------------------------------
@_reported
def command_executions(args: argparse.Namespace) -> int:
    """``executions list|show --target sagemaker``."""
    from pipeline.aws import sagemaker

    settings = settings_from_args(args)
    name = settings.pipeline_name
    with aws_errors(f"reading executions of SageMaker pipeline {name}"):
        sm = session.client("sagemaker", settings.region)
        if args.action == "list":
            executions = sagemaker.list_executions(sm, name, args.limit)
            if args.json:
                emit_json({"executions": executions})
            else:
                title = f"Executions of SageMaker pipeline {name} ({settings.region})"
                console().print(executions_table(executions, title))
            return 0
        shown = sagemaker.describe_execution(
            sm, sagemaker.execution_arn(sm, name, args.execution_id)
        )
    if args.json:
        emit_json(shown)
        return 0
    print_execution(shown["execution"], shown["steps"])
    return 0


@_reported
def command_registry(args: argparse.Namespace) -> int:
    """``registry list|show|approve|reject --target sagemaker``."""
    from pipeline.aws import sagemaker

    settings = settings_from_args(args)
    with aws_errors("reading the SageMaker model registry"):
        sm = session.client("sagemaker", settings.region)
        if args.action == "list":
            packages = sagemaker.list_packages(sm, args.group)
            groups = [args.group] if args.group else sorted({p["group"] for p in packages})
        elif args.action == "show":
            package = sagemaker.describe_package(sm, args.group, args.version)
        else:
            status = "Approved" if args.action == "approve" else "Rejected"
            package = sagemaker.set_approval(sm, args.group, args.version, status, args.description)
    if args.action == "list":
        if args.json:
            emit_json({"groups": groups, "model_packages": packages})
            return 0
        title = f"SageMaker model registry ({settings.region})"
        console().print(registry_table(packages, title))
        return 0
    if args.json:
        emit_json(package)
        return 0
    model = f"model: {package['model_data_url']}" if args.action == "show" else None
    print_package(package, model, metadata=args.action == "show")
    return 0
