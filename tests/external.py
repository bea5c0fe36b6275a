"""Tools the suite needs beyond pip's (checkov in its own environment, Chromium, the container
parity interpreter): CI installs them all and requires them; elsewhere a missing one skips its
tests with one line that says how to install it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True under CI (``CI=true``, as .ci/run runs), where every tool must be there."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_tool(message: str) -> NoReturn:
    """Fail under CI; skip elsewhere, with ``message`` (what is missing and how to get it)."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
