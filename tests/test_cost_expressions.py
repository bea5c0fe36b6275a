"""Costs from the data: the expression grammar, its refusals, and each row's checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.cost_expressions import (
    CostExpression,
    CostSpec,
    RowCosts,
    cost_column,
    label_cost_specs,
    summary,
)
from steps.errors import InputError

FRAME = pd.DataFrame(
    {
        "amount": [100.0, 8.0, 0.0],
        "amount [EUR]": [1.0, 2.0, 3.0],
        "balance": [2143, 29, 2],
        "flag": [True, False, True],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", [5.0, 5.0, 5.0]),
        ("252,000", [252000.0] * 3),
        (12.5, [12.5] * 3),
        ("amount", [100.0, 8.0, 0.0]),
        ("0.75 * amount", [75.0, 6.0, 0.0]),
        ("5 + 0.02 * amount", [7.0, 5.16, 5.0]),
        ("(amount - 4) / 2", [48.0, 2.0, -2.0]),
        ("-amount + 1", [-99.0, -7.0, 1.0]),
        ("`amount [EUR]` * 10", [10.0, 20.0, 30.0]),
        ("max(1, 0.25 * 0.02 * balance)", [10.715, 1.0, 1.0]),
        ("min(amount, 50, 20 + amount)", [50.0, 8.0, 0.0]),
        ("2 * 100", [200.0] * 3),
        ("flag * 3", [3.0, 0.0, 3.0]),
    ],
)
def test_entries_evaluate_per_row(text, expected):
    values = CostExpression.parse(text, "fn").evaluate(FRAME)
    assert values.tolist() == pytest.approx(expected)


def test_numbers_are_constants_and_columns_are_named_in_order():
    assert CostExpression.parse("1,287.67", "fp").constant == 1287.67
    assert CostExpression.parse("2 * 100", "fp").constant == 200.0
    expression = CostExpression.parse("max(amount, `amount [EUR]`) + amount", "fn")
    assert expression.columns == ("amount", "amount [EUR]")
    assert expression.per_row and expression.constant is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("__import__('os').system('touch pwned')", "attribute access (__import__('os').system)"),
        ("__import__('os')", "calling __import__()"),
        ("amount.real", "attribute access (amount.real)"),
        ("os.system('x')", "attribute access (os.system)"),
        ("amount[0]", "indexing (amount[0])"),
        ("amount ** 2", "the operator Pow"),
        ("amount % 2", "the operator Mod"),
        ("amount if flag else 2", "'amount if flag else 2'"),
        ("lambda: 1", "'lambda: 1'"),
        ("'five'", "the value 'five'"),
        ("True", "the value True"),
        ("min(amount)", "min() with other than two or more plain arguments"),
        ("max(*amount)", "max() with a starred argument"),
        ("max(a=1, b=2)", "max() with other than two or more plain arguments"),
        ("abs(amount)", "calling abs()"),
        ("min", "'min' without parentheses"),
        ("[amount]", "'[amount]'"),
    ],
)
def test_anything_but_arithmetic_is_refused_by_name(text, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as error:
        CostExpression.parse(text, "fn").evaluate(FRAME)
    assert named in str(error.value)
    assert str(error.value).startswith("cost entry 'fn' = ")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is empty"),
        ("amount +", "is not a number, a column or arithmetic"),
        ("`amount", "unclosed backtick"),
        ("`` + 1", "empty backticks"),
        ("inf", "give a finite amount"),
        ("1e400", "give a finite amount"),
        (True, "write a number"),
        ([1], "not a number or text"),
    ],
)
def test_malformed_entries_say_how_to_write_one(value, message):
    with pytest.raises(InputError, match=message):
        CostExpression.parse(value, "fn")


def test_columns_are_checked_like_any_input():
    frame = pd.DataFrame({"amount": ["1", "2", "n/a"], "gap": [1.0, np.nan, 3.0]})
    with pytest.raises(InputError, match="reads column 'amnt', which the data does not have"):
        CostExpression.parse("amnt", "fn").evaluate(frame)
    with pytest.raises(InputError, match=r"holds 'n/a' in data row 3, not a number"):
        CostExpression.parse("amount", "fn").evaluate(frame)
    with pytest.raises(InputError, match=r"cost column 'gap' .* is empty in data row 2"):
        CostExpression.parse("2 * gap", "fn").evaluate(frame)
    with pytest.raises(InputError, match=r"holds inf in data row 1"):
        CostExpression.parse("x", "tp").evaluate(pd.DataFrame({"x": [np.inf]}))
    with pytest.raises(InputError, match=r"not a finite number in data row 3 \(a division"):
        CostExpression.parse("1 / amount", "fn").evaluate(FRAME)


def test_a_wrong_decision_cheaper_than_the_right_one_names_the_row():
    spec = CostSpec.parse({"tp": 5, "fp": 5, "fn": "0.75 * amount", "tn": 0})
    with pytest.raises(InputError) as error:
        spec.evaluate(FRAME)
    message = str(error.value)
    # Row 2 costs 0.75 * 8 = 6 >= 5 for a miss; row 3 costs 0 for a miss, below a catch's 5.
    assert message.startswith(
        "costs make a missed positive cheaper than a caught positive in data row 3: "
        "fn = 0.75 * amount = 0 is below tp = 5;"
    )
    refund = CostSpec.parse({"tp": 0, "fp": "amount", "fn": 10, "tn": "amount + 1"})
    with pytest.raises(InputError, match=r"false alarm cheaper .* in data row 1: fp = amount"):
        refund.evaluate(FRAME)
    same = CostSpec.parse({"tp": "amount", "fp": 0, "fn": "amount", "tn": 0})
    with pytest.raises(InputError, match="every decision cost the same on every row"):
        same.evaluate(FRAME)


def test_specs_name_labels_and_refuse_unknown_ones():
    specs = label_cost_specs(
        {"tp": 0, "fp": 1, "fn": "amount", "tn": 0}, {"b": {"fn": 500}}, ["a", "b"]
    )
    assert specs["a"].per_row and not specs["b"].per_row
    assert specs["b"].matrix == {"tp": 0.0, "fp": 1.0, "fn": 500.0, "tn": 0.0}
    assert specs["a"].texts() == {"tp": "0", "fp": "1", "fn": "amount", "tn": "0"}
    with pytest.raises(InputError, match="label costs name 'c', which is not a label"):
        label_cost_specs({"tp": 0, "fp": 1, "fn": 1, "tn": 0}, {"c": {"fn": 2}}, ["a"])
    with pytest.raises(InputError, match=r"entry 'fn of label 'b'' = 'amount \*\* 2'"):
        label_cost_specs(
            {"tp": 0, "fp": 1, "fn": 1, "tn": 0}, {"b": {"fn": "amount ** 2"}}, ["a", "b"]
        )
    with pytest.raises(InputError, match="missing: \\['tn'\\]"):
        CostSpec.parse({"tp": 0, "fp": 1, "fn": 1})


def test_row_costs_price_decisions_and_give_each_row_its_bayes_threshold():
    costs = RowCosts(
        tp=np.array([1.0, 1.0, 0.0, 2.0]),
        fp=np.array([1.0, 4.0, 0.0, 2.0]),
        fn=np.array([10.0, 1.0, 5.0, 2.0]),
        tn=np.array([0.0, 0.0, 0.0, 2.0]),
    )
    y = np.array([1, 0, 1, 0])
    assert costs.of(y, np.array([1, 1, 0, 0])).tolist() == [1.0, 4.0, 5.0, 2.0]
    assert costs.regret(y).tolist() == [9.0, 4.0, 5.0, 0.0]
    # (fp - tn) / ((fp - tn) + (fn - tp)): 1/10, 4/4, 0/5, and undefined (no regret at all).
    t = costs.bayes_thresholds()
    assert t[:3].tolist() == [0.1, 1.0, 0.0] and np.isnan(t[3])
    assert cost_column("fn", "malignant") == "__cost:fn:malignant"


def test_summary_has_total_mean_and_quantiles():
    described = summary(np.array([1.0, 2.0, 3.0, 10.0]))
    assert described["total"] == 16.0 and described["mean"] == 4.0
    assert described["quantiles"]["0.5"] == 2.5 and described["quantiles"]["1"] == 10.0
    assert summary(np.array([]))["mean"] is None


# Random expressions of the grammar, as text and as the function they must compute.
_COLUMNS = {"a": np.array([1.5, -2.0, 3.0, 0.5]), "b c": np.array([4.0, 5.0, -6.0, 7.0])}


def _leaves() -> st.SearchStrategy:
    numbers = st.floats(-100, 100, allow_nan=False).map(
        lambda v: (repr(v), lambda columns, v=v: np.full(4, v))
    )
    columns = st.sampled_from([("a", lambda c: c["a"]), ("`b c`", lambda c: c["b c"])])
    return numbers | columns


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    def binary(parts):
        (left, f), op, (right, g) = parts
        functions = {"+": np.add, "-": np.subtract, "*": np.multiply}
        return f"({left} {op} {right})", lambda c: functions[op](f(c), g(c))

    def call(parts):
        name, items = parts
        reduce = np.minimum if name == "min" else np.maximum

        def value(c):
            result = items[0][1](c)
            for _, item in items[1:]:
                result = reduce(result, item(c))
            return result

        return f"{name}({', '.join(text for text, _ in items)})", value

    def negative(part):
        text, f = part
        return f"-({text})", lambda c: -f(c)

    return (
        st.tuples(children, st.sampled_from("+-*"), children).map(binary)
        | st.tuples(
            st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3)
        ).map(call)
        | children.map(negative)
    )


@settings(max_examples=200, deadline=None)
@given(st.recursive(_leaves(), _extend, max_leaves=8))
def test_any_expression_of_the_grammar_computes_what_it_says(case):
    text, reference = case
    expression = CostExpression.parse(text, "fn")
    frame = pd.DataFrame(_COLUMNS)
    assert expression.evaluate(frame) == pytest.approx(reference(_COLUMNS), rel=1e-12, abs=1e-9)
