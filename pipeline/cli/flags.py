"""The flags every command shares: the home, ``--json``, and the config options, whose flags
come from the option table (``pipeline.options``) together with how each value is read."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.config import Config, load_config, override_many, parse_settings_flag
from pipeline.errors import UsageError
from pipeline.home import default_home
from pipeline.options import (
    NUMBER,
    OPTIONS,
    PATH,
    SECTIONS,
    SETTINGS,
    TEXT_LIST,
    WHOLE,
    Choices,
    Option,
)


class CliParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line ('costpipe: error: ...') and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--home",
        type=Path,
        default=default_home(),
        help="where executions, the local bucket and the registry live (default: ./.costpipe)",
    )
    add_json(parser)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_hidden_home(parser: argparse.ArgumentParser) -> None:
    """``--home`` for commands that read only the bundled examples' data from it."""
    parser.add_argument("--home", type=Path, default=default_home(), help=argparse.SUPPRESS)


def number(text: str) -> float:
    """A number as people write them: ``252000``, ``252,000`` or ``252_000``."""
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value


_FLAG_TYPES = {NUMBER: number, WHOLE: int}


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--example`` and one flag per option that declares one."""
    group = parser.add_argument_group("data and costs (flags override --config)")
    group.add_argument("--config", type=Path, help="a TOML config file")
    group.add_argument("--example", help="a bundled example (default when no --data/--config)")
    # Listed by config section, so the help reads as the config file does.
    flagged = [option for option in OPTIONS if option.flag]
    for option in sorted(flagged, key=lambda o: SECTIONS.index(o.section)):
        choices = option.constraint.values if isinstance(option.constraint, Choices) else None
        group.add_argument(
            option.flag, type=_FLAG_TYPES.get(option.kind), choices=choices, help=option.help
        )


def flag_value(option: Option, text: Any) -> Any:
    """A flag's value as its option holds it (None: the flag was not given)."""
    if text is None:
        return None
    if option.kind == PATH:
        return text if "://" in text else str(Path(text).expanduser().resolve())
    if option.kind == TEXT_LIST:
        return tuple(name.strip() for name in text.split(",") if name.strip())
    if option.kind == SETTINGS:
        return parse_settings_flag(text) if text else None
    return text


def _dest(option: Option) -> str:
    return option.flag.removeprefix("--").replace("-", "_")  # type: ignore[union-attr]


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
    given: dict[str, dict[str, Any]] = {}
    for option in OPTIONS:
        if option.flag:
            value = flag_value(option, getattr(args, _dest(option), None))
            given.setdefault(option.section, {})[option.name] = value
    return override_many(config, given)
