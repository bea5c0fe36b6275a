"""The linear booster: its inputs by hand and as properties, the model it trains against
XGBoost's gblinear fitted directly, and its save/load round trip."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from steps.errors import InputError
from steps.linear import fit_linear_inputs, linear_inputs
from steps.model import fit_model
from steps.model_io import LINEAR_FILE, load_model, save_model
from steps.objective import weighted_prior


def linear_args(**overrides: object) -> argparse.Namespace:
    values = {
        "fn_weight": 5.0,
        "fp_weight": 1.0,
        "booster": "linear",
        "objective_impl": "weighted",
        "num_round": 100,
        "max_depth": 4,
        "eta": 0.5,
        "min_child_weight": 1.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "gamma": 0.0,
        "max_bin": 256,
        "tree_method": "hist",
        "nthread": 1,
        "seed": 0,
        "multilabel_strategy": "multi-output",
        "text_max_features": 100,
    }
    return argparse.Namespace(**{**values, **overrides})


def test_inputs_by_hand_with_missing_and_unseen_levels() -> None:
    """x = 1, 3, missing: mean 2, sd 1; colour a, b, a: 0/1 columns with means 2/3 and 1/3,
    sd sqrt(2)/3. A missing number and an unseen level score as the training mean (NaN)."""
    train = pd.DataFrame(
        {"x": [1.0, 3.0, np.nan], "colour": pd.Categorical(["a", "b", "a"], categories=["a", "b"])}
    )
    state = fit_linear_inputs(train)
    assert state["columns"] == ["x", "colour=0", "colour=1"]
    assert state["levels"] == {"colour": ["a", "b"]}
    np.testing.assert_allclose(state["means"], [2.0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(state["scales"], [1.0, np.sqrt(2) / 3, np.sqrt(2) / 3])
    new = pd.DataFrame(
        {"x": [np.nan, 4.0], "colour": pd.Categorical(["c", "b"], categories=["a", "b", "c"])}
    )
    encoded = linear_inputs(new, state).to_numpy()
    assert np.isnan(encoded[0]).all()
    s = np.sqrt(2) / 3
    np.testing.assert_allclose(encoded[1], [2.0, (0 - 2 / 3) / s, (1 - 1 / 3) / s], rtol=1e-6)


def test_a_constant_column_is_kept_at_zero() -> None:
    state = fit_linear_inputs(pd.DataFrame({"c": [7.0, 7.0, 7.0], "x": [0.0, 1.0, 2.0]}))
    assert state["scales"][0] == 1.0
    encoded = linear_inputs(pd.DataFrame({"c": [7.0, 9.0], "x": [1.0, 1.0]}), state)
    np.testing.assert_allclose(encoded["c"], [0.0, 2.0])


def test_other_columns_than_in_training_are_refused() -> None:
    state = fit_linear_inputs(pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 2.0]}))
    with pytest.raises(InputError, match="differ from the columns it was trained on"):
        linear_inputs(pd.DataFrame({"y": [1.0], "x": [0.0]}), state)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 40), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, width=32),
    )
)
def test_training_columns_come_out_centred_with_unit_spread(values: np.ndarray) -> None:
    """Every training column has mean 0 and, unless constant, population sd 1."""
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(values.shape[1])])
    encoded = linear_inputs(frame, fit_linear_inputs(frame)).to_numpy(dtype=np.float64)
    spread = values.std(axis=0)
    scale = np.maximum(np.abs(values).max(axis=0), 1.0)
    np.testing.assert_allclose(encoded.mean(axis=0) * spread / scale, 0.0, atol=1e-5)
    varying = spread > 1e-6 * scale
    np.testing.assert_allclose(encoded.std(axis=0)[varying], 1.0, rtol=1e-3)


def test_the_model_is_gblinear_on_standardised_features(
    breast_cancer_frame: pd.DataFrame,
) -> None:
    """Reconstructed by hand: z-scores, class weights 5:1, the weighted prior as base score,
    XGBoost's gblinear; same probabilities."""
    features = breast_cancer_frame.drop(columns="diagnosis")
    labels = (breast_cancer_frame["diagnosis"] == "M").to_numpy(np.int8)[:, None]
    schema = {"features": list(features.columns), "categorical": {}, "labels": ["malignant"]}
    model = fit_model(features, labels, schema, linear_args())
    X = features.to_numpy()
    z = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    y = labels[:, 0]
    by_hand = xgb.train(
        {
            "booster": "gblinear",
            "updater": "shotgun",
            "objective": "binary:logistic",
            "eta": 0.5,
            "lambda": 1.0,
            "alpha": 0.0,
            "seed": 0,
            "nthread": 1,
            "base_score": weighted_prior(y, 5.0, 1.0),
        },
        xgb.DMatrix(z, y, weight=np.where(y == 1, 5.0, 1.0)),
        num_boost_round=100,
    )
    expected = by_hand.predict(xgb.DMatrix(z))
    np.testing.assert_allclose(model.predict_proba(features)[:, 0], expected, rtol=1e-5)
    # A linear score separates this data well even with gblinear's lambda = 1, which is large
    # (it is a penalty per training row): AUC 0.99.
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, expected) > 0.985


def test_the_custom_objective_trains_the_same_linear_model(
    breast_cancer_frame: pd.DataFrame,
) -> None:
    """The asymmetric loss as a custom objective and as class weights agree for gblinear too."""
    features = breast_cancer_frame.drop(columns="diagnosis")
    labels = (breast_cancer_frame["diagnosis"] == "M").to_numpy(np.int8)[:, None]
    schema = {"features": list(features.columns), "categorical": {}, "labels": ["malignant"]}
    weighted = fit_model(features, labels, schema, linear_args())
    custom = fit_model(features, labels, schema, linear_args(objective_impl="custom"))
    np.testing.assert_allclose(
        custom.predict_proba(features), weighted.predict_proba(features), atol=1e-5
    )


def test_a_saved_linear_model_scores_the_same_after_loading(tmp_path, breast_cancer_frame):
    features = breast_cancer_frame.drop(columns="diagnosis").iloc[:200]
    features = features.assign(grade=pd.Categorical(np.resize(["low", "mid", "high"], 200)))
    labels = (breast_cancer_frame["diagnosis"] == "M").to_numpy(np.int8)[:200, None]
    schema = {
        "features": list(features.columns),
        "categorical": {"grade": ["high", "low", "mid"]},
        "labels": ["malignant"],
    }
    model = fit_model(features, labels, schema, linear_args())
    save_model(model, {"name": "linear-fn5-fp1"}, tmp_path)
    assert (tmp_path / LINEAR_FILE).is_file()
    loaded = load_model(tmp_path).model
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
    (tmp_path / LINEAR_FILE).unlink()
    with pytest.raises(InputError, match=f"lacks its file '{LINEAR_FILE}'"):
        load_model(tmp_path)


def test_multi_label_linear_model_is_one_multi_output_booster_even_with_categories() -> None:
    """Trees fall back to one booster per label with categorical features; the linear booster
    sees 0/1 columns, so it stays one booster with a score per label."""
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "kind": pd.Categorical(rng.choice(["p", "q"], 300), categories=["p", "q"]),
        }
    )
    labels = np.column_stack(
        [features["x"] > 0, features["kind"] == "q", rng.random(300) < 0.3]
    ).astype(np.int8)
    schema = {
        "features": ["x", "kind"],
        "categorical": {"kind": ["p", "q"]},
        "labels": ["a", "b", "c"],
    }
    model = fit_model(features, labels, schema, linear_args())
    assert model.strategy == "multi-output" and len(model.boosters) == 1
    scores = model.predict_proba(features)
    assert scores.shape == (300, 3)
    # The first two labels follow their feature: the score ranks them almost perfectly.
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(labels[:, 0], scores[:, 0]) > 0.95
    assert roc_auc_score(labels[:, 1], scores[:, 1]) > 0.95
