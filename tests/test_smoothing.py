"""Thresholds under kernel-smoothed score distributions (steps/smoothing.py)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit, ndtr

from steps.costs import CostMatrix
from steps.evaluate import chosen_threshold, tuned_threshold
from steps.smoothing import LOGIT_CLIP, silverman_bandwidth, smoothed_cost
from steps.sweep import cost_sweep

STUDY = CostMatrix(tp=35280.0, fp=1287.67, fn=252000.0, tn=0.0)


def exact_smoothed_costs(y: np.ndarray, scores: np.ndarray, matrix: CostMatrix, curve):
    """The same expected costs without binning: every score's own Gaussian (of the bandwidths
    the curve reports), at every threshold of the curve."""
    z = logit(np.clip(scores.astype(np.float64), LOGIT_CLIP, 1 - LOGIT_CLIP))
    grid = logit(curve.thresholds)[:, None]
    z_neg, z_pos = z[y == 0], z[y == 1]
    neg_below = ndtr((grid - z_neg) / curve.bandwidths[0]).mean(axis=1)
    pos_below = ndtr((grid - z_pos) / curve.bandwidths[1]).mean(axis=1)
    n_pos, n_neg = len(z_pos), len(z_neg)
    return (
        n_pos * (pos_below * matrix.fn + (1 - pos_below) * matrix.tp)
        + n_neg * (neg_below * matrix.tn + (1 - neg_below) * matrix.fp)
    ) / (n_pos + n_neg)


def test_silverman_bandwidth_by_hand():
    # sd of 1..5 is sqrt(2.5) = 1.5811; the IQR (2..4) / 1.34 = 1.4925 is smaller.
    values = np.arange(1.0, 6.0)
    assert silverman_bandwidth(values) == pytest.approx(0.9 * (2.0 / 1.34) * 5**-0.2)
    assert silverman_bandwidth(np.array([3.0])) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    n_pos=st.integers(2, 60),
    n_neg=st.integers(2, 200),
    shift=st.floats(-3.0, 6.0),
    spread=st.floats(0.2, 3.0),
    ratio=st.sampled_from([1.0, 5.0, 168.3, 1000.0]),
    seed=st.integers(0, 2**16),
)
# Two nearly equal negatives: a bandwidth the grid cannot resolve, widened to five steps.
@example(n_pos=2, n_neg=2, shift=0.0, spread=1.0, ratio=1.0, seed=197)
def test_binned_costs_agree_with_the_exact_kernel_estimate(
    n_pos, n_neg, shift, spread, ratio, seed
):
    rng = np.random.default_rng(seed)
    y = np.repeat([1, 0], [n_pos, n_neg])
    z = np.where(y == 1, rng.normal(shift, spread, y.size), rng.normal(0.0, spread, y.size))
    scores = expit(z)
    matrix = CostMatrix(tp=0.0, fp=1.0, fn=ratio, tn=0.0)
    curve = smoothed_cost(y, scores, matrix)
    assert curve is not None
    exact = exact_smoothed_costs(y, scores, matrix, curve)
    # Silverman's bandwidths, widened only where the grid could not resolve them.
    z = logit(scores)
    step = logit(curve.thresholds[1]) - logit(curve.thresholds[0])
    for h, values in zip(curve.bandwidths, (z[y == 0], z[y == 1]), strict=True):
        assert h == pytest.approx(max(silverman_bandwidth(values), 5 * step), rel=1e-6)
    scale = max(matrix.fn, matrix.fp)
    assert np.max(np.abs(curve.costs - exact)) <= 2e-3 * scale
    # The threshold it picks is optimal for the exact estimate, up to the binning error.
    assert exact[curve.best_index] <= exact.min() + 4e-3 * scale


def test_the_threshold_approaches_the_true_optimum_of_known_distributions():
    # Logit scores N(+2, 1) for positives, N(-2, 1) for negatives, 30 % positives, a miss ten
    # times a false alarm: the densities weighed by costs balance at
    # z* = -ln(0.3 x 10 / (0.7 x 1)) / 4 = -0.364.
    rng = np.random.default_rng(7)
    y = (rng.random(40_000) < 0.3).astype(np.int8)
    z = np.where(y == 1, rng.normal(2.0, 1.0, y.size), rng.normal(-2.0, 1.0, y.size))
    curve = smoothed_cost(y, expit(z), CostMatrix(tp=0.0, fp=1.0, fn=10.0, tn=0.0))
    assert logit(curve.best_threshold) == pytest.approx(-np.log(3.0 / 0.7) / 4, abs=0.05)


def test_a_dear_miss_moves_the_threshold_below_the_lowest_positive_seen():
    # The empirical sweep cuts just under the lowest positive (logit -1); the smoothed
    # positives have mass below it, and a miss costs 168 false alarms.
    y = np.repeat([1, 0], [40, 200])
    z = np.concatenate([np.linspace(-1.0, 6.0, 40), np.linspace(-9.0, -1.5, 200)])
    scores = expit(z)
    empirical = chosen_threshold(cost_sweep(y, scores, STUDY))
    smoothed = smoothed_cost(y, scores, STUDY).best_threshold
    assert expit(-1.5) < empirical < expit(-1.0)
    assert smoothed < expit(-1.5)


def test_nothing_to_smooth_falls_back_to_the_empirical_sweep():
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.9, 0.9, 0.1, 0.2, 0.3, 0.4])
    assert smoothed_cost(y, scores, STUDY) is None
    args = argparse.Namespace(threshold_objective="cost", threshold_smoothing="kernel")
    threshold, how = tuned_threshold(y, scores, STUDY, args)
    assert how is None
    assert threshold == chosen_threshold(cost_sweep(y, scores, STUDY)) == pytest.approx(0.65)


def test_tuned_threshold_reports_how_it_smoothed():
    rng = np.random.default_rng(0)
    y = np.repeat([1, 0], [50, 150])
    scores = expit(np.where(y == 1, rng.normal(2, 1, 200), rng.normal(-2, 1, 200)))
    kernel = argparse.Namespace(threshold_objective="cost", threshold_smoothing="kernel")
    threshold, how = tuned_threshold(y, scores, STUDY, kernel)
    curve = smoothed_cost(y, scores, STUDY)
    assert threshold == curve.best_threshold
    assert how["method"] == "kernel"
    assert how["smoothed_cost"] == curve.best_cost
    assert how["bandwidths"]["positive"] == curve.bandwidths[1] > 0
    none = argparse.Namespace(threshold_objective="cost", threshold_smoothing="none")
    assert tuned_threshold(y, scores, STUDY, none) == (
        chosen_threshold(cost_sweep(y, scores, STUDY)),
        None,
    )
    f1 = argparse.Namespace(threshold_objective="f1", threshold_smoothing="kernel")
    assert tuned_threshold(y, scores, STUDY, f1)[1] is None
