"""Evaluate job: tune every model's threshold, price every model, pick the cheapest.

For each model: score the validation split, choose the threshold that minimises the expected
cost there (or maximises F1, by option), apply it to the test split, and report the test
confusion counts, expected cost with a bootstrap interval, savings against the best trivial
policy and the usual metrics. The cheapest model *by validation cost* is the best one: the test
split is for reporting, never for choosing. Writes ``evaluation.json`` (the contract the
condition and the registry read) and ``scores.parquet`` (every model's scores, for the report).

Container conventions: splits under ``/opt/ml/processing/input/{validation,test,profile}``, one
folder per model under ``/opt/ml/processing/input/models/<name>`` holding ``model.tar.gz``.
Run by hand::

    python -m steps.evaluate --validation out/validation --test out/test --profile out/profile \\
        --models-dir models/ --model fn200-fp1=s3://bucket/fn200/model.tar.gz \\
        --cost-tp 35280 --cost-fp 1287.67 --cost-fn 252000 --cost-tn 0 --output eval/
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from steps.checks import (
    DEFAULT_SAMPLES,
    DEFAULT_THRESHOLD_MISPREDICTION,
    misprediction_check,
)
from steps.costs import (
    ConfusionCounts,
    CostMatrix,
    bootstrap_cost_interval,
    resample_counts,
    savings,
)
from steps.data import apply_schema, labels_from_frame
from steps.errors import InputError, run_entry_point
from steps.metrics import classification_metrics, confusion_counts, decide, rates
from steps.model_io import LoadedModel, load_model, write_json
from steps.objective import sigmoid
from steps.preprocess_io import read_profile, read_split
from steps.sweep import ThresholdSweep, cost_sweep, f1_sweep

PROCESSING_ROOT = Path("/opt/ml/processing")
THRESHOLD_OBJECTIVES = ("cost", "f1")
EVALUATION_FILE = "evaluation.json"
SCORES_FILE = "scores.parquet"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    inputs = PROCESSING_ROOT / "input"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", type=Path, default=inputs / "validation")
    parser.add_argument("--test", type=Path, default=inputs / "test")
    parser.add_argument("--profile", type=Path, default=inputs / "profile")
    parser.add_argument("--models-dir", type=Path, default=inputs / "models")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=URI",
        help="a model to evaluate: its folder name under --models-dir and the URI to register",
    )
    for outcome in ("tp", "fp", "fn", "tn"):
        parser.add_argument(f"--cost-{outcome}", required=True)
    parser.add_argument("--max-cost-per-decision", type=float, default=math.inf)
    parser.add_argument("--threshold-objective", choices=THRESHOLD_OBJECTIVES, default="cost")
    parser.add_argument(
        "--threshold-misprediction", type=float, default=DEFAULT_THRESHOLD_MISPREDICTION
    )
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--bootstrap-resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=PROCESSING_ROOT / "output" / "evaluation")
    return parser.parse_args(argv)


def parse_model_arguments(values: Sequence[str]) -> List[Tuple[str, str]]:
    """``NAME=URI`` pairs, in order; names must be unique."""
    if not values:
        raise InputError("no model to evaluate: pass --model NAME=URI at least once")
    models: List[Tuple[str, str]] = []
    for value in values:
        name, separator, uri = value.partition("=")
        if not separator or not name:
            raise InputError(
                f"--model {value!r} is not NAME=URI: e.g. fn200-fp1=s3://b/model.tar.gz"
            )
        if name in (existing for existing, _ in models):
            raise InputError(f"model '{name}' is given twice: give each model once")
        models.append((name, uri))
    return models


def predict_scores(booster: Any, features: pd.DataFrame) -> np.ndarray:
    """Probabilities from raw margins, the same way for built-in and custom objectives."""
    import xgboost as xgb

    matrix = xgb.DMatrix(features, enable_categorical=True)
    return sigmoid(booster.predict(matrix, output_margin=True))


def chosen_threshold(sweep: ThresholdSweep) -> float:
    """Halfway between the last score called positive and the next one below it.

    Any threshold in that gap makes the same validation decisions; its middle leaves new
    cases near the cut the most room on both sides. Scores are probabilities, so the gap above
    the highest score ends at 1 and the one below the lowest at 0.
    """
    low, high = sweep.best_interval
    high = min(high, 1.0)
    low = max(low, 0.0)
    if high <= low:  # everything negative and some score is exactly 1
        return float(np.nextafter(1.0, 2.0))
    return float((low + high) / 2)


def split_figures(
    y: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    matrix: CostMatrix,
    with_interval: bool,
    args: argparse.Namespace,
) -> Dict[str, Any]:
    counts = confusion_counts(y, decide(scores, threshold))
    figures: Dict[str, Any] = {"expected_cost": matrix.expected_cost(counts)}
    if with_interval:
        low, high = bootstrap_cost_interval(
            matrix, counts, n_resamples=args.bootstrap_resamples, seed=args.seed
        )
        figures["expected_cost_ci"] = [low, high]
    baselines = matrix.baseline_costs(counts.positives, counts.negatives)
    figures["savings"] = savings(figures["expected_cost"], min(baselines.values()))
    figures["confusion"] = counts.as_dict()
    figures.update(classification_metrics(y, scores, threshold))
    figures.update(rates(counts))
    return figures


def tuning_scores(
    model: LoadedModel, splits: Dict[str, Tuple[pd.DataFrame, np.ndarray]]
) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    """Labels and scores the threshold is tuned on, and how they were obtained.

    The model's out-of-fold scores when training cross-validated (every training and
    validation row, each scored by a fold model that never saw it); otherwise the final
    model's scores on the validation split.
    """
    if model.out_of_fold is not None:
        oof = model.out_of_fold
        method = {
            "method": "cross-validation",
            "folds": model.meta.get("cv_folds"),
            "rows": len(oof),
        }
        return oof["label"].to_numpy().astype(np.int8), oof["score"].to_numpy(), method
    frame, labels = splits["validation"]
    scores = predict_scores(model.booster, apply_schema(frame, model.meta["schema"]))
    return labels, scores, {"method": "validation", "rows": int(labels.size)}


def evaluate_model(
    name: str,
    uri: str,
    model: LoadedModel,
    splits: Dict[str, Tuple[pd.DataFrame, np.ndarray]],
    matrix: CostMatrix,
    args: argparse.Namespace,
) -> Tuple[Dict[str, Any], Dict[str, Tuple[np.ndarray, np.ndarray]]]:
    """Tune the threshold, then price the model; returns its figures and its scores."""
    schema = model.meta["schema"]
    y_tune, tune_scores, method = tuning_scores(model, splits)
    test_frame, y_test = splits["test"]
    test_scores = predict_scores(model.booster, apply_schema(test_frame, schema))
    if args.threshold_objective == "cost":
        sweep = cost_sweep(y_tune, tune_scores, matrix)
    else:
        sweep = f1_sweep(y_tune, tune_scores)
    threshold = chosen_threshold(sweep)
    label = schema["labels"][0]
    result = {
        "name": name,
        "setting": model.meta["setting"],
        "model_uri": uri,
        "thresholds": {label: threshold},
        "threshold_objective": args.threshold_objective,
        "threshold_data": method,
        "validation": split_figures(y_tune, tune_scores, threshold, matrix, False, args),
        "test": split_figures(y_test, test_scores, threshold, matrix, True, args),
    }
    return result, {"validation": (y_tune, tune_scores), "test": (y_test, test_scores)}


def baseline_figures(
    splits: Dict[str, Tuple[pd.DataFrame, np.ndarray]], matrix: CostMatrix
) -> Dict[str, Any]:
    out: Dict[str, Dict[str, Any]] = {"all_negative": {}, "all_positive": {}}
    for split, (_, y) in splits.items():
        positives = int(y.sum())
        costs = matrix.baseline_costs(positives, int(y.size) - positives)
        for policy in out:
            out[policy][split] = {"expected_cost": costs[policy]}
    return out


def sagemaker_model_quality(
    best: Dict[str, Any], args: argparse.Namespace, matrix: CostMatrix
) -> Dict[str, Any]:
    """The best model's test figures in SageMaker's model-quality format (Studio shows these).

    Standard deviations come from the same multinomial bootstrap as the cost interval.
    """
    test = best["test"]
    counts = ConfusionCounts(**test["confusion"])
    draws = resample_counts(counts, args.bootstrap_resamples, args.seed).astype(float)
    tp, fp, fn, tn = draws.T
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = {
            "accuracy": (tp + tn) / counts.total,
            "precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
            "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            "expected_cost": draws
            @ np.array([matrix.tp, matrix.fp, matrix.fn, matrix.tn])
            / counts.total,
        }

    def metric(value: Optional[float], name: str) -> Dict[str, float]:
        spread = float(np.std(samples[name])) if name in samples else 0.0
        return {"value": float(value) if value is not None else 0.0, "standard_deviation": spread}

    metrics = {
        "accuracy": metric(test["accuracy"], "accuracy"),
        "precision": metric(test["precision"], "precision"),
        "recall": metric(test["recall"], "recall"),
        "f1": metric(test["f1"], "f1"),
        "expected_cost": metric(test["expected_cost"], "expected_cost"),
        "confusion_matrix": {
            "0": {"0": counts.tn, "1": counts.fp},
            "1": {"0": counts.fn, "1": counts.tp},
        },
    }
    if test["roc_auc"] is not None:
        metrics["auc"] = metric(test["roc_auc"], "auc")
    for name in (
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
    ):
        if test[name] is not None:
            metrics[name] = metric(test[name], name)
    return metrics


def registry_metadata(best: Dict[str, Any], matrix: CostMatrix, digest: str) -> Dict[str, str]:
    """Text values for the model package's CustomerMetadataProperties (strings only there)."""
    label, threshold = next(iter(best["thresholds"].items()))
    return {
        "threshold": repr(threshold),
        "label": str(label),
        "cost_setting": best["name"],
        "fn_weight": repr(best["setting"]["fn_weight"]),
        "fp_weight": repr(best["setting"]["fp_weight"]),
        "cost_matrix": ",".join(f"{k}={v!r}" for k, v in matrix.as_dict().items()),
        "expected_cost": repr(best["test"]["expected_cost"]),
        "data_digest": digest,
    }


def verdict(
    best: Dict[str, Any],
    baseline_name: str,
    baseline_cost: float,
    max_cost: float,
    checks_passed: bool,
) -> str:
    cost = best["test"]["expected_cost"]
    reasons = []
    if not cost < baseline_cost:
        reasons.append(
            f"cheapest model {best['name']} costs {cost:,.2f} per decision on test, not below "
            f"the best trivial policy ({baseline_name}: {baseline_cost:,.2f})"
        )
    if not cost <= max_cost:
        reasons.append(
            f"cheapest model {best['name']} costs {cost:,.2f} per decision on test, above "
            f"MaxCostPerDecision {max_cost:,.2f}"
        )
    if not checks_passed:
        reasons.append("the class-imbalance checks failed (see checks in evaluation.json)")
    if reasons:
        return "; ".join(reasons)
    return (
        f"{best['name']} costs {cost:,.2f} per decision on test against "
        f"{baseline_cost:,.2f} for {baseline_name}"
    )


def evaluate(args: argparse.Namespace) -> Tuple[Dict[str, Any], pd.DataFrame]:
    matrix = CostMatrix.from_mapping(
        {outcome: getattr(args, f"cost_{outcome}") for outcome in ("tp", "fp", "fn", "tn")}
    )
    models = parse_model_arguments(args.model)
    report = read_profile(args.profile)
    schema = report["schema"]
    splits = {}
    for split, folder in (("validation", args.validation), ("test", args.test)):
        frame = read_split(folder, split)
        splits[split] = (frame, labels_from_frame(frame, schema))
    results = []
    score_frames = []
    test_decisions: Dict[str, np.ndarray] = {}
    for name, uri in models:
        model = load_model(args.models_dir / name)
        result, scores = evaluate_model(name, uri, model, splits, matrix, args)
        results.append(result)
        threshold = next(iter(result["thresholds"].values()))
        test_decisions[name] = decide(scores["test"][1], threshold)
        for split, (labels, values) in scores.items():
            score_frames.append(
                pd.DataFrame(
                    {
                        "model": name,
                        "split": split,
                        "label": labels,
                        "score": values.astype(np.float32),
                    }
                )
            )
    # The cheapest by validation cost; ties go to the first model listed.
    best = min(results, key=lambda result: result["validation"]["expected_cost"])
    baselines = baseline_figures(splits, matrix)
    baseline_name = min(baselines, key=lambda policy: baselines[policy]["test"]["expected_cost"])
    baseline_cost = baselines[baseline_name]["test"]["expected_cost"]
    y_test = splits["test"][1]
    misprediction = misprediction_check(
        y_test, test_decisions[best["name"]], args.threshold_misprediction, args.samples
    )
    imbalance = report["class_imbalance"]
    checks_passed = bool(imbalance["passed"] and misprediction["passed"])
    cost = best["test"]["expected_cost"]
    beats = bool(cost < baseline_cost)
    within = bool(cost <= args.max_cost_per_decision)
    evaluation = {
        "cost_matrix": matrix.as_dict(),
        "labels": schema["labels"],
        "threshold_objective": args.threshold_objective,
        "models": results,
        "baselines": baselines,
        "best": {
            "name": best["name"],
            "setting": best["setting"],
            "model_uri": best["model_uri"],
            "thresholds": best["thresholds"],
            "expected_cost": cost,
            "expected_cost_ci": best["test"]["expected_cost_ci"],
            "validation_expected_cost": best["validation"]["expected_cost"],
            "threshold_data": best["threshold_data"],
            "savings": best["test"]["savings"],
            "baseline": {"name": baseline_name, "expected_cost": baseline_cost},
            "beats_baseline": beats,
            "max_cost_per_decision": _finite_or_none(args.max_cost_per_decision),
            "within_max_cost": within,
            "registrable": bool(beats and within and checks_passed),
            "verdict": verdict(
                best, baseline_name, baseline_cost, args.max_cost_per_decision, checks_passed
            ),
            "metadata": registry_metadata(best, matrix, report["data"]["digest"]),
        },
        "checks": {
            "class_imbalance": imbalance,
            "misprediction": misprediction,
            "passed": checks_passed,
        },
        "data": report["data"],
        "splits": report["splits"],
        "binary_classification_metrics": sagemaker_model_quality(best, args, matrix),
    }
    return evaluation, pd.concat(score_frames, ignore_index=True)


def _finite_or_none(value: float) -> Optional[float]:
    return float(value) if math.isfinite(value) else None


def write_outputs(evaluation: Dict[str, Any], scores: pd.DataFrame, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=output, prefix=".scores-", suffix=".tmp", delete=False
    ) as handle:
        temporary = Path(handle.name)
    try:
        scores.to_parquet(temporary, index=False)
        os.replace(temporary, output / SCORES_FILE)
    finally:
        temporary.unlink(missing_ok=True)
    write_json(output / EVALUATION_FILE, evaluation)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    evaluation, scores = evaluate(args)
    write_outputs(evaluation, scores, args.output)
    best = evaluation["best"]
    print(f"evaluate: {len(evaluation['models'])} models; best {best['name']}; {best['verdict']}")


if __name__ == "__main__":
    run_entry_point(main)
