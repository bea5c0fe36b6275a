"""The ClassImbalance rule of SageMaker Debugger: imbalance ratio and misprediction."""

from __future__ import annotations

import numpy as np
import pytest

from steps.checks import class_imbalance_check, misprediction_check
from steps.errors import InputError


def labels(negatives: int, positives: int) -> np.ndarray:
    """``negatives`` zeros followed by ``positives`` ones."""
    return np.array([0] * negatives + [1] * positives)


def test_study_data_passes() -> None:
    """357 benign and 212 malignant: ratio 1.68, evaluated (569 >= 500), passes."""
    check = class_imbalance_check(labels(357, 212))
    assert check["ratio"] == pytest.approx(357 / 212)
    assert check["counts"] == {"0": 357, "1": 212}
    assert (check["samples"], check["evaluated"], check["passed"]) == (569, True, True)
    assert check["threshold"] == 10.0


def test_ratio_exactly_at_the_threshold_passes() -> None:
    """100 / 10 = 10 is not above the default threshold of 10."""
    check = class_imbalance_check(labels(100, 10), samples=0)
    assert check["ratio"] == 10.0
    assert check["passed"] is True


def test_ratio_above_the_threshold_fails() -> None:
    """101 / 10 = 10.1 exceeds 10."""
    check = class_imbalance_check(labels(101, 10), samples=0)
    assert check["ratio"] == pytest.approx(10.1)
    assert check["passed"] is False


def test_minority_may_be_either_class() -> None:
    """Largest over smallest, whichever class is larger; a custom threshold applies."""
    check = class_imbalance_check(labels(4, 20), threshold_imbalance=4.5, samples=0)
    assert check["ratio"] == 5.0
    assert check["threshold"] == 4.5
    assert check["passed"] is False


def test_imbalance_is_only_judged_after_enough_samples() -> None:
    """With 110 labels and samples=111 the check reports its ratio but passes unevaluated;
    at samples=110 it is evaluated and fails."""
    waiting = class_imbalance_check(labels(105, 5), samples=111)
    assert waiting["ratio"] == 21.0
    assert (waiting["evaluated"], waiting["passed"]) == (False, True)
    judged = class_imbalance_check(labels(105, 5), samples=110)
    assert (judged["evaluated"], judged["passed"]) == (True, False)


def test_a_single_class_is_infinitely_imbalanced() -> None:
    """One class only: ratio inf, fails once evaluated."""
    check = class_imbalance_check(np.zeros(20, dtype=int), samples=10)
    assert check["ratio"] == float("inf")
    assert check["passed"] is False


def test_imbalance_counts_text_labels() -> None:
    """Labels need not be numbers; counts are keyed by the label as text."""
    check = class_imbalance_check(np.array(["M", "B", "B"]), samples=0)
    assert check["counts"] == {"B": 2, "M": 1}
    assert check["ratio"] == 2.0


def test_misprediction_exactly_at_the_threshold_passes() -> None:
    """7 of 10 positives missed is 0.7, not above the default 0.7."""
    y_true = labels(10, 10)
    y_pred = np.array([0] * 10 + [0] * 7 + [1] * 3)
    check = misprediction_check(y_true, y_pred, samples=0)
    assert check["per_class"] == {"0": 0.0, "1": pytest.approx(0.7)}
    assert check["passed"] is True


def test_misprediction_above_the_threshold_fails() -> None:
    """8 of 10 positives missed exceeds 0.7 even though the negatives are all right."""
    y_true = labels(10, 10)
    y_pred = np.array([0] * 10 + [0] * 8 + [1] * 2)
    check = misprediction_check(y_true, y_pred, samples=0)
    assert check["per_class"] == {"0": 0.0, "1": pytest.approx(0.8)}
    assert check["passed"] is False


def test_misprediction_is_per_class_not_overall() -> None:
    """Negatives 1/4 wrong, positives 3/4 wrong: overall 0.5 would pass, the class fails."""
    y_true = labels(4, 4)
    y_pred = np.array([1, 0, 0, 0, 0, 0, 0, 1])
    check = misprediction_check(y_true, y_pred, samples=8)
    assert check["per_class"] == {"0": 0.25, "1": 0.75}
    assert (check["evaluated"], check["passed"]) == (True, False)


def test_misprediction_waits_for_enough_samples() -> None:
    """Everything wrong but only 4 of the default 500 samples: not evaluated, passes."""
    check = misprediction_check(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    assert check["per_class"] == {"0": 1.0, "1": 1.0}
    assert (check["samples"], check["evaluated"], check["passed"]) == (4, False, True)


def test_misprediction_shape_mismatch_is_rejected() -> None:
    """One prediction per label."""
    with pytest.raises(InputError, match="differ in shape"):
        misprediction_check(np.array([0, 1]), np.array([0, 1, 1]))


@pytest.mark.parametrize("threshold", [0, -1, float("nan"), float("inf")])
def test_bad_thresholds_are_rejected(threshold: float) -> None:
    """Thresholds must be positive finite numbers."""
    with pytest.raises(InputError, match="threshold_imbalance must be a positive number"):
        class_imbalance_check(labels(3, 3), threshold_imbalance=threshold)
    with pytest.raises(InputError, match="threshold_misprediction must be a positive number"):
        misprediction_check(labels(3, 3), labels(3, 3), threshold_misprediction=threshold)


@pytest.mark.parametrize("samples", [-1, 2.5, True])
def test_bad_sample_counts_are_rejected(samples: object) -> None:
    """``samples`` must be a whole number >= 0."""
    with pytest.raises(InputError, match="samples must be a whole number"):
        class_imbalance_check(labels(3, 3), samples=samples)  # type: ignore[arg-type]


def test_no_labels_is_an_error() -> None:
    """An empty label array has no classes to compare."""
    with pytest.raises(InputError, match="needs labels"):
        class_imbalance_check(np.array([], dtype=int))
