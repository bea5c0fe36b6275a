"""Training job: XGBoost with the asymmetric loss for one cost setting.

Two ways to give Evaluate scores the model never trained on, for tuning its threshold:

* cross-validation (default, up to ``cv_max_rows`` rows): ``cv_folds`` fold models over the
  training and validation rows give every row an out-of-fold score, saved as
  ``oof_scores.parquet``; the model is those fold models together, scoring as their mean. On
  small data a threshold tuned on a validation split alone is fragile: with a 168:1 cost
  ratio one test positive below the lowest validation positive costs more than the model saves.
* holdout (``cv_folds`` 0 or more rows than ``cv_max_rows``): the model trains on the training
  split only, and Evaluate tunes on its scores for the validation split.

On several instances (``SM_HOSTS`` names more than one host) the job trains one model across
them with XGBoost's collective (``steps.collective``): each host reads its own file of the
training split (the channel is ``ShardedByS3Key``), the first host starts the tracker, all of
them join it and train one booster, and only the first host writes the model folder. That is
the holdout path; cross-fitting stays on one instance.

Script mode in the SageMaker XGBoost container: hyperparameters arrive as ``--name value``
arguments, the channels as ``SM_CHANNEL_TRAIN``, ``SM_CHANNEL_VALIDATION`` and
``SM_CHANNEL_PROFILE``, and the model folder as ``SM_MODEL_DIR`` (SageMaker tars it into
``model.tar.gz``). Run by hand with explicit paths::

    python -m steps.train --train out/train --validation out/validation --profile out/profile \\
        --model-dir model/ --fn_weight 200 --fp_weight 1
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steps.artifact import library_versions
from steps.collective import DEFAULT_TIMEOUT, Hosts, joined, label_counts, summed
from steps.cost_expressions import OUTCOMES, costs_from_split, has_cost_columns
from steps.costs import BOOSTERS, FLAT, WEIGHTINGS, CostSetting
from steps.data import ROW_COLUMN, labels_from_frame
from steps.errors import InputError, run_entry_point
from steps.model import STRATEGIES, FoldEnsemble, fit_model
from steps.model_io import OUT_OF_FOLD_FILE, save_model
from steps.options import OBJECTIVE_IMPLEMENTATIONS
from steps.preprocess_io import read_profile, read_split
from steps.stratify import iterative_stratification, stratified_group_folds
from steps.text import DEFAULT_MAX_FEATURES

DEFAULT_CV_FOLDS = 5
DEFAULT_CV_MAX_ROWS = 200_000
SPLIT_COLUMN = "__split__"


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train", type=Path, default=_env_path("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    )
    parser.add_argument(
        "--validation",
        type=Path,
        default=_env_path("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"),
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=_env_path("SM_CHANNEL_PROFILE", "/opt/ml/input/data/profile"),
    )
    parser.add_argument(
        "--model-dir", type=Path, default=_env_path("SM_MODEL_DIR", "/opt/ml/model")
    )
    parser.add_argument("--fn_weight", type=float, required=True)
    parser.add_argument("--fp_weight", type=float, required=True)
    parser.add_argument("--setting_name", default="")
    parser.add_argument(
        "--booster",
        choices=BOOSTERS,
        default="tree",
        help="tree: gradient-boosted trees; linear: XGBoost's linear booster on standardised "
        "inputs",
    )
    parser.add_argument(
        "--row_weights",
        choices=WEIGHTINGS,
        default="costs",
        help="costs: with per-row costs each row weighs its own cost of a wrong decision; "
        "flat: the class weights alone (needs per-row costs)",
    )
    parser.add_argument(
        "--objective_impl",
        choices=OBJECTIVE_IMPLEMENTATIONS,
        default="weighted",
        help="weighted: built-in binary:logistic with class weights (fast); custom: the "
        "reference gradient/hessian in Python",
    )
    parser.add_argument("--num_round", type=int, default=300)
    parser.add_argument("--max_depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.05)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--subsample", type=float, default=0.8)
    parser.add_argument("--colsample_bytree", type=float, default=0.8)
    parser.add_argument("--reg_lambda", type=float, default=1.0)
    parser.add_argument("--reg_alpha", type=float, default=0.0)
    parser.add_argument("--gamma", type=float, default=0.0)
    parser.add_argument("--max_bin", type=int, default=256)
    parser.add_argument("--tree_method", default="hist")
    parser.add_argument("--nthread", type=int, default=0, help="0: all the job's cores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cv_folds", type=int, default=DEFAULT_CV_FOLDS, help="0: tune on the validation split"
    )
    parser.add_argument(
        "--cv_max_rows",
        type=int,
        default=DEFAULT_CV_MAX_ROWS,
        help="above this many rows, tune on the validation split instead of cross-validating",
    )
    parser.add_argument("--multilabel_strategy", choices=STRATEGIES, default="multi-output")
    parser.add_argument("--text_max_features", type=int, default=DEFAULT_MAX_FEATURES)
    parser.add_argument(
        "--collective_timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="on several instances: seconds for every host to reach the tracker and join",
    )
    args = parser.parse_args(argv)
    if args.cv_folds == 1 or args.cv_folds < 0:
        raise InputError(f"hyperparameter cv_folds must be 0 or at least 2, got {args.cv_folds}")
    for name in ("fn_weight", "fp_weight", "eta"):
        if not getattr(args, name) > 0:
            raise InputError(f"hyperparameter {name} must be positive, got {getattr(args, name)}")
    if args.num_round < 1:
        raise InputError(f"hyperparameter num_round must be at least 1, got {args.num_round}")
    return args


def fold_rows(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple]:
    """(fit rows, held-out rows) per fold, stratified and grouped by source row.

    An oversampled row and its copies share a group and always fall in the same fold (a copy
    in the fitting folds would leak its label). Binary labels use scikit-learn 1.9's
    StratifiedGroupKFold algorithm as ported to ``steps.stratify`` (the installed scikit-learn's
    differs in the container's 1.5.2), several labels iterative stratification over the groups;
    both draw only from a ``RandomState(seed)``.
    """
    if labels.shape[1] == 1:
        part = stratified_group_folds(labels[:, 0], groups, folds, seed)
    else:
        unique, first = np.unique(groups, return_index=True)
        part_of_group = iterative_stratification(labels[first], [1.0] * folds, seed)
        part = part_of_group[np.searchsorted(unique, groups)]
    rows = np.arange(len(groups))
    return [(rows[part != fold], rows[part == fold]) for fold in range(folds)]


def out_of_fold_scores(
    frame: pd.DataFrame,
    labels: np.ndarray,
    groups: np.ndarray,
    schema: dict[str, Any],
    args: argparse.Namespace,
    text_rows: np.ndarray,
    row_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's scores (rows x labels) from the fold model that did not train on it, and the
    fold models themselves."""
    smallest = int(
        min(
            min(labels[:, i].sum(), len(labels) - labels[:, i].sum())
            for i in range(labels.shape[1])
        )
    )
    folds = min(args.cv_folds, smallest)
    if folds < 2:
        raise InputError(
            f"cross-validation needs at least 2 rows of each class of each label, the rarest has "
            f"{smallest}: add rows or set cv_folds = 0"
        )
    scores = np.empty(labels.shape, dtype=np.float64)
    models = []
    for fit_rows, held_rows in fold_rows(labels, groups, folds, args.seed):
        fitting = frame.iloc[fit_rows]
        weights = None if row_weights is None else row_weights[fit_rows]
        model = fit_model(fitting, labels[fit_rows], schema, args, text_rows[fit_rows], weights)
        scores[held_rows] = model.predict_proba(frame.iloc[held_rows])
        models.append(model)
    return scores, models


def model_meta(
    args: argparse.Namespace, schema: dict[str, Any], counts: np.ndarray
) -> dict[str, Any]:
    """model_meta.json's fields; ``counts`` are the training rows and each label's positives
    over every host's rows (:func:`steps.collective.label_counts`)."""
    import xgboost as xgb

    rows, *positives = counts

    setting = CostSetting(args.fn_weight, args.fp_weight, args.booster, args.row_weights)
    name = args.setting_name or setting.name
    hyperparameters = {
        key: value
        for key, value in vars(args).items()
        if not isinstance(value, Path) and key != "setting_name"
    }
    return {
        "name": name,
        "setting": {
            "fn_weight": args.fn_weight,
            "fp_weight": args.fp_weight,
            "booster": args.booster,
            **({"weighting": FLAT} if setting.flat else {}),
        },
        "labels": schema["labels"],
        "training_rows": int(rows),
        "training_positives": {
            label: int(positives[i]) for i, label in enumerate(schema["labels"])
        },
        # Evaluate reads raw margins and applies the sigmoid itself, so every objective
        # implementation and strategy scores the same way.
        "score": "sigmoid(margin)",
        "hyperparameters": hyperparameters,
        "xgboost_version": xgb.__version__,
        "python_version": platform.python_version(),
        # The decision artifact records what the model was trained with (steps.artifact).
        "library_versions": library_versions(),
    }


def training_rows(args: argparse.Namespace) -> tuple[pd.DataFrame, str]:
    """The rows to train on, and how Evaluate will tune thresholds for them.

    Cross-validation trains on the training and validation splits together; the holdout
    trains on the training split only. ``__split__`` says where each row came from.
    """
    train = read_split(args.train, "train")
    train[SPLIT_COLUMN] = "train"
    has_validation = args.validation.exists()
    if args.cv_folds >= 2 and has_validation:
        validation = read_split(args.validation, "validation")
        validation[SPLIT_COLUMN] = "validation"
        both = pd.concat([train, validation], ignore_index=True)
        if len(both) <= args.cv_max_rows:
            return both, "cross-validation"
    return train, "validation"


def out_of_fold_frame(
    groups: np.ndarray,
    splits: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    names: list[str],
    frame: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long format, one row per (row, label); copies of oversampled rows kept once.

    With per-row costs (``frame`` holds the cost columns) each row also carries its four costs
    for the label (``cost_tp``, ``cost_fp``, ``cost_fn``, ``cost_tn``): Evaluate tunes on these
    rows, some of which are in no split it reads.
    """
    keep = ~pd.Series(groups).duplicated().to_numpy()
    parts = []
    for index, name in enumerate(names):
        columns = {
            ROW_COLUMN: groups[keep],
            "split": splits[keep],
            "label_name": name,
            "label": labels[keep, index],
            "score": scores[keep, index],
        }
        if frame is not None and has_cost_columns(frame, names):
            costs = costs_from_split(frame, name)
            for outcome in OUTCOMES:
                columns[f"cost_{outcome}"] = getattr(costs, outcome)[keep]
        parts.append(pd.DataFrame(columns))
    return pd.concat(parts, ignore_index=True)


def training_row_weights(
    frame: pd.DataFrame, labels: np.ndarray, names: list[str], weighting: str
) -> np.ndarray | None:
    """Rows x labels weights of the asymmetric loss under per-row costs, or None.

    Each row weighs its own cost of a wrong decision (``fn - tp`` for a positive, ``fp - tn``
    for a negative), divided by the mean over the training rows (every host's, when training
    across instances): the cost setting's class weights then scale these, and XGBoost's
    ``min_child_weight`` and ``lambda`` keep the meaning they have with unit weights. None
    with constant costs (the class weights alone, as always) and for ``flat`` settings.
    """
    per_row = has_cost_columns(frame, names)
    if weighting == FLAT:
        if not per_row:
            raise InputError(
                "this cost setting is flat (the class weights alone), which only differs from "
                "the plain setting under per-row costs, and the costs are constant: drop "
                "':flat' from the setting or give costs that read columns"
            )
        return None
    if not per_row:
        return None
    weights = np.empty(labels.shape, dtype=np.float64)
    for index, name in enumerate(names):
        regret = costs_from_split(frame, name).regret(labels[:, index])
        total, count = summed(np.array([regret.sum(), regret.size]))
        mean = float(total / count)
        if not mean > 0:
            raise InputError(
                f"no training row of label '{name}' costs anything more when decided wrongly: "
                "the per-row costs give the loss nothing to weigh"
            )
        weights[:, index] = regret / mean
    return weights


def sharded_training_rows(
    args: argparse.Namespace, report: dict[str, Any], hosts: Hosts
) -> tuple[pd.DataFrame, str]:
    """This host's share of the training split, when the job runs on several instances.

    Every host decides from profile.json, so all of them take the same path; what training
    across instances cannot do is refused here, with the same message on every host, before
    any host joins the others.
    """
    shards = int(report.get("options", {}).get("train_shards", 1))
    if shards != hosts.count:
        raise InputError(
            f"the training job runs on {hosts.count} instances, but Preprocess wrote the "
            f"training split as {shards} file(s), one per instance: start the execution with "
            f"TrainingInstanceCount {shards}, or build the pipeline with "
            f"training_instance_count = {hosts.count}"
        )
    if args.booster == "linear":
        raise InputError(
            f"XGBoost's linear booster does not train across instances (each of the "
            f"{hosts.count} would fit its own rows): train linear settings with "
            "training_instance_count = 1"
        )
    if report["schema"].get("text"):
        raise InputError(
            f"text columns ({', '.join(report['schema']['text'])}) need one TF-IDF vocabulary "
            f"over all training rows, which is learnt on one instance, not across "
            f"{hosts.count}: set training_instance_count = 1 or drop the text columns"
        )
    splits = report["splits"]
    rows = int(splits["train"]["rows"]) + int(splits.get("validation", {}).get("rows", 0))
    if args.cv_folds >= 2 and args.validation.exists() and rows <= args.cv_max_rows:
        raise InputError(
            f"cross-fitting ({args.cv_folds} folds over {rows} training and validation rows, "
            f"at most cv_max_rows {args.cv_max_rows}) trains on one instance, not across "
            f"{hosts.count}: set cv_folds = 0 (thresholds from the validation split) or "
            "training_instance_count = 1"
        )
    frame = read_split(args.train, "train")
    frame[SPLIT_COLUMN] = "train"
    return frame, "validation"


def check_shares(frame: pd.DataFrame, report: dict[str, Any]) -> None:
    """The hosts' shares add up to the training split: each row was read by exactly one host
    (a channel that is not ShardedByS3Key gives every host every file)."""
    total = int(summed(np.array([len(frame)]))[0])
    expected = int(report["splits"]["train"]["rows"])
    if total != expected:
        raise InputError(
            f"the hosts read {total} training rows together, but the training split has "
            f"{expected}: the train channel must be ShardedByS3Key, one file per instance"
        )


def fit(
    args: argparse.Namespace,
    schema: dict[str, Any],
    frame: pd.DataFrame,
    threshold_data: str,
    hosts: Hosts,
) -> tuple[Any, dict[str, Any], pd.DataFrame | None]:
    """The model, its model_meta.json and the out-of-fold scores (None for the holdout).

    On several hosts every host runs this in step, inside the communication group: whatever
    it concludes from the rows (class counts, priors) is summed over all hosts' rows.
    """
    labels = labels_from_frame(frame, schema)
    counts = label_counts(labels)
    for index, name in enumerate(schema["labels"]):
        if counts[1 + index] in (0, counts[0]):
            raise InputError(
                f"the training rows hold one class only for '{name}': add rows of the other class"
            )
    # Text features learn their vocabulary from the training split only.
    text_rows = (frame[SPLIT_COLUMN] == "train").to_numpy()
    row_weights = training_row_weights(frame, labels, schema["labels"], args.row_weights)
    oof = None
    if threshold_data == "cross-validation":
        groups = frame[ROW_COLUMN].to_numpy() if ROW_COLUMN in frame else np.arange(len(frame))
        scores, fold_models = out_of_fold_scores(
            frame, labels, groups, schema, args, text_rows, row_weights
        )
        oof = out_of_fold_frame(
            groups, frame[SPLIT_COLUMN].to_numpy(), labels, scores, schema["labels"], frame
        )
        # The model is the fold models together (see steps.model.FoldEnsemble): no refit.
        model = FoldEnsemble(fold_models)
    else:
        model = fit_model(frame, labels, schema, args, text_rows, row_weights)
    meta = model_meta(args, schema, counts)
    meta["row_weights"] = "per-row costs" if row_weights is not None else "class weights"
    meta["threshold_data"] = threshold_data
    if oof is not None:
        meta["cv_folds"] = args.cv_folds
    if hosts.count > 1:
        meta["training_hosts"] = hosts.count
    return model, meta, oof


def main(argv: Sequence[str] | None = None) -> None:
    hosts = Hosts.from_environment()
    args = parse_args(argv)
    report = read_profile(args.profile)
    schema = report["schema"]
    if hosts.count > 1:
        frame, threshold_data = sharded_training_rows(args, report, hosts)
    else:
        frame, threshold_data = training_rows(args)
    # One host: nothing to join. Several: they train one booster together.
    with joined(hosts, args.collective_timeout):
        if hosts.count > 1:
            check_shares(frame, report)
        model, meta, oof = fit(args, schema, frame, threshold_data, hosts)
    # Every host holds the same booster; the first one writes the model folder.
    if hosts.is_first:
        save_model(model, meta, args.model_dir)
        if oof is not None:
            oof.to_parquet(args.model_dir / OUT_OF_FOLD_FILE, index=False)
    # Multi-output boosters always train with the custom objective (steps.model).
    objective = "custom" if model.strategy == "multi-output" else args.objective_impl
    across = f" across {hosts.count} hosts ({hosts.current} here)" if hosts.count > 1 else ""
    print(
        f"train: {model.strategy} {args.booster}, {objective} objective, "
        f"fn_weight={args.fn_weight:g},"
        f" fp_weight={args.fp_weight:g}, rows weighted by {meta['row_weights']}, "
        f"{meta['training_rows']} rows, {len(schema['labels'])} label(s), "
        f"{args.num_round} rounds, thresholds from {threshold_data}{across}"
    )


if __name__ == "__main__":
    run_entry_point(main)
