"""Material for the report tests: real local executions (built once per test session) and a
small synthetic multi-label execution built in memory.

The real home holds three executions of the bundled breast-cancer example with three cost
settings: one that registers (a missed cancer priced at 60,000), the same again with
MaxCostPerDecision 1 (not registered; Preprocess and the trainings come from the step cache),
and one whose Preprocess step fails (the definition run with a target column that does not
exist), so nothing after it starts and there is no evaluation.

A second home holds one per-row execution: the bank-telemarketing example's cost matrix (a
missed subscriber costs ``max(1, 0.02463333 * 0.25 * balance)``) on a sample of its rows, with
two cost settings and few boosting rounds so that it runs in seconds.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.report.model import ReportData, StepView

SETTINGS = "1:1,20:1,200:1"
EVIL = "<script>alert('x')</script> & $\\x$ \"quoted\""


@dataclass(frozen=True)
class ReportHome:
    home: Path
    registered: str
    not_registered: str
    failed: str
    run_json: dict[str, Any]
    run_text: str


_BUILT: dict[str, Any] = {}


def _run(argv: list[str]) -> tuple[int, str]:
    from pipeline.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def report_home(root: Path) -> ReportHome:
    """Build the home once per test process (several test modules share it)."""
    if "home" in _BUILT:
        return _BUILT["home"]
    home = root / "home"
    common = ["run", "--home", str(home), "--cost-settings", SETTINGS, "--cost-fn", "60000"]
    code, text = _run([*common, "--json"])
    run_json = json.loads(text)
    assert code == 0, run_json["failure_reason"]
    code, run_text = _run([*common, "--max-cost-per-decision", "1"])
    assert code == 1, run_text
    not_registered = next(
        line.split()[1].rstrip(":")
        for line in run_text.splitlines()
        if line.startswith("execution ")
    )
    _BUILT["home"] = ReportHome(
        home=home,
        registered=run_json["execution_id"],
        not_registered=not_registered,
        failed=_failed_execution(home, run_json["execution_id"]),
        run_json=run_json,
        run_text=run_text,
    )
    return _BUILT["home"]


def _failed_execution(home: Path, source: str) -> str:
    """Run a recorded definition again with a target column that does not exist."""
    from pipeline.local.executor import LocalExecutor
    from pipeline.local.store import ExecutionStore

    store = ExecutionStore(home)
    try:
        definition = store.definition(source)
    finally:
        store.close()
    executor = LocalExecutor(home)
    try:
        result = executor.start(definition, "costpipe", {"Target": "no_such_column"})
    finally:
        executor.close()
    assert result.status == "Failed", result
    return result.execution_id


# a per-row execution ----------------------------------------------------------------------------
PER_ROW_SETTINGS = "1:1:flat,1:1"
PER_ROW_ROWS = 3000
PER_ROW_FN = "max(1, 0.02463333 * 0.25 * balance)"


@dataclass(frozen=True)
class PerRowHome:
    home: Path
    execution: str
    run_json: dict[str, Any]


def per_row_home(root: Path) -> PerRowHome:
    """A local execution under per-row costs, built once per test process: a stratified
    sample of the bank-telemarketing example's rows (its CSV needs the empulse package, which
    the examples extra installs), its formula costs, a flat and a cost-weighted setting."""
    if "per_row" in _BUILT:
        return _BUILT["per_row"]
    from pipeline.examples import example_data

    home = root / "per-row-home"
    source = pd.read_csv(example_data("bank-telemarketing", home))
    # The same share of subscribers as the whole file, from a fixed seed.
    sample = source.groupby("subscribed", group_keys=False).sample(
        frac=PER_ROW_ROWS / len(source), random_state=7
    )
    data = root / "bank-sample.csv"
    sample.sort_index().to_csv(data, index=False)
    config = root / "per-row.toml"
    config.write_text(
        f"""[data]
path = "{data}"
target = "subscribed"
positive_label = "1"
label_name = "subscribed"

[costs]
tp = 1.0
fp = 1.0
fn = "{PER_ROW_FN}"
tn = 0.0

[training]
num_round = 40
cv_folds = 3
cost_settings = "{PER_ROW_SETTINGS}"

[evaluation]
bootstrap_resamples = 200

[registry]
model_package_group = "bank-sample"
""",
        encoding="utf-8",
    )
    code, text = _run(["run", "--home", str(home), "--config", str(config), "--json"])
    run_json = json.loads(text)
    assert code in (0, 1), text
    assert run_json["status"] == "Succeeded" or run_json.get("failure_reason"), run_json
    built = PerRowHome(home=home, execution=run_json["execution_id"], run_json=run_json)
    _BUILT["per_row"] = built
    return built


# a synthetic multi-label execution ------------------------------------------------------------
def _get(step: str) -> dict[str, str]:
    return {"Get": f"Steps.{step}.ProcessingJobName"}


def small_definition(trainings: tuple[str, ...] = ("TrainA", "TrainB")) -> dict[str, Any]:
    """A definition with the bundled pipeline's shape: Preprocess, trainings, Evaluate, the
    condition and its two branches (dependencies through DependsOn)."""
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "CostFn", "Type": "Float", "DefaultValue": 50.0},
            {"Name": "Target", "Type": "String", "DefaultValue": "labels"},
        ],
        "Steps": [
            {"Name": "Preprocess", "Type": "Processing", "Arguments": {}},
            *(
                {"Name": name, "Type": "Training", "Arguments": {}, "DependsOn": ["Preprocess"]}
                for name in trainings
            ),
            {
                "Name": "Evaluate",
                "Type": "Processing",
                "Arguments": {"Models": [_get(name) for name in trainings]},
                "DependsOn": ["Preprocess"],
            },
            {
                "Name": "CheckCheapest",
                "Type": "Condition",
                "DependsOn": ["Evaluate"],
                "Arguments": {
                    "Conditions": [],
                    "IfSteps": [{"Name": "RegisterCheapest", "Type": "RegisterModel"}],
                    "ElseSteps": [{"Name": "NothingRegistered", "Type": "Fail"}],
                },
            },
        ],
    }


def multilabel_data(
    labels: tuple[str, ...] = ("toxic", "spam", "rare"), seed: int = 0
) -> ReportData:
    """Two models, several labels: per-label thresholds, scores with a label_name column."""
    rng = np.random.default_rng(seed)
    models = {"fn1-fp1": (1.0, 1.0), "fn20-fp1": (20.0, 1.0)}
    truth = {
        (split, label): (rng.random(120) < 0.15 + 0.1 * l_index).astype(np.int8)
        for split in ("validation", "test")
        for l_index, label in enumerate(labels)
    }
    rows = []
    for m_index, name in enumerate(models):
        for split in ("validation", "test"):
            for label in labels:
                y = truth[split, label]
                n = y.size
                signal = rng.normal(1.6 + 0.3 * m_index, 1.0, n) * y - rng.normal(1.0, 1.0, n)
                score = 1 / (1 + np.exp(-(signal - 1.5 * m_index)))
                rows.append(
                    pd.DataFrame(
                        {
                            "model": name,
                            "split": split,
                            "label_name": label,
                            "label": y,
                            "score": score.astype(np.float32),
                        }
                    )
                )
    scores = pd.concat(rows, ignore_index=True)
    matrix = {"tp": 1.0, "fp": 2.0, "fn": 50.0, "tn": 0.0}
    evaluation_models = []
    for m_index, (name, (fn, fp)) in enumerate(models.items()):
        thresholds = {label: 0.3 / (1 + 4 * m_index) + 0.01 * i for i, label in enumerate(labels)}
        figures = {
            "expected_cost": 5.0 - m_index,
            "confusion": {"tp": 30, "fp": 20, "fn": 5, "tn": 305},
            "precision": 0.6,
            "recall": 0.857,
            "f1": 0.706,
        }
        evaluation_models.append(
            {
                "name": name,
                "setting": {"fn_weight": fn, "fp_weight": fp},
                "model_uri": f"s3://bucket/{name}/model.tar.gz",
                "thresholds": thresholds,
                "validation": dict(figures),
                "test": {**figures, "expected_cost_ci": [3.0, 7.0], "savings": 0.2},
            }
        )
    evaluation = {
        "cost_matrix": matrix,
        "labels": list(labels),
        "models": evaluation_models,
        "baselines": {
            "all_negative": {"validation": {"expected_cost": 9.0}, "test": {"expected_cost": 9.5}},
            "all_positive": {"validation": {"expected_cost": 6.0}, "test": {"expected_cost": 6.1}},
        },
        "best": {
            "name": "fn20-fp1",
            "expected_cost": 4.0,
            "savings": 0.34,
            "baseline": {"name": "all_positive", "expected_cost": 6.1},
            "verdict": "registered fn20-fp1: 4.00 per decision on test against 6.10",
        },
        "checks": {
            "class_imbalance": {
                "ratio": 3.1,
                "threshold": 10.0,
                "counts": {"0": 300, "1": 97},
                "samples": 397,
                "evaluated": False,
                "passed": True,
            },
            "misprediction": {
                "per_class": {"0": 0.05, "1": 0.2},
                "threshold": 0.7,
                "samples": 360,
                "evaluated": False,
                "passed": True,
            },
            "passed": True,
        },
    }
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def step(name: str, kind: str, offset: float, seconds: float, **extra: Any) -> StepView:
        began = start + timedelta(seconds=offset)
        return StepView(
            name=name,
            type=kind,
            status=extra.pop("status", "Succeeded"),
            started=began,
            ended=began + timedelta(seconds=seconds),
            **extra,
        )

    steps = [
        step("Preprocess", "Processing", 0, 4.2, cache_source="abcdef123456"),
        step("TrainA", "Training", 5, 61),
        step("TrainB", "Training", 5, 75.5),
        step("Evaluate", "Processing", 81, 9),
        step("CheckCheapest", "Condition", 90, 0.01, outcome="True"),
        step("RegisterCheapest", "RegisterModel", 90.1, 0.2),
    ]
    return ReportData(
        source="local",
        execution={
            "execution_id": "mlsynthetic01",
            "arn": "arn:aws:sagemaker:local:000000000000:pipeline/costpipe/execution/mlsynthetic01",
            "pipeline": "costpipe",
            "status": "Succeeded",
            "parameters": {"CostFn": 50.0, "Target": "labels"},
            "failure_reason": None,
            "created": start.isoformat(),
            "ended": (start + timedelta(seconds=91)).isoformat(),
        },
        steps=steps,
        definition=small_definition(),
        evaluation=evaluation,
        scores=scores,
        registered={
            "arn": "arn:aws:sagemaker:local:000000000000:model-package/g/1",
            "group": "g",
            "version": 1,
            "approval_status": "PendingManualApproval",
        },
    )


def per_row_multilabel_data(
    labels: tuple[str, ...] = ("toxic", "spam"), seed: int = 1, formula: str = "0.5 * amount"
) -> ReportData:
    """:func:`multilabel_data` made per-row: a formula cost for a missed positive (``formula``,
    shown as written), the first model deciding by a shift, the second by Platt-calibrated
    scores, and scores.parquet carrying each row's source row, decision and four costs. Each
    decision is the rule's on the stored scores, so the figures can be recomputed exactly;
    evaluation.json has no per-label figures (the report computes them from the rows)."""
    from steps.cost_expressions import RowCosts
    from steps.rules import MinimumRiskRule

    data = multilabel_data(labels=labels, seed=seed)
    evaluation = data.evaluation
    assert evaluation is not None and data.scores is not None
    rng = np.random.default_rng(seed)
    entries = {"tp": 1.0, "fp": 1.0, "fn": formula, "tn": 0.0}
    evaluation["cost_matrix"] = dict(entries)
    evaluation["cost_matrices"] = {label: dict(entries) for label in labels}
    evaluation["costs"] = {
        "per_row": True,
        "default": dict(entries),
        "entries": {label: dict(entries) for label in labels},
        "columns": ["amount"],
    }
    rules = [
        MinimumRiskRule(0.35),
        MinimumRiskRule(0.0, {"method": "platt", "a": 1.0, "b": 0.0}),
    ]
    choices = ["shift", "platt"]
    for model, rule, choice in zip(evaluation["models"], rules, choices, strict=True):
        model["thresholds"] = dict.fromkeys(labels)
        model["rules"] = {label: rule.as_dict() for label in labels}
        model["rule_choice"] = {
            label: {
                "choice": choice,
                "cross_validated_costs": {"shift": 0.61, "isotonic": 0.64, "platt": 0.59},
                "folds": 5,
            }
            for label in labels
        }
        model["selection_cost"] = 0.61 * len(labels)
    scores = data.scores.copy()
    # Each split's rows share source rows and amounts across models and labels.
    amounts = {}
    for split in ("validation", "test"):
        n = int(((scores["split"] == split) & (scores["model"] == "fn1-fp1")).sum()) // len(labels)
        amounts[split] = (
            np.arange(n) * 7 + (0 if split == "test" else 1000),
            rng.lognormal(2, 1, n),
        )
    frames = []
    for (name, split, _label), part in scores.groupby(["model", "split", "label_name"], sort=False):
        part = part.copy()
        rows, amount = amounts[split]
        costs = RowCosts(
            tp=np.ones(len(part)),
            fp=np.ones(len(part)),
            fn=np.maximum(1.0, 0.5 * amount),
            tn=np.zeros(len(part)),
        )
        rule = rules[[m["name"] for m in evaluation["models"]].index(name)]
        part["row"] = rows
        part["decision"] = rule.decide_scores(part["score"].to_numpy(np.float64), costs).astype(
            np.int8
        )
        for outcome in ("tp", "fp", "fn", "tn"):
            part[f"cost_{outcome}"] = getattr(costs, outcome)
        frames.append(part)
    data.scores = pd.concat(frames, ignore_index=True)
    return data
