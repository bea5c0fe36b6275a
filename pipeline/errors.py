"""Errors the command line turns into one line on stderr and an exit code."""

from __future__ import annotations

from steps.errors import EXIT_USAGE, InputError

__all__ = ["EXIT_USAGE", "GraphError", "InputError", "UsageError"]


class UsageError(InputError):
    """Bad flags or configuration (exit 2)."""


class GraphError(InputError):
    """A pipeline definition whose graph is broken; names the step at fault."""
