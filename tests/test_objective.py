"""The asymmetric loss: the custom objective by hand, by finite differences, and on real data
against the built-in ``binary:logistic`` with sample weights."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xgboost as xgb

from steps.errors import InputError
from steps.objective import (
    asymmetric_logistic_objective,
    class_weights,
    logit,
    sigmoid,
    weighted_prior,
)


def weighted_log_loss(margins: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-row ``-w (y log p + (1 - y) log(1 - p))`` with ``p = sigmoid(m)``, computed
    independently of the module as ``w (softplus(m) - y m)``."""
    return weights * (np.logaddexp(0.0, margins) - y * margins)


# --------------------------------------------------------------------------- by hand


def test_gradient_and_hessian_by_hand() -> None:
    """fn_weight 4, fp_weight 2; margins 0, 0, ln 3, -ln 3 give p = .5, .5, .75, .25:
    gradients w (p - y) and hessians w p (1 - p) worked out on paper."""
    y = np.array([0.0, 1.0, 1.0, 0.0])
    margins = np.array([0.0, 0.0, math.log(3), -math.log(3)])
    grad, hess = asymmetric_logistic_objective(4, 2)(margins, xgb.DMatrix(np.zeros((4, 1)), y))
    np.testing.assert_allclose(grad, [1.0, -2.0, -1.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(hess, [0.5, 1.0, 0.75, 0.375], rtol=1e-12)


def test_sample_weights_on_the_dmatrix_multiply_the_class_weights() -> None:
    """Row weights 1, 2, .5, 3 scale the hand-computed gradient and hessian row by row."""
    y = np.array([0.0, 1.0, 1.0, 0.0])
    margins = np.array([0.0, 0.0, math.log(3), -math.log(3)])
    dtrain = xgb.DMatrix(np.zeros((4, 1)), y, weight=np.array([1.0, 2.0, 0.5, 3.0]))
    grad, hess = asymmetric_logistic_objective(4, 2)(margins, dtrain)
    np.testing.assert_allclose(grad, [1.0, -4.0, -0.5, 1.5], rtol=1e-12)
    np.testing.assert_allclose(hess, [0.5, 2.0, 0.375, 1.125], rtol=1e-12)


@pytest.mark.parametrize(("fn_weight", "fp_weight"), [(1, 1), (200, 1), (3, 7), (0.4, 2.5)])
def test_gradient_and_hessian_match_finite_differences(fn_weight: float, fp_weight: float) -> None:
    """Central differences of the weighted log loss agree with the analytic derivatives."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(np.float64)
    margins = rng.uniform(-8, 8, 200)
    weights = np.where(y == 1, fn_weight, fp_weight)
    grad, hess = asymmetric_logistic_objective(fn_weight, fp_weight)(
        margins, xgb.DMatrix(np.zeros((200, 1)), y)
    )
    h = 1e-4
    up = weighted_log_loss(margins + h, y, weights)
    mid = weighted_log_loss(margins, y, weights)
    down = weighted_log_loss(margins - h, y, weights)
    np.testing.assert_allclose(grad, (up - down) / (2 * h), rtol=1e-6, atol=1e-9 * fn_weight)
    np.testing.assert_allclose(hess, (up - 2 * mid + down) / h**2, rtol=1e-3, atol=1e-5)


def test_hessian_is_floored_for_saturated_rows() -> None:
    """A margin of 800 saturates the sigmoid; the hessian stays positive (1e-16 per weight)."""
    _, hess = asymmetric_logistic_objective(5, 1)(
        np.array([800.0, -800.0]), xgb.DMatrix(np.zeros((2, 1)), np.array([1.0, 0.0]))
    )
    np.testing.assert_allclose(hess, [5e-16, 1e-16])


@pytest.mark.parametrize(("fn_weight", "fp_weight"), [(0, 1), (1, 0), (-1, 1)])
def test_non_positive_weights_are_rejected(fn_weight: float, fp_weight: float) -> None:
    """Weights must be positive, for the objective and for the sample weights."""
    with pytest.raises(InputError, match="weights must be positive"):
        asymmetric_logistic_objective(fn_weight, fp_weight)
    with pytest.raises(InputError, match="weights must be positive"):
        class_weights(np.array([0, 1]), fn_weight, fp_weight)


def test_class_weights() -> None:
    """fn_weight on positive rows, fp_weight on negative ones."""
    weights = class_weights(np.array([1, 0, 1, 0]), fn_weight=50, fp_weight=2)
    assert weights.tolist() == [50.0, 2.0, 50.0, 2.0]


def test_weighted_prior_by_hand() -> None:
    """Two positives weighted 3 and three negatives weighted 2: 6 / (6 + 6) = 0.5."""
    assert weighted_prior(np.array([1, 1, 0, 0, 0]), 3, 2) == pytest.approx(0.5)
    assert weighted_prior(np.array([1, 0, 0, 0]), 1, 1) == pytest.approx(0.25)
    assert weighted_prior(np.array([1, 0, 0, 0]), 6, 2) == pytest.approx(0.5)


def test_weighted_prior_stays_inside_zero_and_one() -> None:
    """One class only: the prior is clamped so its logit is finite."""
    assert weighted_prior(np.array([1, 1]), 1, 1) == 1 - 1e-6
    assert weighted_prior(np.array([0, 0]), 1, 1) == 1e-6
    assert math.isfinite(logit(weighted_prior(np.array([1, 1]), 1, 1)))


def test_sigmoid_is_stable_for_huge_margins() -> None:
    """+-1000 give exactly 1 and 0 with no overflow warning; symmetric elsewhere."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = sigmoid(np.array([1000.0, -1000.0, 0.0]))
        tail = sigmoid(np.array([-700.0, -30.0]))
    assert out.tolist() == [1.0, 0.0, 0.5]
    np.testing.assert_allclose(tail, [math.exp(-700), 1 / (1 + math.exp(30))], rtol=1e-12)
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid(-x), 1 - sigmoid(x), atol=1e-15)


def test_logit_inverts_sigmoid() -> None:
    """logit(sigmoid(m)) = m."""
    for margin in (-5.0, -0.3, 0.0, 2.0, 9.0):
        assert logit(float(sigmoid(np.array([margin]))[0])) == pytest.approx(margin, abs=1e-9)


# --------------------------------------------------------------------------- on real data

ROUNDS = 30
BASE_PARAMS = {"max_depth": 4, "eta": 0.3, "nthread": 1, "seed": 0}
# 1024 bins exceed the 547 distinct values of the breast-cancer data's busiest feature, so
# ``hist`` sees every value as a split candidate, weighted or not.
TREE_METHODS = [{"tree_method": "exact"}, {"tree_method": "hist", "max_bin": 1024}]


def train_both(
    X: np.ndarray,
    y: np.ndarray,
    fn_weight: float,
    fp_weight: float,
    tree_params: dict,
    sample_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted probabilities of the custom objective and of the weighted built-in one.

    The custom objective starts from the margin ``logit(prior)``, the built-in one from the
    probability ``prior``; both probabilities come from ``sigmoid(raw margin)``.
    """
    weights = class_weights(y, fn_weight, fp_weight)
    if sample_weights is not None:
        weights = weights * sample_weights
    prior = float(np.sum(weights * y) / np.sum(weights))
    params = {**BASE_PARAMS, **tree_params}
    custom = xgb.train(
        {**params, "base_score": logit(prior)},
        xgb.DMatrix(X, label=y, weight=sample_weights),
        num_boost_round=ROUNDS,
        obj=asymmetric_logistic_objective(fn_weight, fp_weight),
    )
    builtin = xgb.train(
        {**params, "objective": "binary:logistic", "base_score": prior},
        xgb.DMatrix(X, label=y, weight=weights),
        num_boost_round=ROUNDS,
    )
    data = xgb.DMatrix(X)
    return (
        sigmoid(custom.predict(data, output_margin=True)),
        sigmoid(builtin.predict(data, output_margin=True)),
    )


_UNWEIGHTED: dict[str, np.ndarray] = {}


def unweighted_probabilities(tree_method: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The 1:1 model's probabilities, trained once per tree method."""
    if tree_method not in _UNWEIGHTED:
        params = next(p for p in TREE_METHODS if p["tree_method"] == tree_method)
        _UNWEIGHTED[tree_method] = train_both(X, y, 1, 1, params)[1]
    return _UNWEIGHTED[tree_method]


def test_hist_bins_cover_every_distinct_value(breast_cancer: tuple[np.ndarray, np.ndarray]) -> None:
    """The premise of the ``hist`` comparison: more bins than distinct values per feature."""
    X, _ = breast_cancer
    busiest = max(np.unique(X[:, j]).size for j in range(X.shape[1]))
    assert busiest < TREE_METHODS[1]["max_bin"]


def per_row_cost_weights(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's cost of a wrong decision under per-row costs, as the training job weighs it:
    a missed malignant case costs ``200 + 0.1 * mean area`` (column 3: 143 to 2,501, so 214 to
    450), a false alarm 100; divided by the mean (``steps.train.training_row_weights``)."""
    import pandas as pd

    from steps.cost_expressions import CostSpec, cost_frame
    from steps.train import training_row_weights

    frame = pd.DataFrame({"area": X[:, 3]})
    spec = CostSpec.parse({"tp": 0, "fp": 100, "fn": "200 + 0.1 * area", "tn": 0}, None)
    costs = cost_frame(frame, {"malignant": spec})
    weights = training_row_weights(costs, y[:, None], ["malignant"], "costs")
    assert weights is not None
    return weights[:, 0]


@pytest.mark.slow
@pytest.mark.parametrize("tree_params", TREE_METHODS, ids=["exact", "hist"])
@pytest.mark.parametrize(
    ("fn_weight", "fp_weight"), [(1, 1), (5, 1), (10, 1), (3, 7), (2.5, 0.4), (1, 20)]
)
@pytest.mark.parametrize("per_row", [False, True], ids=["class-weights", "per-row-costs"])
def test_custom_objective_equals_weighted_builtin_on_breast_cancer(
    breast_cancer: tuple[np.ndarray, np.ndarray],
    fn_weight: float,
    fp_weight: float,
    tree_params: dict,
    per_row: bool,
) -> None:
    """The project's proof: on real data both implementations of the asymmetric loss predict
    the same probabilities, within 1e-6, after 30 rounds: with class weights alone, and with
    each row weighted by its own cost of a wrong decision (per-row costs) times the class
    weights."""
    X, y = breast_cancer
    rows = per_row_cost_weights(X, y) if per_row else None
    custom, builtin = train_both(X, y, fn_weight, fp_weight, tree_params, sample_weights=rows)
    assert np.abs(custom - builtin).max() < 1e-6
    # Not trivially equal: the weights moved the model away from the unweighted one.
    if (fn_weight, fp_weight) != (1, 1) or per_row:
        plain = unweighted_probabilities(tree_params["tree_method"], X, y)
        assert np.abs(custom - plain).max() > 1e-2


@pytest.mark.slow
@pytest.mark.parametrize(("fn_weight", "fp_weight"), [(20, 1), (50, 1)])
def test_heavier_weights_agree_to_float32_precision(
    breast_cancer: tuple[np.ndarray, np.ndarray], fn_weight: float, fp_weight: float
) -> None:
    """At 20:1 and 50:1 XGBoost's float32 gradient sums leave differences of a few 1e-6
    (the custom objective's float64 gradients are rounded once, the built-in's are computed
    in float32); the models still agree to 1e-5."""
    X, y = breast_cancer
    custom, builtin = train_both(X, y, fn_weight, fp_weight, {"tree_method": "exact"})
    assert np.abs(custom - builtin).max() < 1e-5


@pytest.mark.slow
def test_custom_objective_honours_dmatrix_weights_on_breast_cancer(
    breast_cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    """Row weights on the DMatrix times the class weights equal the built-in objective given
    their product as sample weights (both see the same weighted DMatrix, ``exact``)."""
    X, y = breast_cancer
    rows = np.random.default_rng(1).uniform(0.5, 2.0, y.size)
    custom, builtin = train_both(X, y, 3, 2, {"tree_method": "exact"}, sample_weights=rows)
    assert np.abs(custom - builtin).max() < 1e-6


def test_float32_margins_get_float64_gradients() -> None:
    """XGBoost hands the objective float32 margins; the sigmoid must still run in float64
    (a float32 sigmoid near saturation loses most relative precision of p - y)."""
    margins = np.array([2.0, 9.0, -9.0], dtype=np.float32)
    y = np.array([1.0, 1.0, 0.0])
    grad, _ = asymmetric_logistic_objective(1, 1)(margins, xgb.DMatrix(np.zeros((3, 1)), y))
    exact = 1 / (1 + np.exp(-margins.astype(np.float64))) - y
    np.testing.assert_allclose(grad, exact, rtol=1e-12)


def test_threaded_blocks_give_the_single_thread_result(monkeypatch) -> None:
    """Large inputs are split into row blocks computed in threads; the result is identical."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 250_000).astype(np.float64)
    margins = rng.normal(0, 4, 250_000).astype(np.float32)
    matrix = xgb.DMatrix(np.zeros((250_000, 1)), y)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    single = [a.copy() for a in asymmetric_logistic_objective(7, 2)(margins, matrix)]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    threaded = asymmetric_logistic_objective(7, 2)(margins, matrix)
    for one, many in zip(single, threaded, strict=True):
        np.testing.assert_array_equal(one, many)
