"""Evaluate job: tune every model's decision rule, price every model, pick the cheapest.

For each model and label: take scores the model never trained on (its out-of-fold scores, or
its scores on the validation split) and tune the rule there: with constant costs the threshold
that minimises that label's expected cost (or maximises F1, by option); with per-row costs the
minimum-risk rule, its shift or calibration chosen by cross-validated cost (``steps.rules``).
Apply it to the test split, and report the test confusion counts, expected cost with a
bootstrap interval, savings against the best trivial policy and the usual metrics. Decisions
are priced with the cost matrix, or under per-row costs with each row's own costs (the splits'
cost columns, which Preprocess computed from the cost entries recorded in profile.json). With
several labels the economic cost of a row is the sum over its labels. The cheapest model *by
tuning cost* is the best one (under per-row costs, by its rule's cross-validated cost): the
test split is for reporting, never for choosing. Writes ``evaluation.json`` (the contract the
condition and the registry read) and ``scores.parquet`` (every model's scores, for the
report), and the best model's decision artifact (``steps.artifact``: boosters, input
transforms, thresholds or per-row rules, cost matrices, input schema) as ``model.tar.gz`` in
the ``artifact`` output. ``best.model_uri`` names that artifact (its S3 address, read from the
job's own configuration, ``/opt/ml/config/processingjobconfig.json``, so no
execution-specific argument breaks step caching; run by hand, its local path), so the registry
serves exactly what was priced; ``best.training_model_uri`` and ``models[].model_uri`` name the
training jobs' outputs.

Container conventions: splits under ``/opt/ml/processing/input/{validation,test,profile}``, one
folder per model under ``/opt/ml/processing/input/models/<name>`` holding ``model.tar.gz``.
Run by hand::

    python -m steps.evaluate --validation out/validation --test out/test --profile out/profile \\
        --models-dir models/ --model fn200-fp1=s3://bucket/fn200/model.tar.gz \\
        --output eval/ --artifact-output artifact/
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import hamming_loss, log_loss

from steps.artifact import check_document, decision_document, write_artifact
from steps.champion import (
    comparison_text,
    find_champion,
    gate_passes,
    paired_difference,
    price_champion,
)
from steps.checks import (
    DEFAULT_SAMPLES,
    DEFAULT_THRESHOLD_MISPREDICTION,
    multilabel_misprediction_check,
)
from steps.cost_expressions import CostSpec, RowCosts, summary
from steps.costs import (
    OUTCOMES,
    ConfusionCounts,
    CostMatrix,
    resample_counts,
    savings,
)
from steps.data import ROW_COLUMN, labels_from_frame
from steps.errors import InputError, run_entry_point
from steps.inputs import input_schema
from steps.metrics import confusion_counts, decide, decision_metrics, rates
from steps.model_io import ARCHIVE_FILE, LoadedModel, load_model, write_json
from steps.options import (
    CHAMPION_OFF,
    CHAMPION_POLICIES,
    CHAMPION_SIGNIFICANT,
    THRESHOLD_OBJECTIVES,
    THRESHOLD_SMOOTHINGS,
)
from steps.preprocess_io import read_profile, read_split
from steps.pricing import Pricing, baseline_costs, price, row_costs, split_pricing
from steps.rules import Rule, ThresholdRule, choose_rule, rule_from_dict
from steps.smoothing import smoothed_cost
from steps.sweep import ThresholdSweep, cost_sweep, f1_sweep

PROCESSING_ROOT = Path("/opt/ml/processing")
EVALUATION_FILE = "evaluation.json"
SCORES_FILE = "scores.parquet"
ARTIFACT_OUTPUT = "artifact"
#: Longest value SageMaker accepts in a model package's CustomerMetadataProperties.
METADATA_VALUE_LIMIT = 256

Splits = dict[str, tuple[pd.DataFrame, np.ndarray]]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
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
    parser.add_argument("--max-cost-per-decision", type=float, default=math.inf)
    parser.add_argument("--threshold-objective", choices=THRESHOLD_OBJECTIVES, default="cost")
    parser.add_argument("--threshold-smoothing", choices=THRESHOLD_SMOOTHINGS, default="none")
    parser.add_argument(
        "--threshold-misprediction", type=float, default=DEFAULT_THRESHOLD_MISPREDICTION
    )
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--bootstrap-resamples", type=int, default=2000)
    parser.add_argument(
        "--model-package-group",
        default="",
        help="the model package group whose latest Approved version is the champion",
    )
    parser.add_argument(
        "--champion-policy",
        choices=CHAMPION_POLICIES,
        default=CHAMPION_OFF,
        help="when the best model beats the champion: cheaper on test, significantly "
        "cheaper (paired 95%% interval below 0), or off (no comparison)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=PROCESSING_ROOT / "output" / "evaluation")
    parser.add_argument(
        "--artifact-output",
        type=Path,
        default=PROCESSING_ROOT / "output" / ARTIFACT_OUTPUT,
        help="folder for the best model's decision artifact (model.tar.gz)",
    )
    parser.add_argument(
        "--job-config",
        type=Path,
        default=Path("/opt/ml/config/processingjobconfig.json"),
        help="the processing job's configuration, which names where the artifact output goes",
    )
    return parser.parse_args(argv)


def parse_model_arguments(values: Sequence[str]) -> list[tuple[str, str]]:
    """``NAME=URI`` pairs, in order; names must be unique."""
    if not values:
        raise InputError("no model to evaluate: pass --model NAME=URI at least once")
    models: list[tuple[str, str]] = []
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


def label_costs(profile: dict[str, Any]) -> dict[str, CostSpec]:
    """Each label's cost entries, as Preprocess parsed and checked them (profile.json
    ``costs``): one place reads the cost parameters, so Evaluate prices what Preprocess wrote."""
    record = profile.get("costs")
    if not record:
        raise InputError(
            "profile.json records no costs: run the Preprocess step of this costpipe version"
        )
    return {label: CostSpec.parse(entries, label) for label, entries in record["entries"].items()}


def chosen_threshold(sweep: ThresholdSweep) -> float:
    """Halfway between the last score called positive and the next one below it.

    Any threshold in that gap makes the same tuning decisions; its middle leaves new cases near
    the cut the most room on both sides. Scores are probabilities, so the gap above the highest
    score ends at 1 and the one below the lowest at 0.
    """
    low, high = sweep.best_interval
    high = min(high, 1.0)
    low = max(low, 0.0)
    if high <= low:  # everything negative and some score is exactly 1
        return float(np.nextafter(1.0, 2.0))
    return float((low + high) / 2)


def tuned_threshold(
    y: np.ndarray, scores: np.ndarray, matrix: CostMatrix, args: argparse.Namespace
) -> tuple[float, dict[str, Any] | None]:
    """One label's threshold and, when it came from smoothed distributions, how.

    F1 thresholds and ``--threshold-smoothing none`` use the empirical sweep; so does a label
    whose tuning scores give a class fewer than two distinct values (nothing to smooth).
    """
    if args.threshold_objective == "f1":
        return chosen_threshold(f1_sweep(y, scores)), None
    if args.threshold_smoothing == "kernel":
        curve = smoothed_cost(y, scores, matrix)
        if curve is not None:
            return curve.best_threshold, {
                "method": "kernel",
                "smoothed_cost": curve.best_cost,
                "bandwidths": {"negative": curve.bandwidths[0], "positive": curve.bandwidths[1]},
            }
    return chosen_threshold(cost_sweep(y, scores, matrix)), None


def tuning_scores(
    model: LoadedModel, splits: Splits, pricing: dict[str, Pricing]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], Pricing, np.ndarray]:
    """Labels and scores (rows x labels) the thresholds are tuned on, how they were made, and
    how their decisions are priced.

    The model's out-of-fold scores when it trained cross-validated (every training and
    validation row, each scored by a fold model that never saw it; under per-row costs each
    carries its costs); otherwise the final model's scores on the validation split.
    """
    names = model.model.schema["labels"]
    if model.out_of_fold is not None:
        oof = model.out_of_fold
        wide_labels = oof.pivot(index=ROW_COLUMN, columns="label_name", values="label")[names]
        wide_scores = oof.pivot(index=ROW_COLUMN, columns="label_name", values="score")[names]
        method = {
            "method": "cross-validation",
            "folds": model.meta.get("cv_folds"),
            "rows": len(wide_labels),
        }
        tuning: Pricing = pricing["validation"]
        if any(isinstance(cost, RowCosts) for cost in tuning):
            if "cost_fn" not in oof.columns:
                raise InputError(
                    "the out-of-fold scores carry no per-row costs: train the model again with "
                    "this costpipe version"
                )
            wide = {
                outcome: oof.pivot(index=ROW_COLUMN, columns="label_name", values=f"cost_{outcome}")
                for outcome in OUTCOMES
            }
            tuning = [
                RowCosts(*(wide[outcome][name].to_numpy(np.float64) for outcome in OUTCOMES))
                for name in names
            ]
        rows = wide_labels.index.to_numpy()
        return wide_labels.to_numpy().astype(np.int8), wide_scores.to_numpy(), method, tuning, rows
    frame, labels = splits["validation"]
    return (
        labels,
        model.model.predict_proba(frame),
        {"method": "validation", "rows": int(labels.shape[0])},
        pricing["validation"],
        _row_numbers(frame),
    )


def _row_numbers(frame: pd.DataFrame) -> np.ndarray:
    """Each split row's position in its source file (``__row__``), or its position here."""
    if ROW_COLUMN in frame:
        return frame[ROW_COLUMN].to_numpy()
    return np.arange(len(frame))


def label_figures(
    y: np.ndarray, scores: np.ndarray, threshold: float, matrix: CostMatrix
) -> dict[str, Any]:
    """One label's figures at its threshold: cost, savings, confusion, metrics, rates."""
    return decision_figures(y, scores, decide(scores, threshold), matrix)


def decision_figures(
    y: np.ndarray, scores: np.ndarray, decisions: np.ndarray, cost: CostMatrix | RowCosts
) -> dict[str, Any]:
    """One label's figures for its decisions: cost, savings, confusion, metrics, rates."""
    counts = confusion_counts(y, decisions)
    if isinstance(cost, RowCosts):
        expected = float(price(cost, y, decisions).mean())
    else:
        expected = cost.expected_cost(counts)
    figures: dict[str, Any] = {"expected_cost": expected}
    baselines = baseline_costs(cost, y)
    figures["savings"] = savings(figures["expected_cost"], min(baselines.values()))
    figures["confusion"] = counts.as_dict()
    figures.update(decision_metrics(y, scores, decisions))
    figures.update(rates(counts))
    return figures


#: Bootstrap resamples drawn at a time: bounds the memory of a resample matrix over many
#: distinct row costs (per-row costs make most rows distinct). RandomState draws the same
#: numbers in chunks as in one call.
_DRAW_CHUNK = 200


def cost_draws(
    Y: np.ndarray, D: np.ndarray, pricing: Pricing, n_resamples: int, seed: int
) -> np.ndarray:
    """Bootstrap resamples of the expected cost per row.

    Resampling rows only changes how often each distinct row cost occurs, so each resample is
    one multinomial draw over the distinct costs (for one label with a constant matrix: the
    four confusion cells).
    """
    if Y.shape[1] == 1 and isinstance(pricing[0], CostMatrix):
        counts = confusion_counts(Y[:, 0], D[:, 0])
        matrix = pricing[0]
        draws = resample_counts(counts, n_resamples, seed)
        return draws @ np.array([matrix.tp, matrix.fp, matrix.fn, matrix.tn]) / counts.total
    values, counts = np.unique(row_costs(Y, D, pricing), return_counts=True)
    rng = np.random.RandomState(seed)  # stable across NumPy versions, as in steps.costs
    means = []
    for start in range(0, n_resamples, _DRAW_CHUNK):
        size = min(_DRAW_CHUNK, n_resamples - start)
        draws = rng.multinomial(counts.sum(), counts / counts.sum(), size=size)
        means.append(draws @ values / counts.sum())
    return np.concatenate(means)


def decisions_at(S: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """0/1 decisions (rows x labels) of scores at one threshold per label."""
    return np.column_stack([decide(S[:, i], t) for i, t in enumerate(thresholds)])


def split_figures(
    Y: np.ndarray,
    S: np.ndarray,
    D: np.ndarray,
    pricing: Pricing,
    names: list[str],
    args: argparse.Namespace,
    with_interval: bool,
) -> dict[str, Any]:
    """All figures of one split's decisions ``D``. One label: its figures at the top level (the
    binary contract). Several: totals over labels, micro and macro averages, per-label figures.
    """
    per_label = {
        name: decision_figures(Y[:, i], S[:, i], D[:, i], pricing[i])
        for i, name in enumerate(names)
    }
    if len(names) == 1:
        figures = dict(per_label[names[0]])
    else:
        total = ConfusionCounts(
            **{k: sum(f["confusion"][k] for f in per_label.values()) for k in OUTCOMES}
        )
        precision = total.tp / (total.tp + total.fp) if total.tp + total.fp else 0.0
        recall = total.tp / total.positives if total.positives else 0.0
        micro_f1 = 2 * total.tp / (2 * total.tp + total.fp + total.fn) if total.tp else 0.0
        aucs = [f["roc_auc"] for f in per_label.values() if f["roc_auc"] is not None]
        cost = float(sum(f["expected_cost"] for f in per_label.values()))
        baseline = sum(min(baseline_costs(c, Y[:, i]).values()) for i, c in enumerate(pricing))
        figures = {
            "expected_cost": cost,
            "savings": savings(cost, baseline),
            "confusion": total.as_dict(),
            "accuracy": float(np.mean(D == Y)),
            "subset_accuracy": float(np.mean(np.all(D == Y, axis=1))),
            "precision": precision,
            "recall": recall,
            "f1": micro_f1,
            "micro_f1": micro_f1,
            "macro_f1": float(np.mean([f["f1"] for f in per_label.values()])),
            "roc_auc": float(np.mean(aucs)) if aucs else None,
            "brier": float(np.mean((S - Y) ** 2)),
            "log_loss": float(
                log_loss(Y.ravel(), np.clip(S.ravel(), 1e-15, 1 - 1e-15), labels=[0, 1])
            ),
            "hamming_loss": float(hamming_loss(Y, D)),
        }
        figures.update(rates(total))
    if with_interval:
        draws = cost_draws(Y, D, pricing, args.bootstrap_resamples, args.seed)
        low, high = np.quantile(draws, [0.025, 0.975])
        figures["expected_cost_ci"] = [float(low), float(high)]
        figures["expected_cost_sd"] = float(np.std(draws))
    figures["per_label"] = per_label
    return figures


@dataclass
class Priced:
    """One model's tuning and test rows as Evaluate priced them: labels, decision scores
    (calibrated when its rule calibrates), decisions, how they are priced, source rows."""

    Y: np.ndarray
    S: np.ndarray
    D: np.ndarray
    pricing: Pricing
    rows: np.ndarray


def tuned_rule(
    y: np.ndarray,
    scores: np.ndarray,
    cost: CostMatrix | RowCosts,
    args: argparse.Namespace,
) -> tuple[Rule, dict[str, Any] | None, dict[str, Any] | None]:
    """One label's decision rule, how a smoothed threshold was found (or None) and, under
    per-row costs, the cross-validated choice among the rules (or None).

    F1 gives a threshold whatever the costs; otherwise constant costs give the cost-optimal
    threshold (``tuned_threshold``) and per-row costs the minimum-risk rule chosen by
    cross-validated cost (``steps.rules.choose_rule``).
    """
    if args.threshold_objective == "f1" or isinstance(cost, CostMatrix):
        matrix = cost if isinstance(cost, CostMatrix) else None
        threshold, how = tuned_threshold(y, scores, matrix, args)
        return ThresholdRule(threshold), how, None
    rule, record = choose_rule(y, scores, cost, seed=args.seed)
    return rule, None, record


def _decide(rule: Rule, scores: np.ndarray, cost: CostMatrix | RowCosts) -> np.ndarray:
    return rule.decide(scores, cost if isinstance(cost, RowCosts) else None)


def evaluate_model(
    name: str,
    uri: str,
    loaded: LoadedModel,
    splits: Splits,
    pricing: dict[str, Pricing],
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Priced]]:
    """Tune each label's rule, then price the model; returns its figures and priced rows."""
    names = loaded.model.schema["labels"]
    Y_tune, S_tune, method, tune_pricing, tune_rows = tuning_scores(loaded, splits, pricing)
    test_frame, Y_test = splits["test"]
    S_test = loaded.model.predict_proba(test_frame)
    rules: list[Rule] = []
    smoothing = {}
    choices = {}
    for index, label in enumerate(names):
        rule, how, record = tuned_rule(
            Y_tune[:, index], S_tune[:, index], tune_pricing[index], args
        )
        rules.append(rule)
        smoothing[label] = how
        if record is not None:
            choices[label] = record
    priced = {}
    for split, Y, S, split_pricing_, rows in (
        ("validation", Y_tune, S_tune, tune_pricing, tune_rows),
        ("test", Y_test, S_test, pricing["test"], _row_numbers(test_frame)),
    ):
        decided = np.column_stack(
            [_decide(rule, S[:, i], split_pricing_[i]) for i, rule in enumerate(rules)]
        )
        decision_scores = np.column_stack(
            [rule.decision_scores(S[:, i]) for i, rule in enumerate(rules)]
        )
        priced[split] = Priced(Y, decision_scores, decided, split_pricing_, rows)
    figures = {
        split: split_figures(p.Y, p.S, p.D, p.pricing, names, args, split == "test")
        for split, p in priced.items()
    }
    per_row = bool(choices)
    result = {
        "name": name,
        "setting": loaded.meta["setting"],
        "strategy": loaded.model.strategy,
        "model_uri": uri,
        # A threshold per label; none under the per-row rule (each row has its own).
        "thresholds": {
            label: rule.threshold if isinstance(rule, ThresholdRule) else None
            for label, rule in zip(names, rules, strict=True)
        },
        "rules": {label: rule.as_dict() for label, rule in zip(names, rules, strict=True)},
        "threshold_objective": args.threshold_objective,
        "threshold_data": method,
        "threshold_smoothing": smoothing,
        "validation": figures["validation"],
        "test": figures["test"],
    }
    if per_row:
        result["rule_choice"] = choices
        # The model is chosen by what its rules cost on tuning rows they were not fitted on.
        result["selection_cost"] = float(
            sum(
                choices[label]["cross_validated_costs"][choices[label]["choice"]]
                if choices[label]["cross_validated_costs"] is not None
                else figures["validation"]["per_label"][label]["expected_cost"]
                for label in names
            )
        )
    else:
        result["selection_cost"] = figures["validation"]["expected_cost"]
    return result, priced


def baseline_figures(
    labels_by_split: dict[str, np.ndarray], pricing: dict[str, Pricing]
) -> dict[str, dict[str, Any]]:
    """Trivial policies on each split: every label negative, every label positive, and (with
    several labels) each label's cheaper of the two; priced like the models' decisions."""
    out: dict[str, dict[str, Any]] = {"all_negative": {}, "all_positive": {}}
    if len(next(iter(pricing.values()))) > 1:
        out["per_label_trivial"] = {}
    for split, Y in labels_by_split.items():
        costs = [baseline_costs(cost, Y[:, i]) for i, cost in enumerate(pricing[split])]
        out["all_negative"][split] = {"expected_cost": sum(c["all_negative"] for c in costs)}
        out["all_positive"][split] = {"expected_cost": sum(c["all_positive"] for c in costs)}
        if "per_label_trivial" in out:
            out["per_label_trivial"][split] = {"expected_cost": sum(min(c.values()) for c in costs)}
    return out


def sagemaker_model_quality(test: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The best model's test figures in SageMaker's model-quality format (Studio shows these).

    With several labels the figures pool every label decision (micro averages). Standard
    deviations come from the bootstrap of the confusion counts.
    """
    counts = ConfusionCounts(**test["confusion"])
    draws = resample_counts(counts, args.bootstrap_resamples, args.seed).astype(float)
    tp, fp, fn, tn = draws.T
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = {
            "accuracy": (tp + tn) / counts.total,
            "precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
            "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
        }

    def metric(value: float | None, spread: float) -> dict[str, float]:
        return {"value": float(value) if value is not None else 0.0, "standard_deviation": spread}

    micro_accuracy = (counts.tp + counts.tn) / counts.total
    metrics = {
        "accuracy": metric(micro_accuracy, float(np.std(samples["accuracy"]))),
        "precision": metric(test["precision"], float(np.std(samples["precision"]))),
        "recall": metric(test["recall"], float(np.std(samples["recall"]))),
        "f1": metric(test["f1"], float(np.std(samples["f1"]))),
        "expected_cost": metric(test["expected_cost"], test.get("expected_cost_sd", 0.0)),
        "confusion_matrix": {
            "0": {"0": counts.tn, "1": counts.fp},
            "1": {"0": counts.fn, "1": counts.tp},
        },
    }
    if test["roc_auc"] is not None:
        metrics["auc"] = metric(test["roc_auc"], 0.0)
    for name in (
        "true_positive_rate",
        "true_negative_rate",
        "false_positive_rate",
        "false_negative_rate",
    ):
        if test[name] is not None:
            metrics[name] = metric(test[name], 0.0)
    return metrics


def _fit(value: str) -> str:
    """A metadata value within SageMaker's length limit, cut visibly when too long."""
    return (
        value if len(value) <= METADATA_VALUE_LIMIT else value[: METADATA_VALUE_LIMIT - 3] + "..."
    )


def rule_text(rule: dict[str, Any]) -> str:
    """A decision rule in a few words: ``0.0032`` for a threshold, ``per-row costs, shift
    +0.41`` or ``per-row costs, isotonic calibration`` for the minimum-risk rule."""
    if rule["kind"] == "threshold":
        return repr(rule["threshold"])
    if rule.get("calibration"):
        return f"per-row costs, {rule['calibration']['method']} calibration"
    return f"per-row costs, shift {rule['shift']:+.4g}"


def registry_metadata(
    best: dict[str, Any], matrices: dict[str, dict[str, Any]], digest: str
) -> dict[str, str]:
    """Text values for the model package's CustomerMetadataProperties (strings only there).

    ``matrices`` holds each label's cost entries: numbers, or expression texts under per-row
    costs.
    """
    rules = best["rules"]
    if len(rules) == 1:
        label, rule = next(iter(rules.items()))
        threshold_text, labels_text = rule_text(rule), str(label)
    else:
        threshold_text = ";".join(
            f"{name}={rule['threshold']:.6g}"
            if rule["kind"] == "threshold"
            else f"{name}={rule_text(rule)}"
            for name, rule in rules.items()
        )
        if len(threshold_text) > METADATA_VALUE_LIMIT:
            threshold_text = "per label, in the model metrics (evaluation.json best.rules)"
        labels_text = ",".join(rules)
    distinct = {json.dumps(m, sort_keys=True) for m in matrices.values()}
    first = next(iter(matrices.values()))
    matrix_text = ",".join(
        f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}" for k, v in first.items()
    )
    if len(distinct) > 1:
        matrix_text = "per label, in the model metrics (evaluation.json cost_matrices)"
    return {
        "threshold": _fit(threshold_text),
        "label": _fit(labels_text),
        "cost_setting": best["name"],
        "fn_weight": repr(best["setting"]["fn_weight"]),
        "fp_weight": repr(best["setting"]["fp_weight"]),
        "cost_matrix": _fit(matrix_text),
        "expected_cost": repr(best["test"]["expected_cost"]),
        "data_digest": digest,
    }


def verdict(
    best: dict[str, Any],
    baseline_name: str,
    baseline_cost: float,
    max_cost: float,
    checks_passed: bool,
    champion: dict[str, Any] | None = None,
) -> str:
    """One sentence for the execution: every failing condition of CheckCheapest, in the order
    of its conditions' meaning (baseline, limit, checks, champion); or why it registers."""
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
    if champion is not None and not champion["passed"]:
        reasons.append(champion["verdict"])
    if reasons:
        return "; ".join(reasons)
    text = (
        f"{best['name']} costs {cost:,.2f} per decision on test against "
        f"{baseline_cost:,.2f} for {baseline_name}"
    )
    if champion is not None and champion.get("version") is not None:
        difference, (low, high) = champion["difference"], champion["difference_ci"]
        text += (
            f"; beats approved version {champion['version']} "
            f"({champion['test']['expected_cost']:,.2f}, difference {difference:+,.2f} "
            f"[{low:+,.2f}, {high:+,.2f}])"
        )
    elif champion is not None and champion["policy"] != CHAMPION_OFF:
        text += f"; {champion['verdict']}"
    return text


def validation_rows_scores(loaded: LoadedModel, splits: Splits) -> np.ndarray | None:
    """The challenger's tuning scores on the validation split's rows, in its row order.

    With cross-fitting those are its out-of-fold scores of those rows (no fold model saw
    them); with a holdout, its scores on the validation split. None when some validation row
    has no out-of-fold score.
    """
    frame, _ = splits["validation"]
    if loaded.out_of_fold is None:
        return loaded.model.predict_proba(frame)
    if ROW_COLUMN not in frame:
        return None
    names = loaded.model.schema["labels"]
    oof = loaded.out_of_fold.drop_duplicates([ROW_COLUMN, "label_name"])
    wide = oof.pivot(index=ROW_COLUMN, columns="label_name", values="score")[names]
    scores = wide.reindex(frame[ROW_COLUMN].to_numpy())
    if scores.isna().to_numpy().any():
        return None
    return scores.to_numpy()


def champion_block(
    best: dict[str, Any],
    best_loaded: LoadedModel,
    best_test_decisions: np.ndarray,
    splits: Splits,
    pricing: dict[str, Pricing],
    names: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """evaluation.json's ``champion``: the group's latest Approved version priced on this
    execution's rows with this execution's costs, the paired difference, the verdict and
    ``passed`` (what CheckCheapest's last condition reads)."""
    block: dict[str, Any] = {
        "policy": args.champion_policy,
        "group": args.model_package_group or None,
        "version": None,
        "arn": None,
        "model_uri": None,
    }
    if args.champion_policy == CHAMPION_OFF:
        return {**block, "passed": True, "verdict": "no champion comparison (ChampionPolicy off)"}
    if not args.model_package_group:
        raise InputError(
            f"--champion-policy {args.champion_policy} needs --model-package-group: the group "
            "whose latest Approved version is the champion"
        )
    package = find_champion(args.model_package_group)
    if package is None:
        return {
            **block,
            "passed": True,
            "verdict": f"no approved version in model package group "
            f"'{args.model_package_group}' to beat",
        }
    block.update(version=package.version, arn=package.arn, model_uri=package.model_data_url)

    rules = [rule_from_dict(rule) for rule in best["rules"].values()]

    def decisions(scores: np.ndarray, split: str) -> np.ndarray:
        return np.column_stack(
            [_decide(rule, scores[:, i], pricing[split][i]) for i, rule in enumerate(rules)]
        )

    # The challenger's decisions on the test rows, exactly as it was priced above.
    challenger = {"test": row_costs(splits["test"][1], best_test_decisions, pricing["test"])}
    validation_scores = validation_rows_scores(best_loaded, splits)
    if validation_scores is not None:
        challenger["validation"] = row_costs(
            splits["validation"][1],
            decisions(validation_scores, "validation"),
            pricing["validation"],
        )
    priced = price_champion(package, splits, names, pricing, challenger)
    figures: dict[str, Any] = {}
    for split in ("validation", "test"):
        if split not in priced:
            figures[split] = None
            continue
        champion_costs = priced[split]["champion"]
        challenger_costs = priced[split]["challenger"]
        difference, interval = paired_difference(
            challenger_costs, champion_costs, args.bootstrap_resamples, args.seed
        )
        Y = splits[split][1]
        figures[split] = {
            "rows": len(champion_costs),
            "expected_cost": float(champion_costs.mean()),
            "challenger_expected_cost": float(challenger_costs.mean()),
            "confusion": _total_confusion(Y, priced[split]["decisions"]),
            "difference": difference,
            "difference_ci": [interval[0], interval[1]],
        }
    test = figures["test"]
    interval = (test["difference_ci"][0], test["difference_ci"][1])
    passed = gate_passes(args.champion_policy, test["difference"], interval)
    text = comparison_text(
        best["name"],
        test["challenger_expected_cost"],
        test["expected_cost"],
        package.version,
        test["difference"],
        interval,
    )
    if not passed and args.champion_policy == CHAMPION_SIGNIFICANT:
        text += (
            ": not significantly cheaper (ChampionPolicy significant needs the upper end below 0)"
        )
    return {
        **block,
        "name": priced["name"],
        "thresholds": priced["thresholds"],
        "validation": figures["validation"],
        "test": test,
        "difference": test["difference"],
        "difference_ci": test["difference_ci"],
        "passed": passed,
        "verdict": text,
    }


def _total_confusion(Y: np.ndarray, D: np.ndarray) -> dict[str, int]:
    """Confusion counts pooled over labels."""
    Y, D = np.asarray(Y) == 1, np.asarray(D) == 1
    return {
        "tp": int((Y & D).sum()),
        "fp": int((~Y & D).sum()),
        "fn": int((Y & ~D).sum()),
        "tn": int((~Y & ~D).sum()),
    }


def artifact_uri(args: argparse.Namespace) -> str:
    """The decision artifact's address: the S3 destination of the job's ``artifact`` output
    (SageMaker writes the job's request to ``processingjobconfig.json``), else the local file.
    """
    if args.job_config.is_file():
        config = json.loads(args.job_config.read_text(encoding="utf-8"))
        for output in config.get("ProcessingOutputConfig", {}).get("Outputs", []):
            if output.get("OutputName") == ARTIFACT_OUTPUT:
                return f"{output['S3Output']['S3Uri'].rstrip('/')}/{ARCHIVE_FILE}"
    return str((args.artifact_output / ARCHIVE_FILE).absolute())


def cost_entries(spec: CostSpec) -> dict[str, Any]:
    """A label's entries as evaluation.json records them: numbers as numbers, formulas as
    their text."""
    return {
        outcome: entry.constant if entry.constant is not None else entry.text
        for outcome, entry in zip(OUTCOMES, spec.entries, strict=True)
    }


def score_frame(name: str, split: str, priced: Priced, names: list[str]) -> list[pd.DataFrame]:
    """scores.parquet's rows for one model and split: a row per (row, label). Under per-row
    costs each also holds its source row, the decision and its four costs (for the report's
    costs of errors)."""
    frames = []
    for index, label in enumerate(names):
        cost = priced.pricing[index]
        per_row = isinstance(cost, RowCosts)
        columns: dict[str, Any] = {
            "model": name,
            "split": split,
            "label_name": label,
            "label": priced.Y[:, index],
            # Per-row decisions are redone from these scores (the report's shift curves): keep
            # every bit of the score the rule decided on.
            "score": priced.S[:, index] if per_row else priced.S[:, index].astype(np.float32),
        }
        if per_row:
            columns["row"] = priced.rows
            columns["decision"] = priced.D[:, index].astype(np.int8)
            for outcome in OUTCOMES:
                columns[f"cost_{outcome}"] = getattr(cost, outcome)
        frames.append(pd.DataFrame(columns))
    return frames


def error_costs(priced: Priced, names: list[str]) -> dict[str, Any]:
    """Per label, what the errors cost: the summary of the false negatives' and the false
    positives' costs (per-row costs), so a report can say where the money is lost."""
    out = {}
    for index, label in enumerate(names):
        cost = priced.pricing[index]
        y, d = priced.Y[:, index] == 1, priced.D[:, index] == 1
        spent = price(cost, priced.Y[:, index], priced.D[:, index])
        out[label] = {"fn": summary(spent[y & ~d]), "fp": summary(spent[~y & d])}
    return out


def evaluate(args: argparse.Namespace) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """evaluation.json, every model's scores, and the best model's decision.json."""
    models = parse_model_arguments(args.model)
    report = read_profile(args.profile)
    schema = report["schema"]
    names = schema["labels"]
    specs = label_costs(report)
    per_row = bool(report["costs"]["per_row"])
    if per_row and args.threshold_smoothing != "none":
        raise InputError(
            "threshold smoothing (kernel) smooths one threshold per label, and per-row costs "
            "give each row its own: set threshold_smoothing to none"
        )
    splits: Splits = {}
    pricing: dict[str, Pricing] = {}
    for split, folder in (("validation", args.validation), ("test", args.test)):
        frame = read_split(folder, split)
        splits[split] = (frame, labels_from_frame(frame, schema))
        pricing[split] = split_pricing(frame, names, specs, per_row)
    results = []
    metas: dict[str, dict[str, Any]] = {}
    score_frames: list[pd.DataFrame] = []
    test_decisions: dict[str, np.ndarray] = {}
    for name, uri in models:
        loaded = load_model(args.models_dir / name)
        result, priced = evaluate_model(name, uri, loaded, splits, pricing, args)
        if per_row:
            result["test"]["error_costs"] = error_costs(priced["test"], names)
        results.append(result)
        metas[name] = loaded.meta
        test_decisions[name] = priced["test"].D
        for split, rows in priced.items():
            score_frames += score_frame(name, split, rows, names)
    # The cheapest by tuning cost (under per-row costs, its rules' cross-validated cost); ties
    # go to the first model listed.
    best = min(results, key=lambda result: result["selection_cost"])
    baselines = baseline_figures({split: labels for split, (_, labels) in splits.items()}, pricing)
    baseline_name = min(baselines, key=lambda policy: baselines[policy]["test"]["expected_cost"])
    baseline_cost = baselines[baseline_name]["test"]["expected_cost"]
    misprediction = multilabel_misprediction_check(
        splits["test"][1],
        test_decisions[best["name"]],
        names,
        args.threshold_misprediction,
        args.samples,
    )
    imbalance = report["class_imbalance"]
    checks_passed = bool(imbalance["passed"] and misprediction["passed"])
    cost = best["test"]["expected_cost"]
    beats = bool(cost < baseline_cost)
    within = bool(cost <= args.max_cost_per_decision)
    best_loaded = load_model(args.models_dir / best["name"])
    champion = champion_block(
        best, best_loaded, test_decisions[best["name"]], splits, pricing, names, args
    )
    matrices = {label: cost_entries(spec) for label, spec in specs.items()}
    default = report["costs"].get("default") or matrices[names[0]]
    evaluation = {
        "task": schema["task"],
        "cost_matrix": cost_entries(CostSpec.parse(default)),
        "cost_matrices": matrices,
        "costs": report["costs"],
        "labels": names,
        "threshold_objective": args.threshold_objective,
        "threshold_smoothing": args.threshold_smoothing,
        "models": results,
        "baselines": baselines,
        "best": {
            "name": best["name"],
            "setting": best["setting"],
            "model_uri": artifact_uri(args),
            "training_model_uri": best["model_uri"],
            "thresholds": best["thresholds"],
            "rules": best["rules"],
            "expected_cost": cost,
            "expected_cost_ci": best["test"]["expected_cost_ci"],
            "validation_expected_cost": best["validation"]["expected_cost"],
            "selection_cost": best["selection_cost"],
            "threshold_data": best["threshold_data"],
            "savings": best["test"]["savings"],
            "baseline": {"name": baseline_name, "expected_cost": baseline_cost},
            "beats_baseline": beats,
            "max_cost_per_decision": _finite_or_none(args.max_cost_per_decision),
            "within_max_cost": within,
            "registrable": bool(beats and within and checks_passed and champion["passed"]),
            "verdict": verdict(
                best,
                baseline_name,
                baseline_cost,
                args.max_cost_per_decision,
                checks_passed,
                champion,
            ),
            "metadata": registry_metadata(best, matrices, report["data"]["digest"]),
        },
        "checks": {
            "class_imbalance": imbalance,
            "misprediction": misprediction,
            "passed": checks_passed,
        },
        "data": report["data"],
        # The input columns by the names in the data (XGBoost's f0, f1, ... never show here).
        "inputs": {
            "features": schema["features"],
            "categorical": list(schema["categorical"]),
            "text": schema["text"],
            "detected": schema.get("detected", {"categorical": [], "text": []}),
        },
        "splits": report["splits"],
        "champion": champion,
        "binary_classification_metrics": sagemaker_model_quality(best["test"], args),
    }
    best_model = best_loaded.model
    check = check_document(best_model, splits["test"][0], input_schema(schema))
    decision = decision_document(
        best, metas[best["name"]], schema, matrices, check, specs if per_row else None
    )
    return evaluation, pd.concat(score_frames, ignore_index=True), decision


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def write_outputs(evaluation: dict[str, Any], scores: pd.DataFrame, output: Path) -> None:
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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    evaluation, scores, decision = evaluate(args)
    # The artifact first: evaluation.json (which the condition and the registry read) only
    # ever names an artifact that exists.
    write_artifact(args.models_dir / evaluation["best"]["name"], decision, args.artifact_output)
    write_outputs(evaluation, scores, args.output)
    best = evaluation["best"]
    print(f"evaluate: {len(evaluation['models'])} models; best {best['name']}; {best['verdict']}")


if __name__ == "__main__":
    run_entry_point(main)
