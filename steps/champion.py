"""The champion: the latest Approved version of the model package group, priced on this
execution's rows so that a new model (the challenger) is registered only when it beats it.

Evaluate finds the champion the same way everywhere; only the backend differs, chosen by the
environment:

* **locally** the executor gives processing jobs ``COSTPIPE_LOCAL_REGISTRY`` (the home's SQLite
  database, read here with the standard library's ``sqlite3``) and ``COSTPIPE_LOCAL_BUCKET``
  (the folder standing in for S3: ``s3://bucket/key`` is ``<folder>/bucket/key``, the mapping of
  ``pipeline/local/bucket.py``);
* **on AWS** neither is set, and boto3 (which the stock containers ship) asks SageMaker's
  ``ListModelPackages`` (Approved, newest first) and ``DescribeModelPackage``, and reads the
  artifact from S3 with the job's role.

The champion decides with its own rule (its decision artifact carries its thresholds, or its
per-row rule) and is priced with this execution's costs, on the same rows as the challenger;
the comparison is paired: the per-row cost of the challenger minus the champion's, with a
paired bootstrap interval.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from steps.cost_expressions import RowCosts
from steps.errors import InputError
from steps.options import CHAMPION_OFF, CHAMPION_SIGNIFICANT
from steps.pricing import Pricing, row_costs

#: Set by the local executor for processing jobs: the local registry's SQLite file.
LOCAL_REGISTRY_VARIABLE = "COSTPIPE_LOCAL_REGISTRY"
#: Set by the local executor for processing jobs: the folder that stands in for S3.
LOCAL_BUCKET_VARIABLE = "COSTPIPE_LOCAL_BUCKET"
APPROVED = "Approved"


@dataclass(frozen=True)
class ChampionPackage:
    """The registry's latest Approved version: what it is and where its artifact lies."""

    group: str
    version: int
    arn: str
    model_data_url: str


def find_champion(group: str) -> ChampionPackage | None:
    """The group's latest Approved version, or None when it has none (or does not exist)."""
    database = os.environ.get(LOCAL_REGISTRY_VARIABLE)
    if database:
        return _local_champion(Path(database), group)
    return _sagemaker_champion(group)


def _local_champion(database: Path, group: str) -> ChampionPackage | None:
    if not database.is_file():
        raise InputError(
            f"the local registry {database} does not exist ({LOCAL_REGISTRY_VARIABLE})"
        )
    connection = sqlite3.connect(str(database), timeout=60)
    try:
        row = connection.execute(
            "SELECT version, arn, model_data_url FROM model_packages"
            " WHERE group_name = ? AND approval_status = ? ORDER BY version DESC LIMIT 1",
            (group, APPROVED),
        ).fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):  # a registry nothing was ever registered in
            return None
        raise InputError(f"cannot read the local registry {database}: {error}") from None
    finally:
        connection.close()
    if row is None:
        return None
    return ChampionPackage(group, int(row[0]), str(row[1]), str(row[2]))


def _sagemaker_champion(group: str) -> ChampionPackage | None:
    # boto3 is imported here only: the stock containers ship it, and nothing else in steps/
    # talks to AWS (tests/test_layout.py allows it in this module alone).
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("sagemaker")
    try:
        listed = client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus=APPROVED,
            ModelPackageType="Versioned",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        if not listed:
            return None
        arn = listed[0]["ModelPackageArn"]
        described = client.describe_model_package(ModelPackageName=arn)
    except (BotoCoreError, ClientError) as error:
        raise InputError(
            f"cannot look up the approved versions of model package group '{group}': {error}"
        ) from None
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise InputError(f"approved version {arn} has no model data URL: it cannot be priced")
    return ChampionPackage(
        group, int(described["ModelPackageVersion"]), arn, containers[0]["ModelDataUrl"]
    )


def download_artifact(uri: str, destination: Path) -> Path:
    """The champion's ``model.tar.gz`` copied to ``destination``; an absent one is an error."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InputError(f"the champion's model data URL '{uri}' is not an s3:// URI")
    key = parsed.path.lstrip("/")
    target = destination / "champion.tar.gz"
    root = os.environ.get(LOCAL_BUCKET_VARIABLE)
    if root:
        folder = Path(root).resolve()
        source = (folder / parsed.netloc / key).resolve()
        if folder not in source.parents:
            raise InputError(f"'{uri}' points outside the local bucket")
        if not source.is_file():
            raise InputError(f"no object at {uri}")
        target.write_bytes(source.read_bytes())
        return target
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        boto3.client("s3").download_file(parsed.netloc, key, str(target))
    except (BotoCoreError, ClientError) as error:
        raise InputError(f"cannot read {uri}: {error}") from None
    return target


def paired_difference(
    challenger_costs: np.ndarray, champion_costs: np.ndarray, n_resamples: int, seed: int
) -> tuple[float, tuple[float, float]]:
    """Mean per-row cost difference (challenger minus champion) and its 95% paired bootstrap
    interval.

    Rows are resampled together, so both models see the same resample. Resampling rows only
    changes how often each distinct row difference occurs, so each resample is one multinomial
    draw over the distinct differences (as ``steps.evaluate.cost_draws`` does for costs, with
    the same seed): vectorised, and the cost does not grow with the rows.
    """
    differences = np.asarray(challenger_costs, float) - np.asarray(champion_costs, float)
    if differences.size == 0:
        raise InputError("no rows to compare the challenger and the champion on")
    values, counts = np.unique(differences, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(counts.sum(), counts / counts.sum(), size=n_resamples)
    means = draws @ values / counts.sum()
    low, high = np.quantile(means, [0.025, 0.975])
    return float(differences.mean()), (float(low), float(high))


def gate_passes(policy: str, difference: float, interval: tuple[float, float]) -> bool:
    """``cheaper``: the challenger's cost is below the champion's on the same rows;
    ``significant``: the interval's upper end is below 0; ``off``: always."""
    if policy == CHAMPION_OFF:
        return True
    if policy == CHAMPION_SIGNIFICANT:
        return bool(interval[1] < 0)
    return bool(difference < 0)


def signed(value: float) -> str:
    return f"{value:+,.2f}"


def comparison_text(
    challenger_name: str,
    challenger_cost: float,
    champion_cost: float,
    version: int,
    difference: float,
    interval: tuple[float, float],
) -> str:
    """``fn53-fp1 costs 13,402.00 per decision against 13,337.00 for approved version 4
    (difference +65.00 [-20.00, +150.00])``."""
    return (
        f"{challenger_name} costs {challenger_cost:,.2f} per decision on test against "
        f"{champion_cost:,.2f} for approved version {version} (difference {signed(difference)} "
        f"[{signed(interval[0])}, {signed(interval[1])}])"
    )


def champion_inputs(frame: pd.DataFrame, columns: Sequence[str], version: int) -> pd.DataFrame:
    """The champion's input columns of ``frame``; missing ones are named in the error."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        shown = ", ".join(f"'{name}'" for name in missing[:12])
        more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        raise InputError(
            f"approved version {version} was trained on columns this execution's rows do not "
            f"have: {shown}{more}; register from the same columns or reject that version"
        )
    return frame[list(columns)]


def label_order(champion_labels: list[str], labels: list[str], where: str) -> list[int]:
    """The champion's decision columns in this execution's label order.

    A binary model has one label whose name is only how reports call the positive class, so
    any two binary models compare; multi-label models must decide the same labels.
    """
    if len(champion_labels) == 1 and len(labels) == 1:
        return [0]
    if sorted(champion_labels) != sorted(labels):
        raise InputError(
            f"{where} decides the labels {', '.join(champion_labels)}, this execution's data "
            f"has {', '.join(labels)}: it cannot be compared"
        )
    return [champion_labels.index(label) for label in labels]


def price_champion(
    package: ChampionPackage,
    splits: dict[str, tuple[pd.DataFrame, np.ndarray]],
    labels: list[str],
    pricing: dict[str, Pricing],
    challenger_costs: dict[str, np.ndarray],
) -> dict[str, Any]:
    """The champion's decisions and per-row costs on each split the challenger is compared on.

    ``pricing[split]`` prices decisions with this execution's costs (``steps.pricing``);
    ``challenger_costs[split]`` are the challenger's per-row costs on the same rows. A champion
    that decides with per-row costs is given this execution's per-row costs of those rows
    (with constant costs here, it reads its own cost columns from the rows). Returns, per split,
    ``champion`` and ``challenger`` per-row costs and the champion's decisions. A champion that
    cannot be read, decides other labels or lacks input columns is an error: the gate never
    passes silently.
    """
    from steps.decision import DecisionModel

    where = f"approved version {package.version} ({package.arn})"
    with tempfile.TemporaryDirectory(prefix="costpipe-champion-") as scratch:
        try:
            archive = download_artifact(package.model_data_url, Path(scratch))
            model = DecisionModel.load(archive)
        except InputError as error:
            raise InputError(
                f"{where}: its decision artifact at {package.model_data_url} cannot be loaded "
                f"({error}); reject that version or approve one that loads"
            ) from None
        order = label_order(list(model.labels_), list(labels), where)
        columns = list(model.input_schema_["columns"])
        columns += [name for name in model.cost_columns_ if name not in columns]
        priced: dict[str, Any] = {
            "name": model.name_,
            "thresholds": dict(
                zip(model.labels_, (_plain(t) for t in model.thresholds_), strict=True)
            ),
        }
        for split, (frame, Y) in splits.items():
            if split not in challenger_costs:
                continue
            costs = None
            if model.per_row and all(isinstance(c, RowCosts) for c in pricing[split]):
                # The champion's label order[i] is this execution's label i.
                costs = {model.labels_[order[i]]: c for i, c in enumerate(pricing[split])}
                rows = champion_inputs(frame, model.input_schema_["columns"], package.version)
            else:
                rows = champion_inputs(frame, columns, package.version)
            try:
                decisions = model.predict(rows, costs)[:, order]
            except InputError as error:
                raise InputError(
                    f"{where} cannot score this execution's {split} rows: {error}"
                ) from None
            priced[split] = {
                "champion": row_costs(Y, decisions, pricing[split]),
                "challenger": np.asarray(challenger_costs[split], float),
                "decisions": decisions,
            }
    return priced


def _plain(threshold: float) -> float | None:
    """A threshold as JSON holds it: None where the per-row rule gives each row its own."""
    return None if np.isnan(threshold) else float(threshold)
