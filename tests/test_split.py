"""Stratified train/validation/test splits and oversampling of the training split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.errors import InputError
from steps.split import oversample_minority, stratified_split


def shuffled_labels(negatives: int, positives: int, seed: int = 0) -> np.ndarray:
    """``negatives`` zeros and ``positives`` ones in random order."""
    y = np.array([0] * negatives + [1] * positives)
    return np.random.default_rng(seed).permutation(y)


def test_splits_keep_the_class_proportions() -> None:
    """357/212 split 60/20/20: each split's positives are within one row of its exact share."""
    y = shuffled_labels(357, 212)
    parts = stratified_split(y, 0.2, 0.2, seed=0)
    assert set(parts) == {"train", "validation", "test"}
    share = 212 / 569
    for rows in parts.values():
        assert abs(int(y[rows].sum()) - share * rows.size) <= 1
    assert parts["test"].size == round(0.2 * 569)
    assert parts["validation"].size == pytest.approx(0.2 * 569, abs=1)


def test_splits_are_disjoint_complete_and_sorted() -> None:
    """Every row lands in exactly one split; each split's indices are sorted."""
    y = shuffled_labels(300, 100)
    parts = stratified_split(y, 0.25, 0.15, seed=3)
    every = np.concatenate(list(parts.values()))
    assert np.array_equal(np.sort(every), np.arange(400))
    for rows in parts.values():
        assert np.array_equal(rows, np.sort(rows))


def test_splits_are_deterministic_for_a_seed() -> None:
    """The same seed gives the same rows; another seed gives other rows."""
    y = shuffled_labels(300, 100)
    first = stratified_split(y, 0.2, 0.2, seed=5)
    again = stratified_split(y, 0.2, 0.2, seed=5)
    other = stratified_split(y, 0.2, 0.2, seed=6)
    for name in first:
        assert np.array_equal(first[name], again[name])
    assert not np.array_equal(first["test"], other["test"])


def test_no_test_split_when_the_test_fraction_is_zero() -> None:
    """A user-provided test file: only train and validation, 80/20 of all rows."""
    y = shuffled_labels(80, 20)
    parts = stratified_split(y, 0.2, 0.0)
    assert set(parts) == {"train", "validation"}
    assert (parts["train"].size, parts["validation"].size) == (80, 20)
    assert (int(y[parts["train"]].sum()), int(y[parts["validation"]].sum())) == (16, 4)


@pytest.mark.parametrize(
    ("positives", "test_fraction", "needed"),
    [(2, 0.2, 3), (0, 0.2, 3), (1, 0.0, 2)],
)
def test_too_small_classes_are_rejected(positives: int, test_fraction: float, needed: int) -> None:
    """Three splits need three rows of the smaller class, two splits two."""
    y = shuffled_labels(50, positives)
    with pytest.raises(InputError) as info:
        stratified_split(y, 0.2, test_fraction)
    message = str(info.value)
    assert f"the smaller class has {positives} rows" in message
    assert f"need at least {needed}" in message and "add rows" in message


def test_too_few_rows_for_the_fractions_is_rejected() -> None:
    """Ten rows with 10 % test: one test row cannot hold both classes."""
    y = shuffled_labels(7, 3)
    with pytest.raises(InputError, match=r"too small for stratified splits.*add rows"):
        stratified_split(y, 0.1, 0.1)


@pytest.mark.parametrize(
    ("validation", "test", "match"),
    [
        (0.0, 0.2, "validation fraction must be above 0"),
        (1.0, 0.0, r"validation fraction must be in \[0, 1\)"),
        (0.2, -0.1, r"test fraction must be in \[0, 1\)"),
        (0.5, 0.4, "under 10 % for training"),
    ],
)
def test_bad_fractions_are_rejected(validation: float, test: float, match: str) -> None:
    """Fractions outside their ranges name the fix."""
    with pytest.raises(InputError, match=match):
        stratified_split(shuffled_labels(50, 50), validation, test)


# --------------------------------------------------------------------------- oversampling


def test_oversampling_reaches_the_ratio() -> None:
    """8:2 at ratio 0.5 grows the minority to ceil(0.5 * 8) = 4 and keeps the original rows
    first."""
    y = np.array([0] * 8 + [1] * 2)
    grown = oversample_minority(np.arange(10), y, ratio=0.5, seed=0)
    assert grown.size == 12
    assert np.array_equal(grown[:10], np.arange(10))
    assert int(y[grown].sum()) == 4
    assert set(grown[10:].tolist()) <= {8, 9}


def test_oversampling_duplicates_only_minority_rows_of_the_given_split() -> None:
    """Only rows of the split passed in are copied, and only minority ones (here class 0)."""
    y = np.array([1] * 60 + [0] * 40)
    train = np.arange(0, 100, 2)  # 30 ones, 20 zeros
    grown = oversample_minority(train, y, ratio=1.0, seed=1)
    added = grown[train.size :]
    assert added.size == 10
    assert set(added.tolist()) <= set(train[y[train] == 0].tolist())
    counts = np.bincount(y[grown])
    assert counts.tolist() == [30, 30]


def test_oversampling_is_a_no_op_when_off_or_already_balanced() -> None:
    """ratio None, a minority already at the ratio, or no minority rows: unchanged."""
    y = np.array([0] * 8 + [1] * 2)
    rows = np.arange(10)
    assert np.array_equal(oversample_minority(rows, y, None), rows)
    assert np.array_equal(oversample_minority(rows, y, 0.25), rows)
    assert np.array_equal(oversample_minority(rows[:8], y, 1.0), rows[:8])


def test_oversampling_is_deterministic_for_a_seed() -> None:
    """The same seed copies the same rows."""
    y = np.array([0] * 80 + [1] * 20)
    first = oversample_minority(np.arange(100), y, 1.0, seed=4)
    assert np.array_equal(first, oversample_minority(np.arange(100), y, 1.0, seed=4))
    assert not np.array_equal(first, oversample_minority(np.arange(100), y, 1.0, seed=5))


@pytest.mark.parametrize("ratio", [0.0, -0.5, 1.5])
def test_oversampling_ratio_out_of_range_is_rejected(ratio: float) -> None:
    """The ratio must be in (0, 1]."""
    with pytest.raises(InputError, match=r"oversampling ratio must be in \(0, 1\]"):
        oversample_minority(np.arange(4), np.array([0, 0, 0, 1]), ratio)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 200),
    st.integers(1, 200),
    st.floats(0.01, 1.0),
    st.integers(0, 2**16),
)
def test_oversampling_properties(negatives: int, positives: int, ratio: float, seed: int) -> None:
    """The minority ends at max(its count, ceil(ratio * majority)); the majority and the
    original rows are unchanged; every added row is a minority row."""
    y = shuffled_labels(negatives, positives, seed)
    rows = np.arange(y.size)
    grown = oversample_minority(rows, y, ratio, seed=seed)
    assert np.array_equal(grown[: rows.size], rows)
    minority = 0 if negatives < positives else 1
    majority_count = max(negatives, positives)
    minority_count = min(negatives, positives)
    counts = np.bincount(y[grown], minlength=2)
    assert counts[1 - minority] == majority_count
    assert counts[minority] == max(minority_count, int(np.ceil(ratio * majority_count)))
    assert (y[grown[rows.size :]] == minority).all()
