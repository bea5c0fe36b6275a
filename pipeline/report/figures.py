"""The report's plots, drawn with matplotlib and embedded as SVG ``data:`` URIs.

Nothing here touches pyplot or a GUI backend: each plot is a ``matplotlib.figure.Figure``
saved to SVG in memory (text as paths, so the page needs no fonts), and ids inside the SVG are
made deterministic. Each plot is embedded as an ``<img>``: its ids cannot clash with the page's
and it cannot run scripts.

Per label (see :mod:`pipeline.report.model`):

* expected cost against threshold, one panel per model: the validation curve recomputed with
  :func:`steps.sweep.cost_sweep` from scores.parquet, the test curve dashed, the chosen
  threshold marked, the trivial policies as horizontal lines;
* expected cost against the cost setting (fn_weight / fp_weight), validation and test with its
  95 % interval, the trivial policies, the cheapest model marked;
* test score distributions per true class (positives up, negatives down) coloured by outcome at
  the chosen threshold, with how many cases sit close to the cut-off;
* precision-recall curves on test with each model's F1 peak and its operating point.

Under per-row costs there is no threshold: the threshold plots give way to those of
:mod:`pipeline.report.row_figures` (expected cost against the rule's shift, what the errors
cost), and the setting plot draws each model's tuning cost as the cross-validated cost of its
rule, the cost it was chosen by.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from pipeline.formats import money as format_money
from pipeline.report.model import LabelView, ModelView
from steps.costs import setting_text as cost_setting_text
from steps.costs import weights_text
from steps.sweep import cost_sweep, f1_sweep

OUTCOME_COLOURS = {"TP": "#2e7d32", "FN": "#c62828", "FP": "#ef6c00", "TN": "#90a4ae"}
POLICY_STYLE = {
    "all_negative": ("#6a1b9a", (0, (6, 3)), "all negative"),
    "all_positive": ("#00838f", (0, (2, 2)), "all positive"),
}
MODEL_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
#: Below this chosen threshold the threshold axes are logarithmic.
LOG_BELOW = 0.05
MAX_CURVE_POINTS = 3000
PANEL_COLUMNS = 3


@dataclass(frozen=True)
class Plot:
    """One embedded figure: what it shows, in words, and the image itself."""

    key: str
    title: str
    caption: str
    uri: str
    alt: str


def text(value: object) -> str:
    """A string for matplotlib: ``$`` would start mathtext (and can raise), so escape it."""
    return str(value).replace("$", r"\$")


def money(value: float | None) -> str:
    """Plot labels and axes: the shared money format, without cents from 100 up."""
    return format_money(value, compact=True)


def setting_text(model: ModelView, with_booster: bool = True) -> str:
    if model.setting.get("fn_weight") is None or model.setting.get("fp_weight") is None:
        return model.name
    return cost_setting_text(model.setting) if with_booster else weights_text(model.setting)


def svg_uri(figure: Figure) -> str:
    """The figure as an SVG ``data:`` URI, byte-for-byte the same for the same figure."""
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "costpipe-report", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def use_log_axis(view: LabelView) -> bool:
    """Thresholds near zero (a 200:1 cost ratio puts them near 0.005) need a log axis."""
    chosen = [m.threshold for m in view.models if math.isfinite(m.threshold) and m.threshold > 0]
    return bool(chosen) and min(chosen) < LOG_BELOW


def axis_floor(view: LabelView) -> float:
    """The left end of a log threshold axis: a decade below the lowest chosen threshold."""
    chosen = [m.threshold for m in view.models if math.isfinite(m.threshold) and m.threshold > 0]
    lowest = min(chosen, default=0.01)
    return max(1e-5, 10 ** (math.floor(math.log10(lowest)) - 1))


def cost_at(thresholds: np.ndarray, costs: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The sweep's cost when calling positive every score >= each value of ``at``."""
    ascending = thresholds[::-1]
    at_or_above = thresholds.size - np.searchsorted(ascending, at, side="left")
    return costs[np.maximum(at_or_above - 1, 0)]


def cost_curve(
    y: np.ndarray, scores: np.ndarray, view: LabelView, floor: float, log: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Step curve (x ascending from ``floor`` to 1) of expected cost against threshold."""
    sweep = cost_sweep(y, scores, view.matrix)
    thresholds, costs = sweep.thresholds, sweep.costs
    if thresholds.size - 1 <= MAX_CURVE_POINTS:
        xs = np.concatenate(([floor], np.maximum(thresholds[1:][::-1], floor), [1.0]))
        ys = np.concatenate((costs[::-1], [costs[0]]))
        return xs, ys
    grid = np.geomspace(floor, 1.0, MAX_CURVE_POINTS) if log else np.linspace(0, 1, 2000)
    return grid, cost_at(thresholds, costs, grid)


def _focus(values: list[float], references: list[float]) -> tuple[float, float]:
    """y limits around the cheapest region: the minimum and the best trivial policy."""
    low = min(values)
    best_reference = min(references) if references else low
    span = max(abs(best_reference - low), 0.02 * max(abs(low), abs(best_reference)), 1e-9)
    bottom = min(low, best_reference) - 0.8 * span
    top = max(low, best_reference) + 4.0 * span
    return bottom, min(top, max([*values, *references]) + 0.3 * span)


def _reference_lines(ax: Axes, view: LabelView, split: str, top: float) -> None:
    for policy, (colour, dash, name) in POLICY_STYLE.items():
        value = view.baselines.get(policy, {}).get(split)
        if value is None:
            continue
        above = " \u2191 above" if value > top else ""
        ax.axhline(
            value,
            color=colour,
            linestyle=dash,
            linewidth=1.2,
            label=f"{name}: {money(value)}{above}",
        )


def _panels(count: int, width: float = 4.1, height: float = 2.9) -> tuple[Figure, list[Axes]]:
    columns = min(PANEL_COLUMNS, max(1, count))
    rows = math.ceil(count / columns)
    figure = _new_figure(width * columns, height * rows + 0.7)
    grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
    axes = list(grid.flat)
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def _legend_columns(panels: int) -> int:
    """A figure-wide legend fits five entries a row over three panels, three over fewer."""
    return 5 if panels >= PANEL_COLUMNS else 3


def finish_cost_panels(figure: Figure, axes: list[Axes]) -> None:
    """The cost-curve panels' common finish: money on the cost axis (labelled on the first
    column), small ticks, a light grid, and one legend for the figure."""
    for ax in axes:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v)))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.25)
    for ax in axes[:: min(PANEL_COLUMNS, len(axes))]:
        ax.set_ylabel("expected cost per decision", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles,
        labels,
        loc="outside upper center",
        ncols=_legend_columns(len(axes)),
        fontsize=8,
        frameon=False,
    )


def _panel_title(model: ModelView, best: str | None) -> str:
    mark = "  \u2605 cheapest" if model.name == best else ""
    return f"{text(model.name)} ({setting_text(model)}){mark}"


def draw_curves(
    ax: Axes,
    view: LabelView,
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
    name: str,
    tuning_label: str,
    top: float,
) -> None:
    """A model's tuning curve (solid), its test curve (dashed) when there is one, and the
    trivial policies on the tuning rows."""
    xs, ys = curves[name, "validation"]
    ax.step(xs, ys, where="post", color="#1f77b4", linewidth=1.6, label=tuning_label)
    if (name, "test") in curves:
        tx, ty = curves[name, "test"]
        ax.step(
            tx,
            ty,
            where="post",
            color="#ff7f0e",
            linewidth=1.1,
            linestyle="--",
            alpha=0.85,
            label="test",
        )
    _reference_lines(ax, view, "validation", top)


def mark_choice(ax: Axes, x: float, cost: float, label: str, text: str) -> None:
    """The point a model chose on its tuning curve: a dotted line, a dot and a note."""
    ax.axvline(x, color="#37474f", linestyle=":", linewidth=1.2)
    ax.plot([x], [cost], marker="o", markersize=7, color="#37474f", label=label, linestyle="none")
    ax.annotate(
        text,
        (x, cost),
        xytext=(6, 10),
        textcoords="offset points",
        fontsize=8,
        bbox={
            "boxstyle": "round,pad=0.2",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.85,
        },
    )


def cost_threshold_plot(view: LabelView) -> Plot | None:
    models = [m for m in view.models if "validation" in m.scores]
    if not models:
        return None
    log = use_log_axis(view)
    floor = axis_floor(view) if log else 0.0
    curves = {}
    for model in models:
        for split in ("validation", "test"):
            if split in model.scores:
                curves[model.name, split] = cost_curve(*model.scores[split], view, floor, log)
    references = [
        v for policy in view.baselines.values() for s, v in policy.items() if s == "validation"
    ]
    bottom, top = _focus([float(np.min(ys)) for _, ys in curves.values()], references)
    figure, axes = _panels(len(models))
    for ax, model in zip(axes, models, strict=True):
        draw_curves(ax, view, curves, model.name, "validation", top)
        chosen = float(cost_at(*_sweep_arrays(model, view), np.array([model.threshold]))[0])
        mark_choice(
            ax,
            model.threshold,
            chosen,
            "chosen threshold",
            f"t = {model.threshold:.3g}\n{money(chosen)}",
        )
        if log:
            ax.set_xscale("log")
            ax.set_xlim(floor, 1.0)
        else:
            ax.set_xlim(0.0, 1.0)
        ax.set_ylim(bottom, top)
        ax.set_title(_panel_title(model, view.best), fontsize=10)
        ax.set_xlabel("threshold" + (" (log scale)" if log else ""), fontsize=9)
    finish_cost_panels(figure, axes)
    return Plot(
        key="cost-threshold",
        title="Expected cost against threshold",
        caption="Validation cost at every threshold (recomputed from the scores), test dashed; "
        "the dot is the threshold each model chose on validation. Horizontal lines: calling "
        "everything negative or everything positive (validation). The y axis is zoomed on the "
        "cheapest region.",
        uri=svg_uri(figure),
        alt=f"expected cost against threshold for {len(models)} models, label {view.label}",
    )


def _sweep_arrays(model: ModelView, view: LabelView) -> tuple[np.ndarray, np.ndarray]:
    sweep = cost_sweep(*model.scores["validation"], view.matrix)
    return sweep.thresholds, sweep.costs


#: Line colours (validation, test) of the first, second, ... booster (and, under per-row
#: costs, weighting) in the setting plot.
_BOOSTER_COLOURS = (
    ("#1f77b4", "#ff7f0e"),
    ("#2ca02c", "#d62728"),
    ("#9467bd", "#8c564b"),
    ("#17becf", "#e377c2"),
)
#: Flat settings are drawn this much to the left of the same weights weighted by costs, so
#: that the two do not hide each other.
_FLAT_OFFSET = 0.96


def _weighting(model: ModelView) -> str:
    return str(model.setting.get("weighting", "costs"))


def _plot_booster_costs(
    ax: Axes, models: list[ModelView], index: int, per_row: bool = False
) -> list[float]:
    """One booster's (and weighting's) validation and test cost against the setting; returns
    the values drawn. Under per-row costs the first line is each rule's cross-validated cost
    on the tuning rows, what the model was chosen by."""
    ratios = np.array([m.ratio for m in models])
    validation_colour, test_colour = _BOOSTER_COLOURS[index % len(_BOOSTER_COLOURS)]
    suffix = "" if models[0].booster == "tree" else f", {models[0].booster}"
    if _weighting(models[0]) != "costs":
        suffix += f", {_weighting(models[0])}"
        ratios = ratios * _FLAT_OFFSET
    values: list[float] = []
    if per_row:
        validation = [m.tuning_cost for m in models]
        first = "cross-validated (rule)"
    else:
        validation = [m.figures.get("validation", {}).get("expected_cost") for m in models]
        first = "validation"
    if all(v is not None for v in validation):
        ax.plot(ratios, validation, marker="o", color=validation_colour, label=f"{first}{suffix}")
        values += [float(v) for v in validation]
    test = [m.figures.get("test", {}).get("expected_cost") for m in models]
    if all(v is not None for v in test):
        intervals = [m.figures["test"].get("expected_cost_ci") for m in models]
        if all(ci is not None for ci in intervals):
            low = [t - ci[0] for t, ci in zip(test, intervals, strict=True)]
            high = [ci[1] - t for t, ci in zip(test, intervals, strict=True)]
            ax.errorbar(
                ratios * 1.04,
                test,
                yerr=[low, high],
                marker="s",
                color=test_colour,
                capsize=3,
                linestyle="--",
                label=f"test (95 % interval){suffix}",
            )
            values += [ci[0] for ci in intervals] + [ci[1] for ci in intervals]
        else:
            ax.plot(
                ratios, test, marker="s", linestyle="--", color=test_colour, label=f"test{suffix}"
            )
        values += [float(v) for v in test]
    return values


def cost_setting_plot(view: LabelView) -> Plot | None:
    models = [m for m in view.models if m.figures.get("validation") or m.figures.get("test")]
    if not models:
        return None
    models.sort(key=lambda m: m.ratio)
    ratios = np.array([m.ratio for m in models])
    figure = _new_figure(7.6, 4.0)
    ax = figure.subplots()
    values: list[float] = []
    # One pair of lines per booster (trees first), and per weighting under per-row costs.
    groups = sorted({(m.booster, _weighting(m)) for m in models}, key=lambda g: (g[0] != "tree", g))
    for index, group in enumerate(groups):
        members = [m for m in models if (m.booster, _weighting(m)) == group]
        values += _plot_booster_costs(ax, members, index, view.per_row)
    references = [v for policy in view.baselines.values() for s, v in policy.items() if s == "test"]
    shown = [*values, min(references)] if references else values
    pad = 0.08 * (max(shown) - min(shown)) or 0.05 * abs(max(shown)) or 1.0
    bottom, top = min(shown) - pad, max(shown) + pad
    _reference_lines(ax, view, "test", top)
    best = next((m for m in models if m.name == view.best), None)
    star = None  # where the cheapest model sits, by the cost it was picked on
    if view.per_row and best is not None and best.tuning_cost is not None:
        offset = _FLAT_OFFSET if _weighting(best) != "costs" else 1.0
        star = (best.ratio * offset, best.tuning_cost, "cheapest by tuning cost")
    elif best is not None and best.figures.get("validation", {}).get("expected_cost") is not None:
        cost = best.figures["validation"]["expected_cost"]
        star = (best.ratio, cost, "cheapest on validation")
    if star is not None:
        x, y, words = star
        ax.plot(
            [x],
            [y],
            marker="*",
            markersize=16,
            color="#fbc02d",
            markeredgecolor="#5d4037",
            linestyle="none",
            label=f"{words}: {text(best.name)}",
        )
    if ratios.max() / max(ratios.min(), 1e-12) > 10:
        ax.set_xscale("log")
    # One tick per ratio: a tree and a linear setting of the same weights share a position.
    ticks = {m.ratio: setting_text(m, with_booster=False) for m in models}
    ax.set_xticks(list(ticks), list(ticks.values()), fontsize=8)
    ax.minorticks_off()
    ax.set_ylim(bottom, top)
    ax.set_xlabel("cost setting fn_weight : fp_weight", fontsize=9)
    ax.set_ylabel("expected cost per decision", fontsize=9)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v)))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    caption = (
        "Each model's expected cost at its chosen threshold, by the training weights it "
        "was trained with. The cheapest on validation is the one the pipeline picks; test is "
        "for reporting, with its bootstrap interval."
    )
    if view.per_row:
        caption = (
            "Each model's expected cost under its per-row rule, by the training weights it was "
            "trained with (flat: class weights alone, each row's costs left to the rule). The "
            "first line is the rule's cross-validated cost on the tuning rows, by which the "
            "pipeline picks the cheapest; test is for reporting, with its bootstrap interval."
        )
    return Plot(
        key="cost-setting",
        title="Expected cost against the cost setting",
        caption=caption,
        uri=svg_uri(figure),
        alt=f"expected cost against cost setting for {len(models)} models, label {view.label}",
    )


def _edges(threshold: float, floor: float, log: bool, bins: int = 36) -> np.ndarray:
    base = np.geomspace(floor, 1.0, bins + 1) if log else np.linspace(0.0, 1.0, bins + 1)
    if math.isfinite(threshold) and base[0] < threshold < base[-1]:
        base = np.union1d(base, [threshold])
    return base


def near_cut(scores: np.ndarray, threshold: float, log: bool) -> tuple[int, str]:
    """How many cases sit close to the cut-off: within a factor 2 (log) or +-0.1 (linear)."""
    if log:
        inside = (scores >= threshold / 2) & (scores <= threshold * 2)
        return int(np.sum(inside)), "within \u00d72 of the cut"
    inside = np.abs(scores - threshold) <= 0.1
    return int(np.sum(inside)), "within \u00b10.1 of the cut"


def score_distribution_plot(view: LabelView) -> Plot | None:
    models = [m for m in view.models if "test" in m.scores]
    if not models:
        return None
    log = use_log_axis(view)
    floor = axis_floor(view) if log else 0.0
    figure, axes = _panels(len(models), height=3.1)
    peak = 1
    for ax, model in zip(axes, models, strict=True):
        y, scores = model.scores["test"]
        t = model.threshold
        shown = np.clip(scores, floor, 1.0)
        edges = _edges(t, floor, log)
        positive = y == 1
        called = scores >= t
        groups = {
            "TP": (positive & called, 1),
            "FN": (positive & ~called, 1),
            "FP": (~positive & called, -1),
            "TN": (~positive & ~called, -1),
        }
        for outcome, (mask, sign) in groups.items():
            counts, _ = np.histogram(shown[mask], bins=edges)
            peak = max(peak, int(counts.max(initial=0)))
            ax.stairs(sign * counts, edges, fill=True, color=OUTCOME_COLOURS[outcome], alpha=0.9)
        ax.axhline(0, color="#263238", linewidth=0.8)
        ax.axvline(t, color="#37474f", linestyle=":", linewidth=1.3)
        for outcome, (mask, sign) in groups.items():
            right = outcome in ("TP", "FP")
            ax.text(
                0.98 if right else 0.02,
                0.95 if sign > 0 else 0.05,
                f"{outcome} {int(np.sum(mask))}",
                transform=ax.transAxes,
                fontsize=8,
                ha="right" if right else "left",
                va="top" if sign > 0 else "bottom",
                color=OUTCOME_COLOURS[outcome],
                fontweight="bold",
            )
        close, how = near_cut(scores, t, log)
        ax.set_title(
            f"{_panel_title(model, view.best)}\n{close} cases {how} (t = {t:.3g})", fontsize=9
        )
        if log:
            ax.set_xscale("log")
            ax.set_xlim(floor, 1.0)
        else:
            ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("score" + (" (log scale)" if log else ""), fontsize=9)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}"))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.2)
    for ax in axes:
        ax.set_ylim(-peak * 1.25, peak * 1.25)
    for ax in axes[:: min(PANEL_COLUMNS, len(models))]:
        ax.set_ylabel("cases: positives \u2191, negatives \u2193", fontsize=9)
    handles = [
        Patch(color=OUTCOME_COLOURS[o], label=name)
        for o, name in (
            ("TP", "TP: positive, called positive"),
            ("FN", "FN: positive, missed"),
            ("FP", "FP: negative, false alarm"),
            ("TN", "TN: negative, called negative"),
        )
    ]
    handles.append(Line2D([], [], color="#37474f", linestyle=":", label="chosen threshold"))
    figure.legend(
        handles=handles,
        loc="outside upper center",
        ncols=_legend_columns(len(models)),
        fontsize=8,
        frameon=False,
    )
    return Plot(
        key="score-distribution",
        title="Score distributions on test, by outcome",
        caption="Test scores of the true positives (up) and true negatives (down), coloured by "
        "the outcome at each model's chosen threshold (dotted line). Cases just either side of "
        "the line are the ones a small change of threshold would flip. Scores below the axis' "
        "left end are counted in its first bin.",
        uri=svg_uri(figure),
        alt=f"test score distributions by outcome for {len(models)} models, label {view.label}",
    )


def thin(indices: np.ndarray, limit: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most about ``limit`` of the indices, evenly spread, first and last kept: a curve over
    a million distinct scores needs no million points in the page."""
    if indices.size <= limit:
        return indices
    return indices[np.unique(np.linspace(0, indices.size - 1, limit).round().astype(int))]


def pr_floor(marked: list[float]) -> float:
    """Lower end of both precision-recall axes: a margin below every marked point, in steps
    of 0.1, so that good models (which all crowd the top-right corner) can be told apart."""
    if not marked:
        return 0.0
    return max(0.0, math.floor((min(marked) - 0.12) * 10) / 10)


def precision_recall_plot(view: LabelView) -> Plot | None:
    models = [m for m in view.models if "test" in m.scores]
    if not models:
        return None
    figure = _new_figure(7.6, 4.6)
    ax = figure.subplots()
    marked: list[float] = []
    for index, model in enumerate(models):
        y, scores = model.scores["test"]
        positives = int(np.sum(y == 1))
        if positives == 0:
            continue
        sweep = f1_sweep(y, scores)
        called = sweep.tp + sweep.fp
        keep = called > 0
        picked = thin(np.flatnonzero(keep))
        precision = sweep.tp[picked] / called[picked]
        recall = sweep.tp[picked] / positives
        colour = MODEL_COLOURS[index % len(MODEL_COLOURS)]
        ax.step(
            recall,
            precision,
            where="post",
            color=colour,
            linewidth=2.2 if model.name == view.best else 1.2,
            alpha=0.9,
            label=f"{text(model.name)}: F1 peak {sweep.best_f1:.3f}",
        )
        i = sweep.best_index
        if called[i] > 0:
            peak = (sweep.tp[i] / positives, sweep.tp[i] / called[i])
            ax.plot(
                *peak,
                marker="*",
                markersize=12,
                color=colour,
                markeredgecolor="black",
                markeredgewidth=0.5,
                linestyle="none",
            )
            marked += peak
        chosen = model.figures.get("test", {})
        if chosen.get("precision") is not None and chosen.get("recall") is not None:
            ax.plot(
                chosen["recall"],
                chosen["precision"],
                marker="o",
                markersize=7,
                markerfacecolor="white",
                markeredgecolor=colour,
                markeredgewidth=2,
                linestyle="none",
            )
            marked += [chosen["recall"], chosen["precision"]]
    low = pr_floor(marked)
    for level in np.arange(0.1, 1.0, 0.1):
        if level <= low:
            continue
        r = np.linspace(level / (2 - level) + 1e-3, 1, 200)
        ax.plot(r, level * r / (2 * r - level), color="#cfd8dc", linewidth=0.8, zorder=0)
        ax.text(level, level, f"F1 {level:.1f} ", fontsize=7, color="#90a4ae", ha="right", va="top")
    ax.set_xlim(low, 1.01)
    ax.set_ylim(low, 1.02)
    ax.set_xlabel("recall (share of positives caught)", fontsize=9)
    ax.set_ylabel("precision (share of alarms that are positive)", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.25)
    marks = [
        Line2D(
            [],
            [],
            marker="*",
            color="grey",
            markeredgecolor="black",
            linestyle="none",
            markersize=11,
        ),
        Line2D(
            [],
            [],
            marker="o",
            color="grey",
            markerfacecolor="white",
            linestyle="none",
            markersize=7,
        ),
    ]
    handles, labels = ax.get_legend_handles_labels()
    ring = "the rule's decisions" if view.per_row else "chosen threshold"
    ax.legend([*handles, *marks], [*labels, "F1 peak", ring], fontsize=8, loc="lower left")
    caption = (
        "Precision against recall at every threshold on test; the star is each model's "
        "F1 peak, the ring the threshold it chose. Grey curves: equal F1. The cheapest model is "
        "drawn thicker; the axes are zoomed to where the marks are."
    )
    if view.per_row:
        caption = (
            "Precision against recall at every threshold of each model's decision scores on "
            "test; the star is each model's F1 peak, the ring where its per-row rule's "
            "decisions land (each row with its own threshold, so not a point any one threshold "
            "reaches). Grey curves: equal F1. The cheapest model is drawn thicker; the axes are "
            "zoomed to where the marks are."
        )
    return Plot(
        key="precision-recall",
        title="Precision and recall on test",
        caption=caption,
        uri=svg_uri(figure),
        alt=f"precision-recall curves for {len(models)} models, label {view.label}",
    )


def label_plots(view: LabelView) -> list[Plot]:
    """Every plot of one label's section, in page order (those without data left out).

    Under per-row costs the threshold plots (cost against threshold, score distributions at
    the threshold) give way to cost against the shift and what the errors cost.
    """
    if view.per_row:
        from pipeline.report.row_figures import error_cost_plot, shift_cost_plot

        plots = [
            shift_cost_plot(view),
            cost_setting_plot(view),
            error_cost_plot(view),
            precision_recall_plot(view),
        ]
    else:
        plots = [
            cost_threshold_plot(view),
            cost_setting_plot(view),
            score_distribution_plot(view),
            precision_recall_plot(view),
        ]
    return [plot for plot in plots if plot is not None]
