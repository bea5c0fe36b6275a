"""The HTML report: data, DAG layout, plots, page, escaping, multi-label and the commands.

Real executions come from one home built per session (tests/report_support.py); the rest uses
small in-memory material.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.home import report_path
from pipeline.report import write_report
from pipeline.report.dag_svg import duration_text, render_dag, status_line
from pipeline.report.figures import (
    axis_floor,
    cost_at,
    cost_curve,
    cost_setting_plot,
    pr_floor,
    setting_text,
    text,
    use_log_axis,
)
from pipeline.report.layout import layout
from pipeline.report.local import load_local
from pipeline.report.model import (
    StepView,
    baseline_costs,
    figures_from_scores,
    label_views,
)
from pipeline.report.page import render_page
from steps.costs import CostMatrix
from steps.sweep import cost_sweep
from tests.report_support import EVIL, ReportHome, multilabel_data, report_home, small_definition


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> ReportHome:
    return report_home(tmp_path_factory.mktemp("report"))


class _Collector(HTMLParser):
    """Tags and attributes of a page, to check its structure without a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(page: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _Collector()
    collector.feed(page)
    return collector.tags


def step_statuses(page: str) -> dict[str, str]:
    return {
        attrs["data-step"]: attrs["data-status"]
        for tag, attrs in parse(page)
        if tag == "g" and "data-step" in attrs
    }


def plots(page: str) -> list[str]:
    return [attrs["data-plot"] for tag, attrs in parse(page) if "data-plot" in attrs]


# layout and DAG -----------------------------------------------------------------------------
def test_layout_puts_each_step_one_layer_after_what_it_needs():
    graph = layout(small_definition(("TrainA", "TrainB", "TrainC")))
    layers = {node.name: node.layer for node in graph.nodes}
    assert layers == {
        "Preprocess": 0,
        "TrainA": 1,
        "TrainB": 1,
        "TrainC": 1,
        "Evaluate": 2,
        "CheckCheapest": 3,
        "RegisterCheapest": 4,
        "NothingRegistered": 4,
    }
    edges = {(e.source, e.target): e.label for e in graph.edges}
    # Preprocess -> Evaluate is implied by Preprocess -> Train -> Evaluate: not drawn.
    assert ("Preprocess", "Evaluate") not in edges
    assert edges[("CheckCheapest", "RegisterCheapest")] == "true"
    assert edges[("CheckCheapest", "NothingRegistered")] == "false"
    assert graph.layers == 5 and graph.rows == 3
    # Layers with fewer steps are centred against the tallest one.
    rows = {node.name: node.row for node in graph.nodes}
    assert rows["Preprocess"] == 1 and rows["TrainA"] == 0 and rows["TrainC"] == 2


def test_layout_without_a_definition_still_shows_the_recorded_steps():
    graph = layout(None, ["Preprocess", "Evaluate"])
    assert [node.name for node in graph.nodes] == ["Preprocess", "Evaluate"]
    assert graph.edges == []


def test_dag_marks_status_duration_cache_and_steps_never_started():
    steps = {
        "Preprocess": StepView("Preprocess", "Processing", "Succeeded", cache_source="abc"),
        "TrainA": StepView(
            "TrainA",
            "Training",
            "Failed",
            started=datetime(2026, 1, 1, tzinfo=UTC),
            ended=datetime(2026, 1, 1, 0, 1, 5, tzinfo=UTC),
            failure_reason="AlgorithmError: out of <memory>",
        ),
    }
    svg = render_dag(layout(small_definition()), steps)
    statuses = step_statuses(svg)
    assert statuses["Preprocess"] == "Succeeded"
    assert statuses["TrainA"] == "Failed"
    assert statuses["Evaluate"] == "NotStarted"
    assert "cached" in svg and "1 min 05 s" in svg
    assert "out of &lt;memory&gt;" in svg and "<memory>" not in svg


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.04, "0.0 s"), (2.71, "2.7 s"), (42.4, "42 s"), (185, "3 min 05 s"), (7260, "2 h 01 min")],
)
def test_duration_text(seconds, expected):
    assert duration_text(seconds) == expected


def test_status_line_of_a_condition_shows_its_outcome():
    step = StepView("CheckCheapest", "Condition", "Succeeded", outcome="False")
    assert status_line(step) == "Succeeded \u00b7 outcome False"
    assert status_line(None) == "not started"


# curves and per-label figures ----------------------------------------------------------------
def test_cost_curve_is_the_cost_of_deciding_at_each_threshold():
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.3).astype(int)
    scores = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0.0005, 1.0)
    matrix = CostMatrix(tp=1.0, fp=3.0, fn=40.0, tn=0.0)
    sweep = cost_sweep(y, scores, matrix)
    for t in (0.001, 0.05, 0.2, float(np.median(scores)), 0.77, 0.999):
        expected = figures_from_scores(y, scores, t, matrix)["expected_cost"]
        assert cost_at(sweep.thresholds, sweep.costs, np.array([t]))[0] == pytest.approx(expected)
    # The drawn step curve: between two consecutive x values the cost is the left point's.
    label_view = label_views(multilabel_data())[0]
    label_view = replace(label_view, matrix=matrix)
    xs, ys = cost_curve(y, scores, label_view, 0.0, log=False)
    assert xs[0] == 0.0 and xs[-1] == 1.0 and np.all(np.diff(xs) >= 0)
    for left, right, cost in zip(xs[:-1], xs[1:], ys[:-1], strict=True):
        if right > left:
            middle = (left + right) / 2
            assert figures_from_scores(y, scores, middle, matrix)["expected_cost"] == (
                pytest.approx(cost)
            )


def test_baselines_are_the_ends_of_the_sweep():
    y = np.array([0, 1, 1, 0, 0])
    matrix = CostMatrix(tp=1.0, fp=2.0, fn=10.0, tn=0.0)
    sweep = cost_sweep(y, np.array([0.1, 0.9, 0.4, 0.3, 0.2]), matrix)
    costs = baseline_costs(y, matrix)
    assert costs["all_negative"] == pytest.approx(sweep.costs[0])
    assert costs["all_positive"] == pytest.approx(sweep.costs[-1])


def test_threshold_axis_goes_logarithmic_for_small_thresholds():
    view = label_views(multilabel_data())[0]
    assert [m.threshold for m in view.models] == [0.3, 0.06]
    assert not use_log_axis(view)
    small = replace(view, models=[replace(view.models[0], threshold=0.0042), view.models[1]])
    assert use_log_axis(small)
    assert axis_floor(small) == pytest.approx(1e-4)  # a decade below the lowest threshold


def test_precision_recall_axes_zoom_to_the_marks():
    assert pr_floor([0.95, 0.8, 1.0]) == pytest.approx(0.6)
    assert pr_floor([0.05]) == 0.0
    assert pr_floor([]) == 0.0


def test_matplotlib_text_escapes_mathtext():
    assert text("a$b$c") == r"a\$b\$c"


@pytest.fixture(scope="module")
def multilabel_page() -> str:
    return render_page(multilabel_data(labels=("toxic", "spam", "rare")))


def test_multilabel_evaluation_renders_one_section_per_label(multilabel_page: str):
    data = multilabel_data(labels=("toxic", "spam", "rare"))
    views = label_views(data)
    assert [v.label for v in views] == ["toxic", "spam", "rare"]
    for view in views:
        model = view.models[1]
        assert model.threshold == data.evaluation["models"][1]["thresholds"][view.label]
        # Without per-label figures in evaluation.json they are recomputed from the scores.
        y, scores = model.scores["test"]
        assert model.figures["test"] == figures_from_scores(y, scores, model.threshold, view.matrix)
        assert view.baselines["all_negative"]["test"] == pytest.approx(
            baseline_costs(y, view.matrix)["all_negative"]
        )
    page = multilabel_page
    sections = re.findall(r'<h2 id="label-(\d)">Label (\w+) \((\d) of 3\)</h2>', page)
    assert sections == [("0", "toxic", "1"), ("1", "spam", "2"), ("2", "rare", "3")]
    assert plots(page) == 3 * [
        "cost-threshold",
        "cost-setting",
        "score-distribution",
        "precision-recall",
    ]
    assert "3 labels: see each label below" in page  # thresholds live in the label sections


def test_multilabel_uses_per_label_figures_when_evaluate_writes_them():
    data = multilabel_data(labels=("a", "b"))
    given = {"expected_cost": 1.25, "confusion": {"tp": 1, "fp": 2, "fn": 3, "tn": 4}}
    data.evaluation["models"][0]["per_label"] = {"b": {"validation": given, "test": given}}
    views = {v.label: v for v in label_views(data)}
    assert views["b"].models[0].figures["test"] == given
    assert views["a"].models[0].figures["test"] != given


def test_every_execution_string_is_escaped():
    data = multilabel_data(labels=(EVIL, "plain"))
    data.execution["failure_reason"] = EVIL
    data.execution["status"] = "Failed"
    data.registered = None
    data.steps[1] = replace(data.steps[1], status="Failed", failure_reason=EVIL)
    data.execution["parameters"]["Target"] = EVIL
    page = render_page(data)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not any(tag == "script" for tag, _ in parse(page))
    # Every plot of the evil label rendered ($ in a label would start mathtext unescaped).
    assert len(plots(page)) == 8
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_page_is_self_contained(multilabel_page: str):
    page = multilabel_page
    for tag, attrs in parse(page):
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, value[:60])
    assert "http://" not in re.sub(r'xmlns(:\w+)?="http://[^"]+"', "", page.split("<main>")[1])


# real executions -----------------------------------------------------------------------------
@pytest.mark.slow
def test_report_of_a_registered_execution(home: ReportHome):
    data = load_local(home.home, home.registered)
    evaluation = data.evaluation
    assert evaluation is not None and data.scores is not None
    assert data.registered["group"] == "breast-cancer"
    assert data.registered["approval_status"] == "PendingManualApproval"
    page = render_page(data)
    assert "<b>Registered</b> breast-cancer version" in page
    assert plots(page) == [
        "cost-threshold",
        "cost-setting",
        "score-distribution",
        "precision-recall",
    ]
    statuses = step_statuses(page)
    assert statuses["RegisterCheapest"] == "Succeeded"
    assert statuses["NothingRegistered"] == "NotStarted"
    assert len(statuses) == 3 + 5  # three trainings, five other steps
    # One row per cost setting, the cheapest marked once, then the two trivial policies.
    table = page.split('<table class="costs">')[1].split("</table>")[0]
    assert table.count("<tr class=") == len(evaluation["models"]) + 2
    assert table.count("\u2605 cheapest") == 1
    assert f"<b>{evaluation['best']['name']}</b>" in page
    assert "Class-imbalance checks" in page and "largest class / smallest class" in page


@pytest.mark.slow
def test_binary_figures_come_from_evaluation_and_agree_with_the_scores(home: ReportHome):
    data = load_local(home.home, home.registered)
    (view,) = label_views(data)
    assert view.label == "malignant"
    for model, given in zip(view.models, data.evaluation["models"], strict=True):
        assert model.figures["test"] == given["test"]
        recomputed = figures_from_scores(*model.scores["validation"], model.threshold, view.matrix)
        assert recomputed["expected_cost"] == pytest.approx(given["validation"]["expected_cost"])
        assert recomputed["confusion"] == given["validation"]["confusion"]
    baselines = data.evaluation["baselines"]
    assert (
        view.baselines["all_positive"]["test"] == baselines["all_positive"]["test"]["expected_cost"]
    )


@pytest.mark.slow
def test_report_of_an_execution_that_registered_nothing(home: ReportHome):
    data = load_local(home.home, home.not_registered)
    page = render_page(data)
    assert data.registered is None and data.evaluation is not None
    assert "<b>Nothing registered.</b>" in page
    assert "MaxCostPerDecision" in page
    statuses = step_statuses(page)
    assert statuses["NothingRegistered"] == "Failed"
    assert statuses["RegisterCheapest"] == "NotStarted"
    # Preprocess and the trainings came from the registered execution's cache.
    cached = [s.name for s in data.steps if s.cache_source == home.registered]
    assert "Preprocess" in cached and len(cached) == 4
    assert f"cached from execution {home.registered}" in page
    assert len(plots(page)) == 4


@pytest.mark.slow
def test_report_of_a_failed_execution_shows_the_graph_and_no_evaluation(home: ReportHome):
    data = load_local(home.home, home.failed)
    assert data.evaluation is None and data.scores is None
    page = render_page(data)
    assert "<b>No evaluation.</b>" in page
    assert "no_such_column" in page  # the failure reason, in the outcome and the step table
    statuses = step_statuses(page)
    assert statuses["Preprocess"] == "Failed"
    assert {s for name, s in statuses.items() if name != "Preprocess"} == {"NotStarted"}
    assert plots(page) == []
    assert "No checks to show" in page


@pytest.mark.slow
def test_layout_of_the_real_definition(home: ReportHome):
    data = load_local(home.home, home.registered)
    graph = layout(data.definition)
    layers = {node.name: node.layer for node in graph.nodes}
    trainings = [name for name in layers if name.startswith("Train")]
    assert len(trainings) == 3 and {layers[name] for name in trainings} == {1}
    assert layers["Evaluate"] == 2 and layers["CheckCheapest"] == 3
    assert layers["RegisterCheapest"] == layers["NothingRegistered"] == 4


# commands ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_ends_with_the_report_path(home: ReportHome):
    last = home.run_text.strip().splitlines()[-1]
    assert last.startswith("report: ")
    path = Path(last.removeprefix("report: "))
    assert path == report_path(home.home, home.not_registered).resolve()
    assert path.is_file() and path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    reported = Path(home.run_json["report"])
    assert reported == report_path(home.home, home.registered).resolve()
    assert reported.is_file()


@pytest.mark.slow
def test_report_command(home: ReportHome, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    output = tmp_path / "nested" / "failed.html"
    code = main(
        ["report", home.failed, "--home", str(home.home), "--output", str(output), "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"report": str(output.resolve())}
    assert output.is_file()
    assert main(["report", home.registered, "--home", str(home.home)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(report_path(home.home, home.registered).resolve())


def test_report_command_unknown_execution(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["report", "nosuchexecution", "--home", str(tmp_path / "empty")]) == 2
    assert "no costpipe home" in capsys.readouterr().err


def test_report_command_wants_an_arn_for_sagemaker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code = main(["report", "abc123", "--target", "sagemaker", "--home", str(tmp_path)])
    assert code == 2
    assert "is not a SageMaker pipeline execution ARN" in capsys.readouterr().err


def test_write_report_is_atomic_and_returns_an_absolute_path(tmp_path: Path):
    data = multilabel_data()
    data.evaluation = data.scores = None
    path = write_report(data, tmp_path / "a" / "report.html")
    assert path.is_absolute() and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]


def test_the_setting_plot_draws_each_booster_as_its_own_lines():
    """A tree and a linear model at different weights: two validation lines, the linear one
    labelled as such, and the linear model's setting written 20:1:linear."""
    from matplotlib.figure import Figure

    from pipeline.report.figures import _plot_booster_costs

    data = multilabel_data(labels=("a",))
    data.evaluation["models"][1]["setting"]["booster"] = "linear"
    view = label_views(data)[0]
    assert [m.booster for m in view.models] == ["tree", "linear"]
    assert setting_text(view.models[1]) == "20:1:linear"
    ax = Figure().subplots()
    for index, booster in enumerate(("tree", "linear")):
        _plot_booster_costs(ax, [m for m in view.models if m.booster == booster], index)
    labels = ax.get_legend_handles_labels()[1]
    assert [label for label in labels if label.startswith("validation")] == [
        "validation",
        "validation, linear",
    ]
    assert cost_setting_plot(view) is not None
