"""costpipe predict and serve on the session's registered model: bad input exits 2 with one
line and writes nothing; --approved follows the registry's approvals; labelled rows are priced."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.local.registry import ModelRegistry

pytestmark = pytest.mark.slow


@pytest.fixture
def home(first_run, tmp_path):
    """A copy of the session's home (one registered version), free to change."""
    copy = tmp_path / "home"
    shutil.copytree(first_run[0], copy)
    return copy


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_rows_missing_a_column_exit_2_with_one_line_and_no_output(
    home, breast_cancer_csv, tmp_path, capsys
):
    data = tmp_path / "rows.csv"
    pd.read_csv(breast_cancer_csv).drop(columns="mean radius").to_csv(data, index=False)
    out = tmp_path / "out.csv"
    code = main(
        [
            *("predict", "--data", str(data), "--model", "bc-test/1"),
            *("--home", str(home), "--out", str(out)),
        ]
    )
    assert code == 2
    assert _error(capsys).startswith("costpipe: error: column 'mean radius' is missing")
    assert not out.exists() and list(tmp_path.glob(".out.csv.*")) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "name the model: --model GROUP[/VERSION] or --approved [GROUP]"),
        (["--model", "bc-test/x"], "--model 'bc-test/x' is not GROUP or GROUP/VERSION"),
        (["--model", "bc-test/9"], "model package group 'bc-test' has no version 9"),
        (["--approved"], "model package group 'bc-test' has no Approved version"),
        (["--model", "bc-test", "--out", "rows.txt"], "--out 'rows.txt' must end in .csv"),
    ],
)
def test_naming_the_model_wrongly_exits_2(home, breast_cancer_csv, capsys, arguments, message):
    code = main(["predict", "--data", str(breast_cancer_csv), "--home", str(home), *arguments])
    assert code == 2
    assert message in _error(capsys)


def test_the_training_file_is_priced_with_its_own_target(home, breast_cancer_csv, tmp_path, capsys):
    ModelRegistry(home).set_approval("bc-test", 1, "Approved")
    out = tmp_path / "rows.parquet"
    code = main(
        [
            *("predict", "--data", str(breast_cancer_csv), "--approved"),
            *("--home", str(home), "--out", str(out)),
        ]
    )
    assert code == 0
    summary = capsys.readouterr().out
    rows = pd.read_parquet(out)
    raw = pd.read_csv(breast_cancer_csv)
    assert len(rows) == len(raw) == 569
    # Truth from the raw M/B column, through the positive label M.
    assert rows["truth:malignant"].tolist() == (raw["diagnosis"] == "M").astype(int).tolist()
    costs = {(1, 1): 35280.0, (0, 1): 1287.67, (1, 0): 252000.0, (0, 0): 0.0}
    pairs = zip(rows["truth:malignant"], rows["decision:malignant"], strict=True)
    by_hand = [costs[(t, d)] for t, d in pairs]
    np.testing.assert_allclose(rows["cost"], by_hand)
    assert f"realised cost {np.mean(by_hand):,.2f} per decision" in summary


def test_an_artifact_changed_after_registration_is_refused(home, breast_cancer_csv, capsys):
    package = ModelRegistry(home).package("bc-test", 1)
    path = LocalBucket(home / BUCKET_FOLDER).path(package["model_data_url"])
    path.write_bytes(path.read_bytes() + b"\0")
    code = main(
        ["predict", "--data", str(breast_cancer_csv), "--model", "bc-test/1", "--home", str(home)]
    )
    assert code == 2
    assert "the artifact of bc-test/1 is not the one registered" in _error(capsys)


def test_serve_refuses_a_bad_port_and_worker_count(home, capsys):
    assert main(["serve", "--model", "bc-test/1", "--home", str(home), "--port", "0"]) == 2
    assert "--port 0 is not a port" in _error(capsys)
    assert main(["serve", "--model", "bc-test/1", "--home", str(home), "--workers", "0"]) == 2
    assert "--workers 0: give at least 1" in _error(capsys)
