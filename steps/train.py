"""Training job: XGBoost with the asymmetric loss for one cost setting.

Two ways to give Evaluate scores the model never trained on, for tuning its threshold:

* cross-validation (default, up to ``cv_max_rows`` rows): ``cv_folds`` fold models over the
  training and validation rows give every row an out-of-fold score, saved as
  ``oof_scores.parquet``; the final model then trains on all of those rows. On small data a
  threshold tuned on a validation split alone is fragile: with a 168:1 cost ratio one test
  positive below the lowest validation positive costs more than the model saves.
* holdout (``cv_folds`` 0 or more rows than ``cv_max_rows``): the model trains on the training
  split only, and Evaluate tunes on its scores for the validation split.

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
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from steps.data import ROW_COLUMN, apply_schema, labels_from_frame
from steps.errors import InputError, run_entry_point
from steps.model_io import OUT_OF_FOLD_FILE, save_model
from steps.objective import (
    asymmetric_logistic_objective,
    class_weights,
    logit,
    weighted_prior,
)
from steps.preprocess_io import read_profile, read_split

OBJECTIVE_IMPLEMENTATIONS = ("weighted", "custom")
DEFAULT_CV_FOLDS = 5
DEFAULT_CV_MAX_ROWS = 200_000


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
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
    args = parser.parse_args(argv)
    if args.cv_folds == 1 or args.cv_folds < 0:
        raise InputError(f"hyperparameter cv_folds must be 0 or at least 2, got {args.cv_folds}")
    for name in ("fn_weight", "fp_weight", "eta"):
        if not getattr(args, name) > 0:
            raise InputError(f"hyperparameter {name} must be positive, got {getattr(args, name)}")
    if args.num_round < 1:
        raise InputError(f"hyperparameter num_round must be at least 1, got {args.num_round}")
    return args


def booster_params(args: argparse.Namespace, base_score: float) -> Dict[str, Any]:
    params: Dict[str, Any] = {
        "max_depth": args.max_depth,
        "eta": args.eta,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "lambda": args.reg_lambda,
        "alpha": args.reg_alpha,
        "gamma": args.gamma,
        "max_bin": args.max_bin,
        "tree_method": args.tree_method,
        "seed": args.seed,
        "base_score": base_score,
    }
    if args.nthread > 0:
        params["nthread"] = args.nthread
    return params


def train_booster(features: pd.DataFrame, labels: np.ndarray, args: argparse.Namespace) -> tuple:
    """Train one booster; returns it and the probability it starts from (``base_score``)."""
    import xgboost as xgb

    prior = weighted_prior(labels, args.fn_weight, args.fp_weight)
    if args.objective_impl == "weighted":
        weights = class_weights(labels, args.fn_weight, args.fp_weight)
        dtrain = xgb.DMatrix(features, label=labels, weight=weights, enable_categorical=True)
        params = booster_params(args, base_score=prior)
        params["objective"] = "binary:logistic"
        booster = xgb.train(params, dtrain, num_boost_round=args.num_round)
    else:
        dtrain = xgb.DMatrix(features, label=labels, enable_categorical=True)
        # A custom objective starts from a margin, not a probability.
        params = booster_params(args, base_score=logit(prior))
        objective = asymmetric_logistic_objective(args.fn_weight, args.fp_weight)
        booster = xgb.train(params, dtrain, num_boost_round=args.num_round, obj=objective)
    return booster, prior


def out_of_fold_scores(
    features: pd.DataFrame, labels: np.ndarray, groups: np.ndarray, args: argparse.Namespace
) -> np.ndarray:
    """Each row's score from the fold model that did not train on it.

    Folds are stratified by label and grouped by source row, so an oversampled row and its
    copies always fall in the same fold (a copy in the training folds would leak its label).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from steps.objective import sigmoid

    smallest = int(np.bincount(labels.astype(np.int64), minlength=2).min())
    folds = min(args.cv_folds, smallest)
    if folds < 2:
        raise InputError(
            f"cross-validation needs at least 2 rows of each class, the smaller has {smallest}: "
            "add rows or set cv_folds = 0"
        )
    import xgboost as xgb

    scores = np.empty(labels.shape[0], dtype=np.float64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=args.seed)
    for fit_rows, held_rows in splitter.split(features, labels, groups):
        booster, _ = train_booster(features.iloc[fit_rows], labels[fit_rows], args)
        held = xgb.DMatrix(features.iloc[held_rows], enable_categorical=True)
        scores[held_rows] = sigmoid(booster.predict(held, output_margin=True))
    return scores


def model_meta(
    args: argparse.Namespace, schema: Dict[str, Any], labels: np.ndarray, prior: float
) -> Dict[str, Any]:
    import xgboost as xgb

    weights = {"fn_weight": args.fn_weight, "fp_weight": args.fp_weight}
    name = args.setting_name or f"fn{args.fn_weight:.4g}-fp{args.fp_weight:.4g}"
    hyperparameters = {
        key: value
        for key, value in vars(args).items()
        if not isinstance(value, Path) and key != "setting_name"
    }
    return {
        "name": name,
        "setting": weights,
        "labels": schema["labels"],
        "schema": schema,
        "training_rows": int(labels.size),
        "training_positives": int(labels.sum()),
        "base_score": prior,
        # Evaluate reads raw margins and applies the sigmoid itself, so both objective
        # implementations score the same way.
        "score": "sigmoid(margin)",
        "hyperparameters": hyperparameters,
        "xgboost_version": xgb.__version__,
        "python_version": platform.python_version(),
    }


def training_rows(args: argparse.Namespace) -> Tuple[pd.DataFrame, str]:
    """The rows to train on, and how Evaluate will tune thresholds for them.

    Cross-validation trains on the training and validation splits together; the holdout
    trains on the training split only.
    """
    train = read_split(args.train, "train")
    train["__split__"] = "train"
    has_validation = args.validation.exists()
    if args.cv_folds >= 2 and has_validation:
        validation = read_split(args.validation, "validation")
        validation["__split__"] = "validation"
        both = pd.concat([train, validation], ignore_index=True)
        if len(both) <= args.cv_max_rows:
            return both, "cross-validation"
    return train, "validation"


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    report = read_profile(args.profile)
    schema = report["schema"]
    frame, threshold_data = training_rows(args)
    features = apply_schema(frame, schema)
    labels = labels_from_frame(frame, schema)
    if np.unique(labels).size < 2:
        raise InputError("the training split holds one class only: add rows of the other class")
    if threshold_data == "cross-validation":
        groups = frame[ROW_COLUMN].to_numpy() if ROW_COLUMN in frame else np.arange(len(frame))
        oof = pd.DataFrame(
            {
                ROW_COLUMN: groups,
                "split": frame["__split__"].to_numpy(),
                "label": labels,
                "score": out_of_fold_scores(features, labels, groups, args),
            }
        )
    booster, prior = train_booster(features, labels, args)
    meta = model_meta(args, schema, labels, prior)
    meta["threshold_data"] = threshold_data
    if threshold_data == "cross-validation":
        meta["cv_folds"] = args.cv_folds
    save_model(booster, meta, args.model_dir)
    if threshold_data == "cross-validation":
        # Copies of oversampled rows share a row id and a score: keep one per row.
        oof.drop_duplicates(ROW_COLUMN).to_parquet(args.model_dir / OUT_OF_FOLD_FILE, index=False)
    print(
        f"train: {args.objective_impl} objective, fn_weight={args.fn_weight:g}, "
        f"fp_weight={args.fp_weight:g}, {labels.size} rows, {args.num_round} rounds, "
        f"thresholds from {threshold_data}"
    )


if __name__ == "__main__":
    run_entry_point(main)
