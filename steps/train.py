"""Training job: XGBoost with the asymmetric loss for one cost setting.

Script mode in the SageMaker XGBoost container: hyperparameters arrive as ``--name value``
arguments, the channels as ``SM_CHANNEL_TRAIN`` and ``SM_CHANNEL_PROFILE``, and the model folder
as ``SM_MODEL_DIR`` (SageMaker tars it into ``model.tar.gz``). Run by hand with explicit paths::

    python -m steps.train --train out/train --profile out/profile --model-dir model/ \\
        --fn_weight 200 --fp_weight 1
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from steps.data import apply_schema, labels_from_frame
from steps.errors import InputError, run_entry_point
from steps.model_io import save_model
from steps.objective import (
    asymmetric_logistic_objective,
    class_weights,
    logit,
    weighted_prior,
)
from steps.preprocess_io import read_profile, read_split

OBJECTIVE_IMPLEMENTATIONS = ("weighted", "custom")


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train", type=Path, default=_env_path("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
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
    args = parser.parse_args(argv)
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


def model_meta(
    args: argparse.Namespace, schema: Dict[str, Any], labels: np.ndarray, prior: float
) -> Dict[str, Any]:
    import xgboost as xgb

    weights = {"fn_weight": args.fn_weight, "fp_weight": args.fp_weight}
    name = args.setting_name or f"fn{args.fn_weight:.4g}-fp{args.fp_weight:.4g}"
    hyperparameters = {
        key: value
        for key, value in vars(args).items()
        if key not in ("train", "profile", "model_dir", "setting_name")
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


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    report = read_profile(args.profile)
    schema = report["schema"]
    frame = read_split(args.train, "train")
    features = apply_schema(frame, schema)
    labels = labels_from_frame(frame, schema)
    if np.unique(labels).size < 2:
        raise InputError("the training split holds one class only: add rows of the other class")
    booster, prior = train_booster(features, labels, args)
    save_model(booster, model_meta(args, schema, labels, prior), args.model_dir)
    print(
        f"train: {args.objective_impl} objective, fn_weight={args.fn_weight:g}, "
        f"fp_weight={args.fp_weight:g}, {labels.size} rows, {args.num_round} rounds"
    )


if __name__ == "__main__":
    run_entry_point(main)
