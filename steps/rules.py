"""Decision rules: how a model's scores and a row's costs become a decision.

Two rules, both carried inside the decision artifact (as scikit-learn's
``FixedThresholdClassifier`` carries its threshold):

* :class:`ThresholdRule`, for constant costs (and F1 thresholds): positive when the score is at
  or above one threshold per label;
* :class:`MinimumRiskRule`, for per-row costs. Each row has its own Bayes-minimum-risk
  threshold ``t_i = (fp_i - tn_i) / ((fp_i - tn_i) + (fn_i - tp_i))``: for a calibrated
  probability ``p_i`` calling positive is cheaper in expectation when
  ``p_i (fn_i - tp_i) >= (1 - p_i)(fp_i - tn_i)``, i.e. ``p_i >= t_i``. Scores of a model
  trained with an asymmetric loss are not calibrated, so the rule either shifts it on the
  logit scale, positive when ``logit(p_i) + shift >= logit(t_i)``, with ``shift`` tuned on
  scores the model never trained on, or first calibrates the scores (isotonic or Platt,
  scikit-learn's, fitted on those scores) and applies it with ``shift = 0``.

With constant costs ``t_i`` is one number and the shifted rule is a threshold on the score,
``sigmoid(logit(t) - shift)``: the tuned shift makes exactly the decisions of the tuned
threshold (a test holds the two sweeps equal).

The shift sweep is one sort of the rows' keys ``k_i = logit(t_i) - logit(p_i)`` (a row is
positive when ``shift >= k_i``) and cumulative sums of each row's two costs, O(n log n), the
way :mod:`steps.sweep` prices every threshold; scikit-learn's ``TunedThresholdClassifierCV``
tunes one threshold on the score, not a shift of a per-row rule, so the sweep is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steps.cost_expressions import RowCosts
from steps.errors import InputError

#: The decision-rule choices evaluation.json records, in the order ties are broken: the
#: shifted rule on the model's scores, and the rule on isotonic- or Platt-calibrated scores.
RULE_CHOICES = ("shift", "isotonic", "platt")
#: Folds of the cross-validation that chooses among ``RULE_CHOICES``.
RULE_FOLDS = 5
#: When the best shift calls every finite-key row negative (or positive), the shift goes this
#: far (in logit units) beyond the nearest key: there is no next row to put it halfway to.
END_MARGIN = 1.0


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` elementwise; ``-inf`` at 0 and ``inf`` at 1."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))


def row_keys(scores: np.ndarray, costs: RowCosts) -> np.ndarray:
    """``k_i = logit(t_i) - logit(p_i)``: row i is called positive when ``shift >= k_i``.

    ``-inf`` where calling positive is always right (a false alarm costs nothing extra, or the
    score is 1), ``+inf`` where it never is (a miss costs nothing extra, no decision changes
    the row's cost, or the score is 0).
    """
    scores = np.asarray(scores, dtype=np.float64)
    t = costs.bayes_thresholds()
    with np.errstate(invalid="ignore"):
        inner = logit(np.where((t > 0) & (t < 1), t, 0.5)) - logit(scores)
    return np.select(
        [t == 0, ~(t < 1), scores <= 0, scores >= 1],  # ~(t < 1): t == 1 or NaN
        [-np.inf, np.inf, np.inf, -np.inf],
        default=inner,
    )


@dataclass(frozen=True)
class ShiftSweep:
    """The expected cost per decision at every shift that changes a decision.

    ``keys`` are the distinct finite keys, ascending; ``costs[j]`` is the cost when exactly the
    rows with a key at most ``keys[j - 1]`` are positive (``costs[0]``: only the ``-inf`` rows);
    ``best_index`` is the first minimum (ties go to the fewest positives, as the threshold
    sweep's ties go to the highest threshold).
    """

    keys: np.ndarray
    costs: np.ndarray
    best_index: int

    @property
    def best_cost(self) -> float:
        return float(self.costs[self.best_index])

    @property
    def best_shift(self) -> float:
        """A shift in the middle of the interval that makes the best decisions."""
        j = self.best_index
        if self.keys.size == 0:
            return 0.0
        if j == 0:
            return float(self.keys[0] - END_MARGIN)
        if j == self.keys.size:
            return float(self.keys[-1] + END_MARGIN)
        low, high = float(self.keys[j - 1]), float(self.keys[j])
        middle = (low + high) / 2
        return middle if low <= middle < high else low


def shift_sweep(y: np.ndarray, scores: np.ndarray, costs: RowCosts) -> ShiftSweep:
    """Expected cost per decision at every distinct shift, from one sort.

    Examples
    --------
    Three rows with the same costs (a miss 9, a false alarm 1: t = 0.1):

    >>> costs = RowCosts.constant({"tp": 0, "fp": 1, "fn": 9, "tn": 0}, 3)
    >>> sweep = shift_sweep(np.array([1, 0, 0]), np.array([0.2, 0.05, 0.01]), costs)
    >>> sweep.costs.round(3).tolist()
    [3.0, 0.0, 0.333, 0.667]
    >>> bool(sweep.best_shift >= row_keys(np.array([0.2]), costs.take([0]))[0])
    True
    """
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    if y.shape != scores.shape or y.ndim != 1 or len(costs) != y.shape[0]:
        raise InputError("labels, scores and costs must be one per row")
    if y.size == 0:
        raise InputError("a shift sweep needs at least one row, got none")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores contain NaN or infinite values: predict finite scores")
    positive = y == 1
    keys = row_keys(scores, costs)
    if_positive = np.where(positive, costs.tp, costs.fp)
    if_negative = np.where(positive, costs.fn, costs.tn)
    always = keys == -np.inf
    finite = np.isfinite(keys)
    # Start from: the -inf rows positive, every other row negative.
    start = float(np.where(always, if_positive, if_negative).sum())
    order = np.argsort(keys[finite], kind="stable")
    sorted_keys = keys[finite][order]
    change = (if_positive - if_negative)[finite][order]
    running = start + np.concatenate(([0.0], np.cumsum(change)))
    # Equal keys switch together: keep the cost after the last row of each run.
    run_ends = np.flatnonzero(np.append(sorted_keys[1:] != sorted_keys[:-1], True))
    if sorted_keys.size == 0:
        run_ends = run_ends[:0]
    distinct = sorted_keys[run_ends]
    costs_at = np.concatenate(([running[0]], running[run_ends + 1])) / y.size
    return ShiftSweep(distinct, costs_at, int(np.argmin(costs_at)))


# calibration -----------------------------------------------------------------------------------
def fit_isotonic(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """scikit-learn's isotonic regression of the labels on the scores, as JSON: its knots.

    Applied by linear interpolation between the knots, clipped at the ends, which is how
    ``IsotonicRegression(out_of_bounds="clip").predict`` applies them (a test holds the two
    equal).
    """
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
    return {
        "method": "isotonic",
        "x": [float(v) for v in model.X_thresholds_],
        "y": [float(v) for v in model.y_thresholds_],
    }


def fit_platt(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Platt scaling: ``sigmoid(a * logit(s) + b)``, fitted by scikit-learn's logistic
    regression on Platt's smoothed targets (``(N+ + 1) / (N+ + 2)`` for positives,
    ``1 / (N- + 2)`` for negatives, as each row twice with weights), which keeps ``a`` finite
    when the scores separate the classes."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y) == 1
    positives, negatives = int(y.sum()), int((~y).sum())
    target = np.where(y, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    margins = np.clip(logit(scores), -50, 50)[:, None]
    model = LogisticRegression(C=np.inf).fit(
        np.vstack([margins, margins]),
        np.concatenate([np.ones(y.size), np.zeros(y.size)]),
        sample_weight=np.concatenate([target, 1 - target]),
    )
    return {"method": "platt", "a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}


def calibrate(calibration: dict[str, Any] | None, scores: np.ndarray) -> np.ndarray:
    """Scores through a calibration (as :func:`fit_isotonic` or :func:`fit_platt` record it)."""
    scores = np.asarray(scores, dtype=np.float64)
    if calibration is None:
        return scores
    if calibration["method"] == "isotonic":
        return np.interp(scores, calibration["x"], calibration["y"])
    if calibration["method"] == "platt":
        margins = np.clip(logit(scores), -50, 50)
        return sigmoid(calibration["a"] * margins + calibration["b"])
    raise InputError(f"unknown calibration method {calibration['method']!r}")


# rules -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdRule:
    """Positive when the score is at or above ``threshold`` (constant costs, F1)."""

    threshold: float
    kind: str = field(default="threshold", init=False)

    def decision_scores(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores, dtype=np.float64)

    def decide(self, scores: np.ndarray, costs: RowCosts | None = None) -> np.ndarray:
        return (np.asarray(scores) >= self.threshold).astype(np.int64)

    def decide_scores(self, scores: np.ndarray, costs: RowCosts | None = None) -> np.ndarray:
        """Decisions of ``decision_scores`` (here the model's scores themselves)."""
        return self.decide(scores, costs)

    def row_thresholds(self, costs: RowCosts | None, rows: int) -> np.ndarray:
        return np.full(rows, self.threshold)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "threshold": float(self.threshold)}


@dataclass(frozen=True)
class MinimumRiskRule:
    """Per-row costs: positive when ``logit(c(p_i)) + shift >= logit(t_i)``.

    ``c`` is the calibration (None: the model's own scores) and ``t_i`` the row's
    Bayes-minimum-risk threshold from its costs. ``decision_scores`` are ``c(p)``, the
    probabilities the rule compares; ``row_thresholds`` the score at or above which each row is
    positive, ``sigmoid(logit(t_i) - shift)``.
    """

    shift: float
    calibration: dict[str, Any] | None = None
    kind: str = field(default="minimum-risk", init=False)

    def decision_scores(self, scores: np.ndarray) -> np.ndarray:
        return calibrate(self.calibration, scores)

    def decide(self, scores: np.ndarray, costs: RowCosts | None = None) -> np.ndarray:
        """0/1 decisions of model scores (calibrated here when the rule calibrates)."""
        return self.decide_scores(self.decision_scores(scores), costs)

    def decide_scores(self, scores: np.ndarray, costs: RowCosts | None = None) -> np.ndarray:
        """0/1 decisions of ``decision_scores`` (already calibrated): every path that decides
        (Evaluate, the Python API, the handlers) ends here, so they decide alike."""
        if costs is None:
            raise InputError("a per-row cost rule needs each row's costs to decide")
        keys = row_keys(scores, costs)
        return (self.shift >= keys).astype(np.int64)

    def row_thresholds(self, costs: RowCosts | None, rows: int) -> np.ndarray:
        if costs is None:
            raise InputError("a per-row cost rule needs each row's costs for its thresholds")
        t = costs.bayes_thresholds()
        inner = sigmoid(logit(np.where((t > 0) & (t < 1), t, 0.5)) - self.shift)
        return np.select([t == 0, ~(t < 1)], [0.0, np.inf], default=inner)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "shift": float(self.shift), "calibration": self.calibration}


Rule = ThresholdRule | MinimumRiskRule


def rule_from_dict(document: dict[str, Any]) -> Rule:
    """A rule as decision.json and evaluation.json record it."""
    kind = document.get("kind")
    if kind == "threshold":
        return ThresholdRule(float(document["threshold"]))
    if kind == "minimum-risk":
        calibration = document.get("calibration")
        if calibration is not None and calibration.get("method") not in ("isotonic", "platt"):
            raise InputError(f"unknown calibration {calibration.get('method')!r} in a rule")
        return MinimumRiskRule(float(document["shift"]), calibration)
    raise InputError(f"unknown decision rule {kind!r}: evaluate the model with this costpipe")


def fit_rule(choice: str, y: np.ndarray, scores: np.ndarray, costs: RowCosts) -> MinimumRiskRule:
    """One of ``RULE_CHOICES`` fitted on tuning rows."""
    if choice == "shift":
        return MinimumRiskRule(shift_sweep(y, scores, costs).best_shift)
    if choice == "isotonic":
        return MinimumRiskRule(0.0, fit_isotonic(y, scores))
    if choice == "platt":
        return MinimumRiskRule(0.0, fit_platt(y, scores))
    raise InputError(f"unknown decision rule choice {choice!r}: use one of {RULE_CHOICES}")


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's fold: every class's rows shuffled by ``RandomState(seed)`` and dealt out in
    turn, so each fold holds its share of each class (the same in every NumPy version)."""
    y = np.asarray(y)
    rng = np.random.RandomState(seed)
    fold = np.empty(y.size, dtype=np.int64)
    offset = 0
    for value in (1, 0):
        rows = np.flatnonzero(y == value)
        rows = rows[rng.permutation(rows.size)]
        fold[rows] = (np.arange(rows.size) + offset) % folds
        offset += rows.size
    return fold


def choose_rule(
    y: np.ndarray,
    scores: np.ndarray,
    costs: RowCosts,
    folds: int = RULE_FOLDS,
    seed: int = 0,
) -> tuple[MinimumRiskRule, dict[str, Any]]:
    """The rule of ``RULE_CHOICES`` with the lowest cross-validated cost, refitted on all rows.

    Each choice is fitted on ``folds - 1`` folds of the tuning rows and prices the held-out
    fold; the costs add up over the folds. Ties go to the earlier choice. With fewer than two
    rows of a class in the rows, only the shift is fitted (a calibration needs both classes).
    Returns the rule and what evaluation.json records: each choice's cross-validated cost per
    decision and the one chosen.
    """
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    smallest = int(min((y == 1).sum(), (y == 0).sum()))
    folds = min(folds, smallest)
    if folds < 2:
        rule = fit_rule("shift", y, scores, costs)
        return rule, {"choice": "shift", "cross_validated_costs": None, "folds": 0}
    assigned = stratified_folds(y, folds, seed)
    totals = dict.fromkeys(RULE_CHOICES, 0.0)
    for fold in range(folds):
        held = assigned == fold
        fit_rows = ~held
        for choice in RULE_CHOICES:
            rule = fit_rule(choice, y[fit_rows], scores[fit_rows], costs.take(fit_rows))
            held_costs = costs.take(held)
            decided = rule.decide(scores[held], held_costs)
            totals[choice] += float(held_costs.of(y[held], decided).sum())
    averages = {choice: total / y.size for choice, total in totals.items()}
    best = min(RULE_CHOICES, key=lambda choice: averages[choice])
    record = {"choice": best, "cross_validated_costs": averages, "folds": folds}
    return fit_rule(best, y, scores, costs), record
