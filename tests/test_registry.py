"""The local model registry keeps SageMaker Model Registry semantics."""

from __future__ import annotations

import threading

import pytest

from pipeline.errors import InputError
from pipeline.local.registry import ModelRegistry


def register(registry: ModelRegistry, group: str = "fraud", **extra) -> dict:
    return registry.create_model_package(
        group=group,
        model_data_url="s3://b/model.tar.gz",
        approval_status=extra.pop("approval_status", "PendingManualApproval"),
        metadata={"threshold": "0.03"},
        **extra,
    )


def test_versions_start_at_one_and_grow_per_group(tmp_path):
    registry = ModelRegistry(tmp_path)
    assert [register(registry)["version"] for _ in range(3)] == [1, 2, 3]
    assert register(registry, "churn")["version"] == 1
    package = registry.package("fraud", 2)
    assert package["arn"] == "arn:aws:sagemaker:local:000000000000:model-package/fraud/2"
    assert package["metadata"] == {"threshold": "0.03"} and package["status"] == "Completed"
    assert {g["name"]: g["versions"] for g in registry.groups()} == {"churn": 1, "fraud": 3}


def test_versions_survive_reopening_and_are_never_reused(tmp_path):
    register(ModelRegistry(tmp_path))
    registry = ModelRegistry(tmp_path)
    registry._db.execute("DELETE FROM model_packages")  # even if rows vanish
    assert register(registry)["version"] == 2


def test_approval_moves_between_any_statuses(tmp_path):
    registry = ModelRegistry(tmp_path)
    register(registry)
    assert registry.set_approval("fraud", 1, "Approved", "beats the rules")["approval_status"] == (
        "Approved"
    )
    rejected = registry.set_approval("fraud", 1, "Rejected")
    assert rejected["approval_status"] == "Rejected" and rejected["approval_description"] is None
    with pytest.raises(InputError, match="approval status 'Ok' is not one of"):
        registry.set_approval("fraud", 1, "Ok")
    with pytest.raises(InputError, match="has no version 9"):
        registry.set_approval("fraud", 9, "Approved")


def test_bad_group_names_are_refused(tmp_path):
    with pytest.raises(InputError, match="model package group name 'my group' is invalid"):
        register(ModelRegistry(tmp_path), "my group")


def test_concurrent_registrations_get_unique_consecutive_versions(tmp_path):
    ModelRegistry(tmp_path)  # create the schema once
    versions: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        registry = ModelRegistry(tmp_path)  # one connection per writer, like separate runs
        for _ in range(5):
            version = register(registry)["version"]
            with lock:
                versions.append(version)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == list(range(1, 21))
