"""The champion's pure parts: the paired difference, the gate, the verdict text, the local
registry lookup and the local bucket mapping (steps/champion.py)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.home import bucket_folder, database_path
from pipeline.local.registry import ModelRegistry
from steps.champion import (
    LOCAL_BUCKET_VARIABLE,
    LOCAL_REGISTRY_VARIABLE,
    champion_inputs,
    comparison_text,
    download_artifact,
    find_champion,
    gate_passes,
    label_order,
    paired_difference,
)
from steps.errors import InputError
from steps.evaluate import verdict


def test_the_paired_difference_is_the_mean_of_the_row_differences():
    # Four rows priced for both models: challenger minus champion is 1, 0, 0, -2 per row.
    challenger = np.array([1.0, 0.0, 5.0, 0.0])
    champion = np.array([0.0, 0.0, 5.0, 2.0])
    difference, _ = paired_difference(challenger, champion, 2000, seed=0)
    assert difference == pytest.approx(-0.25)


def test_the_paired_interval_matches_the_exact_bootstrap_distribution():
    """Four rows with differences 1, 0, 0, -2: all 4**4 equally likely resamples give the
    bootstrap distribution of the mean exactly; the multinomial draws must reproduce its
    2.5 % and 97.5 % quantiles (the mean moves in steps of 0.25)."""
    # By hand: a resample's sum is a - 2c (a ones, c minus-twos among 4 draws; p = 1/4, 1/4).
    # P(sum <= -6) = P(c=3, one 0) + P(c=4) = 4/128 + 1/256 > 2.5 % > P(sum <= -8) = 1/256,
    # so the lower end is -6/4 = -1.5; likewise P(sum >= 3) = 4/128 + 1/256: the upper is 3/4.
    differences = [1.0, 0.0, 0.0, -2.0]
    means = sorted(np.mean(sample) for sample in itertools.product(differences, repeat=4))
    exact_low, exact_high = np.quantile(means, [0.025, 0.975])
    assert (exact_low, exact_high) == (-1.5, 0.75)
    _, (low, high) = paired_difference(
        np.array(differences), np.zeros(4), n_resamples=20000, seed=0
    )
    assert low == pytest.approx(exact_low, abs=0.25) and high == pytest.approx(exact_high, abs=0.25)


def test_pairing_removes_what_both_models_share():
    """Rows both models price alike add nothing to the difference's spread: identical
    decisions give a zero-width interval however expensive the rows are."""
    costs = np.array([252000.0, 0.0, 1287.67, 35280.0] * 10)
    difference, interval = paired_difference(costs, costs.copy(), 500, seed=3)
    assert difference == 0.0 and interval == (0.0, 0.0)


def test_the_same_seed_gives_the_same_interval():
    rng = np.random.default_rng(1)
    a, b = rng.choice([0.0, 5.0, 250.0], size=300), rng.choice([0.0, 5.0, 250.0], size=300)
    assert paired_difference(a, b, 1000, 7) == paired_difference(a, b, 1000, 7)


@pytest.mark.parametrize(
    ("policy", "difference", "interval", "passes"),
    [
        ("cheaper", -0.01, (-5.0, 5.0), True),
        ("cheaper", 0.0, (0.0, 0.0), False),  # a tie is not cheaper
        ("cheaper", 65.0, (-20.0, 150.0), False),
        ("significant", -10.0, (-20.0, 5.0), False),
        ("significant", -10.0, (-20.0, -0.5), True),
        ("significant", -10.0, (-20.0, 0.0), False),
        ("off", 1e9, (1e9, 1e9), True),
    ],
)
def test_the_gate_applies_the_policy(policy, difference, interval, passes):
    assert gate_passes(policy, difference, interval) is passes


def test_the_comparison_reads_like_the_issue_asks():
    text = comparison_text("fn53-fp1", 13402.0, 13337.0, 4, 65.0, (-20.0, 150.0))
    assert text == (
        "fn53-fp1 costs 13,402.00 per decision on test against 13,337.00 for approved "
        "version 4 (difference +65.00 [-20.00, +150.00])"
    )


def _best(cost: float) -> dict:
    return {"name": "fn53-fp1", "test": {"expected_cost": cost}}


def test_the_verdict_names_the_champion_when_only_the_champion_blocks():
    champion = {"policy": "cheaper", "version": 4, "passed": False, "verdict": "X"}
    assert verdict(_best(13402.0), "all_positive", 13811.16, 1e300, True, champion) == "X"


def test_the_verdict_lists_every_failing_condition_with_the_champion_last():
    champion = {"policy": "cheaper", "version": 4, "passed": False, "verdict": "CHAMPION"}
    text = verdict(_best(14000.0), "all_positive", 13811.16, 1e300, False, champion)
    reasons = text.split("; ")
    assert len(reasons) == 3 and reasons[0].startswith("cheapest model fn53-fp1 costs 14,000.00")
    assert reasons[1].startswith("the class-imbalance checks failed")
    assert reasons[2] == "CHAMPION"


def test_a_passing_verdict_says_which_version_it_beat_or_that_there_was_none():
    beaten = {
        "policy": "cheaper",
        "version": 4,
        "passed": True,
        "difference": -12.5,
        "difference_ci": [-30.0, 4.0],
        "test": {"expected_cost": 13414.5},
    }
    assert verdict(_best(13402.0), "all_positive", 13811.16, 1e300, True, beaten) == (
        "fn53-fp1 costs 13,402.00 per decision on test against 13,811.16 for all_positive; "
        "beats approved version 4 (13,414.50, difference -12.50 [-30.00, +4.00])"
    )
    none = {"policy": "cheaper", "version": None, "passed": True, "verdict": "no approved X"}
    assert verdict(_best(13402.0), "all_positive", 13811.16, 1e300, True, none).endswith(
        "; no approved X"
    )


def test_missing_input_columns_are_named():
    frame = pd.DataFrame({"a": [1.0], "c": [2.0]})
    assert list(champion_inputs(frame, ["c", "a"], 3).columns) == ["c", "a"]
    with pytest.raises(InputError) as raised:
        champion_inputs(frame, ["a", "b", "radius"], 3)
    assert str(raised.value).startswith(
        "approved version 3 was trained on columns this execution's rows do not have: 'b', 'radius'"
    )


def _package(registry: ModelRegistry, group: str, status: str, url: str = "s3://b/m") -> int:
    return registry.create_model_package(group, url, status, {})["version"]


def test_the_local_lookup_finds_the_latest_approved_version(tmp_path, monkeypatch):
    registry = ModelRegistry(tmp_path)
    for status in ("Approved", "Approved", "PendingManualApproval", "Rejected"):
        _package(registry, "cancer", status, f"s3://b/{status}.tar.gz")
    _package(registry, "other", "Approved")
    _package(registry, "pending-only", "PendingManualApproval")
    monkeypatch.setenv(LOCAL_REGISTRY_VARIABLE, str(database_path(tmp_path)))
    champion = find_champion("cancer")
    assert champion is not None
    assert (champion.version, champion.arn) == (2, ModelRegistry.package_arn("cancer", 2))
    assert champion.model_data_url == "s3://b/Approved.tar.gz"
    assert find_champion("pending-only") is None
    assert find_champion("no-such-group") is None
    # Approving an older version does not make it the champion; rejecting the newest does.
    registry.set_approval("cancer", 1, "Approved")
    assert find_champion("cancer").version == 2
    registry.set_approval("cancer", 2, "Rejected")
    assert find_champion("cancer").version == 1


def test_the_local_bucket_maps_like_the_executors(tmp_path, monkeypatch):
    root = bucket_folder(tmp_path)
    (root / "bkt" / "a").mkdir(parents=True)
    (root / "bkt" / "a" / "model.tar.gz").write_bytes(b"artifact")
    monkeypatch.setenv(LOCAL_BUCKET_VARIABLE, str(root))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert download_artifact("s3://bkt/a/model.tar.gz", scratch).read_bytes() == b"artifact"
    with pytest.raises(InputError, match=r"^no object at s3://bkt/a/gone.tar.gz$"):
        download_artifact("s3://bkt/a/gone.tar.gz", scratch)
    with pytest.raises(InputError, match="outside the local bucket"):
        download_artifact("s3://bkt/../../escape", scratch)
    with pytest.raises(InputError, match="is not an s3:// URI"):
        download_artifact(str(Path("/etc/passwd")), scratch)


def test_binary_models_compare_whatever_their_label_is_called_but_multilabel_ones_must_match():
    assert label_order(["malignant"], ["M"], "v1") == [0]
    assert label_order(["b", "a", "c"], ["a", "b", "c"], "v1") == [1, 0, 2]
    with pytest.raises(InputError, match=r"^v1 decides the labels a, b, this execution's data"):
        label_order(["a", "b"], ["a", "c"], "v1")


def _evaluation_with_champion() -> dict:
    model = {
        "name": "fn1-fp1",
        "setting": {"fn_weight": 1, "fp_weight": 1, "booster": "gbtree"},
        "thresholds": {"malignant": 0.03},
        "threshold_data": {"method": "cross-validation"},
        "validation": {"expected_cost": 13800.0},
        "test": {
            "expected_cost": 13630.43,
            "expected_cost_ci": [10000.0, 16000.0],
            "confusion": {"tp": 42, "fp": 50, "fn": 0, "tn": 22},
        },
    }
    return {
        "models": [model],
        "best": {"name": "fn1-fp1"},
        "baselines": {
            "all_positive": {"validation": {"expected_cost": 1}, "test": {"expected_cost": 2}}
        },
        "champion": {
            "version": 1,
            "name": "fn1-fp1",
            "thresholds": {"malignant": 0.0273},
            "validation": {"expected_cost": 13815.66},
            "test": {"expected_cost": 13540.07, "confusion": {"fn": 0, "fp": 48}},
            "difference": 90.36,
            "difference_ci": [12.5, 170.0],
        },
    }


def test_the_cost_table_shows_the_champion_and_the_paired_difference():
    from rich.console import Console

    from pipeline.cli.render import cost_table

    console = Console(width=200, record=True)
    console.print(cost_table(_evaluation_with_champion()))
    row = next(line for line in console.export_text().splitlines() if "approved v1" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells == [
        "approved v1",
        "0.0273",
        "",
        "13,540.07",
        "",
        "0",
        "48",
        "champion: +90.36 [+12.50, +170.00]",
    ]


def test_the_report_shows_the_champion_row():
    from pipeline.report.page import cost_table

    html = cost_table(_evaluation_with_champion())
    assert "approved version 1 (champion, fn1-fp1)" in html
    assert "challenger minus champion +90.36 [+12.50, +170.00] on the same test rows" in html


def test_a_policy_without_a_group_is_refused_and_off_looks_nothing_up(monkeypatch):
    from argparse import Namespace

    from steps.evaluate import champion_block

    def no_lookup(group):
        raise AssertionError("off must not look the champion up")

    monkeypatch.setattr("steps.evaluate.find_champion", no_lookup)
    off = champion_block(
        {}, None, None, {}, [], [], Namespace(champion_policy="off", model_package_group="g")
    )
    assert (off["passed"], off["version"], off["verdict"]) == (
        True,
        None,
        "no champion comparison (ChampionPolicy off)",
    )
    with pytest.raises(InputError, match=r"^--champion-policy cheaper needs --model-package-group"):
        champion_block(
            {}, None, None, {}, [], [], Namespace(champion_policy="cheaper", model_package_group="")
        )
