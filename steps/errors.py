"""The one error type the jobs raise for bad input, and how entry points report it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

#: Exit code for usage and data errors, as for command-line usage errors.
EXIT_USAGE = 2


class InputError(ValueError):
    """Bad data, configuration or arguments: one line naming the problem and the fix.

    Line breaks in the message (a column name or a value can hold one) are written ``\\n``, so
    the message stays one line: a job's last stderr line is its step's failure reason.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"))


def run_entry_point(main: Callable[[Sequence[str] | None], None]) -> NoReturn:
    """Run a job's ``main`` and turn an :class:`InputError` into one stderr line and exit 2.

    The last line of a job's stderr becomes the step's failure reason, so it must be the
    clear message rather than a traceback.
    """
    try:
        main(None)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.exit(0)
