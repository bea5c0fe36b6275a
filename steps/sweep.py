"""Threshold sweeps: the cost (or F1) at every distinct threshold, from one sort.

A case is called positive when its score is at or above the threshold. Sorting the scores
once, in descending order, makes the confusion counts at every distinct threshold cumulative
sums, so the whole sweep is O(n log n). scikit-learn has no cost-sensitive version of this:
``precision_recall_curve`` computes the same counts but not the cost (and sorts with a stable
argsort plus gathers), and ``TunedThresholdClassifierCV`` refits models around it, so the sweep
is written here.

Float32 scores (what XGBoost predicts) take a faster road to the same counts: each score's
order-preserving bit pattern and its label are packed into one unsigned 64-bit key, and one
``np.sort`` of the keys (a vectorised sort, no argsort, no gathers) yields the scores in order
with their labels beside them. Other scores use one argsort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from steps.costs import ConfusionCounts, CostMatrix
from steps.errors import InputError


class ThresholdCurve:
    """The best point of a curve over candidate thresholds: subclasses give ``thresholds``,
    ``costs`` and ``best_index`` (the empirical sweep here, the smoothed one in smoothing)."""

    @property
    def best_threshold(self) -> float:
        return float(self.thresholds[self.best_index])

    @property
    def best_cost(self) -> float:
        return float(self.costs[self.best_index])


@dataclass(frozen=True)
class ThresholdSweep(ThresholdCurve):
    """Confusion counts and a criterion at every candidate threshold.

    ``thresholds`` run from ``+inf`` (everything negative) down through every distinct score;
    entry ``i`` of the count arrays holds the counts for calling positive every score
    ``>= thresholds[i]``. ``best_index`` is the first minimum of ``costs`` (for a cost sweep)
    or the first maximum of ``f1`` (for an F1 sweep), so ties go to the highest threshold.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int
    best_index: int
    matrix: CostMatrix | None = None

    @property
    def fn(self) -> np.ndarray:
        return self.positives - self.tp

    @property
    def tn(self) -> np.ndarray:
        return self.negatives - self.fp

    @property
    def costs(self) -> np.ndarray:
        """Expected cost per decision at each threshold (NaN without a cost matrix)."""
        if self.matrix is None:
            return np.full(self.thresholds.shape, np.nan)
        return _costs(self.tp, self.fp, self.positives, self.negatives, self.matrix)

    @property
    def f1(self) -> np.ndarray:
        denominator = 2 * self.tp + self.fp + self.fn
        return np.divide(
            2.0 * self.tp, denominator, out=np.zeros(self.tp.shape), where=denominator > 0
        )

    @property
    def best_f1(self) -> float:
        return float(self.f1[self.best_index])

    @property
    def best_counts(self) -> ConfusionCounts:
        i = self.best_index
        return ConfusionCounts(
            tp=int(self.tp[i]),
            fp=int(self.fp[i]),
            fn=int(self.positives - self.tp[i]),
            tn=int(self.negatives - self.fp[i]),
        )

    @property
    def best_interval(self) -> tuple[float, float]:
        """The open-closed interval (low, high] of thresholds with the best decisions."""
        i = self.best_index
        low = float(self.thresholds[i + 1]) if i + 1 < len(self.thresholds) else -np.inf
        return low, float(self.thresholds[i])


def _costs(
    tp: np.ndarray, fp: np.ndarray, positives: int, negatives: int, matrix: CostMatrix
) -> np.ndarray:
    # tp*C_tp + (P - tp)*C_fn + fp*C_fp + (N - fp)*C_tn, folded into two multiplications.
    constant = positives * matrix.fn + negatives * matrix.tn
    return (constant + tp * (matrix.tp - matrix.fn) + fp * (matrix.fp - matrix.tn)) / (
        positives + negatives
    )


def _check_labels(y_true: np.ndarray) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise InputError(f"labels must be one-dimensional, got shape {y.shape}")
    if y.dtype == bool:
        return y
    if y.size and not np.all((y == 0) | (y == 1)):
        raise InputError("labels must be 0 or 1: encode the positive class as 1")
    return y


def _descending_float32(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores in descending order (float32) and their labels, from one sort of packed keys."""
    # +0.0 turns -0.0 into +0.0, so equal scores get equal keys.
    bits = (scores + np.float32(0.0)).view(np.uint32)
    # Order-preserving map from IEEE floats to unsigned integers: flip negatives entirely,
    # set the sign bit of positives.
    ordered = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(0x80000000))
    keys = (ordered.astype(np.uint64) << np.uint64(1)) | y.astype(np.uint64)
    keys.sort()
    keys = keys[::-1]
    labels = (keys & np.uint64(1)).astype(np.int8)
    ordered_sorted = (keys >> np.uint64(1)).astype(np.uint32)
    bits_sorted = np.where(
        ordered_sorted >> np.uint32(31), ordered_sorted & np.uint32(0x7FFFFFFF), ~ordered_sorted
    )
    return bits_sorted.view(np.float32), labels


def checked_scores(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0/1 or bool) and scores as arrays, after checking they can be swept."""
    y = _check_labels(y_true)
    s = np.asarray(scores)
    if s.ndim != 1 or s.shape[0] != y.shape[0]:
        raise InputError(
            f"scores and labels differ in shape: {s.shape} and {y.shape}; give one score per label"
        )
    if s.shape[0] == 0:
        raise InputError("a threshold sweep needs at least one score, got none")
    if not np.all(np.isfinite(s)):
        raise InputError("scores contain NaN or infinite values: predict finite scores")
    return y, s


def cumulative_counts(
    y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Thresholds (+inf, then distinct scores descending) with TP and FP counts at each."""
    y, s = checked_scores(y_true, scores)
    if s.dtype in (np.float32, np.float16):
        sorted_scores, sorted_labels = _descending_float32(s.astype(np.float32), y)
    else:
        # One unstable sort: ties are grouped below by taking the last index of each run of
        # equal scores, so the order within a run does not matter.
        order = np.argsort(s)[::-1]
        sorted_scores, sorted_labels = s[order], y[order]
    positives_so_far = np.cumsum(sorted_labels, dtype=np.int64)
    run_ends = np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1])
    last = np.append(run_ends, s.shape[0] - 1)
    tp = np.empty(last.size + 1, dtype=np.int64)
    tp[0] = 0
    tp[1:] = positives_so_far[last]
    fp = np.empty_like(tp)
    fp[0] = 0
    fp[1:] = last + 1 - tp[1:]
    thresholds = np.empty(last.size + 1, dtype=np.float64)
    thresholds[0] = np.inf
    thresholds[1:] = sorted_scores[last]
    n_pos = int(positives_so_far[-1])
    return thresholds, tp, fp, n_pos, int(s.shape[0]) - n_pos


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
    thresholds, tp, fp, n_pos, n_neg = cumulative_counts(y_true, scores)
    best = int(np.argmin(_costs(tp, fp, n_pos, n_neg, matrix)))
    return ThresholdSweep(thresholds, tp, fp, n_pos, n_neg, best, matrix)


def f1_sweep(y_true: np.ndarray, scores: np.ndarray) -> ThresholdSweep:
    """F1 at every distinct threshold; ``best_threshold`` maximises it (costs are NaN).

    Examples
    --------
    >>> sweep = f1_sweep(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> sweep.best_threshold, round(sweep.best_f1, 3)
    (0.4, 1.0)
    """
    thresholds, tp, fp, n_pos, n_neg = cumulative_counts(y_true, scores)
    sweep = ThresholdSweep(thresholds, tp, fp, n_pos, n_neg, 0)
    return ThresholdSweep(thresholds, tp, fp, n_pos, n_neg, int(np.argmax(sweep.f1)))
