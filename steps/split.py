"""Stratified train/validation/test splits and random oversampling of the training split.

Binary labels split with scikit-learn's stratified ``train_test_split``; multi-label data
(several label columns) with iterative stratification (``steps.stratify``).
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from steps.errors import InputError
from steps.stratify import iterative_stratification


def stratified_split(
    labels: np.ndarray,
    validation_fraction: float,
    test_fraction: float,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Row indices of the train, validation and (when ``test_fraction > 0``) test splits.

    Each split keeps the class proportions of the whole. ``test_fraction = 0`` is for the
    case where the user brings their own test file.

    Examples
    --------
    >>> parts = stratified_split(np.array([0] * 60 + [1] * 40), 0.2, 0.2)
    >>> {name: (len(rows), int(np.array([0] * 60 + [1] * 40)[rows].sum()))
    ...  for name, rows in parts.items()}
    {'train': (60, 24), 'validation': (20, 8), 'test': (20, 8)}
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    for name, fraction in (("validation", validation_fraction), ("test", test_fraction)):
        if not 0 <= fraction < 1:
            raise InputError(f"{name} fraction must be in [0, 1), got {fraction}")
    if validation_fraction <= 0:
        raise InputError("validation fraction must be above 0: thresholds are tuned on it")
    if validation_fraction + test_fraction >= 0.9:
        raise InputError(
            f"validation ({validation_fraction}) and test ({test_fraction}) fractions leave "
            "under 10 % for training: lower them"
        )
    rows = np.arange(labels.shape[0])
    if labels.ndim == 2:
        return _multilabel_split(labels, validation_fraction, test_fraction, seed)
    n_splits = 3 if test_fraction > 0 else 2
    smallest = int(np.bincount(labels.astype(np.int64), minlength=2).min())
    if smallest < n_splits:
        raise InputError(
            f"the smaller class has {smallest} rows: stratified train/validation"
            f"{'/test' if test_fraction > 0 else ''} splits need at least {n_splits}; add rows"
        )
    try:
        parts: dict[str, np.ndarray] = {}
        if test_fraction > 0:
            rest, parts["test"] = train_test_split(
                rows, test_size=test_fraction, stratify=labels, random_state=seed
            )
        else:
            rest = rows
        share = validation_fraction / (1 - test_fraction)
        parts["train"], parts["validation"] = train_test_split(
            rest, test_size=share, stratify=labels[rest], random_state=seed
        )
    except ValueError as error:
        raise InputError(
            f"the data is too small for stratified splits ({error}): add rows or lower the "
            "validation and test fractions"
        ) from None
    return {name: np.sort(parts[name]) for name in ("train", "validation", "test") if name in parts}


def oversample_minority(
    rows: np.ndarray, labels: np.ndarray, ratio: float | None, seed: int = 0
) -> np.ndarray:
    """Add random duplicates of minority-class rows until minority >= ratio * majority.

    Only ever applied to the training split, so validation and test keep the real class
    balance that the costs are measured on. ``ratio=None`` leaves the rows unchanged.

    Examples
    --------
    >>> y = np.array([0] * 8 + [1] * 2)
    >>> grown = oversample_minority(np.arange(10), y, ratio=1.0)
    >>> len(grown), int(y[grown].sum())
    (16, 8)
    """
    rows = np.asarray(rows)
    if ratio is None:
        return rows
    if not 0 < ratio <= 1:
        raise InputError(f"oversampling ratio must be in (0, 1], got {ratio}")
    counts = np.bincount(labels[rows].astype(np.int64), minlength=2)
    minority = int(np.argmin(counts))
    wanted = int(np.ceil(ratio * counts.max()))
    extra = wanted - int(counts[minority])
    if extra <= 0 or counts[minority] == 0:
        return rows
    rng = np.random.RandomState(seed)  # legacy: stable across NumPy versions
    pool = rows[labels[rows] == minority]
    return np.concatenate([rows, rng.choice(pool, size=extra, replace=True)])


def oversample_training_rows(
    rows: np.ndarray,
    labels: np.ndarray,
    task: str,
    ratio: float | None,
    min_count: int,
    seed: int = 0,
) -> np.ndarray:
    """The training rows as Preprocess writes them: binary data's minority class grown to
    ``ratio`` (:func:`oversample_minority`), multi-label data's rare labels to ``min_count``
    positives (:func:`oversample_rare_labels`)."""
    if task == "binary":
        return oversample_minority(rows, labels[:, 0], ratio, seed=seed)
    return oversample_rare_labels(rows, labels, min_count, seed=seed)


def _multilabel_split(
    labels: np.ndarray, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    names = ["train", "validation"] + (["test"] if test_fraction > 0 else [])
    shares = [1 - validation_fraction - test_fraction, validation_fraction]
    if test_fraction > 0:
        shares.append(test_fraction)
    part = iterative_stratification(labels, shares, seed)
    rows = np.arange(labels.shape[0])
    parts = {name: rows[part == index] for index, name in enumerate(names)}
    for name, chosen in parts.items():
        if chosen.size == 0:
            raise InputError(
                f"the {name} split came out empty: add rows or change the split fractions"
            )
    return parts


def oversample_rare_labels(
    rows: np.ndarray, labels: np.ndarray, min_count: int, seed: int = 0
) -> np.ndarray:
    """Add random duplicates of rows carrying a rare label until every label has ``min_count``.

    Multi-label oversampling as in Amazon Comprehend's guidance: the rarest label first, each
    time duplicating rows that carry it (which also adds to the other labels on those rows).
    Labels with no row at all cannot be helped and are left to the guideline check.

    Examples
    --------
    >>> Y = np.array([[1, 0]] * 8 + [[0, 1]] * 2)
    >>> grown = oversample_rare_labels(np.arange(10), Y, min_count=5)
    >>> Y[grown].sum(axis=0).tolist()
    [8, 5]
    """
    rows = np.asarray(rows)
    if min_count <= 0:
        return rows
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)  # legacy: stable across NumPy versions
    counts = labels[rows].sum(axis=0).astype(np.int64)
    extra = []
    for label in np.argsort(counts, kind="stable"):
        pool = rows[labels[rows, label] == 1]
        missing = min_count - int(counts[label])
        if missing <= 0 or pool.size == 0:
            continue
        chosen = rng.choice(pool, size=missing, replace=True)
        extra.append(chosen)
        counts += labels[chosen].sum(axis=0)
    return np.concatenate([rows, *extra]) if extra else rows
