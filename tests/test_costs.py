"""Cost matrices, expected cost, baselines, savings, the bootstrap interval and cost settings."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.costs import (
    ConfusionCounts,
    CostMatrix,
    CostSetting,
    bootstrap_cost_interval,
    default_cost_settings,
    default_row_cost_settings,
    parse_cost_settings,
    resample_counts,
    savings,
    setting_text,
    validate_cost_settings,
)
from steps.errors import InputError

# tp, fp, fn, tn: a miss costs 10, a false alarm 2, a catch 1, a correct negative nothing.
SMALL = CostMatrix(tp=1.0, fp=2.0, fn=10.0, tn=0.0)
STUDY = CostMatrix(tp=35280.0, fp=1287.67, fn=252000.0, tn=0.0)


def round_2_significant(value: float) -> float:
    """``value`` rounded to two significant digits, half to even, from its exact decimal."""
    exact = Decimal(value)
    exponent = exact.adjusted() - 1
    return float(exact.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN))


# --------------------------------------------------------------------------- CostMatrix


@pytest.mark.parametrize("bad", ["10", None, True, [1.0], object()])
def test_non_numeric_entry_is_rejected_naming_the_entry(bad: object) -> None:
    """Text, None, booleans and containers are not money: the message names the entry."""
    with pytest.raises(InputError, match=r"entry 'fp' is .*not a number"):
        CostMatrix(tp=0.0, fp=bad, fn=10.0, tn=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, np.float64("nan")])
def test_non_finite_entry_is_rejected(bad: float) -> None:
    """Infinite and NaN amounts are rejected with the entry's name and a fix."""
    with pytest.raises(InputError, match=r"entry 'fn' is .*: give a finite amount"):
        CostMatrix(tp=0.0, fp=1.0, fn=bad, tn=0.0)


def test_numpy_and_int_entries_become_floats() -> None:
    """numpy scalars and ints are accepted and stored as plain floats."""
    matrix = CostMatrix(tp=np.int64(1), fp=np.float32(2.5), fn=10, tn=0)
    assert matrix.as_dict() == {"tp": 1.0, "fp": 2.5, "fn": 10.0, "tn": 0.0}
    assert all(type(value) is float for value in matrix.as_dict().values())


def test_missed_positive_cheaper_than_caught_one_is_rejected() -> None:
    """fn < tp: the message names both entries with their values."""
    with pytest.raises(InputError) as info:
        CostMatrix(tp=10.0, fp=1.0, fn=5.0, tn=0.0)
    message = str(info.value)
    assert "fn=5" in message and "tp=10" in message and "fn must be >= tp" in message


def test_false_alarm_cheaper_than_correct_negative_is_rejected() -> None:
    """fp < tn: the message names both entries with their values."""
    with pytest.raises(InputError) as info:
        CostMatrix(tp=0.0, fp=1.0, fn=5.0, tn=3.0)
    message = str(info.value)
    assert "fp=1" in message and "tn=3" in message and "fp must be >= tn" in message


def test_matrix_where_no_decision_matters_is_rejected() -> None:
    """fn == tp and fp == tn: every decision costs the same, nothing to optimise."""
    with pytest.raises(InputError, match="every decision cost the same"):
        CostMatrix(tp=4.0, fp=2.0, fn=4.0, tn=2.0)


def test_equal_regret_on_one_side_is_allowed() -> None:
    """fn == tp is fine while false alarms still cost extra (ratio 0)."""
    matrix = CostMatrix(tp=5.0, fp=2.0, fn=5.0, tn=0.0)
    assert matrix.ratio == 0.0
    assert matrix.bayes_threshold == 1.0


def test_from_mapping_accepts_numeric_text() -> None:
    """Numbers written as text, with spaces, thousands separators or underscores, parse."""
    matrix = CostMatrix.from_mapping({"tp": "35,280", "fp": " 1287.67 ", "fn": "252_000", "tn": 0})
    assert matrix == STUDY


def test_from_mapping_rejects_non_numeric_text() -> None:
    """Text that is not a number names the entry and shows an example."""
    with pytest.raises(InputError, match=r"entry 'tn' is 'zero', not a number.*tn = 100.0"):
        CostMatrix.from_mapping({"tp": 0, "fp": 1, "fn": 5, "tn": "zero"})


def test_from_mapping_rejects_infinite_text() -> None:
    """'inf' parses as a float and is then rejected as not finite."""
    with pytest.raises(InputError, match="entry 'fn' is inf"):
        CostMatrix.from_mapping({"tp": 0, "fp": 1, "fn": "inf", "tn": 0})


def test_from_mapping_names_missing_keys() -> None:
    """A missing key is listed as missing, with no unknown keys."""
    with pytest.raises(InputError) as info:
        CostMatrix.from_mapping({"tp": 0, "fp": 1, "fn": 5})
    assert "missing: ['tn']" in str(info.value)
    assert "unknown: none" in str(info.value)


def test_from_mapping_names_unknown_keys() -> None:
    """A misspelt key is reported as unknown and its intended key as missing."""
    with pytest.raises(InputError) as info:
        CostMatrix.from_mapping({"tp": 0, "fp": 1, "fn": 5, "tnn": 0})
    assert "missing: ['tn']" in str(info.value)
    assert "unknown: ['tnn']" in str(info.value)


def test_expected_cost_by_hand() -> None:
    """(3*1 + 4*2 + 1*10 + 2*0) / 10 = 2.1 per decision."""
    counts = ConfusionCounts(tp=3, fp=4, fn=1, tn=2)
    assert SMALL.total_cost(counts) == 21.0
    assert SMALL.expected_cost(counts) == pytest.approx(2.1)


def test_expected_cost_with_benefits_is_negative() -> None:
    """A caught positive worth 100 makes the cost negative: (2*-100 + 1*5) / 10 = -19.5."""
    matrix = CostMatrix(tp=-100.0, fp=5.0, fn=0.0, tn=0.0)
    counts = ConfusionCounts(tp=2, fp=1, fn=1, tn=6)
    assert matrix.expected_cost(counts) == pytest.approx(-19.5)


def test_expected_cost_of_no_decisions_is_an_error() -> None:
    """No decisions have no mean cost."""
    with pytest.raises(InputError, match="at least one decision"):
        SMALL.expected_cost(ConfusionCounts(0, 0, 0, 0))


def test_baselines_by_hand() -> None:
    """4 positives, 6 negatives: all negative (4*10)/10 = 4.0; all positive (4*1 + 6*2)/10."""
    assert SMALL.baseline_costs(positives=4, negatives=6) == pytest.approx(
        {"all_negative": 4.0, "all_positive": 1.6}
    )
    with pytest.raises(InputError, match="at least one decision"):
        SMALL.baseline_costs(0, 0)


def test_baselines_equal_the_expected_cost_of_the_trivial_confusions() -> None:
    """The baselines are the expected costs of the all-negative and all-positive counts."""
    baselines = STUDY.baseline_costs(positives=55, negatives=88)
    all_negative = STUDY.expected_cost(ConfusionCounts(tp=0, fp=0, fn=55, tn=88))
    all_positive = STUDY.expected_cost(ConfusionCounts(tp=55, fp=88, fn=0, tn=0))
    assert baselines["all_negative"] == pytest.approx(all_negative)
    assert baselines["all_positive"] == pytest.approx(all_positive)


def test_ratio_and_bayes_threshold_by_hand() -> None:
    """Ratio (10 - 1) / (2 - 0) = 4.5; Bayes threshold 2 / (2 + 9) = 2/11."""
    assert SMALL.ratio == 4.5
    assert SMALL.bayes_threshold == pytest.approx(2 / 11)
    assert CostMatrix(tp=0.0, fp=0.0, fn=10.0, tn=0.0).ratio == math.inf


def test_confusion_counts_totals() -> None:
    """Totals and class sizes of a confusion."""
    counts = ConfusionCounts(tp=3, fp=4, fn=1, tn=2)
    assert (counts.total, counts.positives, counts.negatives) == (10, 4, 6)
    assert counts.as_dict() == {"tp": 3, "fp": 4, "fn": 1, "tn": 2}


# --------------------------------------------------------------------------- savings


@pytest.mark.parametrize(
    ("model", "baseline", "expected"),
    [
        (1.0, 4.0, 0.75),  # cheaper than the baseline: positive savings
        (4.0, 4.0, 0.0),
        (5.0, 4.0, -0.25),  # dearer: negative savings
        (0.0, 4.0, 1.0),
        (-50.0, 100.0, 1.5),  # the model earns money where the baseline costs it
        (-150.0, -100.0, 0.5),  # both earn; the model earns more: still positive
        (-50.0, -100.0, -0.5),  # both earn; the model earns less: negative
        (50.0, -100.0, -1.5),
    ],
)
def test_savings_sign_conventions(model: float, baseline: float, expected: float) -> None:
    """Savings are positive exactly when the model is cheaper, whatever the signs."""
    assert savings(model, baseline) == pytest.approx(expected)


def test_savings_undefined_for_a_free_baseline() -> None:
    """A baseline that costs nothing has no fraction to save."""
    assert savings(1.0, 0.0) is None
    assert savings(0.0, 0.0) is None


# --------------------------------------------------------------------------- bootstrap

COUNTS = ConfusionCounts(tp=30, fp=20, fn=10, tn=140)


def test_bootstrap_interval_contains_the_point_estimate() -> None:
    """The 95 % interval brackets the observed expected cost and has positive width."""
    low, high = bootstrap_cost_interval(SMALL, COUNTS, seed=1)
    assert low < SMALL.expected_cost(COUNTS) < high


def test_bootstrap_interval_width_matches_the_normal_approximation() -> None:
    """Per-decision costs 1, 2, 10, 0: mean 0.85, variance 5.55 - 0.85**2 = 4.8275 over 200
    decisions, so the 95 % interval is about 2 * 1.96 * sqrt(4.8275 / 200) = 0.609 wide."""
    low, high = bootstrap_cost_interval(SMALL, COUNTS, n_resamples=4000, seed=3)
    expected_width = 2 * 1.959964 * math.sqrt(4.8275 / 200)
    assert high - low == pytest.approx(expected_width, rel=0.1)
    assert (low + high) / 2 == pytest.approx(0.85, abs=0.05)


def test_bootstrap_interval_shrinks_with_more_decisions() -> None:
    """Ten times the decisions in the same proportions: about sqrt(10) times narrower."""
    low, high = bootstrap_cost_interval(SMALL, COUNTS, seed=0)
    more = ConfusionCounts(tp=300, fp=200, fn=100, tn=1400)
    low_more, high_more = bootstrap_cost_interval(SMALL, more, seed=0)
    assert high_more - low_more < (high - low) / 2
    assert low < low_more and high_more < high


def test_bootstrap_interval_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same interval; another seed draws other resamples."""
    first = bootstrap_cost_interval(SMALL, COUNTS, n_resamples=500, seed=7)
    assert bootstrap_cost_interval(SMALL, COUNTS, n_resamples=500, seed=7) == first
    assert not np.array_equal(resample_counts(COUNTS, 50, 7), resample_counts(COUNTS, 50, 8))


@pytest.mark.parametrize(
    "counts",
    [ConfusionCounts(tp=50, fp=0, fn=0, tn=0), ConfusionCounts(tp=0, fp=0, fn=0, tn=9)],
)
def test_bootstrap_interval_of_a_single_outcome_has_zero_width(counts: ConfusionCounts) -> None:
    """When every decision has the same outcome every resample has the same cost."""
    low, high = bootstrap_cost_interval(SMALL, counts)
    assert low == high == SMALL.expected_cost(counts)


def test_resamples_keep_the_number_of_decisions() -> None:
    """Each resample redistributes exactly ``total`` decisions over the four cells."""
    draws = resample_counts(COUNTS, 100, seed=0)
    assert draws.shape == (100, 4)
    assert (draws.sum(axis=1) == COUNTS.total).all()
    assert (draws >= 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confidence": 0.0}, "confidence"),
        ({"confidence": 1.0}, "confidence"),
        ({"n_resamples": 0}, "n_resamples"),
    ],
)
def test_bootstrap_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    """Confidence outside (0, 1) and fewer than one resample are input errors."""
    with pytest.raises(InputError, match=match):
        bootstrap_cost_interval(SMALL, COUNTS, **kwargs)


def test_bootstrap_of_no_decisions_is_an_error() -> None:
    """No decisions: nothing to resample."""
    with pytest.raises(InputError, match="at least one decision"):
        bootstrap_cost_interval(SMALL, ConfusionCounts(0, 0, 0, 0))


# --------------------------------------------------------------------------- CostSetting


@pytest.mark.parametrize(
    ("fn_weight", "fp_weight", "name", "step_name"),
    [
        (200, 1, "fn200-fp1", "TrainFn200Fp1"),
        (2.5, 1, "fn2.5-fp1", "TrainFn2p5Fp1"),
        (1, 0.5, "fn1-fp0.5", "TrainFn1Fp0p5"),
        (1, 1, "fn1-fp1", "TrainFn1Fp1"),
        (1.23456, 1, "fn1.235-fp1", "TrainFn1p235Fp1"),  # four significant digits
    ],
)
def test_setting_names(fn_weight: float, fp_weight: float, name: str, step_name: str) -> None:
    """Names and pipeline step names of cost settings."""
    setting = CostSetting(fn_weight=fn_weight, fp_weight=fp_weight)
    assert setting.name == name
    assert setting.step_name == step_name
    assert setting.step_name.isalnum()


def test_setting_parse_and_ratio() -> None:
    """'2.5:1' parses to (2.5, 1) with ratio 2.5; spaces around the numbers are fine."""
    setting = CostSetting.parse(" 2.5 : 1 ")
    assert (setting.fn_weight, setting.fp_weight, setting.ratio) == (2.5, 1.0, 2.5)
    assert CostSetting.parse("200:1").step_name == "TrainFn200Fp1"
    assert CostSetting.parse("1:4").ratio == 0.25


def test_setting_rounds_to_what_its_name_shows() -> None:
    """Weights are stored at the name's precision, so equal names mean equal settings."""
    assert CostSetting(1.23456, 1) == CostSetting(1.235, 1)


def test_setting_as_dict_writes_whole_weights_as_ints() -> None:
    """JSON shows 200, not 200.0, and keeps fractions."""
    assert CostSetting(200, 1).as_dict() == {"fn_weight": 200, "fp_weight": 1, "booster": "tree"}
    assert type(CostSetting(200, 1).as_dict()["fn_weight"]) is int
    assert CostSetting(2.5, 1, "linear").as_dict() == {
        "fn_weight": 2.5,
        "fp_weight": 1,
        "booster": "linear",
    }


@pytest.mark.parametrize("text", ["200", "", "200;1", "200-1", "1:1:linear:flat:x"])
def test_setting_parse_rejects_wrong_shape(text: str) -> None:
    """Anything but two to four fields separated by ':' is rejected with examples."""
    with pytest.raises(
        InputError,
        match=r"not fn_weight:fp_weight\[:booster\]\[:flat\]: write e\.g\. 200:1, 1:1:linear or "
        "1:1:flat",
    ):
        CostSetting.parse(text)


@pytest.mark.parametrize("text", ["200:1:3", "200:1:gbtree", "200:1:", "200:1:linear:x"])
def test_setting_parse_rejects_unknown_boosters(text: str) -> None:
    with pytest.raises(InputError, match=r"after the weights write a booster \(tree, linear\)"):
        CostSetting.parse(text)


def test_flat_settings_have_their_own_names_and_keep_old_json() -> None:
    """``:flat`` (per-row costs: class weights alone) names its own step; settings weighted by
    costs keep the JSON they always had."""
    flat = CostSetting.parse("1:1:flat")
    assert (flat.name, flat.step_name, flat.text) == ("flat-fn1-fp1", "TrainFlatFn1Fp1", "1:1:flat")
    assert flat.as_dict() == {
        "fn_weight": 1,
        "fp_weight": 1,
        "booster": "tree",
        "weighting": "flat",
    }
    assert CostSetting.parse("1:1:flat:linear") == CostSetting.parse("1:1:linear:flat")
    assert "weighting" not in CostSetting.parse("1:1").as_dict()
    with pytest.raises(InputError, match="names a booster or flat twice"):
        CostSetting.parse("1:1:flat:flat")
    with pytest.raises(InputError, match="names a booster or flat twice"):
        CostSetting.parse("1:1:tree:linear")
    # Flat before weighted within trees, trees before linear.
    texts = [s.text for s in default_row_cost_settings()]
    assert texts == ["1:1:flat", "1:3.2", "1:1", "3.2:1", "1:1:linear:flat", "1:1:linear"]
    assert len({s.step_name for s in default_row_cost_settings()}) == 6


def test_linear_settings_have_their_own_names() -> None:
    """A linear setting never shares a name or a step with the tree setting of its weights."""
    tree, linear = CostSetting.parse("2.5:1"), CostSetting.parse(" 2.5 : 1 : linear ")
    assert (linear.name, linear.step_name, linear.text) == (
        "linear-fn2.5-fp1",
        "TrainLinearFn2p5Fp1",
        "2.5:1:linear",
    )
    assert CostSetting.parse("2.5:1:tree") == tree and tree.text == "2.5:1"
    # evaluation.json written before boosters existed names none: trees.
    assert setting_text({"fn_weight": 2.5, "fp_weight": 1}) == "2.5:1"
    assert setting_text(linear.as_dict()) == "2.5:1:linear"
    assert linear.ratio == tree.ratio and linear != tree
    assert [s.name for s in parse_cost_settings("2.5:1,2.5:1:linear")] == [tree.name, linear.name]
    with pytest.raises(InputError, match="listed twice"):
        parse_cost_settings("1:1:linear, 1:1:linear")


@pytest.mark.parametrize("text", ["a:1", "200:", "1:x"])
def test_setting_parse_rejects_non_numbers(text: str) -> None:
    """Fields that are not numbers are rejected."""
    with pytest.raises(InputError, match="not two numbers"):
        CostSetting.parse(text)


@pytest.mark.parametrize("text", ["0:1", "-1:1", "1:0", "inf:1", "nan:1"])
def test_setting_parse_rejects_non_positive_or_infinite(text: str) -> None:
    """Weights must be positive finite numbers."""
    with pytest.raises(InputError, match="positive finite number"):
        CostSetting.parse(text)


@pytest.mark.parametrize("bad", ["2", True, None])
def test_setting_rejects_non_numbers(bad: object) -> None:
    """Text, booleans and None are not weights."""
    with pytest.raises(InputError, match="give a positive number"):
        CostSetting(fn_weight=bad, fp_weight=1)  # type: ignore[arg-type]


def test_parse_cost_settings_keeps_order() -> None:
    """A comma-separated list parses in order; empty items are skipped."""
    parsed = parse_cost_settings(" 1:1, 5:1,, 200:1 ,")
    assert [setting.name for setting in parsed] == ["fn1-fp1", "fn5-fp1", "fn200-fp1"]


@pytest.mark.parametrize("text", ["200:1,200.0:1", "1:1,5:1,5.00:1.0"])
def test_parse_cost_settings_rejects_duplicates(text: str) -> None:
    """The same setting written twice (even as 200 and 200.0) is an error."""
    with pytest.raises(InputError, match="listed twice: remove the duplicate"):
        parse_cost_settings(text)


@pytest.mark.parametrize("text", ["", " , ,"])
def test_parse_cost_settings_rejects_empty_lists(text: str) -> None:
    """An empty list names the fix."""
    with pytest.raises(InputError, match="empty: give at least one"):
        parse_cost_settings(text)
    with pytest.raises(InputError, match="empty"):
        validate_cost_settings([])


def test_same_ratio_with_other_weights_is_not_a_duplicate() -> None:
    """2:1 and 4:2 have one ratio but are different losses (and different names)."""
    assert len(parse_cost_settings("2:1,4:2")) == 2


def test_distinct_settings_have_distinct_step_names() -> None:
    """Step names identify settings: two different weights must not share one."""
    big, small = CostSetting(1e5, 1), CostSetting(1e-5, 1)
    assert big != small
    assert big.step_name != small.step_name
    assert len(parse_cost_settings("100000:1,0.00001:1")) == 2


# --------------------------------------------------------------------------- default grid


def test_default_grid_for_the_study_matrix() -> None:
    """Ratio 216720 / 1287.67 = 168.3: 1:1, and 168.3 times 1/10, 1/sqrt(10), 1, sqrt(10),
    10, rounded to two significant digits (17, 53, 170, 530, 1700); then the linear booster
    at 1:1 and 170:1."""
    grid = default_cost_settings(STUDY)
    assert [setting.name for setting in grid] == [
        "fn1-fp1",
        "fn17-fp1",
        "fn53-fp1",
        "fn170-fp1",
        "fn530-fp1",
        "fn1700-fp1",
        "linear-fn1-fp1",
        "linear-fn170-fp1",
    ]


def test_default_grid_mirrors_ratios_below_one() -> None:
    """Ratio 2 / 10 = 0.2 weights the negatives: 1:5, with 1:50, 1:16, 1:1.6 and 2:1."""
    matrix = CostMatrix(tp=0.0, fp=10.0, fn=2.0, tn=0.0)
    grid = default_cost_settings(matrix)
    assert [setting.name for setting in grid] == [
        "fn1-fp50",
        "fn1-fp16",
        "fn1-fp5",
        "fn1-fp1.6",
        "fn1-fp1",
        "fn2-fp1",
        "linear-fn1-fp5",
        "linear-fn1-fp1",
    ]


def test_default_grid_drops_duplicates() -> None:
    """Ratio 1: the matrix's own setting is 1:1, listed once for each booster."""
    grid = default_cost_settings(CostMatrix(tp=0.0, fp=1.0, fn=1.0, tn=0.0))
    assert [setting.name for setting in grid] == [
        "fn1-fp10",
        "fn1-fp3.2",
        "fn1-fp1",
        "fn3.2-fp1",
        "fn10-fp1",
        "linear-fn1-fp1",
    ]


def test_default_grid_when_only_misses_cost_extra() -> None:
    """fp == tn (ratio inf): misses get a large finite weight, 1000."""
    grid = default_cost_settings(CostMatrix(tp=0.0, fp=0.0, fn=5.0, tn=0.0))
    assert "fn1000-fp1" in [setting.name for setting in grid]
    assert all(math.isfinite(setting.ratio) for setting in grid)


def test_default_grid_respects_the_limit() -> None:
    """With room for three: 1:1, the own ratio and ratio/10, sorted by ratio; trees first."""
    grid = default_cost_settings(STUDY, limit=3)
    assert [setting.name for setting in grid] == ["fn1-fp1", "fn17-fp1", "fn170-fp1"]
    with pytest.raises(InputError, match="at least one setting"):
        default_cost_settings(STUDY, limit=0)


@st.composite
def cost_matrices(draw: st.DrawFn) -> CostMatrix:
    """Valid cost matrices with ratios from about 1e-4 to 1e4."""
    tp = draw(st.floats(-1e4, 1e4, allow_nan=False))
    tn = draw(st.floats(-1e4, 1e4, allow_nan=False))
    regret_fn = draw(st.floats(1e-2, 1e4))
    regret_fp = draw(st.floats(1e-2, 1e4))
    return CostMatrix(tp=tp, fp=tn + regret_fp, fn=tp + regret_fn, tn=tn)


@settings(max_examples=200, deadline=None)
@given(cost_matrices())
def test_default_grid_properties(matrix: CostMatrix) -> None:
    """At most 8 settings, trees then linear each sorted by ratio, no repeated name, holding
    1:1 and the matrix's ratio rounded to two significant digits (written 1:k when below 1),
    for trees and for the linear booster."""
    grid = default_cost_settings(matrix)
    assert 1 <= len(grid) <= 8
    boosters = [setting.booster for setting in grid]
    assert boosters == sorted(boosters, key=lambda b: b != "tree")
    for booster in ("tree", "linear"):
        ratios = [setting.ratio for setting in grid if setting.booster == booster]
        assert ratios == sorted(ratios)
    names = [setting.name for setting in grid]
    assert len(set(names)) == len(names)
    assert "fn1-fp1" in names and "linear-fn1-fp1" in names
    ratio = matrix.ratio
    if ratio >= 1:
        own = CostSetting(round_2_significant(ratio), 1)
    else:
        own = CostSetting(1, round_2_significant(1 / ratio))
    assert own in grid and replace(own, booster="linear") in grid
    for setting in grid:
        assert setting.fn_weight == 1 or setting.fp_weight == 1
        if setting.ratio < 1:
            assert setting.fn_weight == 1
