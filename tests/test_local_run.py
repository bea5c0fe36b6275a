"""The local executor on the real pipeline: results, registry, cache, failures, parallelism."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import PurePosixPath

import pytest

from pipeline.errors import InputError, UsageError
from pipeline.home import BUCKET_FOLDER, JOBS_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.local.executor import LocalExecutor
from pipeline.local.registry import ModelRegistry
from pipeline.local.store import ExecutionStore
from pipeline.runner import run_locally
from steps.data import file_digest
from tests.conftest import fast_config, fast_config_file

pytestmark = pytest.mark.slow


def test_end_to_end_registers_exactly_the_best_model(first_run):
    home, run, _ = first_run
    assert run.result.status == "Succeeded", run.result.failure_reason
    best = run.evaluation["best"]
    package = run.result.registered
    assert package["group"] == "bc-test" and package["version"] == 1
    assert package["model_data_url"] == best["model_uri"]
    assert package["approval_status"] == "PendingManualApproval"
    assert float(package["metadata"]["threshold"]) == next(iter(best["thresholds"].values()))
    assert package["metadata"]["cost_setting"] == best["name"]
    assert package["metadata"]["data_digest"].startswith("sha256:")
    assert package["metrics"]["best"]["name"] == best["name"]  # the evaluation report itself
    model_file = LocalBucket(home / BUCKET_FOLDER).path(best["model_uri"])
    assert package["model_sha256"] == file_digest(model_file)
    registry = ModelRegistry(home)
    assert [p["version"] for p in registry.packages("bc-test")] == [1]


def test_the_best_model_is_the_cheapest_by_validation_cost(first_run):
    _, run, _ = first_run
    models = run.evaluation["models"]
    cheapest = min(models, key=lambda m: m["validation"]["expected_cost"])
    assert run.evaluation["best"]["name"] == cheapest["name"]
    assert run.evaluation["best"]["beats_baseline"] is True
    for model in models:
        assert model["threshold_data"]["method"] == "cross-validation"
        assert model["threshold_data"]["rows"] == 455  # train + validation rows


def test_every_step_is_recorded_and_the_condition_went_true(first_run):
    home, run, _ = first_run
    store = ExecutionStore(home)
    execution = store.execution(run.result.execution_id)
    assert execution["status"] == "Succeeded" and execution["ended"]
    steps = {s.name: s for s in store.steps(run.result.execution_id)}
    assert set(steps) == {
        "Preprocess",
        "TrainFn1Fp1",
        "TrainFn200Fp1",
        "Evaluate",
        "CheckCheapest",
        "RegisterCheapest",
    }
    assert all(s.status == "Succeeded" for s in steps.values())
    assert steps["CheckCheapest"].properties == {"Outcome": "True"}
    model = steps["TrainFn1Fp1"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert model.startswith(f"s3://costpipe-local/costpipe/executions/{run.result.execution_id}/")
    assert model.endswith("/output/model.tar.gz")


def test_training_steps_ran_in_parallel(first_run):
    home, run, _ = first_run
    steps = {s.name: s for s in ExecutionStore(home).steps(run.result.execution_id)}
    a, b = steps["TrainFn1Fp1"], steps["TrainFn200Fp1"]
    start_a, end_a = datetime.fromisoformat(a.started), datetime.fromisoformat(a.ended)
    start_b, end_b = datetime.fromisoformat(b.started), datetime.fromisoformat(b.ended)
    assert start_a < end_b and start_b < end_a  # the two intervals overlap
    preprocess_end = datetime.fromisoformat(steps["Preprocess"].ended)
    assert start_a >= preprocess_end and start_b >= preprocess_end


def test_a_second_identical_run_is_served_from_the_cache(first_run):
    home, first, config = first_run
    second = run_locally(config, home, max_parallel=2)
    assert second.result.status == "Succeeded"
    jobs = ("Preprocess", "TrainFn1Fp1", "TrainFn200Fp1")
    for name in jobs:
        assert second.result.steps[name]["cache_hit_source"] == first.result.execution_id
    # Evaluate is never cached: it reads the registry's approved version (the champion), which
    # may have changed since. It is the only job that ran.
    assert second.result.steps["Evaluate"]["cache_hit_source"] is None
    ran = home / JOBS_FOLDER / second.result.execution_id
    assert sorted(path.name for path in ran.iterdir()) == ["Evaluate"]
    # Registration is never cached: a new version, numbered after the first.
    assert second.result.registered["version"] == first.result.registered["version"] + 1


def test_a_condition_that_says_no_fails_with_the_reason_and_registers_nothing(first_run):
    home, _, config = first_run
    from pipeline.config import override

    strict = override(config, "evaluation", max_cost_per_decision=1.0)
    before = len(ModelRegistry(home).packages("bc-test"))
    run = run_locally(strict, home, max_parallel=2)
    assert run.result.status == "Failed"
    assert run.result.registered is None
    assert run.result.failure_reason.startswith("nothing registered: cheapest model")
    assert "above MaxCostPerDecision 1.00" in run.result.failure_reason
    assert run.result.steps["NothingRegistered"]["status"] == "Failed"
    assert run.result.steps["CheckCheapest"]["properties"] == {"Outcome": "False"}
    assert "RegisterCheapest" not in run.result.steps
    assert len(ModelRegistry(home).packages("bc-test")) == before
    # Only Evaluate's arguments changed: preprocessing and training came from the cache.
    assert run.result.steps["TrainFn1Fp1"]["cache_hit_source"] is not None
    assert run.result.steps["Evaluate"]["cache_hit_source"] is None


def test_kernel_smoothing_is_recorded_per_model_and_label(first_run):
    home, _, config = first_run
    from pipeline.config import override

    smoothed = override(config, "evaluation", threshold_smoothing="kernel")
    run = run_locally(smoothed, home, max_parallel=2)
    evaluation = run.evaluation
    assert evaluation["threshold_smoothing"] == "kernel"
    for model in evaluation["models"]:
        how = model["threshold_smoothing"]["malignant"]
        assert how["method"] == "kernel"
        assert how["bandwidths"]["negative"] > 0 and how["bandwidths"]["positive"] > 0
        assert 0 < model["thresholds"]["malignant"] < 1
    assert run.result.steps["TrainFn1Fp1"]["cache_hit_source"] is not None
    assert run.result.steps["Evaluate"]["cache_hit_source"] is None


def test_a_linear_setting_trains_beside_the_trees_and_scores_from_its_archive(first_run):
    """1:1:linear adds one training step; the trees come from the cache; its model archive
    holds the linear inputs and is priced like the others."""
    home, _, config = first_run
    from pipeline.config import override
    from steps.model_io import LINEAR_FILE

    both = override(config, "training", cost_settings=("1:1", "200:1", "1:1:linear"))
    run = run_locally(both, home, max_parallel=2)
    assert run.result.status in ("Succeeded", "Failed"), run.result.failure_reason
    assert run.result.steps["TrainFn1Fp1"]["cache_hit_source"] is not None
    assert run.result.steps["TrainLinearFn1Fp1"]["cache_hit_source"] is None
    linear = next(m for m in run.evaluation["models"] if m["name"] == "linear-fn1-fp1")
    assert linear["setting"] == {"fn_weight": 1.0, "fp_weight": 1.0, "booster": "linear"}
    assert 0 < linear["thresholds"]["malignant"] < 1
    assert linear["test"]["roc_auc"] > 0.95
    import tarfile

    archive = LocalBucket(home / BUCKET_FOLDER).path(linear["model_uri"])
    with tarfile.open(archive) as tar:
        names = {PurePosixPath(name).name for name in tar.getnames()}
    assert LINEAR_FILE in names and "model_meta.json" in names


def test_a_crashing_step_fails_the_execution_with_its_reason(first_run):
    home, run, _ = first_run
    store = ExecutionStore(home)
    definition = store.definition(run.result.execution_id)
    before = len(ModelRegistry(home).packages("bc-test"))
    executor = LocalExecutor(home, max_parallel=2)
    result = executor.start(definition, "costpipe", {"Eta": -1.0})
    assert result.status == "Failed"
    failed = [s for s in result.steps.values() if s["status"] == "Failed"]
    assert failed and all(s["name"].startswith("Train") for s in failed)
    reason = failed[0]["failure_reason"]
    assert reason == "error: hyperparameter eta must be positive, got -1.0 (exit code 2)"
    # Both trainings fail; the execution reports whichever failed first.
    assert result.failure_reason in {f"step {s['name']} failed: {reason}" for s in failed}
    assert "Evaluate" not in result.steps  # dependents never start
    assert result.registered is None
    assert len(ModelRegistry(home).packages("bc-test")) == before


def test_parameter_overrides_are_checked(first_run):
    home, run, _ = first_run
    definition = ExecutionStore(home).definition(run.result.execution_id)
    executor = LocalExecutor(home)
    with pytest.raises(UsageError, match="unknown pipeline parameter 'Etta'"):
        executor.start(definition, "costpipe", {"Etta": 1})
    with pytest.raises(UsageError, match=r"'NumRound' must be Integer, got 2.5"):
        executor.start(definition, "costpipe", {"NumRound": 2.5})


def test_bad_data_stops_before_an_execution_exists(tmp_path, breast_cancer_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text(breast_cancer_csv.read_text().replace(",M\n", ",\n", 3))
    config = fast_config(bad)
    with pytest.raises(InputError, match="missing in 3 of 569 rows"):
        run_locally(config, tmp_path / "home")
    assert ExecutionStore(tmp_path / "home").executions() == []


def test_a_killed_runner_is_marked_failed_by_the_next_command(tmp_path):
    # A runner that records an execution and dies without finishing it (as with SIGKILL).
    script = (
        "import sys; from pipeline.local.store import ExecutionStore; "
        "s = ExecutionStore(sys.argv[1]); "
        "s.create_execution('abc123def456', 'arn:x', 'costpipe', {}, {'Steps': []}); "
        "s.start_step('abc123def456', {'Name': 'TrainFn1Fp1', 'Type': 'Training'})"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    store = ExecutionStore(tmp_path)
    execution = store.execution("abc123def456")
    assert execution["status"] == "Failed"
    assert "runner process ended" in execution["failure_reason"]
    assert store.steps("abc123def456")[0].status == "Failed"


def test_cli_run_json_is_one_object_and_exit_codes(first_run, tmp_path, capsys):
    from pipeline.cli import main

    home, _, config = first_run
    toml = fast_config_file(tmp_path, config.data.path, "bc-test", label_name="malignant")
    code = main(["run", "--config", str(toml), "--home", str(home), "--json"])
    out = capsys.readouterr().out
    payload = json.loads(out)  # exactly one JSON document
    assert code == 0
    assert set(payload) >= {"execution_id", "status", "failure_reason", "registered", "evaluation"}
    assert payload["registered"]["model_uri"] == payload["evaluation"]["best"]["model_uri"]
    code = main(
        [
            "run",
            "--config",
            str(toml),
            "--home",
            str(home),
            "--json",
            "--max-cost-per-decision",
            "1",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 1 and payload["registered"] is None and payload["status"] == "Failed"
    code = main(
        [
            "run",
            "--data",
            str(tmp_path / "missing.csv"),
            "--target",
            "y",
            "--home",
            str(tmp_path / "h"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "does not exist" in captured.err
