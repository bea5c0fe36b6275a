"""Per-row costs through the whole pipeline: the definition that carries them, a local run on
empulse's bank telemarketing data with its published per-row cost matrix (a missed subscriber
costs ``max(1, r d balance)``), every model priced row by row, the registered artifact deciding
the same way, and bad cost parameters refused before anything starts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import Config, override
from pipeline.definition.parameters import resolve_parameters
from pipeline.errors import UsageError
from pipeline.examples import example_config, example_data
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket

MISS = "max(1, 0.02463333 * 0.25 * balance)"
SETTINGS = ("1:1:flat", "1:1")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("per-row-home")


def bank_config(home: Path, rows: int = 3000) -> Config:
    """The bank-telemarketing example on a stratified-enough sample of rows, trained fast."""
    source = example_data("bank-telemarketing", home)
    sample = home / "bank-sample.csv"
    if not sample.exists():
        pd.read_csv(source).sample(rows, random_state=0).to_csv(sample, index=False)
    config = example_config("bank-telemarketing", home)
    config = replace(config, data=replace(config.data, path=str(sample)))
    config = override(config, "training", cost_settings=SETTINGS, num_round=30, cv_folds=3)
    return replace(config, registry=replace(config.registry, model_package_group="bank-test"))


def test_the_example_prices_a_miss_by_the_balance(home):
    config = example_config("bank-telemarketing", home)
    assert config.costs.fn == MISS
    assert config.per_row_costs
    assert [s.text for s in config.settings] == [
        "1:1:flat",
        "1:3.2",
        "1:1",
        "3.2:1",
        "1:1:linear:flat",
        "1:1:linear",
    ]


def _definition(home: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    config_file = home / "bank.toml"
    config = bank_config(home)
    config_file.write_text(
        f'[data]\npath = "{config.data.path}"\ntarget = "subscribed"\n'
        f'[costs]\ntp = 1\nfp = 1\nfn = "{MISS}"\ntn = 0\n'
        f"[training]\ncost_settings = {json.dumps(list(SETTINGS))}\n"
    )
    assert main(["definition", "--home", str(home), "--config", str(config_file), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_definition_passes_the_formulas_to_preprocess(home, capsys):
    definition = _definition(home, capsys)
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["CostFn"] == {"Name": "CostFn", "Type": "String", "DefaultValue": MISS}
    assert parameters["CostTp"]["DefaultValue"] == "1"
    steps = {step["Name"]: step for step in definition["Steps"]}
    arguments = json.dumps(steps["Preprocess"]["Arguments"]["AppSpecification"])
    assert '"--cost-fn=", {"Get": "Parameters.CostFn"}' in arguments
    assert '"--label-costs=", {"Get": "Parameters.LabelCosts"}' in arguments
    # Evaluate reads the costs Preprocess recorded (profile.json), not the parameters.
    assert "--cost-" not in json.dumps(steps["Evaluate"]["Arguments"]["AppSpecification"])
    flat = steps["TrainFlatFn1Fp1"]["Arguments"]["HyperParameters"]
    assert flat["row_weights"] == "flat" and flat["setting_name"] == "flat-fn1-fp1"
    assert "row_weights" not in steps["TrainFn1Fp1"]["Arguments"]["HyperParameters"]


def test_the_state_machine_carries_the_same_parameters(home, capsys):
    machine = _definition(home, capsys, "--format", "asl")
    text = json.dumps(machine)
    assert MISS in text and "TrainFlatFn1Fp1" in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CostFn": "amount ** 2"}, "the operator Pow is not allowed"),
        ({"CostFn": "-3"}, "missed positive (fn=-3) is cheaper than a caught one"),
        ({"LabelCosts": '{"x": {"fn": "max(1)"}}'}, "max() with other than two or more"),
    ],
)
def test_bad_cost_parameters_are_refused_before_an_execution_starts(overrides, message):
    declared = [
        {"Name": f"Cost{o}", "Type": "String", "DefaultValue": v}
        for o, v in (("Tp", "1"), ("Fp", "1"), ("Fn", MISS), ("Tn", "0"))
    ] + [{"Name": "LabelCosts", "Type": "String", "DefaultValue": ""}]
    assert resolve_parameters(declared, {})["CostFn"] == MISS
    with pytest.raises(UsageError, match="pipeline parameters: ") as error:
        resolve_parameters(declared, overrides)
    assert message in str(error.value)


def output(run, home: Path, step: str, name: str) -> Path:
    """The local folder of a step's processing output."""
    outputs = run.result.steps[step]["properties"]["ProcessingOutputConfig"]["Outputs"]
    uri = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == name)
    return LocalBucket(home / BUCKET_FOLDER).path(uri)


def _split(run, home: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(output(run, home, "Preprocess", name) / f"{name}.parquet")


@pytest.fixture(scope="module")
def bank_run(home):
    from pipeline.runner import run_locally

    return run_locally(bank_config(home), home, max_parallel=2)


@pytest.mark.slow
def test_a_run_trains_tunes_prices_and_registers_with_per_row_costs(bank_run, home):
    assert bank_run.result.status == "Succeeded", bank_run.result.failure_reason
    evaluation = bank_run.evaluation
    costs = evaluation["costs"]
    assert costs["per_row"] is True and costs["columns"] == ["balance"]
    assert evaluation["cost_matrix"] == {"tp": 1.0, "fp": 1.0, "fn": MISS, "tn": 0.0}
    test = _split(bank_run, home, "test")
    source = pd.read_csv(bank_config(home).data.path)
    balance = source["balance"].to_numpy()[test["__row__"].to_numpy()]
    # Preprocess priced every test row from its own balance.
    np.testing.assert_allclose(
        test["__cost:fn:subscribed"], np.maximum(1, 0.02463333 * 0.25 * balance), rtol=1e-12
    )
    scores = pd.read_parquet(output(bank_run, home, "Evaluate", "evaluation") / "scores.parquet")
    y = test["subscribed"].to_numpy()
    for model in evaluation["models"]:
        assert model["thresholds"] == {"subscribed": None}
        rule = model["rules"]["subscribed"]
        choice = model["rule_choice"]["subscribed"]
        assert rule["kind"] == "minimum-risk"
        assert set(choice["cross_validated_costs"]) == {"shift", "isotonic", "platt"}
        chosen = choice["cross_validated_costs"][choice["choice"]]
        assert chosen == min(choice["cross_validated_costs"].values())
        assert model["selection_cost"] == pytest.approx(chosen)
        assert (rule["calibration"] is None) == (choice["choice"] == "shift")
        # Priced row by row: the test cost is the mean of each row's cost of its decision.
        rows = scores[(scores["model"] == model["name"]) & (scores["split"] == "test")]
        rows = rows.set_index("row").loc[test["__row__"].to_numpy()]
        decided = rows["decision"].to_numpy() == 1
        paid = np.where(
            decided,
            np.where(y == 1, 1.0, 1.0),
            np.where(y == 1, test["__cost:fn:subscribed"].to_numpy(), 0.0),
        )
        assert model["test"]["expected_cost"] == pytest.approx(paid.mean(), rel=1e-12)
        misses = paid[(y == 1) & ~decided]
        assert model["test"]["error_costs"]["subscribed"]["fn"]["total"] == pytest.approx(
            misses.sum()
        )
    # The trivial policies are priced with the same per-row costs.
    all_negative = np.where(y == 1, test["__cost:fn:subscribed"].to_numpy(), 0.0).mean()
    assert evaluation["baselines"]["all_negative"]["test"]["expected_cost"] == pytest.approx(
        all_negative
    )
    assert evaluation["baselines"]["all_positive"]["test"]["expected_cost"] == pytest.approx(1.0)
    best = min(evaluation["models"], key=lambda m: m["selection_cost"])
    assert evaluation["best"]["name"] == best["name"]
    assert evaluation["best"]["savings"] == pytest.approx(1 - best["test"]["expected_cost"] / 1.0)
    metadata = evaluation["best"]["metadata"]
    assert metadata["cost_matrix"] == f"tp=1.0,fp=1.0,fn={MISS},tn=0.0"
    assert metadata["threshold"].startswith("per-row costs, ")
    package = bank_run.result.registered
    assert package["group"] == "bank-test" and package["version"] == 1


@pytest.mark.slow
def test_predict_on_raw_rows_decides_and_prices_as_evaluate_did(bank_run, home, tmp_path, capsys):
    assert bank_run.result.status == "Succeeded", bank_run.result.failure_reason
    test = _split(bank_run, home, "test")
    source = pd.read_csv(bank_config(home).data.path)
    raw = source.iloc[test["__row__"].to_numpy()]
    raw_file = tmp_path / "calls.csv"
    raw.to_csv(raw_file, index=False)
    out = tmp_path / "decided.csv"
    code = main(
        [
            *("predict", "--data", str(raw_file), "--model", "bank-test/1"),
            *("--home", str(home), "--out", str(out), "--json"),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    best = bank_run.evaluation["best"]
    priced = next(m for m in bank_run.evaluation["models"] if m["name"] == best["name"])
    assert summary["realised_cost"] == pytest.approx(best["expected_cost"], rel=1e-12)
    assert summary["confusion"] == priced["test"]["confusion"]
    assert summary["thresholds"] == {"subscribed": None}
    rows = pd.read_csv(out)
    # Each row's own threshold: calls the row positive exactly when its score reaches it
    # (up to rounding at the cut).
    reaches = rows["score:subscribed"] >= rows["threshold:subscribed"]
    assert (reaches == (rows["decision:subscribed"] == 1)).mean() > 0.999
    # Without the balance the model cannot price a call: one line naming the column.
    code = main(
        [
            *("predict", "--data", str(_without(raw, "balance", tmp_path)), "--model"),
            *("bank-test/1", "--home", str(home), "--out", str(tmp_path / "x.csv")),
        ]
    )
    assert code == 2
    assert "'balance'" in capsys.readouterr().err


def _without(frame: pd.DataFrame, column: str, folder: Path) -> Path:
    path = folder / "without.csv"
    frame.drop(columns=column).to_csv(path, index=False)
    return path


def test_kernel_smoothing_and_flat_settings_need_the_right_costs(home):
    config = override(
        example_config("bank-telemarketing", home), "training", cost_settings=("1:1",)
    )
    with pytest.raises(UsageError, match="threshold_smoothing kernel smooths one threshold"):
        override(config, "evaluation", threshold_smoothing="kernel")
    constant = override(config, "costs", fn=10.0)
    with pytest.raises(UsageError, match="cost setting 1:1:flat is flat"):
        override(constant, "training", cost_settings=("1:1:flat",))


@pytest.mark.slow
def test_an_approved_per_row_model_is_the_champion_priced_on_the_same_rows(bank_run, home, capsys):
    """Approve version 1; a second run with other settings prices it on the same test rows
    with their own costs, exactly as the first run priced it."""
    from pipeline.runner import run_locally

    assert bank_run.result.status == "Succeeded", bank_run.result.failure_reason
    assert main(["registry", "approve", "bank-test", "1", "--home", str(home)]) == 0
    capsys.readouterr()
    challenger = override(bank_config(home), "training", cost_settings=("3.2:1",))
    run = run_locally(challenger, home, max_parallel=2)
    champion = run.evaluation["champion"]
    assert champion["version"] == 1 and champion["name"] == bank_run.evaluation["best"]["name"]
    assert champion["thresholds"] == {"subscribed": None}
    first = bank_run.evaluation["best"]
    assert champion["test"]["expected_cost"] == pytest.approx(first["expected_cost"], rel=1e-12)
    priced = next(m for m in bank_run.evaluation["models"] if m["name"] == first["name"])
    assert champion["test"]["confusion"] == priced["test"]["confusion"]
    ours = run.evaluation["best"]["expected_cost"]
    assert champion["difference"] == pytest.approx(ours - first["expected_cost"], abs=1e-12)
    low, high = champion["difference_ci"]
    assert low <= champion["difference"] <= high
    # The gate (ChampionPolicy cheaper) follows the difference.
    assert champion["passed"] is (champion["difference"] < 0)
    assert (run.result.status == "Succeeded") is champion["passed"]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["multi-output", "per-label"])
def test_multi_label_per_row_costs_price_each_label_row_by_row(tmp_path, strategy):
    """Yeast with a miss of each label costing 5 + 10 * Att1 (at least 1), and of Class1
    20 * Att2 (at least 2): each label gets its own rule, and every label's test cost is
    the mean of its rows' own costs."""
    from pipeline.runner import run_locally

    config = example_config("yeast", tmp_path)
    config = override(config, "costs", fn="max(1, 5 + 10 * Att1)")
    config = replace(
        config, costs=replace(config.costs, labels={"Class1": {"fn": "max(2, 20 * Att2)"}})
    )
    config = override(
        config,
        "training",
        cost_settings=("1:1", "1:1:flat"),
        num_round=15,
        cv_folds=3,
        multilabel_strategy=strategy,
    )
    config = replace(config, registry=replace(config.registry, model_package_group="yeast-rows"))
    run = run_locally(config, tmp_path, max_parallel=2)
    assert run.evaluation is not None, run.result.failure_reason
    evaluation = run.evaluation
    assert evaluation["cost_matrices"]["Class1"]["fn"] == "max(2, 20 * Att2)"
    assert evaluation["cost_matrices"]["Class2"]["fn"] == "max(1, 5 + 10 * Att1)"
    test = _split(run, tmp_path, "test")
    scores = pd.read_parquet(output(run, tmp_path, "Evaluate", "evaluation") / "scores.parquet")
    for model in evaluation["models"]:
        assert model["strategy"] == strategy
        assert set(model["rules"]) == set(evaluation["labels"]) == set(model["rule_choice"])
        total = 0.0
        for label in evaluation["labels"]:
            rows = (
                scores[
                    (scores["model"] == model["name"])
                    & (scores["split"] == "test")
                    & (scores["label_name"] == label)
                ]
                .set_index("row")
                .loc[test["__row__"].to_numpy()]
            )
            y = test[label].to_numpy() == 1
            decided = rows["decision"].to_numpy() == 1
            paid = np.where(
                decided,
                np.where(y, test[f"__cost:tp:{label}"], test[f"__cost:fp:{label}"]),
                np.where(y, test[f"__cost:fn:{label}"], test[f"__cost:tn:{label}"]),
            )
            figures = model["test"]["per_label"][label]
            assert figures["expected_cost"] == pytest.approx(paid.mean(), rel=1e-12), label
            total += paid.mean()
        assert model["test"]["expected_cost"] == pytest.approx(total, rel=1e-12)
