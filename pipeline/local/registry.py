"""A local model registry with the SageMaker Model Registry's semantics, in SQLite.

Model package groups hold versions numbered 1, 2, 3, ... that only grow and are never reused;
each version has an approval status (PendingManualApproval, Approved, Rejected), the model data
URI and the artifact's sha256, model metrics (the evaluation report) and customer metadata
(threshold, cost setting, cost matrix, data digest), and the serving container's image and
Environment (which inference code it runs). ARNs are shaped like SageMaker's so that
the same code can print either.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.local.db import connect, transaction
from pipeline.local.store import now
from pipeline.options import APPROVAL_STATUSES

LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS model_package_groups (
        name TEXT PRIMARY KEY,
        arn TEXT NOT NULL,
        description TEXT,
        created TEXT NOT NULL,
        next_version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS model_packages (
        arn TEXT PRIMARY KEY,
        group_name TEXT NOT NULL REFERENCES model_package_groups (name),
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        approval_status TEXT NOT NULL,
        approval_description TEXT,
        model_data_url TEXT NOT NULL,
        model_sha256 TEXT,
        image TEXT,
        environment TEXT,
        description TEXT,
        metrics TEXT,
        metadata TEXT NOT NULL,
        execution_arn TEXT,
        created TEXT NOT NULL,
        modified TEXT NOT NULL,
        UNIQUE (group_name, version)
    )""",
]


class ModelRegistry:
    def __init__(self, home: Path):
        self._lock = threading.Lock()
        self._db = connect(Path(home))
        with self._lock, transaction(self._db):
            for statement in _SCHEMA:
                self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(model_packages)")}
            if "environment" not in columns:  # a registry made before packages had one
                self._db.execute("ALTER TABLE model_packages ADD COLUMN environment TEXT")

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def group_arn(name: str) -> str:
        return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:model-package-group/{name}"

    @staticmethod
    def package_arn(group: str, version: int) -> str:
        return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:model-package/{group}/{version}"

    def create_model_package(
        self,
        group: str,
        model_data_url: str,
        approval_status: str,
        metadata: dict[str, str],
        metrics: dict[str, Any] | None = None,
        image: str | None = None,
        description: str | None = None,
        environment: dict[str, str] | None = None,
        model_sha256: str | None = None,
        execution_arn: str | None = None,
    ) -> dict[str, Any]:
        """Register a new version in ``group`` (created on first use); returns the package."""
        _check_group_name(group)
        _check_status(approval_status)
        stamp = now()
        with self._lock, transaction(self._db):
            row = self._db.execute(
                "SELECT next_version FROM model_package_groups WHERE name = ?", (group,)
            ).fetchone()
            if row is None:
                version = 1
                self._db.execute(
                    "INSERT INTO model_package_groups (name, arn, description, created,"
                    " next_version) VALUES (?, ?, ?, ?, ?)",
                    (group, self.group_arn(group), None, stamp, 2),
                )
            else:
                version = row["next_version"]
                self._db.execute(
                    "UPDATE model_package_groups SET next_version = ? WHERE name = ?",
                    (version + 1, group),
                )
            arn = self.package_arn(group, version)
            self._db.execute(
                "INSERT INTO model_packages (arn, group_name, version, status, approval_status,"
                " model_data_url, model_sha256, image, environment, description, metrics,"
                " metadata, execution_arn, created, modified)"
                " VALUES (?, ?, ?, 'Completed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    arn,
                    group,
                    version,
                    approval_status,
                    model_data_url,
                    model_sha256,
                    image,
                    json.dumps(environment or {}),
                    description,
                    json.dumps(metrics) if metrics is not None else None,
                    json.dumps(metadata),
                    execution_arn,
                    stamp,
                    stamp,
                ),
            )
        return self.package(group, version)

    def groups(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT g.name, g.arn, g.created, COUNT(p.arn) AS versions,"
                " MAX(p.version) AS latest FROM model_package_groups g"
                " LEFT JOIN model_packages p ON p.group_name = g.name"
                " GROUP BY g.name ORDER BY g.name"
            ).fetchall()
        return [dict(row) for row in rows]

    def packages(self, group: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM model_packages"
        arguments: tuple[Any, ...] = ()
        if group is not None:
            query += " WHERE group_name = ?"
            arguments = (group,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY group_name, version", arguments).fetchall()
        return [_package_dict(row) for row in rows]

    def package(self, group: str, version: int) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM model_packages WHERE group_name = ? AND version = ?",
                (group, version),
            ).fetchone()
        if row is None:
            raise InputError(
                f"model package group '{group}' has no version {version}: "
                "see costpipe registry list"
            )
        return _package_dict(row)

    def latest(self, group: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM model_packages WHERE group_name = ? ORDER BY version DESC LIMIT 1",
                (group,),
            ).fetchone()
        if row is None:
            raise InputError(
                f"model package group '{group}' has no versions: run the pipeline first"
            )
        return _package_dict(row)

    def set_approval(
        self, group: str, version: int, status: str, description: str | None = None
    ) -> dict[str, Any]:
        """UpdateModelPackage's approval: any status may follow any other, as on SageMaker."""
        _check_status(status)
        self.package(group, version)  # raises when absent
        with self._lock, transaction(self._db):
            self._db.execute(
                "UPDATE model_packages SET approval_status = ?, approval_description = ?,"
                " modified = ? WHERE group_name = ? AND version = ?",
                (status, description, now(), group, version),
            )
        return self.package(group, version)


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise InputError(f"approval status '{status}' is not one of {', '.join(APPROVAL_STATUSES)}")


def _check_group_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name):
        raise InputError(
            f"model package group name '{name}' is invalid: use 1-63 letters, digits and hyphens"
        )


def _package_dict(row: Any) -> dict[str, Any]:
    return {
        "arn": row["arn"],
        "group": row["group_name"],
        "version": row["version"],
        "status": row["status"],
        "approval_status": row["approval_status"],
        "approval_description": row["approval_description"],
        "model_data_url": row["model_data_url"],
        "model_sha256": row["model_sha256"],
        "image": row["image"],
        # The container's Environment (SAGEMAKER_PROGRAM, ...); {} for packages without one.
        "environment": json.loads(row["environment"]) if row["environment"] else {},
        "description": row["description"],
        "metrics": json.loads(row["metrics"]) if row["metrics"] else None,
        "metadata": json.loads(row["metadata"]),
        "execution_arn": row["execution_arn"],
        "created": row["created"],
        "modified": row["modified"],
    }


def verify_artifact(package: dict[str, Any], bucket: Any) -> dict[str, Any]:
    """Recompute the registered model artifact's sha256 and compare it with the registry's.

    Returns ``{"expected", "actual", "ok"}``; ``actual`` is None when the artifact is gone.
    """
    from steps.data import file_digest

    path = bucket.path(package["model_data_url"])
    actual = file_digest(path) if path.is_file() else None
    expected = package["model_sha256"]
    return {"expected": expected, "actual": actual, "ok": actual is not None and actual == expected}
