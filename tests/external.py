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


#: The container-parity interpreter: Python 3.10 with the stock image's pins.
CONTAINER_PYTHON_VARIABLE = "COSTPIPE_CONTAINER_PYTHON"


def container_python() -> str:
    """The container-parity interpreter named by ``COSTPIPE_CONTAINER_PYTHON``; a missing one
    skips (fails under CI) with how to build it."""
    python = os.environ.get(CONTAINER_PYTHON_VARIABLE, "")
    if not python:
        missing_tool(
            f"{CONTAINER_PYTHON_VARIABLE} is not set: build the container-parity interpreter "
            "(python3.10 -m venv .venv-container; .venv-container/bin/pip install -r "
            "infra/container-requirements.txt; see README, Container parity)"
        )
    return python
