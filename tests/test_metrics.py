"""Confusion counts and classification metrics on a hand-worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from steps.costs import ConfusionCounts
from steps.metrics import classification_metrics, confusion_counts, decide, rates

# Eight cases; at threshold 0.5 the calls are 1 1 0 1 0 0 0 1:
# tp = rows 0, 1, 7; fn = row 2; fp = row 3; tn = rows 4, 5, 6.
Y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
SCORES = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4, 0.7])


def test_decide_calls_scores_at_the_threshold_positive() -> None:
    """``score >= threshold`` is positive, including equality."""
    assert decide(np.array([0.49, 0.5, 0.51]), 0.5).tolist() == [0, 1, 1]
    assert decide(SCORES, 0.5).tolist() == [1, 1, 0, 1, 0, 0, 0, 1]


def test_confusion_counts_by_hand() -> None:
    """3 caught, 1 missed, 1 false alarm, 3 correct negatives."""
    assert confusion_counts(Y, decide(SCORES, 0.5)) == ConfusionCounts(tp=3, fp=1, fn=1, tn=3)


def test_confusion_counts_with_one_class_keep_all_four_cells() -> None:
    """Only negatives, all called negative: tn = 3 and zeros elsewhere."""
    counts = confusion_counts(np.array([0, 0, 0]), np.array([0, 0, 0]))
    assert counts == ConfusionCounts(tp=0, fp=0, fn=0, tn=3)


def test_confusion_counts_match_a_direct_count() -> None:
    """On random data the counts equal a count of each cell."""
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    counts = confusion_counts(y, pred)
    assert counts.tp == np.sum((y == 1) & (pred == 1))
    assert counts.fp == np.sum((y == 0) & (pred == 1))
    assert counts.fn == np.sum((y == 1) & (pred == 0))
    assert counts.tn == np.sum((y == 0) & (pred == 0))


def test_classification_metrics_by_hand() -> None:
    """Accuracy 6/8; precision, recall and F1 3/4; ROC AUC 14/16 (pairs a positive outranks);
    Brier (.01+.04+.49+.36+.04+.01+.16+.09)/8 = .15; Hamming loss 2/8."""
    metrics = classification_metrics(Y, SCORES, 0.5)
    expected_log_loss = -np.mean(
        [math.log(p) for p in (0.9, 0.8, 0.3, 0.7)]
        + [math.log(1 - p) for p in (0.6, 0.2, 0.1, 0.4)]
    )
    assert metrics == pytest.approx(
        {
            "accuracy": 0.75,
            "precision": 0.75,
            "recall": 0.75,
            "f1": 0.75,
            "roc_auc": 0.875,
            "brier": 0.15,
            "log_loss": expected_log_loss,
            "hamming_loss": 0.25,
        }
    )


def test_metrics_follow_the_threshold() -> None:
    """At 0.25 everything but the two lowest scores is called positive: precision 4/6,
    recall 1, F1 0.8; the score-based metrics do not change."""
    low = classification_metrics(Y, SCORES, 0.25)
    high = classification_metrics(Y, SCORES, 0.5)
    assert low["precision"] == pytest.approx(4 / 6)
    assert low["recall"] == 1.0
    assert low["f1"] == pytest.approx(0.8)
    assert low["accuracy"] == 0.75
    for name in ("roc_auc", "brier", "log_loss"):
        assert low[name] == high[name]


def test_roc_auc_is_none_with_one_class() -> None:
    """ROC AUC is undefined with one class; the other metrics are still numbers."""
    metrics = classification_metrics(np.array([0, 0, 0]), np.array([0.1, 0.7, 0.2]), 0.5)
    assert metrics["roc_auc"] is None
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["precision"] == 0.0  # one false alarm, nothing caught
    assert metrics["recall"] == 0.0  # no positives: zero_division gives 0
    assert metrics["brier"] == pytest.approx((0.01 + 0.49 + 0.04) / 3)


def test_log_loss_is_finite_for_confident_mistakes() -> None:
    """Scores of exactly 0 and 1 on the wrong class are clipped, not infinite."""
    metrics = classification_metrics(np.array([1, 0]), np.array([0.0, 1.0]), 0.5)
    assert math.isfinite(metrics["log_loss"])
    assert metrics["log_loss"] == pytest.approx(-math.log(1e-15), rel=1e-4)


def test_rates_by_hand() -> None:
    """tp 3, fn 1, fp 1, tn 3: every rate is 3/4 or 1/4."""
    assert rates(ConfusionCounts(tp=3, fp=1, fn=1, tn=3)) == {
        "true_positive_rate": 0.75,
        "false_negative_rate": 0.25,
        "true_negative_rate": 0.75,
        "false_positive_rate": 0.25,
    }


def test_rates_of_an_absent_class_are_none() -> None:
    """No positives: their rates are None, not a division by zero."""
    assert rates(ConfusionCounts(tp=0, fp=1, fn=0, tn=3)) == {
        "true_positive_rate": None,
        "false_negative_rate": None,
        "true_negative_rate": 0.75,
        "false_positive_rate": 0.25,
    }
