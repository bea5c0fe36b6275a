"""The cost-sensitive model: text features, one or several boosters, one score per label.

Binary data gets one booster. Multi-label data gets either one booster for all labels (the
default: XGBoost's native multi-output trees, ``multi_strategy = multi_output_tree``, with the
asymmetric loss as a custom objective over the label matrix; on the yeast data it cost 3.5 %
less than one booster per label, see the README) or one booster per label (each its own
asymmetric loss; 2.2 times faster to train).
Every strategy scores the same way: raw margins through the sigmoid, one probability per label.

The booster is gradient-boosted trees or, for a ``linear`` cost setting, XGBoost's linear
booster on one-hot encoded, standardised inputs (``steps.linear``); both train with the same
asymmetric loss and strategies.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from steps.collective import label_counts
from steps.data import apply_schema
from steps.errors import InputError
from steps.linear import fit_linear_inputs, linear_inputs
from steps.objective import (
    asymmetric_logistic_objective,
    class_weights,
    logit,
    sigmoid,
    weighted_prior,
)
from steps.options import MULTILABEL_STRATEGIES
from steps.text import fit_text_features, transform_text

STRATEGIES = MULTILABEL_STRATEGIES


def xgboost_feature_names(count: int) -> list[str]:
    """The names XGBoost sees: ``f0``, ``f1``, ... by position (its own default for unnamed
    data). A person's column names stay in the frames, the schema and every report; XGBoost
    refuses '[', ']' and '<' in names, and any sanitising could map two names to one."""
    return [f"f{index}" for index in range(count)]


def feature_matrix(features: pd.DataFrame, **fields: Any) -> Any:
    """The one place a DMatrix is made: ``features`` (labels, weights, base margins in
    ``fields``) under positional names, categories as XGBoost's native categorical columns."""
    import xgboost as xgb

    return xgb.DMatrix(
        features,
        feature_names=xgboost_feature_names(features.shape[1]),
        enable_categorical=True,
        **fields,
    )


def booster_params(args: argparse.Namespace, base_score: float) -> dict[str, Any]:
    params: dict[str, Any] = {
        "eta": args.eta,
        "lambda": args.reg_lambda,
        "alpha": args.reg_alpha,
        "seed": args.seed,
        "base_score": base_score,
    }
    if args.booster == "linear":
        # Parallel coordinate descent (XGBoost's default for gblinear): 6x faster than the
        # sequential updater on 1M rows, equal to it within 1e-6 on breast cancer.
        params.update({"booster": "gblinear", "updater": "shotgun"})
    else:
        params.update(
            {
                "max_depth": args.max_depth,
                "min_child_weight": args.min_child_weight,
                "subsample": args.subsample,
                "colsample_bytree": args.colsample_bytree,
                "gamma": args.gamma,
                "max_bin": args.max_bin,
                "tree_method": args.tree_method,
            }
        )
    if args.nthread > 0:
        params["nthread"] = args.nthread
    return params


def train_booster(
    features: pd.DataFrame,
    labels: np.ndarray,
    args: argparse.Namespace,
    row_weights: np.ndarray | None = None,
) -> Any:
    """One binary booster with the asymmetric loss, starting from the weighted prior.

    ``row_weights`` (per-row costs: each row's cost of a wrong decision, scaled to mean 1)
    multiply the class weights. The custom objective's ``DMatrix`` carries them too, so both
    implementations grow their ``hist`` sketch from the same weights.
    """
    import xgboost as xgb

    prior = weighted_prior(labels, args.fn_weight, args.fp_weight, row_weights)
    weights = class_weights(labels, args.fn_weight, args.fp_weight)
    if row_weights is not None:
        weights = weights * row_weights
    if args.objective_impl == "weighted":
        dtrain = feature_matrix(features, label=labels, weight=weights)
        params = booster_params(args, base_score=prior)
        params["objective"] = "binary:logistic"
        return xgb.train(params, dtrain, num_boost_round=args.num_round)
    if row_weights is None:
        dtrain = feature_matrix(features, label=labels)
    else:
        dtrain = feature_matrix(features, label=labels, weight=row_weights)
    # A custom objective starts from a margin, not a probability.
    params = booster_params(args, base_score=logit(prior))
    if args.booster == "linear":
        # gblinear multiplies its penalties by the sum of the DMatrix's row weights; here the
        # class weights live in the gradients instead, so scale the penalties to match the
        # weighted implementation (a test holds the two equal).
        on_matrix = float(np.sum(row_weights)) if row_weights is not None else len(labels)
        scale = float(np.sum(weights)) / on_matrix
        params["lambda"] *= scale
        params["alpha"] *= scale
    objective = asymmetric_logistic_objective(args.fn_weight, args.fp_weight)
    return xgb.train(params, dtrain, num_boost_round=args.num_round, obj=objective)


def train_multi_output(
    features: pd.DataFrame,
    labels: np.ndarray,
    args: argparse.Namespace,
    row_weights: np.ndarray | None = None,
) -> tuple:
    """One booster for every label: multi-output trees, the asymmetric loss per label.

    Each label starts from its own weighted prior, given as a base margin; the same margins
    are added back at prediction (XGBoost adds base margins only where they are given).
    ``row_weights`` (rows x labels, per-row costs) weight each row per label.
    """
    import xgboost as xgb

    margins = np.array(
        [
            logit(
                weighted_prior(
                    labels[:, i],
                    args.fn_weight,
                    args.fp_weight,
                    None if row_weights is None else row_weights[:, i],
                )
            )
            for i in range(labels.shape[1])
        ]
    )
    dtrain = feature_matrix(
        features, label=labels, base_margin=np.tile(margins, (labels.shape[0], 1))
    )
    params = booster_params(args, base_score=0.0)
    params["num_target"] = labels.shape[1]
    if args.booster == "tree":
        params["multi_strategy"] = "multi_output_tree"
    objective = asymmetric_logistic_objective(args.fn_weight, args.fp_weight, row_weights)
    booster = xgb.train(params, dtrain, num_boost_round=args.num_round, obj=objective)
    return booster, margins.tolist()


@dataclass
class CostSensitiveModel:
    """What the training job saves and Evaluate loads: enough to score new rows."""

    schema: dict[str, Any]
    strategy: str  # "binary", "per-label" or "multi-output"
    boosters: list[Any]
    text_state: dict[str, Any] | None = None
    base_margins: list[float] | None = None  # multi-output only
    linear_state: dict[str, Any] | None = None  # the linear booster only
    #: The boosters' input columns in order (XGBoost knows them as f0, f1, ... only).
    input_columns: list[str] | None = None

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Model inputs: the schema's features plus the TF-IDF of its text columns, encoded
        and standardised for a linear booster."""
        features = apply_schema(frame, self.schema)
        if self.text_state is not None:
            features = pd.concat([features, transform_text(frame, self.text_state)], axis=1)
        if self.linear_state is not None:
            features = linear_inputs(features, self.linear_state)
        return features

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities, rows x labels."""
        inputs = self.inputs(frame)
        columns = [str(name) for name in inputs.columns]
        if self.input_columns is not None and columns != self.input_columns:
            # Positional names cannot tell XGBoost that columns moved: check them here.
            raise InputError(
                "the model's inputs differ from the columns it was trained on: give data with "
                "the same columns"
            )
        return self.proba_of_inputs(scoring_data(inputs))

    def proba_of_inputs(self, data: Any) -> np.ndarray:
        """Probabilities of model inputs already in :func:`scoring_data`'s form."""
        if self.strategy == "multi-output":
            margins = self._margins(self.boosters[0], data)
            margins = margins.reshape(len(data), -1) + np.asarray(self.base_margins)
            return sigmoid(margins)
        columns = [sigmoid(self._margins(b, data).reshape(-1)) for b in self.boosters]
        return np.column_stack(columns)

    def _margins(self, booster: Any, data: Any) -> np.ndarray:
        if self.linear_state is None:
            return np.asarray(booster.inplace_predict(data, predict_type="margin"))
        # XGBoost's linear booster has no inplace_predict ("not supported by the current
        # booster"): it scores a DMatrix (its inputs are all numeric, so one is cheap to make).
        import xgboost as xgb

        matrix = xgb.DMatrix(data, feature_names=xgboost_feature_names(data.shape[1]))
        return np.asarray(booster.predict(matrix, output_margin=True))


def scoring_data(features: pd.DataFrame) -> Any:
    """What the boosters score: a float32 array when every input is numeric, else the frame.

    ``inplace_predict`` on either gives the margins a DMatrix of the same frame gives, bit for
    bit (XGBoost stores features as float32 either way; checked on 3.0.5 and 3.2 for numeric,
    categorical and multi-output boosters), without building a DMatrix per booster. (The
    linear booster has no ``inplace_predict`` and still gets a DMatrix.)
    """
    if any(isinstance(dtype, pd.CategoricalDtype) for dtype in features.dtypes):
        # The boosters know their features by position (see xgboost_feature_names).
        return features.set_axis(xgboost_feature_names(features.shape[1]), axis=1)
    return features.to_numpy(dtype=np.float32)


def fit_model(
    frame: pd.DataFrame,
    labels: np.ndarray,
    schema: dict[str, Any],
    args: argparse.Namespace,
    text_rows: np.ndarray | None = None,
    row_weights: np.ndarray | None = None,
) -> CostSensitiveModel:
    """Fit text features (on ``text_rows`` only: the training split) and the booster(s).

    ``row_weights`` (rows x labels) are each row's weight per label under per-row costs.
    """

    def weights_of(index: int) -> np.ndarray | None:
        return None if row_weights is None else row_weights[:, index]

    text_state = None
    if schema.get("text"):
        text_frame = frame if text_rows is None else frame[text_rows]
        text_state = fit_text_features(text_frame, schema["text"], args.text_max_features)
    model = CostSensitiveModel(schema=schema, strategy="binary", boosters=[], text_state=text_state)
    features = model.inputs(frame)
    if args.booster == "linear":
        model.linear_state = fit_linear_inputs(features)
        features = linear_inputs(features, model.linear_state)
    model.input_columns = [str(name) for name in features.columns]
    if labels.shape[1] == 1:
        model.boosters = [train_booster(features, labels[:, 0], args, weights_of(0))]
        return model
    counts = label_counts(labels)  # over every host's rows
    for index in range(labels.shape[1]):
        if counts[1 + index] in (0, counts[0]):
            raise InputError(
                f"label '{schema['labels'][index]}' has one class only in the rows a model "
                "trains on: add rows or set cv_folds = 0"
            )
    model.strategy = args.multilabel_strategy
    if model.strategy == "multi-output" and schema.get("categorical") and not model.linear_state:
        # XGBoost's multi-output trees do not take categorical features (3.2: "not yet
        # implemented"); one booster per label does. The linear booster sees 0/1 columns.
        model.strategy = "per-label"
    if model.strategy == "multi-output":
        booster, margins = train_multi_output(features, labels, args, row_weights)
        model.boosters, model.base_margins = [booster], margins
    else:
        model.boosters = [
            train_booster(features, labels[:, i], args, weights_of(i))
            for i in range(labels.shape[1])
        ]
    return model


@dataclass
class FoldEnsemble:
    """The cross-fitted fold models, scoring as the mean of their probabilities.

    Thresholds are tuned on out-of-fold scores, which come from these very models; scoring new
    rows with their average keeps those rows on the scale the thresholds were tuned on. A
    single model refit on all rows is more confident than the fold models, so a threshold tuned
    on their scores transfers worse: over 21 splits of the breast-cancer data the fold average
    cost $13,772 per patient against $14,079 for the refit (4 missed cancers against 9).
    """

    members: list[CostSensitiveModel]

    @property
    def schema(self) -> dict[str, Any]:
        return self.members[0].schema

    @property
    def strategy(self) -> str:
        return self.members[0].strategy

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        first = self.members[0]
        if all(
            member.text_state == first.text_state and member.linear_state == first.linear_state
            for member in self.members
        ):
            # The same input transforms: make the inputs once and score them with every member.
            data = scoring_data(first.inputs(frame))
            return np.mean([member.proba_of_inputs(data) for member in self.members], axis=0)
        return np.mean([member.predict_proba(frame) for member in self.members], axis=0)
