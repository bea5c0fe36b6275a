"""The measuring parts of ``python -m benchmarks distributed`` (the benchmark itself is not run
here: it trains 2M rows three times)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.distributed import compare_cuts, make_table, sketch_cuts


def test_the_table_is_30_float32_features_with_a_tenth_positive(tmp_path: Path) -> None:
    make_table(2000, tmp_path / "table.parquet")
    frame = pd.read_parquet(tmp_path / "table.parquet")
    assert frame.shape == (2000, 31)
    assert (frame.drop(columns="label").dtypes == np.float32).all()
    assert frame["label"].mean() == pytest.approx(0.1, abs=0.02)


def test_moved_cut_points_are_counted_and_measured_in_rows_and_bins() -> None:
    """Two features of 10 sorted values each, 2 cuts per feature (so a bin holds 1/2 of the
    rows). Feature 0: the same cuts. Feature 1: the cut 3 moved to 5, two of the ten rows
    further: 1 of 4 cut points moved, by 0.2 of the rows, which is 0.4 of a bin."""
    columns = np.array([np.arange(10.0), np.arange(10.0)])
    pointers = np.array([0, 2, 4])
    single = (pointers, np.array([3.0, 9.0, 3.0, 9.0]))
    merged = (pointers, np.array([3.0, 9.0, 5.0, 9.0]))
    moved, share, in_bins = compare_cuts(single, merged, columns)
    assert moved == pytest.approx(1 / 4)
    assert share == pytest.approx(0.2)
    assert in_bins == pytest.approx(0.4)
    assert compare_cuts(single, single, columns) == (0.0, 0.0, 0.0)


def test_a_small_table_sketched_across_two_hosts_has_one_hosts_cut_points(tmp_path: Path) -> None:
    """With few rows every host's summary holds every value, so XGBoost's merged sketch is
    exact: the cut points of 2 hosts (each with half the rows, in XGBoost's collective) are
    those of one host with all of them."""
    make_table(600, tmp_path / "table.parquet")
    frame = pd.read_parquet(tmp_path / "table.parquet")
    halves = [frame.iloc[0::2], frame.iloc[1::2]]
    paths = []
    for index, half in enumerate(halves):
        path = tmp_path / f"half-{index}.parquet"
        half.to_parquet(path, index=False)
        paths.append(path)
    single = sketch_cuts([[tmp_path / "table.parquet"]], tmp_path)
    merged = sketch_cuts([[paths[0]], [paths[1]]], tmp_path)
    columns = np.sort(frame.drop(columns="label").to_numpy(np.float32), axis=0).T
    assert compare_cuts(single, merged, columns)[0] == 0.0
    assert np.array_equal(single[1], merged[1])
