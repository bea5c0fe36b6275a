"""Container parity: the jobs give the same thresholds, costs and decisions in the stock SageMaker
XGBoost 3.0-5 container's packages (Python 3.10, xgboost 3.0.5, numpy 2.1, pandas 2.2,
scikit-learn 1.5.2, pyarrow 22: infra/container-requirements.txt) as in this project's.

Each example runs twice in fresh homes: once with this interpreter and once with every job
(Preprocess, Train, Evaluate) run by the container environment's interpreter, named by
``COSTPIPE_CONTAINER_PYTHON``. Without it the test is skipped, except in CI, where it fails.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Config, override
from pipeline.examples import example_config
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.runner import run_locally
from tests import external
from tests.constant_costs import assert_unchanged

pytestmark = pytest.mark.slow

# Thresholds and costs must agree to this: in both environments the same folds, splits and
# boosters give bit-identical scores (see README, "Container parity"); 1e-9 only allows for the
# last digits of the JSON round trip.
TOLERANCE = 1e-9
CONTAINER = {"python": "3.10", "xgboost": "3.0.5"}


@pytest.fixture(scope="module")
def container_python() -> str:
    python = external.container_python()
    versions = subprocess.run(
        [python, "-c", "import sys, xgboost; print(sys.version.split()[0], xgboost.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # A wrong interpreter would make the comparison meaningless (or trivially pass).
    assert versions[0].rsplit(".", 1)[0] == CONTAINER["python"], versions
    assert versions[1] == CONTAINER["xgboost"], versions
    return python


def yeast_for_ci(config: Config) -> Config:
    # The full example (2 settings x 150 rounds x 5 folds over 14 labels) takes minutes per run
    # on two cores; 40 rounds (also the golden numbers' round count, tests/constant_costs) keep
    # the whole multi-label path (iterative stratification, rare label oversampling,
    # multi-output trees, per-label thresholds) at a quarter of that. The README reports the
    # full example's numbers.
    return override(config, "training", num_round=40)


def bank_for_ci(config: Config) -> Config:
    # Per-row costs (a missed subscriber costs max(1, r d balance)): the rules' calibrations
    # (scikit-learn's isotonic and logistic regressions, 1.5.2 against ours) and the shift sweep.
    # 4,000 of the 37,931 calls and 60 rounds keep both runs to a minute or two.
    import pandas as pd

    sample = Path(config.data.path).with_name("bank-telemarketing-sample.csv")
    if not sample.exists():
        pd.read_csv(config.data.path).sample(4000, random_state=0).to_csv(sample, index=False)
    config = replace(config, data=replace(config.data, path=str(sample)))
    return override(config, "training", num_round=60)


EXAMPLES = {
    "breast-cancer": lambda config: config,
    "yeast": yeast_for_ci,
    "bank-telemarketing": bank_for_ci,
}


def run(name: str, home: Path, job_python: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """evaluation.json of one execution (with its status and failure reason added) and the
    model metadata of its models, by model name."""
    config = EXAMPLES[name](example_config(name, home))
    config = replace(
        config, registry=replace(config.registry, model_package_group=f"parity-{name}")
    )
    result = run_locally(config, home, max_parallel=2, job_python=job_python)
    # The register gate may end the execution as Failed (nothing registered): that verdict is
    # compared too, but Evaluate must have run.
    assert result.evaluation is not None, result.result.failure_reason
    evaluation = {
        **result.evaluation,
        "status": result.result.status,
        "failure_reason": result.result.failure_reason,
    }
    bucket = LocalBucket(home / BUCKET_FOLDER)
    metas = {}
    for model in evaluation["models"]:
        with tarfile.open(bucket.path(model["model_uri"])) as archive:
            metas[model["name"]] = json.load(archive.extractfile("model_meta.json"))
    return evaluation, metas


def assert_rules_agree(mine: dict[str, Any], other: dict[str, Any], label: str) -> None:
    ours, theirs = mine["rules"][label], other["rules"][label]
    assert ours["shift"] == pytest.approx(theirs["shift"], abs=TOLERANCE), mine["name"]
    assert (ours["calibration"] is None) == (theirs["calibration"] is None), mine["name"]
    if ours["calibration"] is not None:
        assert ours["calibration"]["method"] == theirs["calibration"]["method"]
        for key, value in ours["calibration"].items():
            if key != "method":
                assert value == pytest.approx(theirs["calibration"][key], abs=TOLERANCE), key
    choices = mine["rule_choice"][label], other["rule_choice"][label]
    assert choices[0]["choice"] == choices[1]["choice"], mine["name"]
    assert choices[0]["cross_validated_costs"] == pytest.approx(
        choices[1]["cross_validated_costs"], abs=TOLERANCE
    ), mine["name"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_jobs_decide_the_same_in_the_container_environment(
    name: str, container_python: str, tmp_path: Path
):
    ours, our_metas = run(name, tmp_path / "ours", None)
    if name in ("breast-cancer", "yeast"):
        # Constant costs keep the numbers they had before per-row costs (tests/constant_costs).
        assert_unchanged(name, ours, ours["status"])
    theirs, their_metas = run(name, tmp_path / "container", container_python)

    # The second run really trained in the container's packages.
    for meta in their_metas.values():
        assert meta["python_version"].rsplit(".", 1)[0] == CONTAINER["python"]
        assert meta["xgboost_version"] == CONTAINER["xgboost"]
    assert {meta["xgboost_version"] for meta in our_metas.values()} != {CONTAINER["xgboost"]}

    assert [m["name"] for m in ours["models"]] == [m["name"] for m in theirs["models"]]
    for mine, other in zip(ours["models"], theirs["models"], strict=True):
        assert mine["thresholds"].keys() == other["thresholds"].keys()
        for label, threshold in mine["thresholds"].items():
            if threshold is None:  # the per-row rule: its shift, calibration and choice
                assert other["thresholds"][label] is None
                assert_rules_agree(mine, other, label)
                continue
            assert threshold == pytest.approx(other["thresholds"][label], abs=TOLERANCE), (
                mine["name"],
                label,
            )
        for split in ("validation", "test"):
            assert mine[split]["expected_cost"] == pytest.approx(
                other[split]["expected_cost"], abs=TOLERANCE
            ), (mine["name"], split)
        assert mine["test"]["expected_cost_ci"] == pytest.approx(
            other["test"]["expected_cost_ci"], abs=TOLERANCE
        ), mine["name"]
        assert mine["test"]["confusion"] == other["test"]["confusion"], mine["name"]
        for label, figures in mine["test"].get("per_label", {}).items():
            assert figures["confusion"] == other["test"]["per_label"][label]["confusion"], label
    assert ours["best"]["name"] == theirs["best"]["name"]
    assert (ours["status"], ours["failure_reason"]) == (theirs["status"], theirs["failure_reason"])
