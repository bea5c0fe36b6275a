"""The ``costpipe`` parser: one subcommand per command, each naming its handler."""

from __future__ import annotations

import argparse

from pipeline.cli import aws, local, serving
from pipeline.cli.flags import CliParser, add_home
from pipeline.report.command import add_report_parser

DESCRIPTION = "Train XGBoost under unequal error costs, price every model, register the cheapest."


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="costpipe", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    local.add_commands(commands)  # run, definition, executions, registry
    aws.add_commands(commands)  # upsert, start, wait
    add_report_parser(commands, add_home)
    serving.add_commands(commands)  # predict, deploy, serve
    return parser
