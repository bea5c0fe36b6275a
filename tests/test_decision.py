"""The decision artifact and its Python API: input rules, thresholds, archive contents."""

from __future__ import annotations

import argparse
import doctest
import json
import tarfile

import numpy as np
import pandas as pd
import pytest

import steps.inputs
from steps.artifact import (
    DECISION_FILE,
    check_document,
    decision_document,
    portable_booster_json,
    write_artifact,
)
from steps.decision import DecisionModel
from steps.errors import InputError
from steps.inputs import input_schema, prepare_rows
from steps.model import fit_model
from steps.model_io import save_model
from steps.rules import ThresholdRule

SCHEMA = {
    "task": "binary",
    "target": "y",
    "positive_label": "1",
    "negative_label": "0",
    "labels": ["bad"],
    "label_columns": ["y"],
    "features": ["amount", "site"],
    "categorical": {"site": ["a", "b", "c"]},
    "text": [],
}


def test_the_module_examples_hold():
    assert doctest.testmod(steps.inputs).failed == 0


def test_numbers_flags_and_missing_values_become_float64():
    spec = input_schema(SCHEMA)
    rows = prepare_rows(
        pd.DataFrame({"amount": ["2.5", "", None, "true", "FALSE", 7], "site": ["a"] * 6}), spec
    )
    values = rows["amount"].to_numpy()
    assert values.dtype == np.float64
    assert values[0] == 2.5 and values[3] == 1.0 and values[4] == 0.0 and values[5] == 7.0
    assert np.isnan(values[1]) and np.isnan(values[2])


def test_categories_compare_as_text_the_way_preprocess_reads_them():
    schema = {**SCHEMA, "categorical": {"site": ["1", "b"]}}
    rows = prepare_rows(
        pd.DataFrame({"amount": [1.0] * 4, "site": [1, 1.0, True, " b "]}), input_schema(schema)
    )
    assert rows["site"].tolist() == ["1", "1", "1", "b"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"amount": [1.0]}), "column 'site' is missing"),
        (
            pd.DataFrame({"amount": [1.0], "site": ["a"], "extra": [0]}),
            "column 'extra' is not one the model was trained on: remove it",
        ),
        (
            pd.DataFrame({"amount": ["12 EUR"], "site": ["a"]}),
            "column 'amount' is numeric but holds '12 EUR' in row 1: send a number",
        ),
        (
            pd.DataFrame({"amount": [1.0, np.inf], "site": ["a", "a"]}),
            "column 'amount' holds an infinite value in row 2",
        ),
        (
            pd.DataFrame({"amount": [1.0], "site": ["z"]}),
            "column 'site' holds the category 'z' in row 1, which training never saw "
            r"\(levels: a, b, c\): send a known level, or leave it empty",
        ),
        (pd.DataFrame({"amount": [], "site": []}), "there are no rows to score"),
    ],
)
def test_bad_rows_raise_one_error_naming_the_column(frame, message):
    with pytest.raises(InputError, match=message):
        prepare_rows(frame, input_schema(SCHEMA))


def test_label_and_row_columns_may_ride_along():
    rows = prepare_rows(
        pd.DataFrame({"y": [1], "__row__": [3], "site": ["b"], "amount": [1.0]}),
        input_schema(SCHEMA),
    )
    assert list(rows.columns) == ["amount", "site"]


def _training_args(**overrides: object) -> argparse.Namespace:
    values = {
        "eta": 0.3,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "seed": 0,
        "booster": "tree",
        "max_depth": 3,
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "gamma": 0.0,
        "max_bin": 256,
        "tree_method": "hist",
        "nthread": 1,
        "objective_impl": "weighted",
        "fn_weight": 5.0,
        "fp_weight": 1.0,
        "num_round": 10,
        "text_max_features": 100,
        "multilabel_strategy": "multi-output",
    }
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A small model on synthetic rows, written as a decision artifact with threshold 0.4."""
    rng = np.random.default_rng(0)
    amount = rng.normal(size=300)
    site = rng.choice(["a", "b", "c"], size=300)
    y = ((amount + (site == "c") + rng.normal(scale=0.5, size=300)) > 0.5).astype(np.int8)
    frame = pd.DataFrame({"amount": amount, "site": pd.Categorical(site, ["a", "b", "c"])})
    model = fit_model(frame, y[:, None], SCHEMA, _training_args())
    folder = tmp_path_factory.mktemp("trained")
    save_model(model, {"setting": {"fn_weight": 5.0}, "library_versions": {"xgboost": "x"}}, folder)
    result = {
        "name": "fn5-fp1",
        "setting": {"fn_weight": 5.0, "fp_weight": 1.0, "booster": "tree"},
        "strategy": "binary",
        "thresholds": {"bad": 0.4},
        "test": {"expected_cost": 1.0, "confusion": {"tp": 1, "fp": 0, "fn": 0, "tn": 1}},
    }
    costs = {"bad": {"tp": 0.0, "fp": 1.0, "fn": 5.0, "tn": 0.0}}
    meta = json.loads((folder / "model_meta.json").read_text())
    check = check_document(model, frame, input_schema(SCHEMA))
    decision = decision_document(result, meta, SCHEMA, costs, check)
    path = write_artifact(folder, decision, tmp_path_factory.mktemp("artifact"))
    return path, model, frame


def test_the_archive_holds_json_and_boosters_only(artifact):
    path, _, _ = artifact
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert names == [DECISION_FILE, "model/model_meta.json", "model/xgboost-model.json"]


def test_the_artifact_scores_like_the_model_it_was_written_from(artifact):
    path, model, frame = artifact
    loaded = DecisionModel.load(path)
    raw = pd.DataFrame({"amount": frame["amount"], "site": frame["site"].astype(str)})
    np.testing.assert_array_equal(loaded.predict_proba(raw), model.predict_proba(frame))
    assert loaded.labels_ == ["bad"] and loaded.thresholds_.tolist() == [0.4]
    assert loaded.versions_["xgboost"] == "x" and "priced_with" in loaded.versions_
    assert loaded.cost_matrices_["bad"]["fn"] == 5.0


def test_decisions_are_at_or_above_the_priced_threshold(artifact):
    path, _, frame = artifact
    loaded = DecisionModel.load(path)
    raw = pd.DataFrame({"amount": frame["amount"], "site": frame["site"].astype(str)})
    scores = loaded.predict_proba(raw)[:, 0]
    # A threshold equal to a row's score calls that row positive, the next one up negative.
    loaded.rules_ = [ThresholdRule(float(scores[0]))]
    assert loaded.predict(raw)[0, 0] == 1
    loaded.rules_ = [ThresholdRule(float(np.nextafter(scores[0], 1.0)))]
    assert loaded.predict(raw)[0, 0] == 0
    table = loaded.decide(raw.head(2))
    assert list(table.columns) == ["score:bad", "decision:bad", "threshold:bad"]
    assert table["decision:bad"].tolist() == (table["score:bad"] >= table["threshold:bad"]).tolist()


def test_a_training_archive_is_not_a_decision_artifact(artifact, tmp_path):
    _, model, _ = artifact
    save_model(model, {"setting": {}}, tmp_path / "trained")
    with pytest.raises(InputError, match="is a training job's model, not a decision artifact"):
        DecisionModel.load(tmp_path / "trained")
    with pytest.raises(InputError, match="no decision artifact at"):
        DecisionModel.load(tmp_path / "nowhere")


def test_a_vector_base_score_of_one_value_is_written_as_the_scalar_xgboost_3_0_reads():
    assert portable_booster_json(b'{"base_score":"[9.9166304E-1]","x":1}') == (
        b'{"base_score":"9.9166304E-1","x":1}'
    )
    assert portable_booster_json(b'"base_score":"[0E0, 0E0]"') == b'"base_score":"0E0"'
    distinct = b'"base_score":"[1E-1,2E-1]"'
    assert portable_booster_json(distinct) == distinct


def test_the_check_rows_are_quantiles_not_rows_and_refuse_a_model_scored_otherwise(
    artifact, tmp_path
):
    path, _, frame = artifact
    decision_dir = tmp_path / "extracted"
    with tarfile.open(path) as tar:
        tar.extractall(decision_dir, filter="data")
    decision = json.loads((decision_dir / DECISION_FILE).read_text())
    rows = decision["check"]["rows"]
    assert rows["amount"] == frame["amount"].quantile([0.1, 0.3, 0.5, 0.7, 0.9]).tolist()
    assert rows["site"] == ["a", "b", "c", "a", "b"]
    decision["check"]["scores"][0][0] += 0.01  # as if this XGBoost read the boosters otherwise
    (decision_dir / DECISION_FILE).write_text(json.dumps(decision))
    with pytest.raises(
        InputError, match=r"scores this model differently .* \(by up to 0.01 on its check rows\)"
    ):
        DecisionModel.load(decision_dir)
