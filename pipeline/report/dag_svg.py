"""Draw the laid-out DAG as inline SVG: one box per step, coloured by status.

Each box shows the step's name, its display name, and its status with the duration, "cached"
when it came from the step cache, or the outcome of a condition. A step that never started
(the branch not taken, or everything after a failure) is drawn grey and dashed. Hovering a box
shows the full details, the failure reason included. Every text is escaped.
"""

from __future__ import annotations

from html import escape

from pipeline.report.layout import Layout, Node
from pipeline.report.model import StepView

BOX_WIDTH = 200
BOX_HEIGHT = 64
COLUMN_PITCH = 260
ROW_PITCH = 82
MARGIN = 16
#: (fill, stroke, text) per status; anything unknown is drawn like Executing.
STATUS_STYLE = {
    "Succeeded": ("#e8f5e9", "#2e7d32", "#1b3d1f"),
    "Failed": ("#ffebee", "#c62828", "#5f1111"),
    "Executing": ("#e3f2fd", "#1565c0", "#0d2c52"),
    "Starting": ("#e3f2fd", "#1565c0", "#0d2c52"),
    "Stopping": ("#fff8e1", "#f9a825", "#4d3800"),
    "Stopped": ("#fff8e1", "#f9a825", "#4d3800"),
}
NOT_STARTED_STYLE = ("#f5f5f5", "#9e9e9e", "#757575")


def duration_text(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``2 h 01 min``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def status_line(step: StepView | None) -> str:
    if step is None:
        return "not started"
    parts = [step.status]
    if step.outcome is not None:
        parts.append(f"outcome {step.outcome}")
    elif step.cache_source:
        parts.append("cached")
    elif step.duration_s is not None:
        parts.append(duration_text(step.duration_s))
    if step.attempts > 1:
        parts.append(f"{step.attempts} attempts")
    return " \u00b7 ".join(parts)


def _tooltip(node: Node, step: StepView | None) -> str:
    lines = [f"{node.name} ({node.type or (step.type if step else '')})"]
    if node.display_name:
        lines.append(node.display_name)
    lines.append(status_line(step))
    if step is not None:
        if step.cache_source:
            lines.append(f"cached from execution {step.cache_source}")
        if step.failure_reason:
            lines.append(f"failure reason: {step.failure_reason}")
    return "\n".join(lines)


def _position(node: Node) -> tuple[float, float]:
    return MARGIN + node.layer * COLUMN_PITCH, MARGIN + node.row * ROW_PITCH


def render_dag(graph: Layout, steps: dict[str, StepView]) -> str:
    """The SVG element (a string) for the layout, with the steps' statuses."""
    width = MARGIN * 2 + max(0, graph.layers - 1) * COLUMN_PITCH + BOX_WIDTH
    height = MARGIN * 2 + max(0, graph.rows - 1) * ROW_PITCH + BOX_HEIGHT
    where = {node.name: _position(node) for node in graph.nodes}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="pipeline graph: steps coloured by status">',
        '<defs><marker id="costpipe-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/></marker></defs>',
    ]
    for edge in graph.edges:
        if edge.source not in where or edge.target not in where:
            continue
        sx, sy = where[edge.source]
        tx, ty = where[edge.target]
        x1, y1 = sx + BOX_WIDTH, sy + BOX_HEIGHT / 2
        x2, y2 = tx - 2, ty + BOX_HEIGHT / 2
        bend = (x2 - x1) / 2
        taken = edge.target in steps
        colour = "#607d8b" if taken else "#bdbdbd"
        dash = "" if taken else ' stroke-dasharray="4 3"'
        parts.append(
            f'<path d="M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f}, {x2 - bend:.1f} '
            f'{y2:.1f}, {x2:.1f} {y2:.1f}" fill="none" stroke="{colour}" stroke-width="1.5"'
            f'{dash} marker-end="url(#costpipe-arrow)"/>'
        )
        if edge.label:
            lx, ly = x1 + (x2 - x1) * 0.55, y1 + (y2 - y1) * 0.55 - 5
            parts.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="11" fill="#455a64" '
                f'text-anchor="middle" font-style="italic">{escape(edge.label)}</text>'
            )
    for node in graph.nodes:
        x, y = where[node.name]
        step = steps.get(node.name)
        fill, stroke, ink = (
            STATUS_STYLE.get(step.status, STATUS_STYLE["Executing"]) if step else NOT_STARTED_STYLE
        )
        dash = ' stroke-dasharray="5 3"' if step is None else ""
        width_px = 2.5 if step is not None and step.status == "Failed" else 1.5
        subtitle = node.display_name or node.type or (step.type if step else "")
        parts.append(
            f'<g class="step" data-step="{escape(node.name)}" '
            f'data-status="{escape(step.status if step else "NotStarted")}">'
            f"<title>{escape(_tooltip(node, step))}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="8" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width_px}"{dash}/>'
            f'<text x="{x + 10}" y="{y + 20}" font-size="13" font-weight="bold" '
            f'fill="{ink}">{escape(_clip(node.name, 25))}</text>'
            f'<text x="{x + 10}" y="{y + 37}" font-size="11" fill="{ink}">'
            f"{escape(_clip(subtitle, 31))}</text>"
            f'<text x="{x + 10}" y="{y + 54}" font-size="11" fill="{ink}" '
            f'font-style="{"italic" if step is None else "normal"}">'
            f"{escape(_clip(status_line(step), 31))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
