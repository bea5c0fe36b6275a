"""The statistics behind the peers tables (no model is trained here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.peers import (
    difference_text,
    main,
    paired_difference,
    results_table,
    write_per_split,
)


def test_paired_difference_by_hand() -> None:
    """Differences -2, -1, -3, -2: mean -2, sd sqrt(2/3), t(3, 0.975) = 3.182446."""
    mean, low, high = paired_difference(np.array([10, 11, 9, 9]), np.array([12, 12, 12, 11]))
    half = 3.182446305284263 * np.sqrt(2 / 3) / 2
    assert mean == pytest.approx(-2.0)
    assert (low, high) == pytest.approx((-2.0 - half, -2.0 + half))


def test_paired_difference_ignores_what_both_share() -> None:
    """Adding the same amount to both on a split (a hard test set) changes nothing: paired."""
    ours, theirs = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 5.0])
    shift = np.array([100.0, -50.0, 7.0])
    assert paired_difference(ours + shift, theirs + shift) == pytest.approx(
        paired_difference(ours, theirs)
    )


def test_identical_differences_have_no_spread() -> None:
    """The trivial policy against itself, or a constant gap: the interval is the point."""
    assert paired_difference(np.array([3.0, 5.0]), np.array([3.0, 5.0])) == (0.0, 0.0, 0.0)
    assert paired_difference(np.array([3.0, 5.0]), np.array([2.0, 4.0])) == (1.0, 1.0, 1.0)


@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.floats(-1e3, 1e3, allow_nan=False)),
        min_size=2,
        max_size=30,
    )
)
def test_interval_holds_the_mean_difference(pairs: list[tuple[float, float]]) -> None:
    ours, theirs = np.array(pairs).T
    mean, low, high = paired_difference(ours, theirs)
    assert mean == pytest.approx(np.mean(ours - theirs), abs=1e-9)
    assert low <= mean + 1e-9 and mean <= high + 1e-9


def test_significant_gaps_are_bold() -> None:
    assert difference_text(np.array([10, 11, 9, 9]), np.array([12, 12, 12, 11]), 1) == (
        "**-2.0 [-3.3, -0.7]**"
    )
    assert not difference_text(np.array([1, 3]), np.array([2, 2]), 1).startswith("**")


def test_table_sorts_by_mean_and_compares_each_method_with_costpipe() -> None:
    table = results_table(
        {
            "costpipe": [10.0, 11.0, 9.0, 9.0],
            "trivial": [12.0, 12.0, 12.0, 11.0],
            "cut": [9, 9, 9, 9],
        }
    ).splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == ["| cut", "| costpipe", "| trivial"]
    cut, ours, trivial = table[2:]
    assert "| 50% |" in cut and "| 100% |" in trivial
    assert ours.endswith("|  |  |")


def test_saved_splits_pool_into_one_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs over different seeds append to one CSV; --tables-from prints them pooled."""
    saved = tmp_path / "splits.csv"
    write_per_split(saved, "bc", range(0, 2), {"costpipe": [10.0, 11.0], "trivial": [12.0, 12.0]})
    write_per_split(saved, "bc", range(5, 7), {"costpipe": [9.0, 9.0], "trivial": [12.0, 11.0]})
    assert saved.read_text().count("dataset") == 1
    main(["--tables-from", str(saved)])
    out = capsys.readouterr().out
    assert "### bc: 4 splits (seeds 0-1, 5-6)" in out
    assert "**-2.000 [-3.299, -0.701]**" in out
