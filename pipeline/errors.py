"""Errors the command line turns into one line on stderr and an exit code."""

from __future__ import annotations

import errno

from steps.errors import EXIT_USAGE, InputError

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "GraphError",
    "InputError",
    "UsageError",
    "environment_problem",
]

#: An execution that failed (a step failed, or the check said no), or an AWS call that did.
EXIT_FAILED = 1


class UsageError(InputError):
    """Bad flags or configuration (exit 2)."""


class GraphError(InputError):
    """A pipeline definition whose graph is broken; names the step at fault."""


#: errno values that mean "this machine will not let us write there", not a bug of ours.
_ENVIRONMENT_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOTDIR,
    errno.EEXIST,
}
_SQLITE_ENVIRONMENT_MESSAGES = (
    "unable to open database file",
    "attempt to write a readonly database",
    "database or disk is full",
    "disk i/o error",
)


def environment_problem(error: BaseException) -> str | None:
    """One line for a file-system or database error caused by the machine, else None.

    An unwritable or full home folder is the user's to fix: say where and how, instead of a
    traceback. Anything else is a bug and keeps its traceback.
    """
    import sqlite3

    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        if any(text in message for text in _SQLITE_ENVIRONMENT_MESSAGES):
            return (
                f"the home folder's database cannot be written ({error}): give a writable --home "
                "with free space"
            )
        return None
    if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ERRNOS:
        where = f" '{error.filename}'" if error.filename else ""
        return (
            f"cannot write{where} ({error.strerror or error}): give a writable --home with free "
            "space"
        )
    return None
