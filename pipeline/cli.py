"""The ``costpipe`` command line.

Every command prints a short human summary, or with ``--json`` exactly one JSON object on
stdout. Bad usage and bad data give one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.config import Config, load_config, override, parse_settings_flag
from pipeline.errors import EXIT_USAGE, InputError, UsageError, environment_problem
from steps.costs import setting_sort_key, setting_text

DEFAULT_HOME = Path(".costpipe")
EXIT_FAILED = 1


# arguments -----------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line ('costpipe: error: ...') and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get("COSTPIPE_HOME", DEFAULT_HOME)),
        help="where executions, the local bucket and the registry live (default: ./.costpipe)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data and costs (flags override --config)")
    group.add_argument("--config", type=Path, help="a TOML config file")
    group.add_argument("--example", help="a bundled example (default when no --data/--config)")
    group.add_argument("--data", help="training data: a CSV or Parquet file")
    group.add_argument("--test-data", help="a test file, instead of a test split")
    group.add_argument("--target", help="the target column")
    group.add_argument("--targets", help="multi-label: comma-separated 0/1 label columns")
    group.add_argument(
        "--label-delimiter", help="multi-label: the target column joins labels with this"
    )
    group.add_argument("--no-label", help="multi-label: a label for rows that have none")
    group.add_argument("--text", help="comma-separated text columns (TF-IDF features)")
    group.add_argument("--positive-label", help="the target value that is the positive class")
    group.add_argument("--label-name", help="a name for the positive class in reports")
    group.add_argument("--categorical", help="comma-separated categorical feature columns")
    group.add_argument("--drop", help="comma-separated columns to ignore")
    for outcome, meaning in (
        ("tp", "a true positive"),
        ("fp", "a false positive"),
        ("fn", "a false negative"),
        ("tn", "a true negative"),
    ):
        group.add_argument(
            f"--cost-{outcome}", type=_number, help=f"money per decision for {meaning}"
        )
    group.add_argument(
        "--cost-settings", help='training weights fn_weight:fp_weight, e.g. "1:1,5:1,200:1"'
    )
    group.add_argument("--max-cost-per-decision", type=_number, help="register only at or below")
    group.add_argument(
        "--objective", choices=("weighted", "custom"), help="asymmetric loss implementation"
    )
    group.add_argument(
        "--threshold-objective", choices=("cost", "f1"), help="what thresholds optimise"
    )
    group.add_argument(
        "--threshold-smoothing",
        choices=("kernel", "none"),
        help="cost thresholds on the tuning scores (none, default) or smoothed distributions",
    )
    group.add_argument(
        "--oversample-ratio", type=_number, help="oversample the minority class (0-1)"
    )
    group.add_argument(
        "--oversample-min-count", type=int, help="multi-label: oversample rare labels to this"
    )
    group.add_argument(
        "--multilabel-strategy",
        choices=("per-label", "multi-output"),
        help="one booster per label, or one multi-output booster",
    )
    group.add_argument("--pipeline-name", help="the pipeline's name")
    group.add_argument("--model-package-group", help="the model package group to register in")


def _number(text: str) -> float:
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    from pipeline.cli_aws import add_aws_commands, add_target_option
    from pipeline.serving.commands import add_serving_commands

    parser = _Parser(prog="costpipe", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="build the definition and run it locally")
    _add_config_options(run)
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
    _add_home(run)

    definition = commands.add_parser("definition", help="print the SageMaker definition JSON")
    _add_config_options(definition)
    definition.add_argument("--format", choices=("sagemaker", "asl"), default="sagemaker")
    definition.add_argument(
        "--role-arn", help="the SageMaker execution role (default: a placeholder)"
    )
    definition.add_argument("--bucket", help="the artifact bucket (default: a placeholder)")
    definition.add_argument("--region", help="the AWS region (default: us-east-1)")
    definition.add_argument("--home", type=Path, default=DEFAULT_HOME, help=argparse.SUPPRESS)

    executions = commands.add_parser("executions", help="local executions, step by step")
    executions_commands = executions.add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    listing = executions_commands.add_parser("list", help="recent executions")
    listing.add_argument("--limit", type=int, default=20)
    _add_home(listing)
    add_target_option(listing)
    show = executions_commands.add_parser("show", help="one execution and its steps")
    show.add_argument("execution_id")
    _add_home(show)
    add_target_option(show)

    registry = commands.add_parser("registry", help="the local model registry")
    registry_commands = registry.add_subparsers(dest="action", required=True, parser_class=_Parser)
    registry_list = registry_commands.add_parser("list", help="model packages, by group")
    registry_list.add_argument("--group", help="only this model package group")
    _add_home(registry_list)
    add_target_option(registry_list)
    for action in ("show", "approve", "reject", "verify"):
        sub = registry_commands.add_parser(action, help=f"{action} one model package version")
        sub.add_argument("group")
        sub.add_argument("version", type=int)
        if action in ("approve", "reject"):
            sub.add_argument("--description", help="why (kept with the approval status)")
        _add_home(sub)
        add_target_option(sub)
    add_aws_commands(commands)  # upsert, start, wait

    # costpipe report: implemented in pipeline.report.command
    from pipeline.report.command import add_report_parser

    add_report_parser(commands, _add_home)
    add_serving_commands(commands)  # predict, serve
    return parser


# config --------------------------------------------------------------------------------------
def config_from_args(args: argparse.Namespace) -> Config:
    """The config file (or example), then every flag given on top of it."""
    from pipeline.examples import DEFAULT_EXAMPLE, example_config

    if args.example and (args.config or args.data):
        raise UsageError("--example cannot be combined with --config or --data: choose one")
    if args.config:
        config = load_config(args.config)
    elif args.data:
        config = load_config(None)
    else:
        config = example_config(args.example or DEFAULT_EXAMPLE, args.home)

    def split(text: str | None) -> tuple[str, ...] | None:
        return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())

    config = override(
        config,
        "data",
        path=_path_text(args.data),
        test_path=_path_text(args.test_data),
        target=args.target,
        positive_label=args.positive_label,
        label_name=args.label_name,
        categorical=split(args.categorical),
        drop=split(args.drop),
        targets=split(args.targets),
        label_delimiter=args.label_delimiter,
        no_label=args.no_label,
        text=split(args.text),
    )
    config = override(
        config, "costs", tp=args.cost_tp, fp=args.cost_fp, fn=args.cost_fn, tn=args.cost_tn
    )
    config = override(
        config,
        "training",
        cost_settings=parse_settings_flag(args.cost_settings) if args.cost_settings else None,
        objective=args.objective,
        multilabel_strategy=args.multilabel_strategy,
    )
    config = override(
        config,
        "evaluation",
        max_cost_per_decision=args.max_cost_per_decision,
        threshold_objective=args.threshold_objective,
        threshold_smoothing=args.threshold_smoothing,
    )
    config = override(
        config,
        "split",
        oversample_ratio=args.oversample_ratio,
        oversample_min_count=args.oversample_min_count,
    )
    config = override(config, "registry", model_package_group=args.model_package_group)
    return override(config, "aws", pipeline_name=args.pipeline_name)


def _path_text(value: str | None) -> str | None:
    if value is None or "://" in value:
        return value
    return str(Path(value).expanduser().resolve())


# output --------------------------------------------------------------------------------------
def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output gets room for the cost table instead of rich's 80-column default.
    width = None if stream.isatty() else 132
    return Console(stderr=stderr, highlight=False, width=width)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.2f}"


def cost_table(evaluation: dict[str, Any]) -> Any:
    """One row per cost setting: weights, threshold, costs, errors; the cheapest marked."""
    from rich.table import Table

    table = Table(title="Expected cost per decision", title_justify="left")
    methods = {model.get("threshold_data", {}).get("method") for model in evaluation["models"]}
    tuning = "cross-validated cost" if methods == {"cross-validation"} else "validation cost"
    for header, justify in (
        ("fn:fp", "left"),
        ("threshold", "right"),
        (tuning, "right"),
        ("test cost", "right"),
        ("test 95% interval", "right"),
        ("FN", "right"),
        ("FP", "right"),
        ("", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    best = evaluation["best"]["name"]
    for model in sorted(evaluation["models"], key=lambda m: setting_sort_key(m["setting"])):
        setting = model["setting"]
        low, high = model["test"]["expected_cost_ci"]
        confusion = model["test"]["confusion"]
        table.add_row(
            setting_text(setting),
            f"{next(iter(model['thresholds'].values())):.4f}"
            if len(model["thresholds"]) == 1
            else f"{len(model['thresholds'])} (per label)",
            _money(model["validation"]["expected_cost"]),
            _money(model["test"]["expected_cost"]),
            f"{_money(low)} - {_money(high)}",
            str(confusion["fn"]),
            str(confusion["fp"]),
            "<- cheapest" if model["name"] == best else "",
            style="bold" if model["name"] == best else None,
        )
    for policy, figures in evaluation["baselines"].items():
        table.add_row(
            policy.replace("_", " "),
            "",
            _money(figures["validation"]["expected_cost"]),
            _money(figures["test"]["expected_cost"]),
            "",
            "",
            "",
            "trivial policy",
            style="dim",
        )
    return table


STATUS_COLOURS = {"Succeeded": "green", "Failed": "red", "Stopped": "yellow"}


def _status_table(title: str, statuses: dict[str, str], header: bool) -> Any:
    """Step names and their statuses, coloured by outcome (steps under way in cyan)."""
    from rich.table import Table

    if header:
        table = Table(title=title, title_justify="left")
        table.add_column("step")
        table.add_column("status")
    else:
        table = Table(title=title, title_justify="left", show_header=False, box=None)
    for name, status in statuses.items():
        colour = STATUS_COLOURS.get(status.split()[0], "cyan")
        table.add_row(name, f"[{colour}]{status}[/{colour}]")
    return table


class _LiveStatus:
    """Redraws a table in place while ``interactive`` (stdout is a terminal)."""

    refresh_per_second = 8

    def __init__(self, interactive: bool):
        self.interactive = interactive
        self.live: Any = None

    def first_frame(self) -> Any:
        """What to show before the first update; nothing by default."""
        return None

    def __enter__(self) -> Any:
        if self.interactive:
            from rich.live import Live

            self.live = Live(
                self.first_frame(),
                console=_console(),
                refresh_per_second=self.refresh_per_second,
                transient=True,
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)


class _Progress(_LiveStatus):
    """A live table of the local execution's step statuses on a terminal; silent otherwise."""

    def __init__(self, interactive: bool):
        super().__init__(interactive)
        self.statuses: dict[str, str] = {}

    def first_frame(self) -> Any:
        return _status_table("costpipe run", self.statuses, header=False)

    def __call__(self, name: str, status: str, details: dict[str, Any]) -> None:
        suffix = " (cached)" if details.get("cache_source") else ""
        self.statuses[name] = status + suffix
        if self.live is not None:
            self.live.update(_status_table("costpipe run", self.statuses, header=False))


# commands ------------------------------------------------------------------------------------
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
    with _Progress(interactive) as progress:
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
        console = _console()
        if run.evaluation:
            console.print(cost_table(run.evaluation))
        console.print(f"execution {result.execution_id}: {result.status}")
        if registered:
            console.print(
                f"registered {registered['group']} version {registered['version']} "
                f"({registered['approval_status']}): {run.evaluation['best']['verdict']}"
                if run.evaluation
                else f"registered {registered['group']} version {registered['version']}"
            )
        else:
            reason = result.failure_reason or ""
            prefix = "" if reason.startswith("nothing registered") else "nothing registered: "
            console.print(f"{prefix}{reason}")
        if report:
            print(f"report: {report}", flush=True)
    return 0 if registered else EXIT_FAILED


def _run_report(home: Path, execution_id: str) -> Path | None:
    from pipeline.report.command import write_run_report

    return write_run_report(home, execution_id)


def command_definition(args: argparse.Namespace) -> int:
    from pipeline.code_bundle import CodeBundle
    from pipeline.definition import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE, Target, build_definition
    from pipeline.deploy import data_uri

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
        from pipeline.cli_aws import command_executions as on_aws

        return on_aws(args)
    from pipeline.local.store import ExecutionStore
    from pipeline.tables import executions_table, steps_table

    store = ExecutionStore(args.home)
    try:
        if args.action == "list":
            executions = store.executions(limit=args.limit)
            if args.json:
                emit_json({"executions": executions})
                return 0
            table = executions_table(executions, f"Executions in {args.home}")
            _console().print(table)
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
        console = _console()
        console.print(
            f"execution {execution['execution_id']} of {execution['pipeline']}: "
            f"{execution['status']} ({execution['created']} - {execution['ended'] or '...'})"
        )
        if execution["failure_reason"]:
            console.print(f"failure reason: {execution['failure_reason']}")
        table = steps_table(steps)
        console.print(table)
        return 0
    finally:
        store.close()


def command_registry(args: argparse.Namespace) -> int:
    if args.target != "local":
        if args.action == "verify":
            raise UsageError("registry verify checks the local registry's artifacts: drop --target")
        from pipeline.cli_aws import command_registry as on_aws

        return on_aws(args)
    from pipeline.local.bucket import LocalBucket
    from pipeline.local.executor import BUCKET_FOLDER
    from pipeline.local.registry import ModelRegistry, verify_artifact

    registry = ModelRegistry(args.home)
    try:
        if args.action == "list":
            packages = registry.packages(args.group)
            if args.json:
                emit_json({"groups": registry.groups(), "model_packages": packages})
                return 0
            from rich.table import Table

            table = Table(title=f"Model registry in {args.home}", title_justify="left")
            for header in (
                "group",
                "version",
                "approval",
                "cost setting",
                "threshold",
                "test cost",
                "created",
            ):
                table.add_column(header)
            for p in packages:
                meta = p["metadata"]
                table.add_row(
                    p["group"],
                    str(p["version"]),
                    p["approval_status"],
                    meta.get("cost_setting", ""),
                    meta.get("threshold", ""),
                    _money(_float(meta.get("expected_cost"))),
                    p["created"],
                )
            _console().print(table)
            return 0
        bucket = LocalBucket(args.home / BUCKET_FOLDER)
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
            console = _console()
            console.print(
                f"{package['group']} version {package['version']}: {package['approval_status']}"
            )
            state = (
                "verified"
                if integrity["ok"]
                else (
                    "MISSING"
                    if integrity["actual"] is None
                    else f"MISMATCH: now {integrity['actual']}"
                )
            )
            console.print(
                f"model: {package['model_data_url']} ({package['model_sha256']}, {state})"
            )
            if args.action == "show":
                for key, value in package["metadata"].items():
                    console.print(f"  {key}: {value}")
        # A model whose bytes are not the ones registered must not pass silently.
        return 0 if integrity["ok"] or args.action in ("approve", "reject") else EXIT_FAILED
    finally:
        registry.close()


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def command_report(args: argparse.Namespace) -> int:
    from pipeline.report.command import command_report as report

    return report(args)


COMMANDS = {
    "run": command_run,
    "definition": command_definition,
    "executions": command_executions,
    "registry": command_registry,
    "report": command_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Configure logging before the SDK is imported: some of its modules call basicConfig(INFO).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "home", None) is not None:
            # Resolved once, here: every job runs in a folder of its own, where a relative home
            # would be joined again.
            args.home = args.home.expanduser().absolute()
        return (COMMANDS.get(args.command) or args.handler)(args)
    except InputError as error:
        print(f"costpipe: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.Error) as error:
        problem = environment_problem(error)
        if problem is None:
            raise
        print(f"costpipe: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("costpipe: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
