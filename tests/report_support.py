"""Material for the report tests: real local executions (built once per test session) and a
small synthetic multi-label execution built in memory.

The real home holds three executions of the bundled breast-cancer example with three cost
settings: one that registers (a missed cancer priced at 60,000), the same again with
MaxCostPerDecision 1 (not registered; Preprocess and the trainings come from the step cache),
and one whose Preprocess step fails (the definition run with a target column that does not
exist), so nothing after it starts and there is no evaluation.
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


_BUILT: dict[str, ReportHome] = {}


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
