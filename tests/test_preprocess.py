"""The Preprocess entry point, run as ``python -m steps.preprocess`` in a fresh process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("train", "validation", "test")


def run_preprocess(data: Path, output: Path, *options: str) -> subprocess.CompletedProcess:
    """``python -m steps.preprocess --data DATA --output OUTPUT ...`` from the repository."""
    command = [sys.executable, "-m", "steps.preprocess", "--data", str(data)]
    return subprocess.run(
        [*command, "--output", str(output), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_file_exits_2_with_one_error_line_and_writes_nothing(tmp_path: Path) -> None:
    """Text in a numeric column: exit code 2, exactly one stderr line 'error: ...', and the
    output folder holds no files."""
    data = tmp_path / "d.csv"
    data.write_text("x,size,y\n1,3,M\n2,big,B\n3,4,M\n4,5,B\n")
    output = tmp_path / "out"
    result = run_preprocess(data, output, "--target", "y", "--positive-label", "M")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: feature column 'size' holds text")
    assert result.stdout == ""
    assert not output.exists() or [p for p in output.rglob("*") if p.is_file()] == []


@pytest.mark.slow
def test_breast_cancer_preprocess(tmp_path: Path, breast_cancer_frame: pd.DataFrame) -> None:
    """569 rows -> stratified, disjoint, complete splits of 341/114/114 rows, and a profile
    with the documented keys."""
    data = tmp_path / "breast-cancer.csv"
    breast_cancer_frame.to_csv(data, index=False)
    output = tmp_path / "out"
    result = run_preprocess(data, output, "--target", "diagnosis", "--positive-label", "M")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("preprocess: 569 rows -> train 341, validation 114, test 114")

    expected = {f"{name}/{name}.parquet" for name in SPLITS} | {"profile/profile.json"}
    written = {str(p.relative_to(output)) for p in output.rglob("*") if p.is_file()}
    assert written == expected  # nothing else, no staging leftovers

    features = [c for c in breast_cancer_frame.columns if c != "diagnosis"]
    assert not breast_cancer_frame.duplicated(features).any()  # rows identify themselves
    frames = {name: pd.read_parquet(output / name / f"{name}.parquet") for name in SPLITS}
    share = 212 / 569
    row_sets = {}
    for name, frame in frames.items():
        assert list(frame.columns) == [*features, "diagnosis", "__row__"]
        assert set(frame["diagnosis"].unique()) == {0, 1}
        assert abs(int(frame["diagnosis"].sum()) - share * len(frame)) <= 1
        row_sets[name] = set(map(tuple, frame[features].to_numpy().tolist()))
        assert len(row_sets[name]) == len(frame)
    assert not row_sets["train"] & row_sets["validation"]
    assert not row_sets["train"] & row_sets["test"]
    assert not row_sets["validation"] & row_sets["test"]
    everything = set(map(tuple, breast_cancer_frame[features].to_numpy().tolist()))
    assert row_sets["train"] | row_sets["validation"] | row_sets["test"] == everything
    # Malignant rows stay malignant: 1 in the splits where the source said M.
    malignant = set(
        map(
            tuple,
            breast_cancer_frame.loc[breast_cancer_frame["diagnosis"] == "M", features]
            .to_numpy()
            .tolist(),
        )
    )
    for frame in frames.values():
        called = set(map(tuple, frame.loc[frame["diagnosis"] == 1, features].to_numpy().tolist()))
        assert called <= malignant

    profile = json.loads((output / "profile" / "profile.json").read_text())
    assert set(profile) == {
        "data",
        "schema",
        "splits",
        "class_imbalance",
        "costs",
        "warnings",
        "options",
    }
    # Constant costs (the defaults: a miss and a false alarm cost 1) add no cost columns.
    assert profile["costs"] == {
        "per_row": False,
        "default": {"tp": "0", "fp": "1", "fn": "1", "tn": "0"},
        "entries": {"M": {"tp": "0", "fp": "1", "fn": "1", "tn": "0"}},
        "columns": [],
    }
    assert profile["data"]["rows"] == 569
    assert profile["data"]["file"] == "breast-cancer.csv"
    assert profile["data"]["digest"] == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()
    assert profile["data"]["test_file"] is None
    assert profile["schema"]["target"] == "diagnosis"
    assert profile["schema"]["positive_label"] == "M"
    assert profile["schema"]["features"] == features
    assert profile["splits"] == {
        name: {
            "rows": len(frame),
            "positives": int(frame["diagnosis"].sum()),
            "negatives": len(frame) - int(frame["diagnosis"].sum()),
        }
        for name, frame in frames.items()
    }
    assert sum(split["positives"] for split in profile["splits"].values()) == 212
    # The check judges the training split as trained; the whole file's ratio is kept beside it.
    train = profile["splits"]["train"]
    assert profile["class_imbalance"]["ratio"] == pytest.approx(
        train["negatives"] / train["positives"]
    )
    assert profile["class_imbalance"]["data_ratio"] == pytest.approx(357 / 212)
    assert profile["class_imbalance"]["passed"] is True
    assert profile["warnings"] == []
    assert profile["options"] == {
        "validation_fraction": 0.2,
        "test_fraction": 0.2,
        "oversample_ratio": None,
        "oversample_min_count": None,
        "seed": 0,
        "categorical": "auto",
        "delimiter": None,
        "train_shards": 1,
    }
    assert sum(split["rows"] for split in profile["splits"].values()) == 569


def _payments(rows: int = 200) -> pd.DataFrame:
    """A fraud-like table: a miss costs the payment's amount, a review 5 either way."""
    import numpy as np

    rng = np.random.RandomState(4)
    amount = np.round(rng.lognormal(4, 1, rows), 2)
    return pd.DataFrame(
        {
            "hour": rng.randint(0, 24, rows),
            "amount": amount,
            "fraud": (rng.uniform(size=rows) < 0.2).astype(int),
        }
    )


def test_per_row_costs_ride_along_in_the_splits(tmp_path: Path) -> None:
    """Each split row carries its own four costs, computed from the file's columns (a dropped
    column still prices its rows), and the profile records the entries and their summary."""
    frame = _payments()
    data = tmp_path / "payments.csv"
    frame.to_csv(data, index=False)
    output = tmp_path / "out"
    result = run_preprocess(
        data,
        output,
        *("--target", "fraud", "--drop", "amount", "--cost-tp", "5", "--cost-fp", "5"),
        *("--cost-fn", "5 + 0.75 * amount", "--cost-tn", "0"),
    )
    assert result.returncode == 0, result.stderr
    assert "costs per row from: 'amount'" in result.stdout
    profile = json.loads((output / "profile" / "profile.json").read_text())
    costs = profile["costs"]
    assert costs["per_row"] is True and costs["columns"] == ["amount"]
    assert costs["entries"] == {"1": {"tp": "5", "fp": "5", "fn": "5 + 0.75 * amount", "tn": "0"}}
    for name in SPLITS:
        split = pd.read_parquet(output / name / f"{name}.parquet")
        assert "amount" not in split.columns  # dropped as a feature...
        source = frame.iloc[split["__row__"].to_numpy()]
        # ...but it priced every row: 5 + 0.75 * amount for a miss.
        assert split["__cost:fn:1"].to_numpy() == pytest.approx(
            5 + 0.75 * source["amount"].to_numpy()
        )
        assert (split["__cost:tp:1"] == 5).all() and (split["__cost:fp:1"] == 5).all()
        assert (split["__cost:tn:1"] == 0).all()
        fn_summary = costs["summary"][name]["1"]["fn"]
        assert fn_summary["rows"] == len(split)
        assert fn_summary["total"] == pytest.approx(split["__cost:fn:1"].sum())
        assert fn_summary["quantiles"]["1"] == pytest.approx(split["__cost:fn:1"].max())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ("--cost-fn", "0.75 * amount", "--cost-tp", "5"),
            "error: costs make a missed positive cheaper than a caught positive in data row ",
        ),
        (("--cost-fn", "amount_eur"), "error: cost entry 'fn' reads column 'amount_eur'"),
        (("--cost-fn", "__import__('os')"), "error: cost entry 'fn' = \"__import__('os')\""),
        (("--cost-fn", "-5"), "error: cost matrix says a missed positive (fn=-5) is cheaper"),
    ],
)
def test_bad_costs_exit_2_naming_the_row_and_write_nothing(tmp_path: Path, options, message):
    frame = _payments()
    frame.loc[7, "amount"] = 2.0  # 0.75 * 2 = 1.5 < 5: the first row where a miss is cheaper
    data = tmp_path / "payments.csv"
    frame.to_csv(data, index=False)
    output = tmp_path / "out"
    result = run_preprocess(data, output, "--target", "fraud", *options)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
    if "data row" in message:  # the first row where 0.75 * amount < 5, counted from 1
        first = int((0.75 * frame["amount"] < 5).to_numpy().argmax()) + 1
        assert lines[0].startswith(f"{message}{first}: fn = 0.75 * amount = "), lines
    assert not output.exists() or [p for p in output.rglob("*") if p.is_file()] == []
