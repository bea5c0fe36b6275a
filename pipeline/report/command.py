"""``costpipe report ID`` and the report ``costpipe run`` writes at the end of a run.

Only :func:`add_report_parser` and :func:`command_report` are imported by the command line;
this module imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.home import report_path
from pipeline.report import write_report

TARGETS = ("local", "sagemaker")


def add_report_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    add_home: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``report`` with the command line's subcommands."""
    report = commands.add_parser(
        "report", help="write the HTML report of one execution (DAG, costs, plots)"
    )
    report.add_argument(
        "execution_id", help="the execution id (local), or the execution ARN (--target sagemaker)"
    )
    report.add_argument(
        "--output", type=Path, help="the HTML file to write (default: <home>/reports/<id>.html)"
    )
    report.add_argument(
        "--target",
        choices=TARGETS,
        default="local",
        help="where the execution ran: local (the home folder) or sagemaker (boto3; needs AWS "
        "credentials and read access to the execution's S3 outputs)",
    )
    add_home(report)
    report.set_defaults(handler=command_report)


def command_report(args: argparse.Namespace) -> int:
    """Load the execution, write the report, print its path (or ``{"report": path}``)."""
    if args.target == "sagemaker":
        from pipeline.report.sagemaker import load_sagemaker, parse_execution_arn

        execution_id = parse_execution_arn(args.execution_id)["id"]
        data = load_sagemaker(args.execution_id)
    else:
        from pipeline.report.local import load_local

        execution_id = args.execution_id
        data = load_local(args.home, execution_id)
    path = write_report(data, args.output or report_path(args.home, execution_id))
    if args.json:
        import json

        sys.stdout.write(json.dumps({"report": str(path)}) + "\n")
    else:
        print(path)
    return 0


def write_run_report(home: Path, execution_id: str) -> Path | None:
    """The report of a run that just ended, in ``<home>/reports``; None (with a warning on
    stderr) when it cannot be written: a report is never worth losing the run's result for."""
    from pipeline.report.local import load_local

    try:
        return write_report(load_local(home, execution_id), report_path(home, execution_id))
    except Exception as error:  # reported, and the run's outcome stands
        print(f"costpipe: warning: the report could not be written: {error}", file=sys.stderr)
        return None
