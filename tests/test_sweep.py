"""The single-sort threshold sweeps against a brute-force count at every threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.costs import ConfusionCounts, CostMatrix
from steps.errors import InputError
from steps.sweep import ThresholdSweep, cost_sweep, cumulative_counts, f1_sweep


@dataclass
class BruteForce:
    """Counts at every candidate threshold, each counted directly with ``score >= t``."""

    thresholds: list[float]
    counts: list[ConfusionCounts]


def brute_force(y: np.ndarray, scores: np.ndarray) -> BruteForce:
    """+inf, then every distinct score in descending order, with its confusion counts."""
    thresholds = [math.inf, *sorted({float(s) for s in scores}, reverse=True)]
    positive = y == 1
    counts = []
    for threshold in thresholds:
        called = scores >= threshold
        tp = int(np.sum(called & positive))
        fp = int(np.sum(called & ~positive))
        fn = int(np.sum(~called & positive))
        tn = int(np.sum(~called & ~positive))
        counts.append(ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn))
    return BruteForce(thresholds, counts)


def first_index(values: list, best: object) -> int:
    """Index of the first entry equal to ``best``."""
    return next(i for i, value in enumerate(values) if value == best)


def assert_counts_match(sweep: ThresholdSweep, reference: BruteForce) -> None:
    """Same thresholds in the same order and the same four counts at each."""
    assert sweep.thresholds.tolist() == reference.thresholds
    assert sweep.tp.tolist() == [c.tp for c in reference.counts]
    assert sweep.fp.tolist() == [c.fp for c in reference.counts]
    assert sweep.fn.tolist() == [c.fn for c in reference.counts]
    assert sweep.tn.tolist() == [c.tn for c in reference.counts]


# Few distinct values, so most inputs have many ties; -0.0 equals 0.0.
TIED_SCORES = st.sampled_from([0.0, -0.0, 0.1, 0.25, 0.5, 0.5000001, 0.9, 1.0, -3.0])
ANY_SCORES = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def labelled_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """1 to 60 labels (sometimes all one class) with tied or arbitrary scores."""
    n = draw(st.integers(1, 60))
    y = np.array(draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)), dtype=np.int64)
    element = draw(st.sampled_from([TIED_SCORES, ANY_SCORES]))
    scores = np.array(draw(st.lists(element, min_size=n, max_size=n)), dtype=np.float64)
    return y, scores


@st.composite
def integer_matrices(draw: st.DrawFn) -> CostMatrix:
    """Cost matrices with whole-number entries (benefits included), so costs compare exactly."""
    tp = draw(st.integers(-50, 50))
    tn = draw(st.integers(-50, 50))
    regret_fn = draw(st.integers(0, 100))
    regret_fp = draw(st.integers(0, 100))
    if regret_fn == regret_fp == 0:
        regret_fn = 1
    return CostMatrix(tp=tp, fp=tn + regret_fp, fn=tp + regret_fn, tn=tn)


@settings(max_examples=200, deadline=None)
@given(labelled_scores(), integer_matrices())
def test_cost_sweep_matches_brute_force(
    data: tuple[np.ndarray, np.ndarray], matrix: CostMatrix
) -> None:
    """Thresholds, counts and costs equal the direct count; the best is the first minimum in
    descending-threshold order (ties go to the highest threshold)."""
    y, scores = data
    sweep = cost_sweep(y, scores, matrix)
    reference = brute_force(y, scores)
    assert_counts_match(sweep, reference)
    # Exact costs, as fractions, so ties are ties.
    exact = [Fraction(int(matrix.total_cost(c)), c.total) for c in reference.counts]
    np.testing.assert_allclose(sweep.costs, [float(c) for c in exact], rtol=1e-12, atol=1e-12)
    best = min(exact)
    assert sweep.best_index == first_index(exact, best)
    assert sweep.best_cost == pytest.approx(float(best), rel=1e-12, abs=1e-12)
    assert sweep.best_threshold == reference.thresholds[sweep.best_index]
    assert sweep.best_counts == reference.counts[sweep.best_index]


@settings(max_examples=200, deadline=None)
@given(
    labelled_scores(),
    st.floats(-1e3, 1e3),
    st.floats(-1e3, 1e3),
    st.floats(1e-3, 1e3),
    st.floats(1e-3, 1e3),
)
def test_cost_sweep_with_fractional_costs_finds_the_minimum(
    data: tuple[np.ndarray, np.ndarray], tp: float, tn: float, regret_fn: float, regret_fp: float
) -> None:
    """With any real-valued matrix the costs equal the expected cost of the direct counts and
    the best cost is their minimum."""
    y, scores = data
    matrix = CostMatrix(tp=tp, fp=tn + regret_fp, fn=tp + regret_fn, tn=tn)
    sweep = cost_sweep(y, scores, matrix)
    reference = brute_force(y, scores)
    costs = [matrix.expected_cost(c) for c in reference.counts]
    np.testing.assert_allclose(sweep.costs, costs, rtol=1e-9, atol=1e-9)
    assert sweep.best_cost == pytest.approx(min(costs), rel=1e-9, abs=1e-9)
    assert sweep.best_cost == min(sweep.costs.tolist())
    assert sweep.best_index == first_index(sweep.costs.tolist(), sweep.best_cost)


@settings(max_examples=200, deadline=None)
@given(labelled_scores())
def test_f1_sweep_matches_brute_force(data: tuple[np.ndarray, np.ndarray]) -> None:
    """F1 at every threshold equals 2tp / (2tp + fp + fn) of the direct counts (0 when
    undefined); the best is the first maximum; costs are NaN."""
    y, scores = data
    sweep = f1_sweep(y, scores)
    reference = brute_force(y, scores)
    assert_counts_match(sweep, reference)
    exact = [
        Fraction(2 * c.tp, 2 * c.tp + c.fp + c.fn) if 2 * c.tp + c.fp + c.fn else Fraction(0)
        for c in reference.counts
    ]
    np.testing.assert_allclose(sweep.f1, [float(f) for f in exact], rtol=1e-12)
    assert sweep.best_index == first_index(exact, max(exact))
    assert sweep.best_f1 == pytest.approx(float(max(exact)))
    assert np.isnan(sweep.costs).all()


@settings(max_examples=200, deadline=None)
@given(labelled_scores(), integer_matrices())
def test_best_interval_holds_the_thresholds_with_the_best_decisions(
    data: tuple[np.ndarray, np.ndarray], matrix: CostMatrix
) -> None:
    """Every threshold in (low, high] makes the best decisions; ``low`` itself calls more
    cases positive."""
    y, scores = data
    sweep = cost_sweep(y, scores, matrix)
    low, high = sweep.best_interval
    assert low < high
    assert high == sweep.best_threshold

    def counts_at(threshold: float) -> tuple[int, int]:
        called = scores >= threshold
        return int(np.sum(called & (y == 1))), int(np.sum(called & (y == 0)))

    best = (sweep.best_counts.tp, sweep.best_counts.fp)
    inside = [high]
    if math.isfinite(low) and math.isfinite(high):
        inside.append(low + (high - low) / 2)
    elif math.isfinite(high):
        inside.append(high - 1.0)
    for threshold in inside:
        if low < threshold <= high:  # the midpoint can round onto ``low``
            assert counts_at(threshold) == best
    if math.isfinite(low):
        tp, fp = counts_at(low)
        assert tp + fp > best[0] + best[1]


def test_cost_sweep_by_hand() -> None:
    """A miss costs 10, a false alarm 1: thresholds inf, .8, .35, .3, .1 cost 20/4, 10/4,
    11/4, 1/4, 2/4; the best is 0.3, good for thresholds in (0.1, 0.3]."""
    matrix = CostMatrix(tp=0, fp=1, fn=10, tn=0)
    sweep = cost_sweep(np.array([0, 1, 0, 1]), np.array([0.1, 0.3, 0.35, 0.8]), matrix)
    assert sweep.thresholds.tolist() == [math.inf, 0.8, 0.35, 0.3, 0.1]
    assert sweep.tp.tolist() == [0, 1, 1, 2, 2]
    assert sweep.fp.tolist() == [0, 0, 1, 1, 2]
    assert sweep.costs.tolist() == [5.0, 2.5, 2.75, 0.25, 0.5]
    assert (sweep.best_index, sweep.best_threshold, sweep.best_cost) == (3, 0.3, 0.25)
    assert sweep.best_counts == ConfusionCounts(tp=2, fp=1, fn=0, tn=1)
    assert sweep.best_interval == (0.1, 0.3)


def test_tied_costs_go_to_the_highest_threshold() -> None:
    """Calling nothing and calling both tied cases cost the same: +inf wins."""
    matrix = CostMatrix(tp=0, fp=1, fn=1, tn=0)
    sweep = cost_sweep(np.array([1, 0]), np.array([0.5, 0.5]), matrix)
    assert sweep.costs.tolist() == [0.5, 0.5]
    assert sweep.best_threshold == math.inf
    assert sweep.best_interval == (0.5, math.inf)


def test_best_interval_reaches_minus_infinity_at_the_lowest_score() -> None:
    """When calling everything positive is best, any threshold up to the lowest score works."""
    matrix = CostMatrix(tp=0, fp=1, fn=100, tn=0)
    sweep = cost_sweep(np.array([1, 0, 1]), np.array([0.2, 0.6, 0.9]), matrix)
    assert sweep.best_threshold == 0.2
    assert sweep.best_interval == (-math.inf, 0.2)


def test_single_score_and_one_class() -> None:
    """n = 1: two thresholds, +inf and the score."""
    sweep = cost_sweep(np.array([0]), np.array([0.7]), CostMatrix(tp=0, fp=1, fn=5, tn=0))
    assert sweep.thresholds.tolist() == [math.inf, 0.7]
    assert sweep.costs.tolist() == [0.0, 1.0]
    assert sweep.best_threshold == math.inf
    assert f1_sweep(np.array([1]), np.array([0.7])).best_threshold == 0.7


def test_boolean_labels_and_integer_scores() -> None:
    """Boolean labels count as 0/1 and integer scores give float thresholds."""
    thresholds, tp, fp, n_pos, n_neg = cumulative_counts(
        np.array([True, False, True]), np.array([3, 1, 3])
    )
    assert thresholds.dtype == np.float64
    assert thresholds.tolist() == [math.inf, 3.0, 1.0]
    assert tp.tolist() == [0, 2, 2] and fp.tolist() == [0, 0, 1]
    assert (n_pos, n_neg) == (2, 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_rejected(bad: float) -> None:
    """NaN or infinite scores name the fix."""
    with pytest.raises(InputError, match=r"NaN or infinite.*predict finite scores"):
        f1_sweep(np.array([0, 1, 1]), np.array([0.1, bad, 0.3]))


@pytest.mark.parametrize(
    ("y", "scores"),
    [
        (np.array([0, 1, 1, 0]), np.array([0.1, 0.2, 0.3])),
        (np.array([0, 1]), np.array([[0.1, 0.2]])),
    ],
)
def test_shape_mismatch_is_rejected(y: np.ndarray, scores: np.ndarray) -> None:
    """One score per label, both one-dimensional."""
    with pytest.raises(InputError, match=r"differ in shape.*one score per label"):
        cost_sweep(y, scores, CostMatrix(tp=0, fp=1, fn=5, tn=0))


@pytest.mark.parametrize("labels", [[0, 2, 1], [-1, 0, 1], [0.5, 0, 1], [np.nan, 0, 1]])
def test_labels_other_than_0_and_1_are_rejected(labels: list) -> None:
    """Labels must be 0 or 1."""
    with pytest.raises(InputError, match="labels must be 0 or 1"):
        f1_sweep(np.array(labels), np.array([0.1, 0.2, 0.3]))


def test_two_dimensional_labels_are_rejected() -> None:
    """Labels must be one-dimensional."""
    with pytest.raises(InputError, match="one-dimensional"):
        f1_sweep(np.array([[0, 1]]), np.array([0.1, 0.2]))


def test_empty_input_is_rejected() -> None:
    """No scores, no sweep."""
    with pytest.raises(InputError, match="at least one score"):
        cost_sweep(np.array([], dtype=int), np.array([]), CostMatrix(tp=0, fp=1, fn=5, tn=0))


FLOAT32_VALUES = st.sampled_from(
    [-3.5, -1.0, -0.0, 0.0, 1e-30, 0.001, 0.25, 0.5, 0.5000001, 0.75, 1.0, 7.0, 3.4e38]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(FLOAT32_VALUES, st.integers(0, 1)), min_size=1, max_size=60),
)
def test_float32_sweep_matches_the_float64_sweep_and_brute_force(pairs):
    """The packed-key sort for float32 scores gives the same thresholds and counts as the
    argsort road and as counting directly, negatives, -0.0 and heavy ties included."""
    scores = np.array([s for s, _ in pairs], dtype=np.float32)
    labels = np.array([y for _, y in pairs], dtype=np.int8)
    fast = cumulative_counts(labels, scores)
    slow = cumulative_counts(labels, scores.astype(np.float64))
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    thresholds, tp, fp, _, _ = fast
    for t, true_pos, false_pos in zip(thresholds, tp, fp, strict=True):
        called = scores.astype(np.float64) >= t
        assert true_pos == int(np.sum(called & (labels == 1)))
        assert false_pos == int(np.sum(called & (labels == 0)))
