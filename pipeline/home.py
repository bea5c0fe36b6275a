"""The home folder's layout, in one place: every backend and command finds its files here.

A home holds ``costpipe.db`` (executions, steps, the step cache and the local model registry),
``bucket/`` (the local S3), ``jobs/<execution>/<step>/attempt-N/`` (each job's folder and
logs), ``reports/<execution>.html`` and ``examples/`` (the bundled examples' data as CSV).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = Path(".costpipe")
HOME_VARIABLE = "COSTPIPE_HOME"
DATABASE_FILE = "costpipe.db"
BUCKET_FOLDER = "bucket"
JOBS_FOLDER = "jobs"
REPORTS_FOLDER = "reports"
EXAMPLES_FOLDER = "examples"


def default_home() -> Path:
    """``$COSTPIPE_HOME``, else ``./.costpipe`` (relative: resolve it where the command starts)."""
    return Path(os.environ.get(HOME_VARIABLE, DEFAULT_HOME))


def database_path(home: Path) -> Path:
    return Path(home) / DATABASE_FILE


def bucket_folder(home: Path) -> Path:
    return Path(home) / BUCKET_FOLDER


def job_folder(home: Path, execution_id: str, step: str, attempt: int) -> Path:
    return Path(home) / JOBS_FOLDER / execution_id / step / f"attempt-{attempt}"


def report_path(home: Path, execution_id: str) -> Path:
    return Path(home) / REPORTS_FOLDER / f"{execution_id}.html"


def example_path(home: Path, name: str) -> Path:
    return Path(home) / EXAMPLES_FOLDER / f"{name}.csv"
