"""Classification metrics at a chosen threshold (scikit-learn where it has them)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    brier_score_loss,
    confusion_matrix,
    f1_score,
    hamming_loss,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from steps.costs import ConfusionCounts


def decide(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Call a case positive (1) when its score is at or above the threshold."""
    return (np.asarray(scores) >= threshold).astype(np.int64)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> ConfusionCounts:
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return ConfusionCounts(tp=int(tp), fp=int(fp), fn=int(fn), tn=int(tn))


def classification_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, float | None]:
    """Precision, recall, F1, accuracy at the threshold; ROC AUC, Brier score and log loss of
    the scores. ROC AUC is ``None`` when only one class is present (it is undefined there).
    """
    return decision_metrics(y_true, scores, decide(scores, threshold))


def decision_metrics(
    y_true: np.ndarray, scores: np.ndarray, decisions: np.ndarray
) -> dict[str, float | None]:
    """Precision, recall, F1, accuracy of the 0/1 decisions; ROC AUC, Brier score and log loss
    of the scores (``classification_metrics`` at a threshold; any rule's decisions here)."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    y_pred = np.asarray(decisions).astype(np.int64)
    both_classes = np.unique(y_true).size == 2
    return {
        "accuracy": float(np.mean(y_pred == y_true)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, scores)) if both_classes else None,
        "brier": float(brier_score_loss(y_true, scores)),
        "log_loss": float(log_loss(y_true, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
    }


def rates(counts: ConfusionCounts) -> dict[str, float | None]:
    """True/false positive/negative rates; ``None`` where the class is absent."""

    def ratio(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    return {
        "true_positive_rate": ratio(counts.tp, counts.positives),
        "false_negative_rate": ratio(counts.fn, counts.positives),
        "true_negative_rate": ratio(counts.tn, counts.negatives),
        "false_positive_rate": ratio(counts.fp, counts.negatives),
    }
