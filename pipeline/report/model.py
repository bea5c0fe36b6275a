"""The report's data: one execution as plain values, and its per-label views.

A loader (:mod:`pipeline.report.local` or :mod:`pipeline.report.sagemaker`) fills
:class:`ReportData`; everything after that (figures, the DAG, the page) reads only this, so the
report looks the same whichever way the execution ran.

Per label: ``evaluation["labels"]`` names the labels (one for a binary problem). Each model's
``thresholds`` maps label to threshold. For one label the model's own ``validation`` and
``test`` figures are that label's; with several labels, a model's ``per_label[label]`` figures
are used when Evaluate writes them, and otherwise they are recomputed from the scores (a
``label_name`` column in ``scores.parquet`` says which label a row scores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from steps.costs import CostMatrix

SPLITS = ("validation", "test")
POLICIES = ("all_negative", "all_positive")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or a datetime (boto3 gives datetimes) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class StepView:
    """One step of the execution as the report shows it (local or SageMaker alike)."""

    name: str
    type: str
    status: str
    display_name: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    attempts: int = 1
    failure_reason: str | None = None
    cache_source: str | None = None
    outcome: str | None = None  # a condition step's "True" / "False"

    @property
    def duration_s(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return max(0.0, (self.ended - self.started).total_seconds())


@dataclass
class ReportData:
    """Everything the report shows about one execution.

    ``execution`` has the keys of ``ExecutionStore.execution``: execution_id, arn, pipeline,
    status, parameters, failure_reason, created, ended. ``evaluation`` is evaluation.json (None
    when the Evaluate step did not succeed or its output could not be read), ``scores`` the
    rows of scores.parquet. ``problems`` lists what could not be read, in words, so the page
    can say why a section is missing.
    """

    source: str
    execution: dict[str, Any]
    steps: list[StepView]
    definition: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    scores: pd.DataFrame | None = None
    registered: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def execution_id(self) -> str:
        return str(self.execution["execution_id"])


@dataclass(frozen=True)
class ModelView:
    """One model's figures and scores for one label."""

    name: str
    setting: dict[str, float]
    threshold: float
    figures: dict[str, dict[str, Any]]  # split -> expected_cost, confusion, precision, ...
    scores: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (true labels, scores)

    @property
    def booster(self) -> str:
        return str(self.setting.get("booster", "tree"))

    @property
    def ratio(self) -> float:
        """fn_weight / fp_weight: the cost setting as one number (the x of the setting plot)."""
        fp = float(self.setting.get("fp_weight", 1.0)) or 1.0
        return float(self.setting.get("fn_weight", 1.0)) / fp


@dataclass(frozen=True)
class LabelView:
    """Everything the per-label section draws."""

    label: str
    matrix: CostMatrix
    models: list[ModelView]
    best: str | None
    baselines: dict[str, dict[str, float]]  # policy -> split -> expected cost
    has_scores: bool


def cost_matrix_for(evaluation: dict[str, Any], label: str) -> CostMatrix:
    """The evaluation's cost matrix; with several labels it may also be one per label."""
    matrix = evaluation["cost_matrix"]
    if label in matrix and isinstance(matrix[label], dict):
        matrix = matrix[label]
    return CostMatrix(**{k: float(matrix[k]) for k in ("tp", "fp", "fn", "tn")})


def _label_scores(
    scores: pd.DataFrame | None, model: str, split: str, label: str, multi: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    if scores is None or scores.empty:
        return None
    rows = (scores["model"] == model) & (scores["split"] == split)
    if multi and "label_name" in scores.columns:
        rows &= scores["label_name"].astype(str) == label
    picked = scores.loc[rows]
    if picked.empty:
        return None
    return (
        picked["label"].to_numpy(dtype=np.int64),
        picked["score"].to_numpy(dtype=np.float64),
    )


def figures_from_scores(
    y: np.ndarray, scores: np.ndarray, threshold: float, matrix: CostMatrix
) -> dict[str, Any]:
    """One label's figures at a threshold, as Evaluate computes them
    (``steps.evaluate.label_figures``): cost, savings, confusion counts and metrics."""
    from steps.evaluate import label_figures

    return label_figures(y, scores, threshold, matrix)


def baseline_costs(y: np.ndarray, matrix: CostMatrix) -> dict[str, float]:
    """Expected cost of calling every case negative, and every case positive
    (``CostMatrix.baseline_costs`` of the labels' class counts)."""
    positives = int(np.sum(y == 1))
    return matrix.baseline_costs(positives, int(y.size) - positives)


def labels_of(evaluation: dict[str, Any]) -> list[str]:
    labels = [str(label) for label in evaluation.get("labels") or []]
    if labels:
        return labels
    # An evaluation without "labels": the labels its thresholds name.
    models = evaluation.get("models") or [{}]
    return [str(label) for label in models[0].get("thresholds", {})] or ["positive"]


def label_views(data: ReportData) -> list[LabelView]:
    """One view per label of the evaluation; empty when there is no evaluation."""
    evaluation = data.evaluation
    if not evaluation:
        return []
    labels = labels_of(evaluation)
    multi = len(labels) > 1
    views = []
    for label in labels:
        matrix = cost_matrix_for(evaluation, label)
        models = []
        for model in evaluation.get("models", []):
            thresholds = model.get("thresholds", {})
            threshold = float(thresholds.get(label, next(iter(thresholds.values()), math.nan)))
            scores = {}
            for split in SPLITS:
                found = _label_scores(data.scores, model["name"], split, label, multi)
                if found is not None:
                    scores[split] = found
            if not multi:
                figures = {split: model.get(split, {}) for split in SPLITS}
            elif label in (model.get("per_label") or {}):
                figures = {split: model["per_label"][label].get(split, {}) for split in SPLITS}
            else:
                figures = {
                    split: figures_from_scores(*scores[split], threshold, matrix)
                    for split in SPLITS
                    if split in scores
                }
            models.append(
                ModelView(
                    name=str(model["name"]),
                    setting=dict(model.get("setting", {})),
                    threshold=threshold,
                    figures=figures,
                    scores=scores,
                )
            )
        views.append(
            LabelView(
                label=label,
                matrix=matrix,
                models=models,
                best=(evaluation.get("best") or {}).get("name"),
                baselines=_baselines(evaluation, models, matrix, multi),
                has_scores=any(m.scores for m in models),
            )
        )
    return views


def _baselines(
    evaluation: dict[str, Any], models: list[ModelView], matrix: CostMatrix, multi: bool
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {policy: {} for policy in POLICIES}
    given = evaluation.get("baselines") or {}
    for split in SPLITS:
        y = next((m.scores[split][0] for m in models if split in m.scores), None)
        if multi and y is not None:
            for policy, cost in baseline_costs(y, matrix).items():
                out[policy][split] = cost
            continue
        for policy in POLICIES:
            value = given.get(policy, {}).get(split, {}).get("expected_cost")
            if value is not None and not multi:
                out[policy][split] = float(value)
            elif y is not None:
                out[policy][split] = baseline_costs(y, matrix)[policy]
    return out
