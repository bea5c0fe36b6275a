"""The HTML report of per-row cost executions: the cost against the shift, what the errors
cost, where the money is lost, and rules instead of thresholds.

The real execution (a sample of the bank-telemarketing example, its formula cost for a missed
subscriber) is built once per session (tests/report_support.py); each expectation is computed
again here from evaluation.json and scores.parquet, not from the report's own helpers.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from pipeline.report.local import load_local
from pipeline.report.model import ReportData, label_views
from pipeline.report.page import render_page
from pipeline.report.row_figures import (
    cost_at_shift,
    error_cost_plot,
    error_histogram,
    error_histograms,
    minimum_risk_rule,
    rule_sweep,
    rule_words,
    shift_cost_plot,
    shift_curve,
    shift_range,
    top_error_rows,
)
from steps.cost_expressions import RowCosts
from steps.rules import MinimumRiskRule, sigmoid
from tests.report_support import (
    EVIL,
    PER_ROW_FN,
    PerRowHome,
    per_row_home,
    per_row_multilabel_data,
)

PER_ROW_PLOTS = ["cost-shift", "cost-setting", "error-costs", "precision-recall"]


@pytest.fixture(scope="session")
def per_row(tmp_path_factory: pytest.TempPathFactory) -> PerRowHome:
    return per_row_home(tmp_path_factory.mktemp("report-per-row"))


@pytest.fixture(scope="module")
def bank(per_row: PerRowHome) -> ReportData:
    return load_local(per_row.home, per_row.execution)


@pytest.fixture(scope="module")
def bank_page(bank: ReportData) -> str:
    return render_page(bank)


def plots(page: str) -> list[str]:
    return re.findall(r'data-plot="([^"]+)"', page)


class _Tables(HTMLParser):
    """The text of every cell of the tables of a page, table by table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str | None, list[list[str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append((dict(attrs).get("class"), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][1][-1].append("".join(self._cell))
            self._cell = None


def tables(page: str, kind: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return [rows for name, rows in parser.tables if name == kind]


def rows_of(scores: pd.DataFrame, model: str, split: str) -> pd.DataFrame:
    return scores[(scores["model"] == model) & (scores["split"] == split)]


# the real per-row execution -----------------------------------------------------------------
@pytest.mark.slow
def test_a_per_row_execution_shows_rules_formulas_and_the_per_row_plots(
    bank: ReportData, bank_page: str
):
    evaluation = bank.evaluation
    assert evaluation is not None and evaluation["costs"]["per_row"] is True
    assert evaluation["cost_matrix"]["fn"] == PER_ROW_FN
    page = bank_page
    # The threshold plots give way to the per-row ones.
    assert plots(page) == PER_ROW_PLOTS
    # The cost table names the rule, never a threshold, and each model's rule in words.
    (costs,) = tables(page, "costs")
    header = costs[0]
    assert "rule" in header and "threshold" not in " ".join(header)
    for model in evaluation["models"]:
        (row,) = [r for r in costs[1:] if r[1] == model["name"]]
        assert row[2] == rule_words(model["rules"]["subscribed"])
        # The tuning column is what the model was chosen by: its rule's cross-validated cost.
        assert row[3] == f"{model['selection_cost']:,.2f}"
    # The formula as written, in the cost line; no threshold in the confusion matrices.
    assert f"FN <code>{PER_ROW_FN}</code>" in page
    confusion = page.split("<h3>Confusion matrices on test</h3>")[1]
    assert "threshold" not in confusion.split("<h2")[0]
    assert "rule: " in confusion


@pytest.mark.slow
def test_the_shift_curves_at_each_rule_are_the_evaluated_costs(bank: ReportData):
    """At the rule's shift, the tuning curve is the model's tuning cost and the test curve its
    test cost in evaluation.json (on calibrated scores for a calibrated rule, shift 0)."""
    evaluation = bank.evaluation
    assert evaluation is not None
    (view,) = label_views(bank)
    by_name = {m["name"]: m for m in evaluation["models"]}
    for model in view.models:
        shift = model.rule["shift"]
        given = by_name[model.name]
        low, high = shift_range(model)
        assert low < shift < high
        for split in ("validation", "test"):
            sweep = rule_sweep(model.rows[split])
            expected = given[split]["expected_cost"]
            assert cost_at_shift(sweep, np.array([shift]))[0] == pytest.approx(expected, rel=1e-12)
            # The drawn step curve: at the shift, the cost of the interval the shift is in.
            xs, ys = shift_curve(sweep, low, high)
            assert ys[np.searchsorted(xs, shift, side="right") - 1] == pytest.approx(expected)
        # And every row is decided by the rule the curve shows, as Evaluate decided it.
        rows = model.rows["test"]
        rule = MinimumRiskRule(shift)  # the decision scores are already calibrated
        assert np.array_equal(rule.decide_scores(rows.scores, rows.costs), rows.decisions)


@pytest.mark.slow
def test_the_error_histograms_hold_every_error_and_its_cost(bank: ReportData):
    evaluation = bank.evaluation
    assert evaluation is not None and bank.scores is not None
    best = evaluation["best"]["name"]
    rows = rows_of(bank.scores, best, "test")
    missed = rows[(rows["label"] == 1) & (rows["decision"] == 0)]
    alarms = rows[(rows["label"] == 0) & (rows["decision"] == 1)]
    (view,) = label_views(bank)
    assert view.cheapest is not None and view.cheapest.name == best
    found = error_histograms(view.cheapest.rows["test"])
    recorded = next(m for m in evaluation["models"] if m["name"] == best)["test"]["error_costs"]
    for kind, picked in (("fn", missed["cost_fn"]), ("fp", alarms["cost_fp"])):
        histogram = found[kind]
        assert int(histogram.counts.sum()) == len(picked) == recorded["subscribed"][kind]["rows"]
        assert histogram.total == pytest.approx(float(picked.sum()), rel=1e-12)
        assert histogram.total == pytest.approx(recorded["subscribed"][kind]["total"], rel=1e-12)
        assert float(histogram.money.sum()) == pytest.approx(histogram.total, rel=1e-12)
    plot = error_cost_plot(view)
    assert plot is not None and best in plot.caption


@pytest.mark.slow
def test_where_the_money_is_lost_lists_the_costliest_errors_in_order(
    bank: ReportData, bank_page: str
):
    evaluation = bank.evaluation
    assert evaluation is not None and bank.scores is not None
    best = evaluation["best"]["name"]
    rows = rows_of(bank.scores, best, "test")
    wrong = rows[rows["label"] != rows["decision"]]
    paid = np.where(wrong["label"] == 1, wrong["cost_fn"], wrong["cost_fp"])
    other = np.where(wrong["label"] == 1, wrong["cost_tp"], wrong["cost_tn"])
    expected = (
        pd.DataFrame({"row": wrong["row"].to_numpy(), "paid": paid, "other": other})
        .sort_values(["paid", "row"], ascending=[False, True], kind="stable")
        .head(20)
    )
    (table,) = tables(bank_page, "money-lost")
    body = table[1:]
    assert len(body) == 20
    assert [int(r[1]) for r in body] == (expected["row"] + 1).tolist()  # data rows count from 1
    assert [r[7] for r in body] == [f"{v:,.2f}" for v in expected["paid"]]
    assert [r[8] for r in body] == [f"{v:,.2f}" for v in expected["other"]]
    assert [r[2] for r in body] == [
        "FN" if label == 1 else "FP"
        for label in wrong.set_index("row").loc[expected["row"], "label"]
    ]
    # Each row's own threshold: sigmoid(logit(t_i) - shift) on the decision score.
    (view,) = label_views(bank)
    model = view.cheapest
    assert model is not None
    top = top_error_rows(model)
    shift = model.rule["shift"]
    for row in top.rows:
        costs = wrong.set_index("row").loc[row.row]
        t = (costs["cost_fp"] - costs["cost_tn"]) / (
            (costs["cost_fp"] - costs["cost_tn"]) + (costs["cost_fn"] - costs["cost_tp"])
        )
        if 0 < t < 1:
            assert row.threshold == pytest.approx(
                float(sigmoid(np.log(t / (1 - t)) - shift)), rel=1e-9
            )
    # The share those rows carry of what all the errors cost.
    share = expected["paid"].sum() / paid.sum()
    assert top.share == pytest.approx(share)
    assert f"<b>{share:.1%}</b> of what its {len(wrong)} wrong decisions cost" in bank_page


@pytest.mark.slow
def test_the_trivial_policies_of_the_test_rows_are_the_evaluated_ones(bank: ReportData):
    evaluation = bank.evaluation
    assert evaluation is not None
    (view,) = label_views(bank)
    for policy in ("all_negative", "all_positive"):
        assert view.baselines[policy]["test"] == pytest.approx(
            evaluation["baselines"][policy]["test"]["expected_cost"], rel=1e-12
        )


# in memory ----------------------------------------------------------------------------------
def test_error_costs_spanning_decades_get_a_log_axis():
    values = np.array([1.0, 2.0, 3.0, 50.0, 400.0, 1.0])
    found = error_histogram(values)
    assert found.log and found.edges[0] == 1.0 and found.edges[-1] == 400.0
    assert int(found.counts.sum()) == values.size
    assert float(found.money.sum()) == pytest.approx(values.sum())
    assert found.top_share(0.1) == pytest.approx(400 / values.sum())  # one of six rows
    narrow = error_histogram(np.array([1.0, 2.0, 9.0]))
    assert not narrow.log
    same = error_histogram(np.ones(4))
    assert int(same.counts.sum()) == 4 and same.total == 4.0
    empty = error_histogram(np.array([]))
    assert empty.total == 0.0 and int(empty.counts.sum()) == 0


def test_the_shift_sweep_prices_each_shift_as_the_rule_decides():
    """The curve's value at any shift is the cost of the rule's decisions at that shift."""
    data = per_row_multilabel_data(labels=("a",))
    (view,) = label_views(data)
    model = next(m for m in view.models if not (m.rule or {}).get("calibration"))
    rows = model.rows["validation"]
    sweep = rule_sweep(rows)
    for shift in (-3.0, -0.4, 0.0, 0.35, 1.2, 4.0):
        decided = MinimumRiskRule(shift).decide_scores(rows.scores, rows.costs)
        expected = rows.costs.of(rows.y, decided).mean()
        assert cost_at_shift(sweep, np.array([shift]))[0] == pytest.approx(expected)


EVIL_FORMULA = "max(1, `<b>amount</b>`) & $x$"


@pytest.fixture(scope="module")
def multilabel_data() -> ReportData:
    return per_row_multilabel_data(labels=("toxic", EVIL), formula=EVIL_FORMULA)


@pytest.fixture(scope="module")
def multilabel_page(multilabel_data: ReportData) -> str:
    return render_page(multilabel_data)


def test_a_multilabel_per_row_execution_renders_a_section_per_label(
    multilabel_data: ReportData, multilabel_page: str
):
    data, page = multilabel_data, multilabel_page
    assert plots(page) == 2 * PER_ROW_PLOTS
    assert page.count("<h3>Where the money is lost</h3>") == 2
    assert "<script>" not in page
    views = label_views(data)
    assert [v.label for v in views] == ["toxic", EVIL]
    for view in views:
        for model in view.models:
            # No per-label figures in evaluation.json: recomputed from the rows.
            rows = model.rows["test"]
            assert model.figures["test"]["expected_cost"] == pytest.approx(
                float(rows.costs.of(rows.y, rows.decisions).mean())
            )
            # What the model was chosen by: its chosen rule's cross-validated cost.
            assert model.tuning_cost == (0.59 if model.name == "fn20-fp1" else 0.61)
    # Each label's table names the rules: a shift and a calibration.
    label_tables = [
        t for t in tables(page, None) if t and t[0][:3] == ["cost setting", "model", "rule"]
    ]
    assert len(label_tables) == 2
    assert {row[2] for table in label_tables for row in table[1:3]} == {
        "shift +0.35",
        "Platt calibration",
    }


def test_cost_formulas_are_shown_as_written_and_escaped(multilabel_page: str):
    page = multilabel_page
    escaped = "max(1, `&lt;b&gt;amount&lt;/b&gt;`) &amp; $x$"
    assert f"FN <code>{escaped}</code>" in page
    assert "<b>amount" not in page
    # Once in the outcome's cost line and once per label section.
    assert page.count(escaped) == 3


def test_row_thresholds_above_one_are_never_reached():
    """A row whose miss costs no more than its hit (fn == tp) is never worth calling."""
    from pipeline.report.page import _row_threshold_text

    data = per_row_multilabel_data(labels=("a",))
    (view,) = label_views(data)
    ones = np.ones(2)
    costs = RowCosts(tp=ones, fp=ones, fn=np.array([1.0, 5.0]), tn=np.zeros(2))
    thresholds = minimum_risk_rule(view.models[0]).row_thresholds(costs, 2)
    assert np.isinf(thresholds[0]) and 0 < thresholds[1] < 1
    assert _row_threshold_text(float(thresholds[0])) == "never"
    assert _row_threshold_text(float(thresholds[1])) == f"{thresholds[1]:.4g}"


def test_the_per_row_plots_are_deterministic():
    """The same execution draws byte-for-byte the same new plots (the page's other parts are
    the constant-cost page's)."""

    def drawn() -> list[str]:
        (view,) = label_views(per_row_multilabel_data(labels=("a",)))
        return [plot.uri for plot in (shift_cost_plot(view), error_cost_plot(view)) if plot]

    first = drawn()
    assert len(first) == 2 and first == drawn()
