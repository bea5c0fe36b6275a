"""The registered model as a classifier that carries its thresholds, like scikit-learn's
``FixedThresholdClassifier``: scores from the boosters, decisions at the priced thresholds.

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
from steps.errors import InputError
from steps.inputs import all_numeric, numeric_matrix, prepare_rows
from steps.metrics import decide
from steps.model_io import load_model

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
    thresholds_ : numpy.ndarray
        One threshold per label; a score at or above it is called positive.
    cost_matrices_ : dict
        Each label's cost matrix (``tp``, ``fp``, ``fn``, ``tn``), money per decision.
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
        self.thresholds_ = np.array([decision["thresholds"][n] for n in self.labels_], float)
        self.cost_matrices_: dict[str, dict[str, float]] = decision["cost_matrices"]
        self.input_schema_: dict[str, Any] = decision["input_schema"]
        self.versions_: dict[str, Any] = decision["versions"]
        self.name_: str = decision["name"]

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
        actual = self.predict_proba(pd.DataFrame(check["rows"]))
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
        """Scores, rows x labels: each label's probability, as Evaluate priced them."""
        return self.model_.predict_proba(self.inputs(frame))

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
            return np.mean([member.proba_of_inputs(data) for member in members], axis=0)
        columns = self.input_schema_["columns"]
        return self.predict_proba(pd.DataFrame(rows, columns=columns, dtype=object))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Decisions, rows x labels: 1 where the score is at or above the label's threshold."""
        return self.decisions(self.predict_proba(frame))

    def decisions(self, scores: np.ndarray) -> np.ndarray:
        """The 0/1 decisions for scores (rows x labels) at the priced thresholds."""
        return np.column_stack(
            [decide(scores[:, i], t) for i, t in enumerate(self.thresholds_)]
        ).astype(np.int8)

    def decide(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score, decision and threshold per label, one row per input row.

        Columns ``score:<label>``, ``decision:<label>`` and ``threshold:<label>`` for each label
        in ``labels_`` order.
        """
        scores = self.predict_proba(frame)
        return self.decision_frame(scores)

    def decision_frame(self, scores: np.ndarray) -> pd.DataFrame:
        decisions = self.decisions(scores)
        columns: dict[str, Any] = {}
        for index, label in enumerate(self.labels_):
            columns[SCORE_PREFIX + label] = scores[:, index]
            columns[DECISION_PREFIX + label] = decisions[:, index]
            columns[THRESHOLD_PREFIX + label] = np.full(len(scores), self.thresholds_[index])
        return pd.DataFrame(columns)
