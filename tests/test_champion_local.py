"""Champion and challenger on the local executor: the weekly-retraining story.

Run 1 (60 boosting rounds, the fast config) registers version 1, which is approved. Run 2
trains with 100 rounds on the same data, so the split, and with it the test rows, is the
same: with these seeds its cheapest model costs 13,630.43 per patient on test against the
champion's 13,540.07 (it beats the trivial policy, 13,811.16, so only the champion blocks).
The champion is priced again on run 2's rows by Evaluate; because the rows are the same, its
cost there must equal what run 1 recorded for it, and the paired difference must equal the
difference of the two runs' test costs.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import override
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.local.registry import ModelRegistry
from pipeline.runner import run_locally
from tests.conftest import fast_config, fast_config_file

ROOT = Path(__file__).resolve().parents[1]
GROUP = "bc-champion"
pytestmark = pytest.mark.slow


def _config(data: Path, **training: object):
    config = fast_config(data, **training)
    return override(config, "registry", model_package_group=GROUP)


@pytest.fixture(scope="module")
def story(tmp_path_factory, breast_cancer_csv):
    """Run 1 registered and approved: (home, run 1, data)."""
    home = tmp_path_factory.mktemp("champion-home")
    first = run_locally(_config(breast_cancer_csv), home, max_parallel=2)
    assert first.result.status == "Succeeded", first.result.failure_reason
    assert first.result.registered["version"] == 1
    assert first.evaluation["champion"]["version"] is None  # nothing approved yet
    assert first.evaluation["champion"]["verdict"] == (
        f"no approved version in model package group '{GROUP}' to beat"
    )
    ModelRegistry(home).set_approval(GROUP, 1, "Approved")
    return home, first, breast_cancer_csv


def test_a_worse_model_registers_nothing_and_the_reason_names_the_champion(story):
    home, first, data = story
    second = run_locally(_config(data, num_round=100), home, max_parallel=2)
    evaluation = second.evaluation
    champion, best = evaluation["champion"], evaluation["best"]
    assert second.result.status == "Failed"
    assert second.result.registered is None
    assert best["beats_baseline"] and best["within_max_cost"] and evaluation["checks"]["passed"]
    assert champion["version"] == 1 and champion["passed"] is False
    assert champion["arn"] == ModelRegistry.package_arn(GROUP, 1)
    assert champion["model_uri"] == first.result.registered["model_data_url"]
    # Same data, same split seed: the champion priced on these test rows costs what run 1 said.
    assert champion["test"]["expected_cost"] == pytest.approx(
        first.evaluation["best"]["expected_cost"]
    )
    assert champion["test"]["challenger_expected_cost"] == pytest.approx(best["expected_cost"])
    assert champion["difference"] == pytest.approx(
        best["expected_cost"] - first.evaluation["best"]["expected_cost"]
    )
    assert (round(best["expected_cost"], 2), round(champion["test"]["expected_cost"], 2)) == (
        13630.43,
        13540.07,
    )
    low, high = champion["difference_ci"]
    assert low <= champion["difference"] <= high
    assert second.result.failure_reason == f"nothing registered: {champion['verdict']}"
    assert champion["verdict"] == (
        f"{best['name']} costs 13,630.43 per decision on test against 13,540.07 for approved "
        f"version 1 (difference +90.36 [{low:+,.2f}, {high:+,.2f}])"
    )
    assert second.result.steps["CheckCheapest"]["properties"] == {"Outcome": "False"}
    assert [p["version"] for p in ModelRegistry(home).packages(GROUP)] == [1]
    # The tuning rows: the validation split, priced for both where the schema allows.
    assert champion["validation"]["rows"] == evaluation["splits"]["validation"]["rows"]


def test_the_same_run_with_the_policy_off_registers(story):
    home, _, data = story
    config = override(_config(data, num_round=100), "registry", champion_policy="off")
    run = run_locally(config, home, max_parallel=2)
    assert run.result.status == "Succeeded", run.result.failure_reason
    assert run.result.registered["version"] == 2
    assert run.evaluation["champion"] == {
        "policy": "off",
        "group": GROUP,
        "version": None,
        "arn": None,
        "model_uri": None,
        "passed": True,
        "verdict": "no champion comparison (ChampionPolicy off)",
    }
    # Training came from the cache; Evaluate ran again (it reads the registry, so no cache).
    assert run.result.steps["TrainFn1Fp1"]["cache_hit_source"] is not None
    assert run.result.steps["Evaluate"]["cache_hit_source"] is None


def _approve_only(home: Path, version: int) -> None:
    registry = ModelRegistry(home)
    for package in registry.packages(GROUP):
        if package["approval_status"] == "Approved" and package["version"] != version:
            registry.set_approval(GROUP, package["version"], "Rejected")
    registry.set_approval(GROUP, version, "Approved")


def _versions(home: Path) -> list[int]:
    return [p["version"] for p in ModelRegistry(home).packages(GROUP)]


def test_a_champion_whose_artifact_is_gone_fails_the_execution(story):
    home, _, data = story
    registry = ModelRegistry(home)
    gone = registry.create_model_package(
        GROUP, "s3://costpipe-local/gone/model.tar.gz", "Approved", {}
    )
    before = _versions(home)
    try:
        run = run_locally(_config(data), home, max_parallel=2)
        assert run.result.status == "Failed" and run.result.registered is None
        assert run.result.steps["Evaluate"]["status"] == "Failed"
        reason = run.result.failure_reason
        assert f"approved version {gone['version']} ({gone['arn']})" in reason
        assert (
            "its decision artifact at s3://costpipe-local/gone/model.tar.gz cannot be loaded"
            in reason
        )
        assert "no object at s3://costpipe-local/gone/model.tar.gz" in reason
        assert _versions(home) == before
    finally:
        registry.set_approval(GROUP, gone["version"], "Rejected")


def test_a_champion_of_an_older_artifact_format_fails_the_execution(story):
    home, _, data = story
    decision = json.dumps({"format": "costpipe-decision/0"}).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("decision.json")
        info.size = len(decision)
        tar.addfile(info, io.BytesIO(decision))
    uri = "s3://costpipe-local/old/model.tar.gz"
    LocalBucket(home / BUCKET_FOLDER).put_bytes(uri, gzip.compress(raw.getvalue()))
    registry = ModelRegistry(home)
    old = registry.create_model_package(GROUP, uri, "Approved", {})
    try:
        run = run_locally(_config(data), home, max_parallel=2)
        assert run.result.status == "Failed" and run.result.registered is None
        assert (
            "decision artifact format 'costpipe-decision/0' is not one of 'costpipe-decision/1', "
            "'costpipe-decision/2'" in run.result.failure_reason
        )
    finally:
        registry.set_approval(GROUP, old["version"], "Rejected")


def test_a_champion_on_other_columns_is_scored_when_the_rows_hold_them(story):
    """A champion that needs a column this execution dropped fails naming it; one trained
    without a column is scored on rows that have more."""
    home, _, data = story
    _approve_only(home, 1)
    dropped = override(_config(data), "data", drop=("mean radius", "worst area"))
    run = run_locally(dropped, home, max_parallel=2)
    assert run.result.status == "Failed" and run.result.registered is None
    assert run.result.failure_reason == (
        "step Evaluate failed: error: approved version 1 was trained on columns this "
        "execution's rows do not have: 'mean radius', 'worst area'; register from the same "
        "columns or reject that version (exit code 2)"
    )
    off = run_locally(override(dropped, "registry", champion_policy="off"), home, max_parallel=2)
    narrow = off.result.registered["version"]
    _approve_only(home, narrow)
    full = run_locally(_config(data), home, max_parallel=2)
    champion = full.evaluation["champion"]
    assert champion["version"] == narrow
    assert champion["test"]["rows"] == full.evaluation["splits"]["test"]["rows"]
    assert champion["test"]["expected_cost"] == pytest.approx(
        off.evaluation["best"]["expected_cost"]
    )
    _approve_only(home, 1)


def test_a_bad_policy_is_one_line_and_exit_2(tmp_path, breast_cancer_csv, capsys):
    config = fast_config_file(tmp_path, breast_cancer_csv, GROUP)
    home = tmp_path / "h"
    flag = ["run", "--config", str(config), "--home", str(home), "--champion-policy", "maybe"]
    assert main(flag) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "costpipe: error: argument --champion-policy: invalid choice: 'maybe' (choose from "
        "'cheaper', 'significant', 'off') (see costpipe run --help)"
    ]
    config.write_text(config.read_text() + 'champion_policy = "maybe"\n')
    assert main(["run", "--config", str(config), "--home", str(home)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "registry champion_policy must be one of cheaper, significant, off, got 'maybe'"
    ), lines
    assert not (home / "costpipe.db").exists()


def test_two_executions_finishing_together_compare_against_one_champion(
    tmp_path, breast_cancer_csv
):
    """Version 1 (100 rounds, the dearer model) is approved; two executions of the cheaper
    60-round config start at once against it. Both price version 1, both beat it, and the
    registry holds exactly versions 1, 2 and 3: none lost, none registered twice."""
    home = tmp_path / "home"
    champion_run = run_locally(_config(breast_cancer_csv, num_round=100), home, max_parallel=2)
    assert champion_run.result.registered["version"] == 1
    ModelRegistry(home).set_approval(GROUP, 1, "Approved")
    config = fast_config_file(tmp_path, breast_cancer_csv, GROUP)
    command = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config)]
    runs = [
        subprocess.Popen(
            [*command, "--home", str(home), "--json", "--no-report", "--max-parallel", "1"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for process in runs:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out))
    for result in results:
        champion = result["evaluation"]["champion"]
        assert champion["version"] == 1 and champion["passed"] is True
        assert champion["test"]["expected_cost"] == pytest.approx(
            champion_run.evaluation["best"]["expected_cost"]
        )
        assert result["evaluation"]["best"]["verdict"].endswith(
            f"beats approved version 1 ({champion['test']['expected_cost']:,.2f}, difference "
            f"{champion['difference']:+,.2f} [{champion['difference_ci'][0]:+,.2f}, "
            f"{champion['difference_ci'][1]:+,.2f}])"
        )
    assert sorted(r["registered"]["version"] for r in results) == [2, 3]
    packages = ModelRegistry(home).packages(GROUP)
    assert [p["version"] for p in packages] == [1, 2, 3]
    assert len({p["execution_arn"] for p in packages}) == 3
