"""Execution history and the step cache, in the home folder's SQLite database.

Shaped like SageMaker's ``DescribePipelineExecution`` / ``ListPipelineExecutionSteps``: an
execution has a status (Executing, Succeeded, Failed, Stopped), parameters, times and a
failure reason; each started step has a status, times, attempts, a failure reason, its
properties (outputs) and, when served from the cache, the execution it came from.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.local.db import connect, transaction

STARTING = "Starting"
EXECUTING = "Executing"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPED = "Stopped"
FINISHED = (SUCCEEDED, FAILED, STOPPED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    status TEXT NOT NULL,
    parameters TEXT NOT NULL,
    definition TEXT NOT NULL,
    failure_reason TEXT,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    ended TEXT,
    runner_host TEXT NOT NULL,
    runner_pid INTEGER NOT NULL,
    runner_started TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_time ON executions (created);
CREATE TABLE IF NOT EXISTS steps (
    execution_id TEXT NOT NULL REFERENCES executions (id),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    display_name TEXT,
    status TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    failure_reason TEXT,
    properties TEXT,
    cache_source TEXT,
    PRIMARY KEY (execution_id, name)
);
CREATE TABLE IF NOT EXISTS step_cache (
    cache_key TEXT NOT NULL,
    execution_id TEXT NOT NULL REFERENCES executions (id),
    step TEXT NOT NULL,
    properties TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (cache_key, execution_id)
);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _process_started(pid: int) -> str | None:
    """When a process started (Linux /proc), to tell a live runner from a reused pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]  # starttime, in clock ticks since boot
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class StepRecord:
    name: str
    type: str
    display_name: str | None
    status: str
    started: str
    ended: str | None
    attempts: int
    failure_reason: str | None
    properties: dict[str, Any]
    cache_source: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "display_name": self.display_name,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "attempts": self.attempts,
            "failure_reason": self.failure_reason,
            "cache_hit_source": self.cache_source,
            "properties": self.properties,
        }


class ExecutionStore:
    """Reads and writes executions; every write is one short transaction."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self._lock = threading.Lock()
        self._db = connect(self.home)
        with self._lock, transaction(self._db):
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)

    def close(self) -> None:
        self._db.close()

    # pipelines -----------------------------------------------------------------------------
    def upsert_pipeline(self, name: str, definition: dict[str, Any]) -> None:
        stamp = now()
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT INTO pipelines (name, definition, created, modified) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET definition = excluded.definition,"
                " modified = excluded.modified",
                (name, json.dumps(definition), stamp, stamp),
            )

    # executions ----------------------------------------------------------------------------
    def create_execution(
        self,
        execution_id: str,
        arn: str,
        pipeline: str,
        parameters: dict[str, Any],
        definition: dict[str, Any],
    ) -> None:
        stamp = now()
        pid = os.getpid()
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT INTO executions (id, arn, pipeline, status, parameters, definition,"
                " created, modified, runner_host, runner_pid, runner_started)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    execution_id,
                    arn,
                    pipeline,
                    EXECUTING,
                    json.dumps(parameters),
                    json.dumps(definition),
                    stamp,
                    stamp,
                    socket.gethostname(),
                    pid,
                    _process_started(pid),
                ),
            )

    def finish_execution(self, execution_id: str, status: str, failure_reason: str | None) -> None:
        stamp = now()
        with self._lock, transaction(self._db):
            self._db.execute(
                "UPDATE executions SET status = ?, failure_reason = ?, modified = ?, ended = ?"
                " WHERE id = ?",
                (status, failure_reason, stamp, stamp, execution_id),
            )

    def execution(self, execution_id: str) -> dict[str, Any] | None:
        self.mark_abandoned()
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM executions WHERE id = ?", (execution_id,)
            ).fetchone()
        return _execution_dict(row) if row else None

    def definition(self, execution_id: str) -> dict[str, Any] | None:
        """The definition an execution ran (the graph the report draws)."""
        with self._lock:
            row = self._db.execute(
                "SELECT definition FROM executions WHERE id = ?", (execution_id,)
            ).fetchone()
        return json.loads(row["definition"]) if row else None

    def executions(self, limit: int = 50) -> list[dict[str, Any]]:
        self.mark_abandoned()
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM executions ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_execution_dict(row) for row in rows]

    def mark_abandoned(self) -> list[str]:
        """Executions whose runner died (SIGKILL, power loss) become Failed, never Executing
        forever. Only runners on this host can be checked; others are left alone."""
        host = socket.gethostname()
        with self._lock:
            rows = self._db.execute(
                "SELECT id, runner_pid, runner_started FROM executions"
                " WHERE status = ? AND runner_host = ?",
                (EXECUTING, host),
            ).fetchall()
        dead = [
            row["id"] for row in rows if not _runner_alive(row["runner_pid"], row["runner_started"])
        ]
        for execution_id in dead:
            reason = "the runner process ended without finishing the execution (killed?)"
            stamp = now()
            with self._lock, transaction(self._db):
                self._db.execute(
                    "UPDATE steps SET status = ?, ended = ?, failure_reason = ?"
                    " WHERE execution_id = ? AND status IN (?, ?)",
                    (FAILED, stamp, reason, execution_id, STARTING, EXECUTING),
                )
                self._db.execute(
                    "UPDATE executions SET status = ?, failure_reason = ?, modified = ?, ended = ?"
                    " WHERE id = ? AND status = ?",
                    (FAILED, reason, stamp, stamp, execution_id, EXECUTING),
                )
        return dead

    # steps ---------------------------------------------------------------------------------
    def start_step(
        self, execution_id: str, step: dict[str, Any], attempt: int = 1, status: str = EXECUTING
    ) -> None:
        """Record a step as Starting (queued for a job slot) or Executing (running).

        Its start time is when it first began executing, as SageMaker reports it; a retry
        keeps that time and counts the attempt.
        """
        stamp = now()
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT INTO steps (execution_id, name, type, display_name, status, started,"
                " attempts) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (execution_id, name) DO UPDATE SET status = excluded.status,"
                " attempts = excluded.attempts,"
                " started = CASE WHEN steps.status = 'Starting' THEN excluded.started"
                " ELSE steps.started END",
                (
                    execution_id,
                    step["Name"],
                    step["Type"],
                    step.get("DisplayName"),
                    status,
                    stamp,
                    attempt,
                ),
            )

    def finish_step(
        self,
        execution_id: str,
        name: str,
        status: str,
        properties: dict[str, Any] | None = None,
        failure_reason: str | None = None,
        cache_source: str | None = None,
    ) -> None:
        with self._lock, transaction(self._db):
            self._db.execute(
                "UPDATE steps SET status = ?, ended = ?, properties = ?, failure_reason = ?,"
                " cache_source = ? WHERE execution_id = ? AND name = ?",
                (
                    status,
                    now(),
                    json.dumps(properties or {}),
                    failure_reason,
                    cache_source,
                    execution_id,
                    name,
                ),
            )

    def steps(self, execution_id: str) -> list[StepRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM steps WHERE execution_id = ? ORDER BY started, name", (execution_id,)
            ).fetchall()
        return [
            StepRecord(
                name=row["name"],
                type=row["type"],
                display_name=row["display_name"],
                status=row["status"],
                started=row["started"],
                ended=row["ended"],
                attempts=row["attempts"],
                failure_reason=row["failure_reason"],
                properties=json.loads(row["properties"] or "{}"),
                cache_source=row["cache_source"],
            )
            for row in rows
        ]

    # cache ---------------------------------------------------------------------------------
    def remember(
        self, cache_key: str, execution_id: str, step: str, properties: dict[str, Any]
    ) -> None:
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT OR REPLACE INTO step_cache (cache_key, execution_id, step, properties,"
                " created) VALUES (?, ?, ?, ?, ?)",
                (cache_key, execution_id, step, json.dumps(properties), now()),
            )

    def cached(self, cache_key: str, max_age: timedelta) -> list[tuple[str, dict[str, Any]]]:
        """Earlier results for this key, newest first, within ``max_age``."""
        oldest = (datetime.now(UTC) - max_age).isoformat(timespec="milliseconds")
        with self._lock:
            rows = self._db.execute(
                "SELECT execution_id, properties FROM step_cache WHERE cache_key = ?"
                " AND created >= ? ORDER BY created DESC",
                (cache_key, oldest),
            ).fetchall()
        return [(row["execution_id"], json.loads(row["properties"])) for row in rows]


def _runner_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return started is None or _process_started(pid) == started


def _execution_dict(row: Any) -> dict[str, Any]:
    return {
        "execution_id": row["id"],
        "arn": row["arn"],
        "pipeline": row["pipeline"],
        "status": row["status"],
        "parameters": json.loads(row["parameters"]),
        "failure_reason": row["failure_reason"],
        "created": row["created"],
        "modified": row["modified"],
        "ended": row["ended"],
    }
