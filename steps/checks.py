"""The class-imbalance checks of SageMaker Debugger's ClassImbalance rule.

The rule raises an issue when the ratio of the largest to the smallest class exceeds
``threshold_imbalance`` (default 10), or when the fraction of mispredictions of any class
exceeds ``threshold_misprediction`` (default 0.7). Like the rule, a check only judges once it
has seen ``samples`` labels (default 500); before that it reports ``evaluated: false`` and
passes, with its figures still shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from steps.errors import InputError

DEFAULT_THRESHOLD_IMBALANCE = 10.0
DEFAULT_THRESHOLD_MISPREDICTION = 0.7
DEFAULT_SAMPLES = 500


def _check_arguments(threshold: float, samples: int, name: str) -> None:
    if not np.isfinite(threshold) or threshold <= 0:
        raise InputError(f"{name} must be a positive number, got {threshold}")
    if isinstance(samples, bool) or int(samples) != samples or samples < 0:
        raise InputError(f"samples must be a whole number >= 0, got {samples}")


def class_imbalance_check(
    labels: np.ndarray,
    threshold_imbalance: float = DEFAULT_THRESHOLD_IMBALANCE,
    samples: int = DEFAULT_SAMPLES,
) -> dict[str, Any]:
    """Ratio of the largest to the smallest class count against ``threshold_imbalance``.

    Examples
    --------
    >>> check = class_imbalance_check(np.array([0] * 357 + [1] * 212))
    >>> round(check["ratio"], 2), check["evaluated"], check["passed"]
    (1.68, True, True)
    """
    _check_arguments(threshold_imbalance, samples, "threshold_imbalance")
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    if counts.size == 0:
        raise InputError("the class-imbalance check needs labels, got none")
    ratio = float(counts.max() / counts.min()) if counts.size > 1 else float("inf")
    evaluated = int(counts.sum()) >= samples
    return {
        "ratio": ratio,
        "threshold": float(threshold_imbalance),
        "counts": {
            str(value): int(count) for value, count in zip(values.tolist(), counts, strict=True)
        },
        "samples": int(counts.sum()),
        "evaluated": evaluated,
        "passed": bool(not evaluated or ratio <= threshold_imbalance),
    }


def misprediction_check(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    threshold_misprediction: float = DEFAULT_THRESHOLD_MISPREDICTION,
    samples: int = DEFAULT_SAMPLES,
) -> dict[str, Any]:
    """Fraction of each true class that was mispredicted, against ``threshold_misprediction``.

    Examples
    --------
    >>> check = misprediction_check(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), samples=4)
    >>> check["per_class"], check["passed"]
    ({'0': 0.5, '1': 0.0}, True)
    """
    _check_arguments(threshold_misprediction, samples, "threshold_misprediction")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise InputError(f"labels and predictions differ in shape: {y_true.shape}, {y_pred.shape}")
    per_class = {}
    for value in np.unique(y_true).tolist():
        in_class = y_true == value
        per_class[str(value)] = float(np.mean(y_pred[in_class] != value))
    evaluated = int(y_true.size) >= samples
    worst = max(per_class.values()) if per_class else 0.0
    return {
        "per_class": per_class,
        "threshold": float(threshold_misprediction),
        "samples": int(y_true.size),
        "evaluated": evaluated,
        "passed": bool(not evaluated or worst <= threshold_misprediction),
    }


def multilabel_imbalance_check(
    labels: np.ndarray,
    names: list,
    threshold_imbalance: float = DEFAULT_THRESHOLD_IMBALANCE,
    samples: int = DEFAULT_SAMPLES,
) -> dict[str, Any]:
    """The imbalance check per label (its positives against its negatives); the worst decides.

    A binary table is the one-label case and gives the same figures as
    :func:`class_imbalance_check`.
    """
    labels = np.asarray(labels)
    per_label = {
        str(name): class_imbalance_check(labels[:, index], threshold_imbalance, samples)
        for index, name in enumerate(names)
    }
    worst = max(per_label, key=lambda name: per_label[name]["ratio"])
    summary = dict(per_label[worst])
    summary["worst_label"] = worst
    summary["per_label"] = {name: check["ratio"] for name, check in per_label.items()}
    summary["passed"] = all(check["passed"] for check in per_label.values())
    return summary


def multilabel_misprediction_check(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    names: list,
    threshold_misprediction: float = DEFAULT_THRESHOLD_MISPREDICTION,
    samples: int = DEFAULT_SAMPLES,
) -> dict[str, Any]:
    """The misprediction check per label and class; every label must pass."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    per_label = {
        str(name): misprediction_check(
            y_true[:, index], y_pred[:, index], threshold_misprediction, samples
        )
        for index, name in enumerate(names)
    }
    if len(per_label) == 1:
        return next(iter(per_label.values()))
    return {
        "per_label": {name: check["per_class"] for name, check in per_label.items()},
        "threshold": float(threshold_misprediction),
        "samples": int(y_true.shape[0]),
        "evaluated": int(y_true.shape[0]) >= samples,
        "passed": all(check["passed"] for check in per_label.values()),
    }
