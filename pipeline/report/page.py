"""Assemble the report's HTML: one self-contained page, nothing fetched from anywhere.

Built with the standard library only. Every value that comes from the execution (names,
labels, parameters, failure reasons, verdicts) goes through :func:`esc`; the plots are
``data:`` URIs and the DAG is inline SVG. A Content-Security-Policy allows nothing but inline
styles and ``data:`` images, so even a slip in escaping could neither run a script nor fetch
anything.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from html import escape
from typing import Any

from pipeline.formats import money
from pipeline.report.dag_svg import STATUS_STYLE, duration_text, render_dag
from pipeline.report.figures import Plot, label_plots
from pipeline.report.figures import setting_text as model_setting_text
from pipeline.report.layout import layout
from pipeline.report.model import (
    POLICIES,
    LabelView,
    ModelView,
    ReportData,
    is_per_row,
    label_views,
    parse_time,
)
from pipeline.report.row_figures import rule_words, top_error_rows
from steps.costs import setting_sort_key, setting_text

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --soft: #f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: var(--ink); margin: 0;
       background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 28px 40px; }
h1 { font-size: 22px; margin: 4px 0 6px; }
h2 { font-size: 18px; margin: 30px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 6px; }
p { margin: 6px 0; }
code, .mono { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
nav { font-size: 13px; margin: 8px 0 4px; }
nav a { margin-right: 14px; color: #1565c0; text-decoration: none; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px;
        margin: 8px 0; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; word-break: break-all; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
        font-weight: bold; vertical-align: middle; border: 1px solid; }
.box { border-left: 4px solid; padding: 8px 12px; margin: 10px 0; border-radius: 4px; }
.box.good { border-color: #2e7d32; background: #e8f5e9; }
.box.bad { border-color: #c62828; background: #ffebee; }
.box.note { border-color: #f9a825; background: #fff8e1; }
.box .why { white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name, td.time { white-space: nowrap; }
tr.best td { background: #fff8e1; font-weight: bold; }
tr.policy td { color: var(--muted); font-style: italic; }
td.reason { max-width: 520px; white-space: pre-wrap; word-break: break-word; }
figure { margin: 14px 0 22px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 4px; }
figure svg.dag { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; max-width: 980px; }
figcaption b { color: var(--ink); }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border: 1.5px solid;
            border-radius: 3px; vertical-align: -2px; margin-right: 4px; }
.grid { display: flex; flex-wrap: wrap; gap: 14px; }
.confusion { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.confusion.best { border-color: #f9a825; background: #fffdf3; }
.confusion h4 { margin: 0 0 2px; font-size: 13px; }
.confusion table { margin: 4px 0 0; }
.confusion table { font-size: 12px; }
.confusion th, .confusion td { padding: 3px 6px; }
.confusion td { text-align: center; min-width: 84px; }
.confusion td small { display: block; color: var(--muted); font-size: 11px; }
.params { columns: 3 300px; font-size: 12.5px; }
.params div { break-inside: avoid; padding: 1px 0; border-bottom: 1px dotted var(--line);
               overflow-wrap: anywhere; }
.params b { font-weight: 600; }
.pass { color: #2e7d32; font-weight: bold; }
.fail { color: #c62828; font-weight: bold; }
.muted { color: var(--muted); }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""
OUTCOME_NAMES = {"tp": "TP", "fp": "FP", "fn": "FN", "tn": "TN"}


def esc(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def share(value: Any) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return f"{value:.3f}"


def _pill(status: str | None) -> str:
    fill, stroke, ink = STATUS_STYLE.get(status or "", ("#f5f5f5", "#9e9e9e", "#616e7c"))
    return (
        f'<span class="pill" style="background:{fill};border-color:{stroke};color:{ink}">'
        f"{esc(status or 'unknown')}</span>"
    )


def _time(value: Any) -> str:
    """``2026-11-23 13:05:09 UTC`` from a datetime or an ISO 8601 string."""
    moment = parse_time(value)
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(start: Any, end: Any) -> str:
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return "-"
    return duration_text((b - a).total_seconds())


# header --------------------------------------------------------------------------------------
def header(data: ReportData, views: list[LabelView]) -> str:
    e = data.execution
    where = "local home" if data.source == "local" else "SageMaker"
    rows = [
        ("pipeline", e.get("pipeline")),
        ("execution ARN", e.get("arn")),
        ("ran", f"{where}"),
        ("started", _time(e.get("created"))),
        ("ended", _time(e.get("ended"))),
        ("duration", _duration(e.get("created"), e.get("ended"))),
    ]
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    parts = [
        f"<h1>Execution {esc(data.execution_id)} {_pill(e.get('status'))}</h1>",
        f'<dl class="meta">{meta}</dl>',
        '<nav><a href="#outcome">Outcome</a><a href="#graph">Pipeline graph</a>',
    ]
    for index, view in enumerate(views):
        parts.append(f'<a href="#label-{index}">Label {esc(view.label)}</a>')
    parts.append('<a href="#checks">Checks</a><a href="#parameters">Parameters</a></nav>')
    return "".join(parts)


# outcome -------------------------------------------------------------------------------------
def outcome(data: ReportData) -> str:
    e = data.execution
    evaluation = data.evaluation
    parts = ['<h2 id="outcome">Outcome</h2>']
    if data.registered:
        r = data.registered
        details = [
            f"<b>Registered</b> {esc(r.get('group'))} version {esc(r.get('version'))}",
        ]
        if r.get("approval_status"):
            details.append(f" ({esc(r['approval_status'])})")
        verdict = (evaluation or {}).get("best", {}).get("verdict")
        lines = [
            "".join(details),
            f'<div class="why">{esc(verdict)}</div>' if verdict else "",
            f'<div class="mono">{esc(r.get("arn"))}</div>' if r.get("arn") else "",
            f'<div class="mono">{esc(r.get("model_uri"))}</div>' if r.get("model_uri") else "",
        ]
        parts.append(f'<div class="box good">{"".join(lines)}</div>')
    else:
        reason = e.get("failure_reason") or (evaluation or {}).get("best", {}).get("verdict")
        kind = "bad" if e.get("status") == "Failed" else "note"
        parts.append(
            f'<div class="box {kind}"><b>Nothing registered.</b>'
            f'<div class="why">{esc(reason or "the execution has not registered a model")}'
            "</div></div>"
        )
    if evaluation is None:
        parts.append(
            '<div class="box note"><b>No evaluation.</b> The Evaluate step did not succeed '
            "(or its evaluation.json could not be read), so there are no costs, plots or "
            "checks to show. The pipeline graph below shows where the execution stopped.</div>"
        )
    for problem in data.problems:
        parts.append(f'<div class="box note">{esc(problem)}</div>')
    if evaluation is not None:
        parts.append(cost_table(evaluation))
    return "".join(parts)


def _threshold_text(thresholds: dict[str, Any]) -> str:
    """One threshold as a number; several are shown in each label's section below."""
    if len(thresholds) == 1:
        value = next(iter(thresholds.values()))
        return "per row" if value is None else f"{float(value):.4g}"
    return f"{len(thresholds)} labels: see each label below"


def _rule_text(model: dict[str, Any]) -> str:
    """A per-row model's rule (``shift +0.41``, ``isotonic calibration``); several labels'
    rules are shown in each label's section below."""
    rules = model.get("rules") or {}
    if len(rules) == 1:
        return rule_words(next(iter(rules.values())))
    if not rules:
        return _threshold_text(model.get("thresholds") or {})
    return f"{len(rules)} labels: see each label below"


def entry_text(value: Any) -> str:
    """A cost entry as the page shows it: a number as money, a formula as written (escaped)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return money(float(value))
    return f"<code>{esc(value)}</code>"


def entries_text(entries: dict[str, Any]) -> str:
    return ", ".join(f"{OUTCOME_NAMES[k]} {entry_text(entries.get(k))}" for k in OUTCOME_NAMES)


def cross_fitted(evaluation: dict[str, Any]) -> bool:
    """Whether every model was tuned on out-of-fold scores (else on the validation split)."""
    methods = {
        (model.get("threshold_data") or {}).get("method") for model in evaluation.get("models", [])
    }
    return methods == {"cross-validation"}


def tuning_words(evaluation: dict[str, Any]) -> tuple[str, str]:
    """(column header, sentence) for the scores thresholds were tuned on."""
    if cross_fitted(evaluation):
        return (
            "cross-validated cost",
            "Thresholds are tuned, and the cheapest model chosen, on out-of-fold scores "
            "(cross-validation over the training and validation rows); test is for reporting.",
        )
    return (
        "validation cost",
        "Thresholds are tuned, and the cheapest model chosen, on the validation split; test is "
        "for reporting.",
    )


def _order(setting: dict[str, Any] | None) -> tuple[bool, tuple[bool, float]]:
    """The terminal's order of settings (``steps.costs.setting_sort_key``: trees first, then by
    weight ratio); a model without weights (an older evaluation.json) goes last."""
    if setting and "fn_weight" in setting and "fp_weight" in setting:
        return False, setting_sort_key(setting)
    return True, (True, math.inf)


def per_row_tuning_words(evaluation: dict[str, Any]) -> tuple[str, str]:
    """(column header, sentence) under per-row costs: rules, chosen by cross-validation."""
    rows = (
        "out-of-fold scores of the training and validation rows"
        if cross_fitted(evaluation)
        else "the validation split's scores"
    )
    return (
        "cross-validated cost",
        "Each row is priced with its own costs, so there is no one threshold: each model "
        "calls a row positive when its score clears the row's own cost-optimal threshold, "
        "after a shift of the scores or a calibration (isotonic or Platt). Which of the three, "
        f"and the cheapest model, are chosen by cross-validated cost on the tuning rows ({rows}); "
        "test is for reporting.",
    )


def cost_table(evaluation: dict[str, Any]) -> str:
    """One row per cost setting, the cheapest marked, then the trivial policies."""
    best = (evaluation.get("best") or {}).get("name")
    per_row = is_per_row(evaluation)
    tuning_header, tuning_sentence = (
        per_row_tuning_words(evaluation) if per_row else tuning_words(evaluation)
    )
    header_cells = [
        ("cost setting", ""),
        ("model", ""),
        ("rule" if per_row else "threshold", "num"),
        (tuning_header, "num"),
        ("test cost", "num"),
        ("95 % interval (test)", "num"),
        ("savings", "num"),
        ("FN", "num"),
        ("FP", "num"),
        ("precision", "num"),
        ("recall", "num"),
        ("F1", "num"),
        ("", ""),
    ]
    head = "".join(f'<th class="{c}">{esc(h)}</th>' for h, c in header_cells)
    rows = []
    for model in sorted(evaluation.get("models", []), key=lambda m: _order(m.get("setting"))):
        test = model.get("test") or {}
        validation = model.get("validation") or {}
        interval = test.get("expected_cost_ci")
        confusion = test.get("confusion") or {}
        setting = model.get("setting") or {}
        ratio = setting_text(setting) if "fn_weight" in setting and "fp_weight" in setting else "-"
        is_best = model.get("name") == best
        savings = test.get("savings")
        thresholds = model.get("thresholds") or {}
        # Under per-row costs a model is chosen by its rules' cross-validated cost.
        tuning_cost = (
            model.get("selection_cost", validation.get("expected_cost"))
            if per_row
            else validation.get("expected_cost")
        )
        cells = [
            (ratio, ""),
            (model.get("name"), "name"),
            (
                _rule_text(model) if per_row else _threshold_text(thresholds),
                "num" if len(thresholds) == 1 else "",
            ),
            (money(tuning_cost), "num"),
            (money(test.get("expected_cost")), "num"),
            (f"{money(interval[0])} \u2013 {money(interval[1])}" if interval else "-", "num"),
            (f"{savings:.1%}" if isinstance(savings, int | float) else "-", "num"),
            (confusion.get("fn", "-"), "num"),
            (confusion.get("fp", "-"), "num"),
            (share(test.get("precision")), "num"),
            (share(test.get("recall")), "num"),
            (share(test.get("f1")), "num"),
            ("\u2605 cheapest" if is_best else "", "name"),
        ]
        row = "".join(f'<td class="{c}">{esc(v)}</td>' for v, c in cells)
        rows.append(f'<tr class="{"best" if is_best else ""}">{row}</tr>')
    for policy, figures in (evaluation.get("baselines") or {}).items():
        validation_cost = (figures.get("validation") or {}).get("expected_cost")
        test_cost = (figures.get("test") or {}).get("expected_cost")
        rows.append(
            f'<tr class="policy"><td colspan="3">{esc(policy.replace("_", " "))}</td>'
            f'<td class="num">{money(validation_cost)}</td><td class="num">{money(test_cost)}'
            '</td><td colspan="8">trivial policy</td></tr>'
        )
    champion = evaluation.get("champion") or {}
    if champion.get("version") is not None:
        test = champion.get("test") or {}
        confusion = test.get("confusion") or {}
        low, high = champion.get("difference_ci") or (None, None)
        rows.append(
            f'<tr class="policy"><td colspan="2">approved version {esc(champion["version"])} '
            f"(champion, {esc(champion.get('name'))})</td>"
            f'<td class="num">{esc(_champion_rule(champion, per_row))}</td>'
            # The tuning column holds the candidates' tuning costs; the champion has none.
            "<td>-</td>"
            f'<td class="num">{money(test.get("expected_cost"))}</td><td>-</td><td>-</td>'
            f'<td class="num">{esc(confusion.get("fn", "-"))}</td>'
            f'<td class="num">{esc(confusion.get("fp", "-"))}</td>'
            f'<td colspan="4">challenger minus champion {champion["difference"]:+,.2f} '
            f"[{low:+,.2f}, {high:+,.2f}] on the same test rows</td></tr>"
        )
    best_info = evaluation.get("best") or {}
    summary = ""
    if best_info:
        baseline = best_info.get("baseline") or {}
        summary = (
            f"<p>Cheapest by {esc(tuning_header)}: <b>{esc(best_info.get('name'))}</b>, "
            f"{money(best_info.get('expected_cost'))} per decision on test against "
            f"{money(baseline.get('expected_cost'))} for "
            f"{esc(str(baseline.get('name', 'the best trivial policy')).replace('_', ' '))}"
            + (
                f" (savings {best_info['savings']:.1%})"
                if isinstance(best_info.get("savings"), int | float)
                else ""
            )
            + ".</p>"
        )
    matrix = evaluation.get("cost_matrix") or {}
    matrix_text = ""
    if per_row and all(k in matrix for k in OUTCOME_NAMES):
        columns = (evaluation.get("costs") or {}).get("columns") or []
        read = (
            f" (from the data's {', '.join(f'<code>{esc(c)}</code>' for c in columns)})"
            if columns
            else ""
        )
        matrix_text = (
            f'<p class="muted">Costs per decision, computed for each row{read}: '
            f"{entries_text(matrix)}. {esc(tuning_sentence)}</p>"
        )
    elif all(k in matrix for k in OUTCOME_NAMES):
        matrix_text = (
            '<p class="muted">Cost matrix per decision: '
            + ", ".join(f"{OUTCOME_NAMES[k]} {money(float(matrix[k]))}" for k in OUTCOME_NAMES)
            + f". {esc(tuning_sentence)}</p>"
        )
    return (
        "<h3>Expected cost per decision, by cost setting</h3>"
        f'{summary}<table class="costs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{matrix_text}"
    )


def _champion_rule(champion: dict[str, Any], per_row: bool) -> str:
    if per_row and champion.get("rules"):
        return _rule_text(champion)
    return _threshold_text(champion.get("thresholds") or {})


# graph ---------------------------------------------------------------------------------------
def graph(data: ReportData) -> str:
    by_name = {step.name: step for step in data.steps}
    drawn = layout(data.definition, [step.name for step in data.steps])
    svg = render_dag(drawn, by_name)
    legend = "".join(
        f'<span><i style="background:{fill};border-color:{stroke}"></i>{esc(status)}</span>'
        for status, (fill, stroke, _) in STATUS_STYLE.items()
        if status in ("Succeeded", "Failed", "Executing", "Stopped")
    )
    legend += (
        '<span><i style="background:#f5f5f5;border-color:#9e9e9e;border-style:dashed"></i>'
        "not started</span>"
    )
    rows = []
    for step in data.steps:
        note = step.failure_reason or (
            f"cached from execution {step.cache_source}" if step.cache_source else ""
        )
        if step.outcome is not None and not note:
            note = f"outcome {step.outcome}"
        rows.append(
            "<tr>"
            f"<td>{esc(step.name)}</td><td>{esc(step.type)}</td>"
            f'<td>{_pill(step.status)}</td><td class="time">{esc(_time(step.started))}</td>'
            f'<td class="num">{esc(duration_text(step.duration_s) or "-")}</td>'
            f'<td class="num">{esc(step.attempts)}</td><td class="reason">{esc(note)}</td>'
            "</tr>"
        )
    never = [n.name for n in drawn.nodes if n.name not in by_name]
    never_text = f'<p class="muted">Never started: {esc(", ".join(never))}.</p>' if never else ""
    return (
        '<h2 id="graph">Pipeline graph</h2>'
        f'<figure class="dag-figure">{svg}<figcaption><div class="legend">{legend}</div>'
        "Steps laid out by dependency, left to right; each box shows the step's status and "
        "duration (or that it came from the step cache). Hover a box for details.</figcaption>"
        "</figure>"
        "<table><thead><tr><th>step</th><th>type</th><th>status</th><th>started</th>"
        '<th class="num">duration</th><th class="num">attempts</th><th>note</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{never_text}"
    )


# per label -----------------------------------------------------------------------------------
def figure_html(plot: Plot) -> str:
    return (
        f'<figure class="plot" data-plot="{esc(plot.key)}"><img src="{plot.uri}" '
        f'alt="{esc(plot.alt)}"><figcaption><b>{esc(plot.title)}.</b> {esc(plot.caption)}'
        "</figcaption></figure>"
    )


def confusion_matrices(view: LabelView) -> str:
    cards = []
    for model in view.models:
        test = model.figures.get("test") or {}
        counts = test.get("confusion")
        if not counts:
            continue
        total = max(1, sum(int(counts.get(k, 0)) for k in OUTCOME_NAMES))

        spent = _cell_costs(model) if view.per_row else None

        def cell(
            outcome: str,
            counts: dict[str, Any] = counts,
            total: int = total,
            spent: dict[str, float] | None = spent,
        ) -> str:
            count = int(counts.get(outcome, 0))
            if view.matrix is not None:
                cost_text = f"{money(count * getattr(view.matrix, outcome) / total)} per decision"
            elif spent is not None:
                cost_text = f"{money(spent[outcome] / total)} per decision"
            else:
                cost_text = "-"
            return f"<td><b>{OUTCOME_NAMES[outcome]} {count}</b><small>{cost_text}</small></td>"

        is_best = model.name == view.best
        star = " \u2605" if is_best else ""
        how = (
            f"rule: {esc(rule_words(model.rule))}"
            if view.per_row
            else f"threshold {model.threshold:.4g}"
        )
        cards.append(
            f'<div class="confusion{" best" if is_best else ""}">'
            f"<h4>{esc(model.name)} ({esc(model_setting_text(model))}){star}</h4>"
            f'<div class="muted">{how} \u00b7 test cost '
            f"{money(test.get('expected_cost'))}</div>"
            "<table><tr><th>truth</th><th>called positive</th><th>called negative</th></tr>"
            f"<tr><th>positive</th>{cell('tp')}{cell('fn')}</tr>"
            f"<tr><th>negative</th>{cell('fp')}{cell('tn')}</tr></table></div>"
        )
    if not cards:
        return ""
    words = (
        "Counts of each model's per-row rule's decisions, and what each cell adds to the "
        "expected cost per decision (each row priced with its own costs)."
        if view.per_row
        else "Counts at each model's chosen threshold, and what each cell adds to the expected "
        "cost per decision."
    )
    return (
        "<h3>Confusion matrices on test</h3>"
        f'<p class="muted">{words}</p>'
        f'<div class="grid">{"".join(cards)}</div>'
    )


def _cell_costs(model: ModelView) -> dict[str, float] | None:
    """What each confusion cell of a per-row model's test decisions cost in total."""
    rows = model.rows.get("test")
    if rows is None:
        return None
    paid = rows.paid
    positive, called = rows.y == 1, rows.decisions == 1
    cells = {
        "tp": positive & called,
        "fp": ~positive & called,
        "fn": positive & ~called,
        "tn": ~positive & ~called,
    }
    return {outcome: float(paid[mask].sum()) for outcome, mask in cells.items()}


def label_table(view: LabelView) -> str:
    """For multi-label executions: this label's figures per model."""
    rows = []
    for model in sorted(view.models, key=lambda m: _order(m.setting)):
        validation = model.figures.get("validation") or {}
        test = model.figures.get("test") or {}
        confusion = test.get("confusion") or {}
        how = esc(rule_words(model.rule)) if view.per_row else f"{model.threshold:.4g}"
        tuning = model.tuning_cost if view.per_row else validation.get("expected_cost")
        rows.append(
            f'<tr class="{"best" if model.name == view.best else ""}">'
            f"<td>{esc(model_setting_text(model))}</td><td>{esc(model.name)}</td>"
            f'<td class="num">{how}</td>'
            f'<td class="num">{money(tuning)}</td>'
            f'<td class="num">{money(test.get("expected_cost"))}</td>'
            f'<td class="num">{esc(confusion.get("fn", "-"))}</td>'
            f'<td class="num">{esc(confusion.get("fp", "-"))}</td>'
            f'<td class="num">{share(test.get("f1"))}</td></tr>'
        )
    for policy in POLICIES:
        costs = view.baselines.get(policy, {})
        rows.append(
            f'<tr class="policy"><td colspan="3">{esc(policy.replace("_", " "))}</td>'
            f'<td class="num">{money(costs.get("validation"))}</td>'
            f'<td class="num">{money(costs.get("test"))}</td><td colspan="3">trivial policy'
            "</td></tr>"
        )
    how, tuning = ("threshold", "validation cost")
    if view.per_row:
        how, tuning = ("rule", "cross-validated cost")
    return (
        f'<table><thead><tr><th>cost setting</th><th>model</th><th class="num">{how}</th>'
        f'<th class="num">{tuning}</th><th class="num">test cost</th>'
        '<th class="num">FN</th><th class="num">FP</th><th class="num">F1</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def label_section(view: LabelView, index: int, count: int) -> str:
    title = f"Label {esc(view.label)}" + (f" ({index + 1} of {count})" if count > 1 else "")
    parts = [f'<h2 id="label-{index}">{title}</h2>']
    if count > 1 and view.per_row and view.entries:
        parts.append(
            f'<p class="muted">Costs of this label per decision: {entries_text(view.entries)}.</p>'
        )
    if count > 1:
        parts.append(label_table(view))
    if not view.has_scores:
        parts.append(
            '<div class="box note">No scores for this label (scores.parquet missing or '
            "unreadable): the plots that need scores are left out.</div>"
        )
    for plot in label_plots(view):
        parts.append(figure_html(plot))
        if plot.key == "error-costs":
            parts.append(top_rows_table(view))
    parts.append(confusion_matrices(view))
    return "".join(parts)


def _class_text(value: int) -> str:
    return "positive" if value == 1 else "negative"


def _row_threshold_text(value: float) -> str:
    """A row's own threshold on the decision score: never reached when it is above 1."""
    if not math.isfinite(value) or value > 1:
        return "never"
    return f"{value:.4g}"


def top_rows_table(view: LabelView) -> str:
    """Where the money is lost: the cheapest model's costliest wrong decisions on test."""
    model = view.cheapest
    if model is None or not model.per_row or "test" not in model.rows:
        return ""
    top = top_error_rows(model)
    if not top.rows:
        return (
            "<h3>Where the money is lost</h3>"
            f'<p class="muted">{esc(model.name)} made no wrong decision on test.</p>'
        )
    rows = []
    for rank, row in enumerate(top.rows, start=1):
        outcome = "FN" if row.truth == 1 else "FP"
        share_text = f"{row.paid / top.error_total:.1%}" if top.error_total > 0 else "-"
        rows.append(
            f'<tr><td class="num">{rank}</td><td class="num">{row.row + 1}</td>'
            f"<td>{outcome}</td><td>{_class_text(row.truth)}</td>"
            f"<td>{_class_text(row.decision)}</td>"
            f'<td class="num">{row.score:.4g}</td>'
            f'<td class="num">{_row_threshold_text(row.threshold)}</td>'
            f'<td class="num">{money(row.paid)}</td><td class="num">{money(row.other)}</td>'
            f'<td class="num">{share_text}</td></tr>'
        )
    share_of_all = top.shown_total / top.total if top.total > 0 else 0.0
    return (
        "<h3>Where the money is lost</h3>"
        f"<p>The {len(top.rows)} wrong decisions of <b>{esc(model.name)}</b> "
        f"({esc(rule_words(model.rule))}) that cost the most on test: together "
        f"{money(top.shown_total)}, <b>{top.share:.1%}</b> of what its {top.errors} wrong "
        f"decisions cost ({money(top.error_total)}) and {share_of_all:.1%} of the cost of all "
        f"{top.decisions} test decisions ({money(top.total)}).</p>"
        '<table class="money-lost"><thead><tr><th class="num">#</th>'
        '<th class="num">data row</th><th>error</th><th>truth</th><th>decision</th>'
        '<th class="num">decision score</th><th class="num">row threshold</th>'
        '<th class="num">cost paid</th><th class="num">other decision</th>'
        '<th class="num">share of error cost</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="muted">Data row: the row\'s place in its source file, counted from 1 after '
        "the header (as costpipe's messages count rows). Decision score: the model's score, "
        "calibrated when its rule calibrates. Row threshold: the decision score at or above "
        "which the rule calls this row positive, from the row's own costs and the rule's shift "
        "(never: no score makes calling it positive cheaper). Other decision: what the row would "
        "have cost with the right decision.</p>"
    )


# checks and parameters -----------------------------------------------------------------------
def _verdict(passed: Any) -> str:
    return '<span class="pass">passed</span>' if passed else '<span class="fail">failed</span>'


def _judged(check: dict[str, Any]) -> str:
    if check.get("evaluated", True):
        return f"yes ({esc(check.get('samples', '-'))} labels)"
    return (
        f"no: only {esc(check.get('samples', '-'))} labels, below the rule's minimum, so the "
        "check passes while its figures are shown"
    )


def checks(data: ReportData) -> str:
    parts = ['<h2 id="checks">Class-imbalance checks</h2>']
    found = (data.evaluation or {}).get("checks")
    if not found:
        parts.append('<p class="muted">No checks to show: there is no evaluation.</p>')
        return "".join(parts)
    rows = []
    imbalance = found.get("class_imbalance")
    if isinstance(imbalance, dict):
        counts = ", ".join(
            f"class {esc(k)}: {esc(v)}" for k, v in (imbalance.get("counts") or {}).items()
        )
        rows.append(
            "<tr><td>class imbalance</td><td>largest class / smallest class</td>"
            f'<td class="num">{_fixed(imbalance.get("ratio"))}</td>'
            f'<td class="num">at most {esc(_number(imbalance.get("threshold")))}</td>'
            f"<td>{_judged(imbalance)}</td><td>{_verdict(imbalance.get('passed'))}</td>"
            f"<td>{counts}</td></tr>"
        )
    misprediction = found.get("misprediction")
    if isinstance(misprediction, dict):
        per_class = misprediction.get("per_class") or {}
        worst = max(per_class.values(), default=None)
        detail = ", ".join(f"class {esc(k)}: {v:.1%}" for k, v in per_class.items())
        rows.append(
            "<tr><td>misprediction</td><td>worst share of a class mispredicted "
            "(cheapest model, test)</td>"
            f'<td class="num">{_percent(worst)}</td>'
            f'<td class="num">at most {_percent(misprediction.get("threshold"))}</td>'
            f"<td>{_judged(misprediction)}</td><td>{_verdict(misprediction.get('passed'))}</td>"
            f"<td>{detail}</td></tr>"
        )
    for name, check in found.items():
        if name in ("class_imbalance", "misprediction", "passed") or not isinstance(check, dict):
            continue
        rows.append(
            f"<tr><td>{esc(name)}</td><td></td><td></td>"
            f'<td class="num">{esc(_number(check.get("threshold")))}</td>'
            f"<td>{_judged(check)}</td><td>{_verdict(check.get('passed'))}</td>"
            f"<td>{esc({k: v for k, v in check.items() if k not in ('passed', 'threshold')})}"
            "</td></tr>"
        )
    parts.append(
        "<p>From SageMaker Debugger's ClassImbalance rule. Overall: "
        f"{_verdict(found.get('passed'))}; a failed check keeps the model out of the registry."
        '</p><table><thead><tr><th>check</th><th>measures</th><th class="num">value</th>'
        '<th class="num">threshold</th><th>judged</th><th>result</th><th>details</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return "".join(parts)


def inputs(data: ReportData) -> str:
    """The models' input columns under the names they have in the data, with their roles."""
    found = (data.evaluation or {}).get("inputs")
    if not isinstance(found, dict):
        return ""
    text = list(found.get("text") or [])
    categorical = set(found.get("categorical") or [])
    detected = {name for names in (found.get("detected") or {}).values() for name in names}
    rows = []
    for name in [*(found.get("features") or []), *text]:
        role = "text" if name in text else "categorical" if name in categorical else "numeric"
        how = "from its values or type" if name in detected else "as given"
        rows.append(f"<tr><td><code>{esc(name)}</code></td><td>{role}</td><td>{how}</td></tr>")
    return (
        '<h2 id="inputs">Input columns</h2><table><thead><tr><th>column</th><th>used as</th>'
        f"<th>role</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _fixed(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "-"


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int | float):
        if value == sys.float_info.max:
            return "no limit"
        return f"{value:.10g}"
    return str(value)


def parameters(data: ReportData) -> str:
    values = data.execution.get("parameters") or {}
    defaults = {
        p.get("Name"): p.get("DefaultValue") for p in (data.definition or {}).get("Parameters", [])
    }
    items = []
    for name in sorted(values):
        value = values[name]
        changed = name in defaults and defaults[name] != value
        mark = ' <span class="muted">(not the default)</span>' if changed else ""
        items.append(f"<div><b>{esc(name)}</b> = {esc(_number(value))}{mark}</div>")
    if not items:
        items.append('<div class="muted">none recorded</div>')
    return (
        '<h2 id="parameters">Parameters of the execution</h2>'
        f'<div class="params">{"".join(items)}</div>'
    )


# the page ------------------------------------------------------------------------------------
def render_page(data: ReportData, generated: datetime | None = None) -> str:
    """The whole HTML document for one execution."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package_version = version("costpipe")
    except PackageNotFoundError:
        package_version = "unknown"
    stamp = (generated or datetime.now(UTC)).isoformat(timespec="seconds")
    views = label_views(data)
    body = [
        header(data, views),
        outcome(data),
        graph(data),
        *(label_section(view, i, len(views)) for i, view in enumerate(views)),
        checks(data),
        inputs(data),
        parameters(data),
    ]
    title = f"costpipe \u00b7 {data.execution.get('pipeline', '')} \u00b7 {data.execution_id}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
        + "".join(body)
        + f"<footer>costpipe {esc(package_version)} \u00b7 report written {esc(stamp)}"
        "</footer></main></body></html>\n"
    )
