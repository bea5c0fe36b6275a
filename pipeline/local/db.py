"""The SQLite database under the home folder, shared by the store and the registry.

WAL journaling lets readers (``costpipe executions list``) work while a run writes; a busy
timeout and short ``BEGIN IMMEDIATE`` transactions let several runs share one home without
"database is locked" errors.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pipeline.home import database_path

BUSY_TIMEOUT_SECONDS = 60


def connect(home: Path) -> sqlite3.Connection:
    home.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        database_path(home),
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,  # explicit transactions only
        check_same_thread=False,
    )
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front, so it never deadlocks halfway."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    else:
        connection.execute("COMMIT")
