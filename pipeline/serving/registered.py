"""Finding a registered model's decision artifact in the local registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.local.registry import ModelRegistry, verify_artifact

APPROVED = "Approved"


@dataclass(frozen=True)
class RegisteredModel:
    """One model package version and the local path of its artifact."""

    package: dict[str, Any]
    artifact: Path

    @property
    def label(self) -> str:
        return f"{self.package['group']}/{self.package['version']}"


def parse_model_name(text: str) -> tuple[str, int | None]:
    """``GROUP`` or ``GROUP/VERSION``."""
    group, separator, version = text.partition("/")
    if not group or (separator and not version.isdigit()):
        raise InputError(
            f"--model '{text}' is not GROUP or GROUP/VERSION: e.g. --model breast-cancer/3"
        )
    return group, int(version) if separator else None


def find_package(registry: ModelRegistry, model: str | None, approved: str | None) -> dict:
    """The package ``--model GROUP[/VERSION]`` names (a group alone: its latest version), or
    with ``--approved [GROUP]`` the latest Approved version (of the only group when none is
    named)."""
    if model is not None:
        group, version = parse_model_name(model)
        return registry.package(group, version) if version else registry.latest(group)
    groups = [g["name"] for g in registry.groups()]
    if approved:
        group = approved
    elif len(groups) == 1:
        group = groups[0]
    elif not groups:
        raise InputError("the registry is empty: run the pipeline first (costpipe run)")
    else:
        raise InputError(
            f"the registry has {len(groups)} model package groups ({', '.join(groups[:6])}): "
            "name one with --approved GROUP"
        )
    packages = [p for p in registry.packages(group) if p["approval_status"] == APPROVED]
    if not packages:
        raise InputError(
            f"model package group '{group}' has no Approved version: approve one with "
            f"costpipe registry approve {group} VERSION, or name one with --model {group}/VERSION"
        )
    return packages[-1]


def registered_model(home: Path, model: str | None, approved: str | None) -> RegisteredModel:
    """The package and its artifact, whose bytes must still be those registered."""
    registry = ModelRegistry(home)
    try:
        package = find_package(registry, model, approved)
    finally:
        registry.close()
    bucket = LocalBucket(Path(home) / BUCKET_FOLDER)
    integrity = verify_artifact(package, bucket)
    label = f"{package['group']}/{package['version']}"
    if integrity["actual"] is None:
        raise InputError(
            f"the artifact of {label} is gone ({package['model_data_url']}): run the pipeline "
            "again to register a new version"
        )
    if not integrity["ok"]:
        raise InputError(
            f"the artifact of {label} is not the one registered (sha256 differs): run the "
            "pipeline again to register a new version"
        )
    return RegisteredModel(package=package, artifact=bucket.path(package["model_data_url"]))
