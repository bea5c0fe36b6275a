"""``costpipe predict``: score a CSV or Parquet file with a registered model's decision artifact.

One output row per input row, in input order: ``row`` (the position in the file), then for
each label ``score:<label>`` and ``decision:<label>`` (and, for a model that decides with
per-row costs, ``threshold:<label>``: the row's own threshold; the file must hold the cost
columns). When the file holds the target (the target column of the training data, or the label
columns of a prepared split), also ``truth:<label>`` and ``cost`` (that row's cost under the
artifact's cost matrices, or its own costs, summed over labels), and the summary gives the
realised cost per decision beside the test cost that evaluation.json reported for the model.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from steps.cost_expressions import RowCosts
from steps.costs import CostMatrix
from steps.data import _is_missing, _label_text, find_data_file, read_table
from steps.decision import DECISION_PREFIX, SCORE_PREFIX, THRESHOLD_PREFIX, DecisionModel
from steps.metrics import confusion_counts
from steps.pricing import Pricing
from steps.pricing import row_costs as price_rows

OUTPUT_SUFFIXES = (".csv", ".parquet")


def true_labels(frame: pd.DataFrame, decision: dict[str, Any]) -> np.ndarray | None:
    """The 0/1 label matrix the file holds, or None when it holds no target."""
    target = decision["target"]
    labels = decision["labels"]
    columns = target["label_columns"]
    if target["task"] == "binary":
        name = columns[0]
        if name not in frame.columns:
            return None
        values = frame[name]
        missing = values.map(_is_missing).to_numpy()
        if missing.any():
            raise InputError(
                f"target column '{name}' is empty in row {int(np.flatnonzero(missing)[0]) + 1}: "
                "fill it in or remove the column"
            )
        text = values.map(_label_text)
        positive, negative = target["positive_label"], target["negative_label"]
        seen = set(text.unique())
        if seen <= {positive, negative}:
            return (text == positive).to_numpy().astype(np.int8)[:, None]
        if seen <= {"0", "1"}:  # a prepared split: 1 is the positive label
            return (text == "1").to_numpy().astype(np.int8)[:, None]
        unknown = sorted(seen - {positive, negative})[0]
        raise InputError(
            f"target column '{name}' holds '{unknown}', which is neither {positive} nor "
            f"{negative}: fix the file or remove the column"
        )
    if all(column in frame.columns for column in columns):
        return frame[columns].to_numpy().astype(np.int8)
    delimiter = target.get("label_delimiter")
    if delimiter and target["target"] in frame.columns:
        index = {label: i for i, label in enumerate(labels)}
        matrix = np.zeros((len(frame), len(labels)), dtype=np.int8)
        for row, value in enumerate(frame[target["target"]].tolist()):
            tokens = [] if _is_missing(value) else str(value).split(delimiter)
            for token in (t.strip() for t in tokens):
                if not token:
                    continue
                if token not in index:
                    raise InputError(
                        f"target column '{target['target']}' holds the label '{token}' in row "
                        f"{row + 1}, which the model does not have: fix the file"
                    )
                matrix[row, index[token]] = 1
        return matrix
    return None


def row_costs(
    truth: np.ndarray,
    decided: np.ndarray,
    model: DecisionModel,
    costs: dict[str, RowCosts] | None = None,
) -> np.ndarray:
    """Each row's cost: over its labels, the cost of that label's outcome, from the artifact's
    cost matrices or (per-row costs) from each row's own costs."""
    pricing: Pricing = [
        costs[label] if costs is not None else CostMatrix(**model.cost_matrices_[label])
        for label in model.labels_
    ]
    return price_rows(truth, decided, pricing)


def score_file(model: DecisionModel, data: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The output rows and a summary (rows, decisions per label, realised cost)."""
    path = find_data_file(Path(data))
    frame = read_table(path)
    scores = model.predict_proba(frame)
    costs = model.row_costs(frame)
    decided = model.decisions(scores, costs)
    out: dict[str, Any] = {"row": np.arange(len(frame))}
    thresholds = model.row_thresholds(len(frame), costs)
    for index, label in enumerate(model.labels_):
        out[SCORE_PREFIX + label] = scores[:, index]
        out[DECISION_PREFIX + label] = decided[:, index]
        if model.per_row:
            out[THRESHOLD_PREFIX + label] = thresholds[:, index]
    truth = true_labels(frame, model.decision_)
    summary: dict[str, Any] = {
        "data": str(path),
        "rows": len(frame),
        "model": model.name_,
        "thresholds": {
            label: None if np.isnan(t) else float(t)
            for label, t in zip(model.labels_, model.thresholds_.tolist(), strict=True)
        },
        "positive_decisions": {
            label: int(decided[:, i].sum()) for i, label in enumerate(model.labels_)
        },
        "priced_test_cost": model.decision_["priced"]["test_expected_cost"],
        "realised_cost": None,
    }
    if truth is not None:
        spent = row_costs(truth, decided, model, costs)
        for index, label in enumerate(model.labels_):
            out["truth:" + label] = truth[:, index]
        out["cost"] = spent
        counts = [confusion_counts(truth[:, i], decided[:, i]) for i in range(truth.shape[1])]
        summary["realised_cost"] = float(spent.mean())
        summary["confusion"] = {
            key: sum(getattr(c, key) for c in counts) for key in ("tp", "fp", "fn", "tn")
        }
    return pd.DataFrame(out), summary


def check_destination(destination: Path) -> None:
    """Refuse an output path before any scoring: a suffix we cannot write, no such folder."""
    destination = Path(destination)
    if destination.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"--out '{destination}' must end in .csv or .parquet")
    if not destination.parent.is_dir():
        raise InputError(f"--out '{destination}': folder '{destination.parent}' does not exist")


def write_rows(rows: pd.DataFrame, destination: Path) -> None:
    """CSV or Parquet by suffix, written whole or not at all."""
    destination = Path(destination)
    check_destination(destination)
    suffix = destination.suffix.lower()
    with tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp", delete=False
    ) as handle:
        temporary = Path(handle.name)
    try:
        if suffix == ".csv":
            rows.to_csv(temporary, index=False)
        else:
            rows.to_parquet(temporary, index=False)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def summary_line(summary: dict[str, Any], label: str) -> str:
    decided = ", ".join(f"{k} {v}" for k, v in summary["positive_decisions"].items())
    line = f"{label} ({summary['model']}) scored {summary['rows']} rows; positive: {decided}"
    if summary["realised_cost"] is not None:
        counts = summary["confusion"]
        line += (
            f"; realised cost {summary['realised_cost']:,.2f} per decision (test cost in "
            f"evaluation.json {summary['priced_test_cost']:,.2f}); TP {counts['tp']} FP "
            f"{counts['fp']} FN {counts['fn']} TN {counts['tn']}"
        )
    return line


def summary_json(summary: dict[str, Any], extra: dict[str, Any]) -> str:
    return json.dumps({**summary, **extra})
