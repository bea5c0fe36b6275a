"""Threshold sweeps: the cost (or F1) at every distinct threshold, from one sort.

A case is called positive when its score is at or above the threshold. Sorting the scores
once, in descending order, makes the confusion counts at every distinct threshold cumulative
sums, so the whole sweep is O(n log n). scikit-learn has no cost-sensitive version of this:
``precision_recall_curve`` computes the same counts but not the cost, sorts stably (slower),
and ``TunedThresholdClassifierCV`` refits models around it, so the sweep is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from steps.costs import ConfusionCounts, CostMatrix
from steps.errors import InputError


@dataclass(frozen=True)
class ThresholdSweep:
    """Confusion counts and a criterion at every candidate threshold.

    ``thresholds`` run from ``+inf`` (everything negative) down through every distinct score;
    entry ``i`` of the count arrays holds the counts for calling positive every score
    ``>= thresholds[i]``. ``best_index`` is the first minimum of ``costs`` (for a cost sweep)
    or the first maximum of ``f1`` (for an F1 sweep), so ties go to the highest threshold.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    costs: np.ndarray
    f1: np.ndarray
    best_index: int

    @property
    def best_threshold(self) -> float:
        return float(self.thresholds[self.best_index])

    @property
    def best_cost(self) -> float:
        return float(self.costs[self.best_index])

    @property
    def best_f1(self) -> float:
        return float(self.f1[self.best_index])

    @property
    def best_counts(self) -> ConfusionCounts:
        i = self.best_index
        return ConfusionCounts(
            tp=int(self.tp[i]), fp=int(self.fp[i]), fn=int(self.fn[i]), tn=int(self.tn[i])
        )

    @property
    def best_interval(self) -> Tuple[float, float]:
        """The open-closed interval (low, high] of thresholds with the best decisions."""
        i = self.best_index
        low = float(self.thresholds[i + 1]) if i + 1 < len(self.thresholds) else -np.inf
        return low, float(self.thresholds[i])


def cumulative_counts(
    y_true: np.ndarray, scores: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Thresholds (+inf, then distinct scores descending) with TP and FP counts at each."""
    y = _as_binary(y_true)
    s = np.asarray(scores)
    if s.ndim != 1 or s.shape[0] != y.shape[0]:
        raise InputError(
            f"scores and labels differ in shape: {s.shape} and {y.shape}; give one score per label"
        )
    if s.shape[0] == 0:
        raise InputError("a threshold sweep needs at least one score, got none")
    if not np.all(np.isfinite(s)):
        raise InputError("scores contain NaN or infinite values: predict finite scores")
    # One unstable sort: ties are grouped below by taking the last index of each run of equal
    # scores, so the order within a run does not matter.
    order = np.argsort(s)[::-1]
    sorted_scores = s[order]
    positives_so_far = np.cumsum(y[order], dtype=np.int64)
    run_ends = np.flatnonzero(np.diff(sorted_scores)) if s.shape[0] > 1 else np.empty(0, int)
    last = np.append(run_ends, s.shape[0] - 1)
    tp = np.concatenate(([0], positives_so_far[last]))
    fp = np.concatenate(([0], last + 1 - positives_so_far[last]))
    thresholds = np.concatenate(([np.inf], sorted_scores[last].astype(np.float64)))
    n_pos = int(positives_so_far[-1])
    return thresholds, tp, fp, n_pos, int(s.shape[0]) - n_pos


def _sweep(y_true: np.ndarray, scores: np.ndarray, matrix: CostMatrix | None) -> ThresholdSweep:
    thresholds, tp, fp, n_pos, n_neg = cumulative_counts(y_true, scores)
    fn = n_pos - tp
    tn = n_neg - fp
    n = n_pos + n_neg
    if matrix is not None:
        costs = (tp * matrix.tp + fp * matrix.fp + fn * matrix.fn + tn * matrix.tn) / n
    else:
        costs = np.full(thresholds.shape, np.nan)
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2.0 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    best = int(np.argmin(costs)) if matrix is not None else int(np.argmax(f1))
    return ThresholdSweep(thresholds, tp, fp, fn, tn, costs, f1, best)


def cost_sweep(y_true: np.ndarray, scores: np.ndarray, matrix: CostMatrix) -> ThresholdSweep:
    """Expected cost at every distinct threshold; ``best_threshold`` minimises it.

    Examples
    --------
    A missed positive costs 10, a false alarm 1. Calling the two highest scores positive
    misses the positive at 0.3; going down to 0.3 adds one false alarm and no miss:

    >>> matrix = CostMatrix(tp=0, fp=1, fn=10, tn=0)
    >>> sweep = cost_sweep(np.array([0, 1, 0, 1]), np.array([0.1, 0.3, 0.35, 0.8]), matrix)
    >>> sweep.best_threshold, sweep.best_cost, sweep.best_counts.fp
    (0.3, 0.25, 1)
    """
    return _sweep(y_true, scores, matrix)


def f1_sweep(y_true: np.ndarray, scores: np.ndarray) -> ThresholdSweep:
    """F1 at every distinct threshold; ``best_threshold`` maximises it (costs are NaN).

    Examples
    --------
    >>> sweep = f1_sweep(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> sweep.best_threshold, round(sweep.best_f1, 3)
    (0.4, 1.0)
    """
    return _sweep(y_true, scores, None)


def _as_binary(y_true: np.ndarray) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise InputError(f"labels must be one-dimensional, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if y.size and not np.isin(y, (0, 1)).all():
        raise InputError("labels must be 0 or 1: encode the positive class as 1")
    return y.astype(np.int64)
