"""The report's per-row cost plots and the rows where the money is lost.

Under per-row costs every row has its own Bayes-minimum-risk threshold ``t_i`` and each model
decides with a minimum-risk rule (:class:`steps.rules.MinimumRiskRule`): positive when
``logit(p_i) + shift >= logit(t_i)``, the shift tuned on the tuning rows, or the scores first
calibrated (isotonic or Platt) and the shift 0. There is no one threshold to draw, so per label
the report shows instead:

* expected cost against the shift, one panel per model: the tuning curve and the test curve,
  each the :func:`steps.rules.shift_sweep` of the decision scores and per-row costs in
  scores.parquet (on calibrated scores for a calibrated rule, whose shift is 0), the rule's
  shift marked, the trivial policies on the same rows as horizontal lines;
* for the cheapest model, the distribution of the per-row costs among the errors of each kind
  on test (false negatives, false positives), with their totals and how much of them the
  costliest tenth carries;
* for the cheapest model, the test rows whose errors cost the most (:func:`top_error_rows`),
  which the page shows as a table.

Same conventions as :mod:`pipeline.report.figures`: matplotlib ``Figure`` objects (no pyplot),
embedded as deterministic SVG data URIs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, PercentFormatter

from pipeline.report.figures import (
    OUTCOME_COLOURS,
    Plot,
    _focus,
    _new_figure,
    _panel_title,
    _panels,
    draw_curves,
    finish_cost_panels,
    mark_choice,
    money,
    svg_uri,
    text,
)
from pipeline.report.model import LabelView, ModelView, RowScores
from steps.rules import MinimumRiskRule, ShiftSweep, row_keys, rule_from_dict, shift_sweep

#: At most this many points per drawn shift curve (beyond, it is sampled on a grid).
MAX_SHIFT_POINTS = 3000
#: The shift axis spans these quantiles of the tuning rows' finite keys (and the rule's shift).
KEY_QUANTILES = (0.01, 0.99)
#: Logit units kept either side of the rule's shift on the shift axis.
SHIFT_MARGIN = 1.0
#: Error costs spanning at least this factor (largest / smallest) get a log axis.
LOG_SPAN = 100.0
HISTOGRAM_BINS = 30
#: Rows in the "where the money is lost" table.
TOP_ROWS = 20
CHOICE_NAMES = {"shift": "shift", "isotonic": "isotonic", "platt": "Platt"}


# rules in words -------------------------------------------------------------------------------
def rule_words(rule: dict[str, Any] | None) -> str:
    """A minimum-risk rule in a few words: ``shift +0.41``, ``isotonic calibration``."""
    if not rule:
        return "no rule"
    if rule.get("kind") == "threshold":
        return f"threshold {float(rule['threshold']):.4g}"
    calibration = rule.get("calibration")
    if calibration:
        method = str(calibration.get("method"))
        return f"{CHOICE_NAMES.get(method, method)} calibration"
    return f"shift {float(rule['shift']):+.3g}"


def choice_words(model: ModelView) -> str:
    """Which rule the model uses and each choice's cross-validated cost per decision."""
    words = f"{model.name}: {rule_words(model.rule)}"
    choice = model.choice or {}
    costs = choice.get("cross_validated_costs")
    if costs:
        listed = ", ".join(
            f"{CHOICE_NAMES.get(name, name)} {money(value)}" for name, value in costs.items()
        )
        words += f" (cross-validated cost per decision over {choice.get('folds')} folds: {listed})"
    elif choice:
        words += " (too few rows of a class to cross-validate: the shift)"
    return words


def minimum_risk_rule(model: ModelView) -> MinimumRiskRule:
    rule = rule_from_dict(model.rule or {"kind": "minimum-risk", "shift": 0.0})
    if not isinstance(rule, MinimumRiskRule):
        raise ValueError(f"model {model.name} has no minimum-risk rule")
    return rule


# expected cost against the shift ------------------------------------------------------------
def rule_sweep(rows: RowScores) -> ShiftSweep:
    """The expected cost per decision at every shift, on the rows' decision scores."""
    return shift_sweep(rows.y, rows.scores, rows.costs)


def cost_at_shift(sweep: ShiftSweep, shifts: np.ndarray) -> np.ndarray:
    """The sweep's cost when calling positive every row whose key is at most each shift."""
    return sweep.costs[np.searchsorted(sweep.keys, np.asarray(shifts), side="right")]


def shift_range(model: ModelView) -> tuple[float, float]:
    """The shift axis of one model: the middle of its tuning rows' keys, and its shift."""
    rows = model.rows["validation"]
    keys = row_keys(rows.scores, rows.costs)
    keys = keys[np.isfinite(keys)]
    shift = minimum_risk_rule(model).shift
    if keys.size == 0:
        return shift - 3 * SHIFT_MARGIN, shift + 3 * SHIFT_MARGIN
    low, high = (float(v) for v in np.quantile(keys, KEY_QUANTILES))
    return min(low, shift - SHIFT_MARGIN), max(high, shift + SHIFT_MARGIN)


def shift_curve(sweep: ShiftSweep, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """A step curve (drawn ``where="post"``) of the cost against the shift from ``low`` to
    ``high``: exact at every key inside, or on a grid when there are too many."""
    inside = sweep.keys[(sweep.keys > low) & (sweep.keys < high)]
    if inside.size > MAX_SHIFT_POINTS:
        inside = np.linspace(low, high, MAX_SHIFT_POINTS)[1:-1]
    xs = np.concatenate(([low], inside, [high]))
    return xs, cost_at_shift(sweep, xs)


def shift_cost_plot(view: LabelView) -> Plot | None:
    models = [m for m in view.models if m.per_row and "validation" in m.rows]
    if not models:
        return None
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    chosen: dict[str, float] = {}
    for model in models:
        low, high = shift_range(model)
        shift = minimum_risk_rule(model).shift
        for split in ("validation", "test"):
            if split in model.rows:
                sweep = rule_sweep(model.rows[split])
                curves[model.name, split] = shift_curve(sweep, low, high)
                if split == "validation":
                    chosen[model.name] = float(cost_at_shift(sweep, np.array([shift]))[0])
    references = [
        v for policy in view.baselines.values() for s, v in policy.items() if s == "validation"
    ]
    bottom, top = _focus([float(np.min(ys)) for _, ys in curves.values()], references)
    figure, axes = _panels(len(models), height=3.1)
    for ax, model in zip(axes, models, strict=True):
        draw_curves(ax, view, curves, model.name, "tuning rows", top)
        shift = minimum_risk_rule(model).shift
        cost = chosen[model.name]
        mark_choice(ax, shift, cost, "the rule's shift", f"shift {shift:+.3g}\n{money(cost)}")
        xs = curves[model.name, "validation"][0]
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(bottom, top)
        ax.set_title(f"{_panel_title(model, view.best)}\n{rule_words(model.rule)}", fontsize=9)
        calibrated = bool((model.rule or {}).get("calibration"))
        ax.set_xlabel(
            "shift (logit units" + (", on calibrated scores)" if calibrated else ")"), fontsize=9
        )
    finish_cost_panels(figure, axes)
    rules = "; ".join(choice_words(m) for m in models)
    return Plot(
        key="cost-shift",
        title="Expected cost against the shift",
        caption="Each row has its own cost-optimal threshold t from its costs; a model calls a "
        "row positive when logit(score) + shift \u2265 logit(t). The solid curve is the cost "
        "per decision at every shift on the tuning rows, the dashed one on test (both "
        "recomputed from the scores and each row's costs); the dot is the rule's shift. A "
        "calibrated rule's axis is on its calibrated scores, where its shift is 0. Horizontal "
        "lines: calling every tuning row negative or positive. The y axis is zoomed on the "
        f"cheapest region. Rules: {rules}.",
        uri=svg_uri(figure),
        alt=f"expected cost against the shift for {len(models)} models, label {view.label}",
    )


# what the errors cost ------------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorHistogram:
    """The costs of one kind of error on test, binned: ``counts`` errors and ``money`` their
    summed cost in each bin of ``edges``; ``log`` when the bins are logarithmic."""

    values: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    money: np.ndarray
    log: bool

    @property
    def total(self) -> float:
        return float(self.values.sum())

    def top_share(self, fraction: float = 0.1) -> float:
        """The share of the total carried by the costliest ``fraction`` of the errors."""
        if self.values.size == 0 or self.total <= 0:
            return 0.0
        count = max(1, math.ceil(fraction * self.values.size))
        return float(np.sort(self.values)[::-1][:count].sum() / self.total)


def error_histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> ErrorHistogram:
    """Bins over the error costs: logarithmic when they are positive and span two decades."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        edges = np.array([0.0, 1.0])
        return ErrorHistogram(values, edges, np.zeros(1, int), np.zeros(1), False)
    low, high = float(values.min()), float(values.max())
    log = low > 0 and high / low >= LOG_SPAN
    if log:
        edges = np.geomspace(low, high, bins + 1)
    elif high > low:
        edges = np.linspace(low, high, bins + 1)
    else:  # every error costs the same: one bin around it
        half = max(abs(low) * 0.05, 0.5)
        edges = np.array([low - half, low + half])
    # np.histogram counts the right edge in the last bin, so every value is in a bin.
    counts, _ = np.histogram(values, bins=edges)
    spent, _ = np.histogram(values, bins=edges, weights=values)
    return ErrorHistogram(values, edges, counts, spent, log)


def error_histograms(rows: RowScores) -> dict[str, ErrorHistogram]:
    """The false negatives' and the false positives' costs on ``rows``, binned."""
    paid = rows.paid
    return {
        "fn": error_histogram(paid[rows.false_negatives]),
        "fp": error_histogram(paid[rows.false_positives]),
    }


ERROR_NAMES = {"fn": ("FN", "false negatives (missed)"), "fp": ("FP", "false positives")}


def _error_panel(ax: Axes, kind: str, found: ErrorHistogram, total: float) -> None:
    short, name = ERROR_NAMES[kind]
    colour = OUTCOME_COLOURS[short]
    if found.values.size == 0:
        ax.text(0.5, 0.5, f"no {name}", transform=ax.transAxes, ha="center", va="center")
        ax.set_title(f"{short}: none", fontsize=9)
        ax.set_yticks([])
        ax.set_xticks([])
        return
    ax.stairs(found.counts, found.edges, fill=True, color=colour, alpha=0.75, label="errors")
    share = ax.twinx()
    fractions = found.money / found.total if found.total > 0 else found.money
    share.stairs(
        fractions, found.edges, color="#263238", linewidth=1.3, label="share of their cost"
    )
    share.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    share.set_ylim(0, max(1e-9, float(fractions.max())) * 1.15)
    share.tick_params(labelsize=8)
    share.set_ylabel(f"share of the {short} cost", fontsize=8)
    if found.log:
        ax.set_xscale("log")
    ax.set_xlim(found.edges[0], found.edges[-1])
    ax.set_ylim(0, max(1, int(found.counts.max())) * 1.15)
    ax.set_xlabel("cost of the error" + (" (log scale)" if found.log else ""), fontsize=9)
    ax.set_ylabel("errors", fontsize=9)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v)))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.2)
    of_all = found.total / total if total > 0 else 0.0
    if float(found.values.min()) == float(found.values.max()):
        spread = f"every one costs {money(float(found.values[0]))}"
    else:
        spread = (
            f"mean {money(float(found.values.mean()))}, median "
            f"{money(float(np.median(found.values)))}; the costliest 10 % carry "
            f"{found.top_share():.0%}"
        )
    ax.set_title(
        f"{short}: {found.values.size} {name}, total {money(found.total)} ({of_all:.0%} of the "
        f"errors' cost)\n{spread}",
        fontsize=8.5,
    )


def error_cost_plot(view: LabelView) -> Plot | None:
    model = view.cheapest
    if model is None or not model.per_row or "test" not in model.rows:
        return None
    found = error_histograms(model.rows["test"])
    total = found["fn"].total + found["fp"].total
    figure = _new_figure(11.0, 3.5)
    axes = figure.subplots(1, 2)
    for ax, kind in zip(axes, ("fn", "fp"), strict=True):
        _error_panel(ax, kind, found[kind], total)
    figure.suptitle(
        f"{text(model.name)}: the errors cost {money(total)} on test "
        f"({model.rows['test'].y.size} decisions)",
        fontsize=10,
    )
    return Plot(
        key="error-costs",
        title="What the errors cost on test, by kind",
        caption=f"The cheapest model ({model.name}, {rule_words(model.rule)}) on test: how many "
        "misses (false negatives) and false alarms (false positives) cost how much, each row "
        "priced with its own costs; the line is the share of that kind's total cost in each "
        "bin. The x axis is logarithmic where the costs span two decades or more. A few bins "
        "on the right holding most of the line's weight mean that a few expensive errors "
        "dominate.",
        uri=svg_uri(figure),
        alt=f"distribution of the error costs on test for {model.name}, label {view.label}",
    )


# where the money is lost ---------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorRow:
    """One test row whose decision was wrong, with what it cost."""

    row: int  # position in the source file, 0-based
    truth: int
    decision: int
    score: float
    threshold: float  # the decision score at or above which the rule calls this row positive
    paid: float
    other: float


@dataclass(frozen=True)
class TopErrors:
    """The test rows whose errors cost the most, costliest first, and the totals around."""

    model: str
    rule: dict[str, Any] | None
    rows: list[ErrorRow]
    errors: int  # wrong decisions on test
    error_total: float  # what they cost
    total: float  # what every test decision cost
    decisions: int

    @property
    def shown_total(self) -> float:
        return float(sum(r.paid for r in self.rows))

    @property
    def share(self) -> float:
        """The share of the errors' total cost the rows shown carry."""
        return self.shown_total / self.error_total if self.error_total > 0 else 0.0


def top_error_rows(model: ModelView, limit: int = TOP_ROWS, split: str = "test") -> TopErrors:
    """The ``limit`` wrong decisions of ``split`` that cost the most (ties: lower row first)."""
    rows = model.rows[split]
    paid, other = rows.paid, rows.other
    wrong = np.flatnonzero(rows.y != rows.decisions)
    order = wrong[np.lexsort((rows.rows[wrong], -paid[wrong]))][:limit]
    thresholds = minimum_risk_rule(model).row_thresholds(rows.costs, rows.y.size)
    return TopErrors(
        model=model.name,
        rule=model.rule,
        rows=[
            ErrorRow(
                row=int(rows.rows[i]),
                truth=int(rows.y[i]),
                decision=int(rows.decisions[i]),
                score=float(rows.scores[i]),
                threshold=float(thresholds[i]),
                paid=float(paid[i]),
                other=float(other[i]),
            )
            for i in order
        ],
        errors=int(wrong.size),
        error_total=float(paid[wrong].sum()),
        total=float(paid.sum()),
        decisions=int(rows.y.size),
    )
