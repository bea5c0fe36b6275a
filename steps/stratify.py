"""Iterative stratification of multi-label data (Sechidis, Tsoumakas and Vlahavas, 2011).

Splitting rows so that every label keeps its share in every part is what ``stratify=`` does for
one label; with several labels per row no exact answer exists, and the iterative algorithm is
the standard approximation (as in scikit-multilearn and iterative-stratification). Neither
library is in the stock SageMaker containers the jobs run in, so the algorithm is written here:
the rarest label is placed first, each of its rows going to the part that most lacks that
label, so rare labels are spread evenly before common ones fill the rest.

Cross-validation folds of binary labels with groups (``stratified_group_folds``) are written
here too, rather than taken from scikit-learn's ``StratifiedGroupKFold``: its shuffled folds
differ between scikit-learn 1.5.2 (the stock XGBoost 3.0-5 container) and 1.9, so the same run
tuned different thresholds there. Every random choice in this module comes from NumPy's legacy
``RandomState``, whose streams NumPy keeps stable across versions (NEP 19); ``Generator``
methods may change their output between NumPy releases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from steps.errors import InputError


def iterative_stratification(
    labels: np.ndarray, proportions: Sequence[float], seed: int = 0
) -> np.ndarray:
    """Assign each row to a part (0 .. len(proportions)-1) keeping every label's share.

    Parameters
    ----------
    labels : array of shape (n_rows, n_labels)
        0/1 label matrix.
    proportions : sequence of float
        Desired share of rows per part; they are normalised to sum to 1.
    seed : int
        Breaks ties between equally suitable parts and orders rows.

    Returns
    -------
    numpy.ndarray of shape (n_rows,)
        The part of each row.

    Examples
    --------
    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]])
    >>> parts = iterative_stratification(Y, [0.5, 0.5])
    >>> [Y[parts == p].sum(axis=0).tolist() for p in (0, 1)]
    [[2, 2], [2, 2]]
    """
    Y = np.asarray(labels).astype(bool)
    if Y.ndim != 2:
        raise InputError(f"labels must be a 2-D 0/1 matrix, got shape {Y.shape}")
    shares = np.asarray(proportions, dtype=float)
    if shares.ndim != 1 or shares.size < 2 or np.any(shares < 0) or shares.sum() <= 0:
        raise InputError(f"proportions must be two or more non-negative shares, got {proportions}")
    shares = shares / shares.sum()
    rng = np.random.RandomState(seed)
    n_rows = Y.shape[0]
    wanted_rows = n_rows * shares
    wanted_label = np.outer(shares, Y.sum(axis=0))  # (parts, labels)
    part = np.full(n_rows, -1, dtype=np.int64)
    remaining = Y.copy()
    unassigned = np.ones(n_rows, dtype=bool)
    while True:
        counts = remaining[unassigned].sum(axis=0)
        present = np.flatnonzero(counts > 0)
        if present.size == 0:
            break
        rarest = present[counts[present] == counts[present].min()]
        label = int(rng.choice(rarest))
        rows = np.flatnonzero(unassigned & Y[:, label])
        for row in rng.permutation(rows):
            need = wanted_label[:, label]
            candidates = np.flatnonzero(need == need.max())
            if candidates.size > 1:
                by_rows = wanted_rows[candidates]
                candidates = candidates[by_rows == by_rows.max()]
            chosen = int(rng.choice(candidates))
            part[row] = chosen
            unassigned[row] = False
            wanted_rows[chosen] -= 1
            wanted_label[chosen] -= Y[row]
    for row in rng.permutation(np.flatnonzero(unassigned)):  # rows with no label at all
        candidates = np.flatnonzero(wanted_rows == wanted_rows.max())
        chosen = int(rng.choice(candidates))
        part[row] = chosen
        wanted_rows[chosen] -= 1
    return part


def stratified_folds(labels: np.ndarray, n_folds: int, seed: int = 0) -> list:
    """(train rows, held-out rows) pairs for ``n_folds``-fold cross-validation."""
    if n_folds < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {n_folds}")
    part = iterative_stratification(labels, [1.0] * n_folds, seed)
    rows = np.arange(part.size)
    return [(rows[part != fold], rows[part == fold]) for fold in range(n_folds)]


def stratified_group_folds(
    labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int = 0
) -> np.ndarray:
    """The fold (0 .. n_folds-1) of each row: whole groups per fold, classes balanced per fold.

    Every group (an oversampled row and its copies) goes to one fold, so no copy of a held-out
    row is trained on. A group's class is its first row's label. The groups of each class are
    placed, largest first (ties in the order of a ``RandomState(seed)`` permutation), each in the
    fold holding the fewest rows of that class, then the fewest rows in all, then the lowest
    index. With groups of one row this deals each class round-robin, so each fold's count of a
    class is within 1 of ``count / n_folds``; in general a fold's count of a class is within the
    largest group of that class of every other fold's.

    The result depends only on the labels, the groups, ``n_folds`` and ``seed``: no library's
    shuffling, so it is the same in every environment.

    Examples
    --------
    >>> y = np.array([0] * 6 + [1] * 4)
    >>> part = stratified_group_folds(y, np.arange(10), 2, seed=0)
    >>> [(int((part == f).sum()), int(y[part == f].sum())) for f in (0, 1)]
    [(5, 2), (5, 2)]
    """
    labels = np.asarray(labels)
    groups = np.asarray(groups)
    if labels.ndim != 1 or labels.shape != groups.shape:
        raise InputError(
            f"labels and groups must be 1-D of the same length, got {labels.shape} and "
            f"{groups.shape}"
        )
    if n_folds < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {n_folds}")
    unique, first, group_of_row, sizes = np.unique(
        groups, return_index=True, return_inverse=True, return_counts=True
    )
    if unique.size < n_folds:
        raise InputError(
            f"{n_folds} folds need at least {n_folds} groups (source rows), got {unique.size}"
        )
    group_class = labels[first]
    shuffled = np.random.RandomState(seed).permutation(unique.size)
    # Largest groups first: placing big groups early leaves the small ones to even the counts.
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
    fold_of_group = np.empty(unique.size, dtype=np.int64)
    fold_rows_total = np.zeros(n_folds, dtype=np.int64)
    for value in np.unique(group_class):
        fold_rows_class = np.zeros(n_folds, dtype=np.int64)
        for group in order[group_class[order] == value]:
            # lexsort sorts by its last key first: class rows, then all rows, then fold index.
            fold = int(np.lexsort((np.arange(n_folds), fold_rows_total, fold_rows_class))[0])
            fold_of_group[group] = fold
            fold_rows_class[fold] += sizes[group]
            fold_rows_total[fold] += sizes[group]
    return fold_of_group[group_of_row]
