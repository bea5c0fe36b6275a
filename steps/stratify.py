"""Iterative stratification of multi-label data (Sechidis, Tsoumakas and Vlahavas, 2011).

Splitting rows so that every label keeps its share in every part is what ``stratify=`` does for
one label; with several labels per row no exact answer exists, and the iterative algorithm is
the standard approximation (as in scikit-multilearn and iterative-stratification). Neither
library is in the stock SageMaker containers the jobs run in, so the algorithm is written here:
the rarest label is placed first, each of its rows going to the part that most lacks that
label, so rare labels are spread evenly before common ones fill the rest.

Cross-validation folds of binary labels with groups (``stratified_group_folds``) are written
here too: scikit-learn 1.9's ``StratifiedGroupKFold`` algorithm, ported, since its shuffled
folds differ between scikit-learn 1.5.2 (the stock XGBoost 3.0-5 container) and 1.9, so the
same run tuned different thresholds there. Every random choice in this module comes from
NumPy's legacy ``RandomState``, whose streams NumPy keeps stable across versions (NEP 19);
``Generator`` methods may change their output between NumPy releases.
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

    This is scikit-learn 1.9's ``StratifiedGroupKFold(n_splits, shuffle=True,
    random_state=seed)``, step for step (its ``_iter_test_indices`` and ``_find_best_fold``),
    written here so that every environment assigns the same folds: scikit-learn 1.5.2, in the
    stock container, shuffles the groups differently and tuned other thresholds on the same
    data. We port 1.9's algorithm rather than design another one because every number this
    project has published (the README's example and benchmark tables, the default grid chosen
    on development seeds) was measured with these folds. Its only random choice is one
    ``RandomState(seed)`` shuffle of the groups (scikit-learn's ``check_random_state`` of an
    int), a stream NumPy keeps stable across versions.

    The groups are shuffled, then taken in decreasing spread of their class counts (a stable
    sort, so the shuffle breaks ties), and each goes to the fold where it leaves the smallest
    mean over classes of the spread of that class's share across folds; ties go to the fold
    with fewer rows. Every group (an oversampled row and its copies) lands in one fold, so no
    copy of a held-out row is trained on.

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
    _, label_of_row, class_sizes = np.unique(labels, return_inverse=True, return_counts=True)
    _, group_of_row, group_sizes = np.unique(groups, return_inverse=True, return_counts=True)
    n_groups = group_sizes.size
    if n_groups < n_folds:
        raise InputError(
            f"{n_folds} folds need at least {n_folds} groups (source rows), got {n_groups}"
        )
    counts_of_group = np.zeros((n_groups, class_sizes.size))
    np.add.at(counts_of_group, (group_of_row, label_of_row), 1)
    permutation = np.arange(n_groups)
    np.random.RandomState(seed).shuffle(permutation)
    counts_of_group = counts_of_group[permutation]
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(n_groups)
    group_of_row = inverse[group_of_row]
    order = np.argsort(-np.std(counts_of_group, axis=1), kind="stable")
    counts_of_fold = np.zeros((n_folds, class_sizes.size))
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    for group in order:
        fold = _best_fold(counts_of_fold, class_sizes, counts_of_group[group])
        counts_of_fold[fold] += counts_of_group[group]
        fold_of_group[group] = fold
    return fold_of_group[group_of_row]


def _best_fold(counts_of_fold: np.ndarray, class_sizes: np.ndarray, group: np.ndarray) -> int:
    """scikit-learn's ``_find_best_fold``, with the same arithmetic (so the same ties)."""
    best, best_spread, best_rows = 0, np.inf, np.inf
    for fold in range(counts_of_fold.shape[0]):
        counts_of_fold[fold] += group
        spread = np.mean(np.std(counts_of_fold / class_sizes.reshape(1, -1), axis=0))
        counts_of_fold[fold] -= group
        rows = np.sum(counts_of_fold[fold])
        if spread < best_spread or (np.isclose(spread, best_spread) and rows < best_rows):
            best, best_spread, best_rows = fold, spread, rows
    return best
