"""The registered model as a classifier that carries its decision rule, like scikit-learn's
``FixedThresholdClassifier``: scores from the boosters, decisions at the priced thresholds, or
under per-row costs by the priced minimum-risk rule with each row's own costs.

``predict_proba`` checks the rows against the input schema (``steps.inputs``) and then scores
them with ``CostSensitiveModel.predict_proba`` / ``FoldEnsemble.predict_proba``, the very code
Evaluate priced the model with, so the test split scored here gives Evaluate's test scores and
confusion counts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steps.artifact import CHECK_TOLERANCE, MODEL_FOLDER, open_artifact, read_decision
from steps.cost_expressions import CostSpec, RowCosts
from steps.errors import InputError
from steps.inputs import all_numeric, numeric_matrix, prepare_rows
from steps.model_io import load_model
from steps.rules import MinimumRiskRule, Rule, ThresholdRule, rule_from_dict

SCORE_PREFIX = "score:"
DECISION_PREFIX = "decision:"
THRESHOLD_PREFIX = "threshold:"


class DecisionModel:
    """A decision artifact loaded for scoring: boosters, input transforms, thresholds.

    Parameters
    ----------
    model : CostSensitiveModel or FoldEnsemble
        The boosters and fitted input transforms (``steps.model``).
    decision : dict
        The artifact's ``decision.json`` (``steps.artifact``).

    Attributes
    ----------
    labels_ : list of str
        The label names, in the order of the score columns.
    rules_ : list of Rule
        Each label's decision rule (``steps.rules``): a threshold, or under per-row costs the
        minimum-risk rule (a shift and an optional calibration).
    thresholds_ : numpy.ndarray
        One threshold per label; a score at or above it is called positive. NaN for a label
        decided by the per-row rule (each row has its own, see ``decide``).
    per_row : bool
        Whether the model decides with each row's costs; then ``cost_columns_`` must be in the
        rows.
    cost_columns_ : list of str
        The columns the per-row costs read (empty for constant costs).
    cost_matrices_ : dict
        Each label's cost matrix (``tp``, ``fp``, ``fn``, ``tn``), money per decision: numbers,
        or under per-row costs the entries as written (``0.75 * amount``).
    input_schema_ : dict
        Columns in training order, their types, category levels, text and label columns.
    versions_ : dict
        Library versions of the training job, and under ``priced_with`` of the Evaluate job.
    name_ : str
        The cost setting's name, e.g. ``fn200-fp1``.
    model_ : object
        The scoring model.

    Examples
    --------
    >>> model = DecisionModel.load("model.tar.gz")  # doctest: +SKIP
    >>> model.decide(rows)  # doctest: +SKIP
       score:malignant  decision:malignant  threshold:malignant
    0         0.993118                   1              0.031
    """

    def __init__(self, model: Any, decision: dict[str, Any]):
        self.model_ = model
        self.decision_ = decision
        self.labels_: list[str] = list(decision["labels"])
        rules = decision.get("rules") or {
            label: {"kind": "threshold", "threshold": decision["thresholds"][label]}
            for label in self.labels_
        }
        self.rules_: list[Rule] = [rule_from_dict(rules[label]) for label in self.labels_]
        self.thresholds_ = np.array(
            [r.threshold if isinstance(r, ThresholdRule) else np.nan for r in self.rules_], float
        )
        self.per_row = any(isinstance(rule, MinimumRiskRule) for rule in self.rules_)
        self.cost_specs_: dict[str, CostSpec] = {
            label: CostSpec.parse(entries, label)
            for label, entries in (decision.get("costs") or {}).items()
        }
        if self.per_row and set(self.cost_specs_) != set(self.labels_):
            raise InputError("the decision artifact's per-row rule has no costs for its labels")
        self.cost_columns_: list[str] = list(decision["input_schema"].get("cost_columns", []))
        self.cost_matrices_: dict[str, dict[str, Any]] = decision["cost_matrices"]
        self.input_schema_: dict[str, Any] = decision["input_schema"]
        self.versions_: dict[str, Any] = decision["versions"]
        self.name_: str = decision["name"]

    @property
    def request_columns_(self) -> list[str]:
        """The columns of a request given as value lists, in order: the model's input columns,
        then the cost columns that are not among them."""
        columns = list(self.input_schema_["columns"])
        return columns + [name for name in self.cost_columns_ if name not in columns]

    @classmethod
    def load(cls, path: str | Path) -> DecisionModel:
        """Load ``model.tar.gz``, a folder holding it, or the extracted folder.

        Raises :class:`~steps.errors.InputError` for anything that is not a decision artifact.
        """
        path = Path(path)
        if path.is_dir() and (path / "decision.json").is_file():
            return cls._from_folder(path)
        with tempfile.TemporaryDirectory(prefix="costpipe-decision-") as scratch:
            return cls._from_folder(open_artifact(path, Path(scratch)))

    @classmethod
    def _from_folder(cls, folder: Path) -> DecisionModel:
        decision = read_decision(folder)
        loaded = load_model(folder / MODEL_FOLDER)  # boosters are read into memory here
        model = cls(loaded.model, decision)
        model.check_scores()
        return model

    def check_scores(self) -> None:
        """Refuse to serve when this environment scores the check rows otherwise than
        Evaluate did (an XGBoost that reads the boosters differently, for one)."""
        check = self.decision_["check"]
        expected = np.asarray(check["scores"], dtype=float)
        # The boosters' own scores (before any calibration of the rule): what Evaluate stored.
        actual = self.model_.predict_proba(self.inputs(pd.DataFrame(check["rows"])))
        difference = float(np.max(np.abs(actual - expected)))
        if not difference <= CHECK_TOLERANCE:
            import xgboost

            trained = self.versions_.get("xgboost")
            raise InputError(
                f"xgboost {xgboost.__version__} scores this model differently from the xgboost "
                f"{trained} that priced it (by up to {difference:.3g} on its check rows): serve "
                f"it with xgboost {trained}, or train it with this version"
            )

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` checked against the input schema, as the model's input columns."""
        return prepare_rows(frame, self.input_schema_)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Scores, rows x labels: each label's probability, as Evaluate priced them (through
        the rule's calibration when it has one)."""
        return self.decision_scores(self.model_.predict_proba(self.inputs(frame)))

    def decision_scores(self, scores: np.ndarray) -> np.ndarray:
        """The boosters' scores (rows x labels) as each label's rule compares them."""
        return np.column_stack(
            [rule.decision_scores(scores[:, i]) for i, rule in enumerate(self.rules_)]
        )

    def predict_proba_values(self, rows: list[list[Any]]) -> np.ndarray:
        """Scores of rows given as value lists in ``input_schema_["columns"]`` order.

        For a model of numeric inputs without fitted transforms (the common case), the values go
        straight into the float32 array the boosters score, the array ``predict_proba`` would
        make from the same rows, without building a DataFrame; otherwise through
        ``predict_proba``.
        """
        members = getattr(self.model_, "members", [self.model_])
        if all_numeric(self.input_schema_) and all(
            member.text_state is None and member.linear_state is None for member in members
        ):
            data = numeric_matrix(rows, self.input_schema_).astype(np.float32)
            scores = np.mean([member.proba_of_inputs(data) for member in members], axis=0)
            return self.decision_scores(scores)
        columns = self.input_schema_["columns"]
        return self.predict_proba(pd.DataFrame(rows, columns=columns, dtype=object))

    def row_costs(self, frame: pd.DataFrame) -> dict[str, RowCosts] | None:
        """Each label's per-row costs of ``frame``'s rows (None for constant costs).

        Missing cost columns are one error naming them all.
        """
        if not self.per_row:
            return None
        missing = [name for name in self.cost_columns_ if name not in frame.columns]
        if missing:
            shown = ", ".join(f"'{name}'" for name in missing)
            raise InputError(
                f"the rows lack the cost column(s) {shown}: this model decides with each row's "
                "own costs, so send them with every row"
            )
        return {label: spec.evaluate(frame) for label, spec in self.cost_specs_.items()}

    def predict(self, frame: pd.DataFrame, costs: dict[str, RowCosts] | None = None) -> np.ndarray:
        """Decisions, rows x labels: by each label's rule; under per-row costs with ``costs``
        (label -> ``RowCosts``), or else the rows' own cost columns."""
        scores = self.predict_proba(frame)
        return self.decisions(scores, self.row_costs(frame) if costs is None else costs)

    def decisions(self, scores: np.ndarray, costs: dict[str, RowCosts] | None = None) -> np.ndarray:
        """The 0/1 decisions (rows x labels) of ``predict_proba``'s scores by the priced rules."""
        return np.column_stack(
            [
                rule.decide_scores(scores[:, i], None if costs is None else costs[label])
                for i, (label, rule) in enumerate(zip(self.labels_, self.rules_, strict=True))
            ]
        ).astype(np.int8)

    def row_thresholds(self, rows: int, costs: dict[str, RowCosts] | None = None) -> np.ndarray:
        """Each row's threshold per label (rows x labels): the score at or above which it is
        called positive (one value per label for a threshold rule)."""
        return np.column_stack(
            [
                rule.row_thresholds(None if costs is None else costs[label], rows)
                for label, rule in zip(self.labels_, self.rules_, strict=True)
            ]
        )

    def decide(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score, decision and threshold per label, one row per input row.

        Columns ``score:<label>``, ``decision:<label>`` and ``threshold:<label>`` for each label
        in ``labels_`` order; under per-row costs each row's own threshold.
        """
        scores = self.predict_proba(frame)
        return self.decision_frame(scores, self.row_costs(frame))

    def decision_frame(
        self, scores: np.ndarray, costs: dict[str, RowCosts] | None = None
    ) -> pd.DataFrame:
        decisions = self.decisions(scores, costs)
        thresholds = self.row_thresholds(len(scores), costs)
        columns: dict[str, Any] = {}
        for index, label in enumerate(self.labels_):
            columns[SCORE_PREFIX + label] = scores[:, index]
            columns[DECISION_PREFIX + label] = decisions[:, index]
            columns[THRESHOLD_PREFIX + label] = thresholds[:, index]
        return pd.DataFrame(columns)
