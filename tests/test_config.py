"""The TOML config: every key known, every value checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import NO_COST_LIMIT, load_config, override
from pipeline.errors import UsageError

VALID = """
[data]
path = "data/bc.csv"
target = "diagnosis"
positive_label = "M"
categorical = ["site"]

[costs]
tp = 35280.0
fp = 1287.67
fn = 252000
tn = 0

[training]
cost_settings = ["1:1", "200:1"]
num_round = 50
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "costpipe.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.data.path == str((tmp_path / "data" / "bc.csv").resolve())  # relative to the file
    assert config.data.categorical == ("site",)
    assert config.costs.fn == 252000.0 and isinstance(config.costs.fn, float)
    assert [s.name for s in config.settings] == ["fn1-fp1", "fn200-fp1"]
    assert config.training.num_round == 50
    assert config.evaluation.max_cost_per_decision == NO_COST_LIMIT


def test_defaults_derive_the_grid_from_the_matrix(tmp_path):
    config = load_config(write(tmp_path, VALID.replace('cost_settings = ["1:1", "200:1"]', "")))
    assert "fn170-fp1" in [s.name for s in config.settings]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[data]", "[dta]"), r"unknown section \[dta\]"),
        (("num_round = 50", "num_rounds = 50"), "unknown key 'num_rounds'"),
        (("num_round = 50", 'num_round = "50"'), "num_round must be a whole number"),
        (("fn = 252000", 'fn = "lots of money"'), "'fn' = 'lots of money' is not a number, a"),
        (("fn = 252000", 'fn = "amount ** 2"'), "the operator Pow is not allowed"),
        (("fn = 252000", "fn = true"), "fn must be a number"),
        (("fn = 252000", "fn = inf"), "'fn' is inf: give a finite amount"),
        (("fn = 252000", "fn = 100"), "missed positive .* cheaper than a caught one"),
        (("fp = 1287.67", "fp = -1"), "false alarm .* cheaper than a correct negative"),
        (('cost_settings = ["1:1", "200:1"]', "cost_settings = []"), "cost-setting list is empty"),
        (('["1:1", "200:1"]', '["1:1", "1.0:1"]'), "fn1-fp1 is listed twice"),
        (('["1:1", "200:1"]', '["1:0"]'), "fp_weight is 0"),
        (("num_round = 50", "num_round = 0"), "num_round must be at least 1"),
        (('categorical = ["site"]', "categorical = [1]"), "must be a list of text"),
        (("[training]", "[training]\neta = 1.5"), r"eta must be in \(0, 1\]"),
        (
            ("[training]", "[split]\nvalidation_fraction = 0.7\ntest_fraction = 0.3\n[training]"),
            "must stay below 0.9",
        ),
        (
            ("[training]", '[registry]\napproval_status = "Yes"\n[training]'),
            "approval_status must be",
        ),
        (("[training]", "[training]\ncv_folds = 1"), "cv_folds must be 0 or at least 2"),
        (
            ("[training]", '[evaluation]\nthreshold_smoothing = "loess"\n[training]'),
            "threshold_smoothing must be 'kernel' or 'none'",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path, change, message):
    old, new = change
    assert old in VALID
    with pytest.raises(UsageError, match=message):
        load_config(write(tmp_path, VALID.replace(old, new, 1)))


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(UsageError, match="is not valid TOML"):
        load_config(write(tmp_path, "[data\ntarget = 1"))
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes("[data]\ntarget = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        load_config(path)


def test_flags_override_the_file_and_are_checked(tmp_path):
    config = load_config(write(tmp_path, VALID))
    changed = override(config, "costs", fn=500000.0, tp=None)
    assert changed.costs.fn == 500000.0 and changed.costs.tp == 35280.0
    with pytest.raises(UsageError, match="cheaper than a caught one"):
        override(config, "costs", fn=1.0)
