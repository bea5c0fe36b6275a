"""The ``costpipe`` command line.

Every command prints a short human summary, or with ``--json`` exactly one JSON object on
stdout. Bad usage and bad data give one line on stderr and exit code 2.

* :mod:`.parser`: the parser and its subcommands;
* :mod:`.flags`: the shared flags, the config options' flags (from ``pipeline.options``) and
  the config they make;
* :mod:`.local`: ``run``, ``definition``, ``executions``, ``registry`` (and ``report``, from
  ``pipeline.report.command``);
* :mod:`.aws`: ``upsert``, ``start``, ``wait`` and ``--target sagemaker``;
* :mod:`.serving`: ``predict``, ``deploy`` and ``serve`` (the machinery is ``pipeline.serving``);
* :mod:`.render`: every table and format printed.

Imports go one way: parser -> local, serving -> aws -> flags, render; nothing imports the
parser.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Sequence

from pipeline.errors import EXIT_USAGE, InputError, environment_problem


def main(argv: Sequence[str] | None = None) -> int:
    # Configure logging before the SDK is imported: some of its modules call basicConfig(INFO).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pipeline.cli.parser import build_parser

    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "home", None) is not None:
            # Resolved once, here: every job runs in a folder of its own, where a relative home
            # would be joined again.
            args.home = args.home.expanduser().absolute()
        return args.handler(args)
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
