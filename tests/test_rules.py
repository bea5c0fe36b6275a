"""Decision rules under per-row costs: the shift sweep against brute force, its reduction to
the threshold sweep under constant costs, the calibrations and the cross-validated choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression

from steps.cost_expressions import RowCosts
from steps.costs import CostMatrix
from steps.errors import InputError
from steps.rules import (
    MinimumRiskRule,
    ThresholdRule,
    calibrate,
    choose_rule,
    fit_isotonic,
    fit_platt,
    logit,
    row_keys,
    rule_from_dict,
    shift_sweep,
    sigmoid,
)
from steps.sweep import cost_sweep


def _costs(fn, fp, tp=None, tn=None) -> RowCosts:
    fn = np.asarray(fn, float)
    fp = np.asarray(fp, float)
    tp = np.zeros_like(fn) if tp is None else np.asarray(tp, float)
    tn = np.zeros_like(fn) if tn is None else np.asarray(tn, float)
    return RowCosts(tp=tp, fp=fp, fn=fn, tn=tn)


def test_keys_by_hand_and_at_the_edges():
    # Row 1: t = 1 / (1 + 9) = 0.1, p = 0.5: k = logit(0.1) - 0 = -2.197.
    # Row 2: a false alarm costs nothing (t = 0): always positive.
    # Row 3: a miss costs nothing (t = 1): never positive. Row 4: no regret at all: negative.
    # Rows 5 and 6: scores of exactly 1 and 0 under t = 0.5.
    costs = _costs(fn=[9, 5, 0, 0, 1, 1], fp=[1, 0, 3, 0, 1, 1])
    keys = row_keys(np.array([0.5, 0.2, 0.9, 0.5, 1.0, 0.0]), costs)
    assert keys[0] == pytest.approx(np.log(0.1 / 0.9))
    assert keys[1:].tolist() == [-np.inf, np.inf, np.inf, -np.inf, np.inf]
    decided = MinimumRiskRule(0.0).decide(np.array([0.5, 0.2, 0.9, 0.5, 1.0, 0.0]), costs)
    assert decided.tolist() == [1, 1, 0, 0, 1, 0]


def _brute_force(y, scores, costs):
    """The cheapest decisions over every shift that can change one, tried one by one."""
    keys = row_keys(scores, costs)
    finite = np.unique(keys[np.isfinite(keys)])
    candidates = [-1e9, 1e9, *finite, *(np.nextafter(finite, -np.inf))]
    best = np.inf
    for shift in candidates:
        decided = MinimumRiskRule(float(shift)).decide(scores, costs)
        best = min(best, costs.of(y, decided).mean())
    return best


rows = st.integers(1, 40)


@st.composite
def problems(draw):
    n = draw(rows)
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    # Few distinct scores and costs, so ties and zero regrets happen.
    scores = np.array(
        draw(
            st.lists(
                st.sampled_from([0.0, 0.01, 0.2, 0.5, 0.5, 0.7, 0.99, 1.0]), min_size=n, max_size=n
            )
        )
    )
    fn = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 3.0, 50.0]), min_size=n, max_size=n)))
    fp = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 7.5]), min_size=n, max_size=n)))
    tp = np.array(draw(st.lists(st.sampled_from([0.0, -1.0, 0.5]), min_size=n, max_size=n)))
    return y, scores, RowCosts(tp=np.minimum(tp, fn), fp=fp, fn=fn, tn=np.zeros(n))


@settings(max_examples=300, deadline=None)
@given(problems())
def test_the_sweep_finds_the_brute_force_minimum(problem):
    y, scores, costs = problem
    sweep = shift_sweep(y, scores, costs)
    assert sweep.best_cost == pytest.approx(_brute_force(y, scores, costs), abs=1e-9)
    # The chosen shift makes exactly the decisions the sweep priced.
    decided = MinimumRiskRule(sweep.best_shift).decide(scores, costs)
    assert costs.of(y, decided).mean() == pytest.approx(sweep.best_cost, abs=1e-9)
    # Every point of the curve is the cost of the decisions at a shift just at its key.
    for key, cost in zip(sweep.keys, sweep.costs[1:], strict=True):
        decided = MinimumRiskRule(float(key)).decide(scores, costs)
        assert costs.of(y, decided).mean() == pytest.approx(cost, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(1, 999)), min_size=1, max_size=60),
    st.sampled_from(
        [(0, 1, 10, 0), (35280.0, 1287.67, 252000.0, 0.0), (5, 5, 250, 0), (0, 3, 1, 0)]
    ),
)
def test_with_constant_costs_the_shift_is_todays_threshold(pairs, matrix):
    y = np.array([label for label, _ in pairs])
    scores = np.array([score / 1000 for _, score in pairs])  # strictly inside (0, 1)
    tp, fp, fn, tn = matrix
    costs = RowCosts.constant({"tp": tp, "fp": fp, "fn": fn, "tn": tn}, y.size)
    shift = shift_sweep(y, scores, costs)
    threshold = cost_sweep(y, scores, CostMatrix(tp=tp, fp=fp, fn=fn, tn=tn))
    # The same candidate decisions (top-j by score) with the same costs, in the same order.
    assert shift.costs == pytest.approx(threshold.costs, rel=1e-12, abs=1e-9)
    assert shift.best_cost == pytest.approx(threshold.best_cost, rel=1e-12, abs=1e-9)
    shifted = MinimumRiskRule(shift.best_shift).decide(scores, costs)
    cut = ThresholdRule(threshold.best_threshold).decide(scores)
    assert costs.of(y, shifted).mean() == pytest.approx(costs.of(y, cut).mean(), abs=1e-9)
    # The rule's threshold on the score: sigmoid(logit(t) - shift), one number for all rows.
    implied = MinimumRiskRule(shift.best_shift).row_thresholds(costs, y.size)
    assert np.ptp(implied) == pytest.approx(0, abs=1e-12)
    assert np.array_equal(scores >= implied[0], shifted == 1)


def test_curve_by_hand():
    # One positive at 0.2, negatives at 0.05 and 0.01; a miss costs 9, a false alarm 1.
    costs = RowCosts.constant({"tp": 0, "fp": 1, "fn": 9, "tn": 0}, 3)
    sweep = shift_sweep(np.array([1, 0, 0]), np.array([0.2, 0.05, 0.01]), costs)
    assert sweep.costs.tolist() == pytest.approx([3.0, 0.0, 1 / 3, 2 / 3])
    assert sweep.best_index == 1
    # Halfway between the positive's key and the first negative's.
    keys = row_keys(np.array([0.2, 0.05]), costs.take([0, 1]))
    assert sweep.best_shift == pytest.approx(keys.mean())


def test_the_ends_get_a_margin():
    costs = RowCosts.constant({"tp": 0, "fp": 1, "fn": 1, "tn": 0}, 2)
    none = shift_sweep(np.array([0, 0]), np.array([0.3, 0.6]), costs)
    assert none.best_index == 0 and none.best_shift == pytest.approx(none.keys[0] - 1.0)
    every = shift_sweep(np.array([1, 1]), np.array([0.3, 0.6]), costs)
    assert every.best_index == 2 and every.best_shift == pytest.approx(every.keys[-1] + 1.0)


def test_sweep_refuses_bad_input():
    costs = RowCosts.constant({"tp": 0, "fp": 1, "fn": 1, "tn": 0}, 2)
    with pytest.raises(InputError, match="one per row"):
        shift_sweep(np.array([0, 1]), np.array([0.5]), costs)
    with pytest.raises(InputError, match="NaN or infinite"):
        shift_sweep(np.array([0, 1]), np.array([0.5, np.nan]), costs)


def test_isotonic_is_applied_as_scikit_learn_applies_it():
    rng = np.random.RandomState(3)
    scores = rng.uniform(0, 1, 400)
    y = (rng.uniform(0, 1, 400) < scores**2).astype(int)
    fitted = fit_isotonic(y, scores)
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(scores, y)
    new = np.concatenate([rng.uniform(-0.2, 1.2, 300), scores[:50]])
    assert calibrate(fitted, new) == pytest.approx(reference.predict(new), abs=1e-12)


def test_platt_stays_finite_on_separated_scores_and_fits_a_known_slope():
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    separated = fit_platt(np.array([0, 0, 0, 1, 1, 1]), scores)
    assert np.isfinite(separated["a"]) and separated["a"] > 0
    # Scores three times too confident on the logit scale: Platt finds a slope near 1/3.
    rng = np.random.RandomState(0)
    margins = rng.normal(0, 1.5, 20000)
    y = (rng.uniform(size=margins.size) < sigmoid(margins)).astype(int)
    fitted = fit_platt(y, sigmoid(3 * margins))
    assert fitted["a"] == pytest.approx(1 / 3, abs=0.02)
    assert fitted["b"] == pytest.approx(0.0, abs=0.05)


def test_the_choice_goes_to_calibration_when_scores_are_overconfident():
    rng = np.random.RandomState(1)
    n = 6000
    margins = rng.normal(-1.5, 1.5, n)
    y = (rng.uniform(size=n) < sigmoid(margins)).astype(int)
    amount = rng.lognormal(3, 1.2, n)
    costs = _costs(fn=amount, fp=np.full(n, 10.0))
    _, record = choose_rule(y, sigmoid(margins), costs, seed=0)
    overconfident, distorted = choose_rule(y, sigmoid(4 * margins), costs, seed=0)
    assert record["folds"] == 5 and set(record["cross_validated_costs"]) == {
        "shift",
        "isotonic",
        "platt",
    }
    # Its costs are the folds' held-out costs: the chosen one is the smallest.
    chosen = distorted["cross_validated_costs"][distorted["choice"]]
    assert chosen == min(distorted["cross_validated_costs"].values())
    # A shift cannot undo a slope of 4 on the logit scale; a calibration can.
    assert distorted["choice"] in ("isotonic", "platt")
    assert distorted["cross_validated_costs"]["shift"] > 1.02 * chosen
    assert overconfident.calibration is not None
    # On calibrated scores nothing beats the plain rule by much (shift near 0).
    assert record["cross_validated_costs"][record["choice"]] == pytest.approx(
        record["cross_validated_costs"]["shift"], rel=0.02
    )
    # The same rows and seed give the same choice and the same rule.
    again, same = choose_rule(y, sigmoid(4 * margins), costs, seed=0)
    assert same == distorted and again == overconfident


def test_one_class_short_of_two_rows_falls_back_to_the_shift():
    costs = RowCosts.constant({"tp": 0, "fp": 1, "fn": 5, "tn": 0}, 4)
    rule, record = choose_rule(np.array([1, 0, 0, 0]), np.array([0.9, 0.1, 0.2, 0.3]), costs)
    assert record == {"choice": "shift", "cross_validated_costs": None, "folds": 0}
    assert rule.calibration is None


def test_rules_round_trip_and_refuse_unknown_kinds():
    rule = MinimumRiskRule(0.25, {"method": "platt", "a": 0.5, "b": -0.1})
    assert rule_from_dict(rule.as_dict()) == rule
    assert rule_from_dict(ThresholdRule(0.3).as_dict()) == ThresholdRule(0.3)
    with pytest.raises(InputError, match="unknown decision rule 'magic'"):
        rule_from_dict({"kind": "magic"})
    with pytest.raises(InputError, match="needs each row's costs"):
        rule.decide(np.array([0.5]))
    assert logit(np.array([0.5]))[0] == 0.0
