"""The report's data: one execution as plain values, and its per-label views.

A loader (:mod:`pipeline.report.local` or :mod:`pipeline.report.sagemaker`) fills
:class:`ReportData`; everything after that (figures, the DAG, the page) reads only this, so the
report looks the same whichever way the execution ran.

Per label: ``evaluation["labels"]`` names the labels (one for a binary problem). Each model's
``thresholds`` maps label to threshold. For one label the model's own ``validation`` and
``test`` figures are that label's; with several labels, a model's ``per_label[label]`` figures
are used when Evaluate writes them, and otherwise they are recomputed from the scores (a
``label_name`` column in ``scores.parquet`` says which label a row scores).

Under per-row costs (``evaluation["costs"]["per_row"]``) there is no threshold and no cost
matrix of numbers: each model decides by its minimum-risk rule (``rules[label]``: a shift, or
calibrated scores), the cost entries may be formulas (kept as written in
:attr:`LabelView.entries`), and scores.parquet carries each row's decision, its four costs and
its source row (:class:`RowScores`), from which the per-row figures are drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from steps.cost_expressions import RowCosts
from steps.costs import OUTCOMES, CostMatrix
from steps.pricing import baseline_costs as priced_baselines

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
class RowScores:
    """One model's rows of one split and label under per-row costs, as scores.parquet holds
    them: truth, decision scores (calibrated when the rule calibrates), 0/1 decisions, each
    row's four costs and its position in its source file (0-based)."""

    y: np.ndarray
    scores: np.ndarray
    decisions: np.ndarray
    costs: RowCosts
    rows: np.ndarray

    @property
    def paid(self) -> np.ndarray:
        """Each row's cost of the decision taken."""
        return self.costs.of(self.y, self.decisions)

    @property
    def other(self) -> np.ndarray:
        """What each row would have cost with the other decision."""
        return self.costs.of(self.y, 1 - self.decisions)

    @property
    def false_negatives(self) -> np.ndarray:
        return (self.y == 1) & (self.decisions == 0)

    @property
    def false_positives(self) -> np.ndarray:
        return (self.y == 0) & (self.decisions == 1)


@dataclass(frozen=True)
class ModelView:
    """One model's figures and scores for one label.

    Under per-row costs ``threshold`` is NaN, ``rule`` is the label's minimum-risk rule as
    evaluation.json records it, ``choice`` its cross-validated choice (``rule_choice[label]``)
    and ``rows`` the per-row material of each split.
    """

    name: str
    setting: dict[str, float]
    threshold: float
    figures: dict[str, dict[str, Any]]  # split -> expected_cost, confusion, precision, ...
    scores: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (true labels, scores)
    rule: dict[str, Any] | None = None
    choice: dict[str, Any] | None = None
    rows: dict[str, RowScores] = field(default_factory=dict)

    @property
    def per_row(self) -> bool:
        return self.rule is not None and self.rule.get("kind") == "minimum-risk"

    @property
    def tuning_cost(self) -> float | None:
        """What the model was chosen by, for this label: its rule's cross-validated cost under
        per-row costs, else its cost on the tuning scores."""
        if self.choice and self.choice.get("cross_validated_costs"):
            return float(self.choice["cross_validated_costs"][self.choice["choice"]])
        value = self.figures.get("validation", {}).get("expected_cost")
        return None if value is None else float(value)

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
    """Everything the per-label section draws.

    ``matrix`` is None under per-row costs (``per_row``), where ``entries`` holds the label's
    cost entries as written: numbers, or formula texts.
    """

    label: str
    matrix: CostMatrix | None
    models: list[ModelView]
    best: str | None
    baselines: dict[str, dict[str, float]]  # policy -> split -> expected cost
    has_scores: bool
    per_row: bool = False
    entries: dict[str, Any] | None = None

    @property
    def cheapest(self) -> ModelView | None:
        """The cheapest model (the one the pipeline picked), else the first one."""
        found = next((m for m in self.models if m.name == self.best), None)
        return found or next(iter(self.models), None)


def is_per_row(evaluation: dict[str, Any]) -> bool:
    """Whether the execution priced every row with its own costs."""
    return bool((evaluation.get("costs") or {}).get("per_row"))


def cost_entries_for(evaluation: dict[str, Any], label: str) -> dict[str, Any]:
    """A label's cost entries as evaluation.json records them (numbers or formula texts):
    its own in ``cost_matrices``, else the evaluation's ``cost_matrix``."""
    own = (evaluation.get("cost_matrices") or {}).get(label)
    if isinstance(own, dict) and all(k in own for k in OUTCOMES):
        return dict(own)
    matrix = evaluation.get("cost_matrix") or {}
    if label in matrix and isinstance(matrix[label], dict):
        matrix = matrix[label]
    return {k: matrix.get(k) for k in OUTCOMES}


def cost_matrix_for(evaluation: dict[str, Any], label: str) -> CostMatrix:
    """The evaluation's cost matrix; with several labels it may also be one per label."""
    matrix = evaluation["cost_matrix"]
    if label in matrix and isinstance(matrix[label], dict):
        matrix = matrix[label]
    return CostMatrix(**{k: float(matrix[k]) for k in ("tp", "fp", "fn", "tn")})


def _picked(
    scores: pd.DataFrame | None, model: str, split: str, label: str, multi: bool
) -> pd.DataFrame | None:
    """scores.parquet's rows of one model, split and label (None when there are none)."""
    if scores is None or scores.empty:
        return None
    rows = (scores["model"] == model) & (scores["split"] == split)
    if multi and "label_name" in scores.columns:
        rows &= scores["label_name"].astype(str) == label
    picked = scores.loc[rows]
    return None if picked.empty else picked


def _label_scores(
    scores: pd.DataFrame | None, model: str, split: str, label: str, multi: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    picked = _picked(scores, model, split, label, multi)
    if picked is None:
        return None
    return (
        picked["label"].to_numpy(dtype=np.int64),
        picked["score"].to_numpy(dtype=np.float64),
    )


def _label_rows(
    scores: pd.DataFrame | None, model: str, split: str, label: str, multi: bool
) -> RowScores | None:
    """A model's per-row material of one split and label (None without per-row columns)."""
    needed = ("row", "decision", *(f"cost_{outcome}" for outcome in OUTCOMES))
    if scores is None or not all(c in scores.columns for c in needed):
        return None
    picked = _picked(scores, model, split, label, multi)
    if picked is None:
        return None
    return RowScores(
        y=picked["label"].to_numpy(dtype=np.int64),
        scores=picked["score"].to_numpy(dtype=np.float64),
        decisions=picked["decision"].to_numpy(dtype=np.int64),
        costs=RowCosts(
            *(picked[f"cost_{outcome}"].to_numpy(dtype=np.float64) for outcome in OUTCOMES)
        ),
        rows=picked["row"].to_numpy(dtype=np.int64),
    )


def figures_from_rows(rows: RowScores) -> dict[str, Any]:
    """One label's figures of per-row decisions, as Evaluate computes them
    (``steps.evaluate.decision_figures``)."""
    from steps.evaluate import decision_figures

    return decision_figures(rows.y, rows.scores, rows.decisions, rows.costs)


def figures_from_scores(
    y: np.ndarray, scores: np.ndarray, threshold: float, matrix: CostMatrix
) -> dict[str, Any]:
    """One label's figures at a threshold, as Evaluate computes them
    (``steps.evaluate.label_figures``): cost, savings, confusion counts and metrics."""
    from steps.evaluate import label_figures

    return label_figures(y, scores, threshold, matrix)


def baseline_costs(y: np.ndarray, cost: CostMatrix | RowCosts) -> dict[str, float]:
    """Expected cost of calling every case negative, and every case positive: from the class
    counts and the matrix, or each row with its own costs (``steps.pricing.baseline_costs``,
    as Evaluate prices them)."""
    return priced_baselines(cost, y)


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
    if is_per_row(evaluation):
        return [_per_row_view(data, label, multi) for label in labels]
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


def _per_row_view(data: ReportData, label: str, multi: bool) -> LabelView:
    """One label of a per-row execution: rules instead of thresholds, the label's cost entries
    as written, each model's per-row material; figures from evaluation.json where it has them
    for the label, else recomputed from the rows."""
    evaluation = data.evaluation or {}
    models = []
    for model in evaluation.get("models", []):
        rules = model.get("rules") or {}
        rule = rules.get(label, next(iter(rules.values()), None))
        choice = (model.get("rule_choice") or {}).get(label)
        threshold = (model.get("thresholds") or {}).get(label)
        scores, rows, figures = {}, {}, {}
        for split in SPLITS:
            material = _label_rows(data.scores, model["name"], split, label, multi)
            if material is not None:
                rows[split] = material
                scores[split] = (material.y, material.scores)
            else:
                found = _label_scores(data.scores, model["name"], split, label, multi)
                if found is not None:
                    scores[split] = found
            given = model.get(split) or {}
            if multi:
                given = (given.get("per_label") or {}).get(label) or {}
            if given:
                figures[split] = given
            elif material is not None:
                figures[split] = figures_from_rows(material)
        models.append(
            ModelView(
                name=str(model["name"]),
                setting=dict(model.get("setting", {})),
                threshold=math.nan if threshold is None else float(threshold),
                figures=figures,
                scores=scores,
                rule=rule,
                choice=choice,
                rows=rows,
            )
        )
    baselines: dict[str, dict[str, float]] = {policy: {} for policy in POLICIES}
    given = evaluation.get("baselines") or {}
    for split in SPLITS:
        material = next((m.rows[split] for m in models if split in m.rows), None)
        if material is not None:
            # The trivial policies on the rows the curves are drawn from.
            for policy, cost in baseline_costs(material.y, material.costs).items():
                baselines[policy][split] = cost
        elif not multi:
            for policy in POLICIES:
                value = given.get(policy, {}).get(split, {}).get("expected_cost")
                if value is not None:
                    baselines[policy][split] = float(value)
    return LabelView(
        label=label,
        matrix=None,
        models=models,
        best=(evaluation.get("best") or {}).get("name"),
        baselines=baselines,
        has_scores=any(m.scores for m in models),
        per_row=True,
        entries=cost_entries_for(evaluation, label),
    )


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
