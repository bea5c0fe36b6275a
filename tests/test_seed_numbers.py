"""The reference study's numbers, to the cent (DESIGN.md, "Reference numbers")."""

import pytest

from steps.costs import ConfusionCounts, CostMatrix

# Value of each outcome per patient, QALY x $100,000, as costs.
STUDY_MATRIX = CostMatrix(tp=35280.0, fp=1287.67, fn=252000.0, tn=0.0)


@pytest.mark.parametrize(
    ("tn", "fp", "fn", "tp", "expected"),
    [
        (86, 2, 5, 50, 21164.86),  # symmetric loss, cut at 0.5
        (83, 5, 3, 52, 18160.83),  # 5:1 weights
        (67, 21, 1, 54, 15273.85),  # 200:1 weights
    ],
)
def test_study_models_cost_what_the_study_reports(tn, fp, fn, tp, expected):
    counts = ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn)
    assert round(STUDY_MATRIX.expected_cost(counts), 2) == expected


def test_study_split_reference_policies():
    # 143 test patients, 55 malignant.
    perfect = ConfusionCounts(tp=55, fp=0, fn=0, tn=88)
    assert round(STUDY_MATRIX.expected_cost(perfect), 2) == 13569.23
    baselines = STUDY_MATRIX.baseline_costs(positives=55, negatives=88)
    assert round(baselines["all_positive"], 2) == 14361.64
    one_miss = ConfusionCounts(tp=54, fp=0, fn=1, tn=88)
    one_false_alarm = ConfusionCounts(tp=55, fp=1, fn=0, tn=87)
    perfect_cost = STUDY_MATRIX.expected_cost(perfect)
    assert round(STUDY_MATRIX.expected_cost(one_miss) - perfect_cost, 2) == 1515.52
    assert round(STUDY_MATRIX.expected_cost(one_false_alarm) - perfect_cost, 2) == 9.00
    # The goal: no missed cancer and at most 47 false alarms stays at or under $14,000.
    goal = ConfusionCounts(tp=55, fp=47, fn=0, tn=41)
    assert STUDY_MATRIX.expected_cost(goal) <= 14000
    assert STUDY_MATRIX.expected_cost(ConfusionCounts(tp=55, fp=48, fn=0, tn=40)) > 14000
