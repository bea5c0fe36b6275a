"""Cross-validation folds of binary labels: whole groups per fold, and the same folds from the
same seed in every environment. ``steps.stratify.stratified_group_folds`` is scikit-learn 1.9's
StratifiedGroupKFold(shuffle=True) ported; it is checked against the real one (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.errors import InputError
from steps.stratify import stratified_group_folds
from steps.train import fold_rows


def _groups_of_sizes(sizes):
    return np.repeat(np.arange(len(sizes)), sizes)


def test_every_group_falls_in_exactly_one_fold():
    sizes = [1, 3, 1, 2, 5, 1, 1, 4, 1, 1, 2, 1]
    groups = _groups_of_sizes(sizes)
    labels = np.array([1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]).repeat(sizes)
    part = stratified_group_folds(labels, groups, 3, seed=0)
    for group in np.unique(groups):
        assert np.unique(part[groups == group]).size == 1
    assert set(part.tolist()) == {0, 1, 2}


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize(("negatives", "positives", "folds"), [(357, 212, 5), (90, 13, 4)])
def test_single_row_groups_give_class_counts_within_one_of_ideal(negatives, positives, folds, seed):
    labels = np.array([0] * negatives + [1] * positives)
    np.random.RandomState(99).shuffle(labels)
    part = stratified_group_folds(labels, np.arange(labels.size), folds, seed)
    for value, total in ((0, negatives), (1, positives)):
        per_fold = np.bincount(part[labels == value], minlength=folds)
        assert np.all(np.abs(per_fold - total / folds) < 1), per_fold


def test_the_same_seed_gives_the_same_folds_and_other_seeds_other_folds():
    labels = np.array([0] * 60 + [1] * 40)
    groups = np.arange(100) // 2  # pairs, as after oversampling every row once
    first = stratified_group_folds(labels, groups, 5, seed=3)
    assert np.array_equal(first, stratified_group_folds(labels, groups, 5, seed=3))
    assert not np.array_equal(first, stratified_group_folds(labels, groups, 5, seed=4))


def test_folds_are_pinned_for_a_seed():
    # The exact folds: a change here changes every cross-validated threshold, so it must be
    # deliberate. RandomState(0) shuffles the ten groups into [2 8 4 9 1 6 7 3 0 5] in every
    # NumPy; single-row groups all have the same spread of class counts, so they are placed in
    # that order, each in the fold that keeps both classes' shares most even, ties to the fold
    # with fewer rows (then the first).
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    part = stratified_group_folds(labels, np.arange(10), 2, seed=0)
    assert part.tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 1, 0]


def test_fold_rows_hold_out_every_row_once_and_keep_copies_together():
    labels = np.array([0] * 30 + [1] * 10 + [1] * 10)[:, None]
    groups = np.concatenate([np.arange(40), np.arange(30, 40)])  # positives copied once
    held_out = []
    for fit, held in fold_rows(labels, groups, 5, seed=0):
        assert not set(groups[fit]) & set(groups[held])
        assert np.array_equal(np.sort(np.concatenate([fit, held])), np.arange(50))
        held_out.append(held)
    assert np.array_equal(np.sort(np.concatenate(held_out)), np.arange(50))


@pytest.mark.parametrize(
    ("labels", "groups", "folds"),
    [(np.array([0, 1, 0]), np.array([0, 0, 1]), 3), (np.zeros((2, 2)), np.zeros(2), 2)],
)
def test_impossible_folds_are_input_errors(labels, groups, folds):
    with pytest.raises(InputError):
        stratified_group_folds(labels, groups, folds)


@st.composite
def grouped_labels(draw):
    n_groups = draw(st.integers(2, 40))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_groups, max_size=n_groups))
    classes = draw(st.lists(st.integers(0, 1), min_size=n_groups, max_size=n_groups))
    folds = draw(st.integers(2, n_groups))
    seed = draw(st.integers(0, 2**32 - 1))
    order = draw(st.permutations(range(sum(sizes))))  # rows of a group need not be adjacent
    groups = _groups_of_sizes(sizes)[list(order)]
    labels = np.array(classes)[groups]
    return labels, groups, folds, seed


@settings(max_examples=300, deadline=None)
@given(grouped_labels())
def test_fold_invariants_against_a_brute_force_check(case):
    labels, groups, folds, seed = case
    part = stratified_group_folds(labels, groups, folds, seed)
    assert part.shape == labels.shape
    assert set(part.tolist()) <= set(range(folds))
    # Brute force: compare every pair of rows of a group.
    for i in range(labels.size):
        for j in range(labels.size):
            if groups[i] == groups[j]:
                assert part[i] == part[j]
    assert np.array_equal(part, stratified_group_folds(labels, groups, folds, seed))


SKLEARN_WITH_THE_PORTED_SHUFFLE = (1, 6)  # 1.6 changed how shuffle=True orders the groups


@settings(max_examples=200, deadline=None)
@given(grouped_labels())
def test_the_folds_are_scikit_learns_stratified_group_kfold(case):
    """The port against the real thing, where the installed scikit-learn is 1.6 or newer (the
    container's 1.5.2 shuffles otherwise: that is why the algorithm lives in our code)."""
    import sklearn
    from sklearn.model_selection import StratifiedGroupKFold

    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) < SKLEARN_WITH_THE_PORTED_SHUFFLE:
        pytest.skip(f"scikit-learn {sklearn.__version__} predates the ported algorithm")
    labels, groups, folds, seed = case
    counts = np.bincount(labels, minlength=2)
    if np.unique(groups).size < folds or np.unique(labels).size < 2 or np.all(folds > counts):
        return  # scikit-learn refuses these; the port's own errors are tested above
    part = stratified_group_folds(labels, groups, folds, seed)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only ..."
        expected = [test for _, test in splitter.split(np.zeros(labels.size), labels, groups)]
    assert [np.flatnonzero(part == fold).tolist() for fold in range(folds)] == [
        sorted(test.tolist()) for test in expected
    ]
