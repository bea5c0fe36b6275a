"""Everything the command line prints: the JSON object, the rich tables, the live status.

One place for every table and number format, so the local and the AWS commands print the same
shapes (executions, steps, the registry, an execution's header) and money reads as it does in
the HTML report (``pipeline.formats``). rich is imported only when something is drawn.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pipeline.formats import money, number_or_none
from steps.costs import setting_sort_key, setting_text

STATUS_COLOURS = {"Succeeded": "green", "Failed": "red", "Stopped": "yellow"}
#: Piped output gets room for the cost table instead of rich's 80-column default.
PIPED_WIDTH = 132


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPED_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def emit_json(payload: Any) -> None:
    """The one JSON object a ``--json`` command prints on stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def cost_table(evaluation: dict[str, Any]) -> Any:
    """One row per cost setting: weights, threshold, costs, errors; the cheapest marked."""
    from rich.table import Table

    table = Table(title="Expected cost per decision", title_justify="left")
    methods = {model.get("threshold_data", {}).get("method") for model in evaluation["models"]}
    tuning = "cross-validated cost" if methods == {"cross-validation"} else "validation cost"
    per_row = bool((evaluation.get("costs") or {}).get("per_row"))
    for header, justify in (
        ("fn:fp", "left"),
        ("rule" if per_row else "threshold", "right"),
        (tuning, "right"),
        ("test cost", "right"),
        ("test 95% interval", "right"),
        ("FN", "right"),
        ("FP", "right"),
        ("", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    best = evaluation["best"]["name"]
    for model in sorted(evaluation["models"], key=lambda m: setting_sort_key(m["setting"])):
        setting = model["setting"]
        low, high = model["test"]["expected_cost_ci"]
        confusion = model["test"]["confusion"]
        table.add_row(
            setting_text(setting),
            rule_cell(model),
            # What the model was chosen by: under per-row costs its rule's cross-validated cost.
            money(model.get("selection_cost", model["validation"]["expected_cost"])),
            money(model["test"]["expected_cost"]),
            f"{money(low)} - {money(high)}",
            str(confusion["fn"]),
            str(confusion["fp"]),
            "<- cheapest" if model["name"] == best else "",
            style="bold" if model["name"] == best else None,
        )
    for policy, figures in evaluation["baselines"].items():
        table.add_row(
            policy.replace("_", " "),
            "",
            money(figures["validation"]["expected_cost"]),
            money(figures["test"]["expected_cost"]),
            "",
            "",
            "",
            "trivial policy",
            style="dim",
        )
    champion = evaluation.get("champion") or {}
    if champion.get("version") is not None:
        test = champion["test"]
        low, high = champion["difference_ci"]
        table.add_row(
            f"approved v{champion['version']}",
            rule_cell(champion),
            # The tuning column holds out-of-fold costs; the champion has none on these rows
            # (its validation-split figures are in evaluation.json).
            "",
            money(test["expected_cost"]),
            "",
            str(test["confusion"]["fn"]),
            str(test["confusion"]["fp"]),
            f"champion: {champion['difference']:+,.2f} [{low:+,.2f}, {high:+,.2f}]",
            style="italic",
        )
    return table


def rule_cell(model: dict[str, Any]) -> str:
    """A model's threshold (``0.0032``), its per-row rule (``shift +0.41``, ``isotonic``), or
    how many labels it has one for."""
    thresholds = model["thresholds"]
    if len(thresholds) != 1:
        return f"{len(thresholds)} (per label)"
    threshold = next(iter(thresholds.values()))
    if threshold is not None:
        return f"{threshold:.4f}"
    rule = next(iter((model.get("rules") or {}).values()), None)
    if rule is None:
        return "per row"
    if rule.get("calibration"):
        return str(rule["calibration"]["method"])
    return f"shift {rule['shift']:+.2f}"


def status_table(title: str, statuses: dict[str, str], header: bool) -> Any:
    """Step names and their statuses, coloured by outcome (steps under way in cyan)."""
    from rich.table import Table

    if header:
        table = Table(title=title, title_justify="left")
        table.add_column("step")
        table.add_column("status")
    else:
        table = Table(title=title, title_justify="left", show_header=False, box=None)
    for name, status in statuses.items():
        colour = STATUS_COLOURS.get(status.split()[0], "cyan")
        table.add_row(name, f"[{colour}]{status}[/{colour}]")
    return table


def executions_table(executions: list[dict[str, Any]], title: str) -> Any:
    """Executions (local or SageMaker, same keys) as a rich table."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in ("execution", "pipeline", "status", "started", "ended", "failure reason"):
        table.add_column(header)
    for e in executions:
        table.add_row(
            e["execution_id"],
            e["pipeline"],
            e["status"],
            e["created"] or "",
            e["ended"] or "",
            (e["failure_reason"] or "")[:80],
        )
    return table


def steps_table(steps: list[dict[str, Any]]) -> Any:
    """Steps (local or SageMaker, same keys) as a rich table."""
    from rich.table import Table

    table = Table(title_justify="left")
    for header in ("step", "type", "status", "started", "ended", "attempts", "note"):
        table.add_column(header)
    for step in steps:
        note = step["failure_reason"] or (
            f"cached from {step['cache_hit_source']}" if step["cache_hit_source"] else ""
        )
        table.add_row(
            step["name"],
            step["type"],
            step["status"],
            step["started"] or "",
            step["ended"] or "",
            str(step["attempts"]),
            note[:100],
        )
    return table


def print_execution(execution: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    """An execution's header line, its failure reason, and its steps (local or SageMaker)."""
    out = console()
    out.print(
        f"execution {execution['execution_id']} of {execution['pipeline']}: "
        f"{execution['status']} ({execution['created']} - {execution['ended'] or '...'})"
    )
    if execution["failure_reason"]:
        out.print(f"failure reason: {execution['failure_reason']}")
    out.print(steps_table(steps))


def registry_table(packages: list[dict[str, Any]], title: str) -> Any:
    """Model package versions (local or SageMaker, same keys) as a rich table."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in (
        "group",
        "version",
        "approval",
        "cost setting",
        "threshold",
        "test cost",
        "created",
    ):
        table.add_column(header)
    for p in packages:
        meta = p["metadata"]
        table.add_row(
            p["group"],
            str(p["version"]),
            p["approval_status"],
            meta.get("cost_setting", ""),
            meta.get("threshold", ""),
            money(number_or_none(meta.get("expected_cost"))),
            p["created"] or "",
        )
    return table


def print_package(package: dict[str, Any], model_line: str | None, metadata: bool) -> None:
    """A model package version's status line, its model line, and its metadata if asked."""
    out = console()
    out.print(f"{package['group']} version {package['version']}: {package['approval_status']}")
    if model_line:
        out.print(model_line)
    if metadata:
        for key, value in package["metadata"].items():
            out.print(f"  {key}: {value}")


class LiveStatus:
    """Redraws a table in place while ``interactive`` (stdout is a terminal)."""

    refresh_per_second = 8

    def __init__(self, interactive: bool):
        self.interactive = interactive
        self.live: Any = None

    def first_frame(self) -> Any:
        """What to show before the first update; nothing by default."""
        return None

    def __enter__(self) -> Any:
        if self.interactive:
            from rich.live import Live

            self.live = Live(
                self.first_frame(),
                console=console(),
                refresh_per_second=self.refresh_per_second,
                transient=True,
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)


class RunProgress(LiveStatus):
    """A live table of the local execution's step statuses on a terminal; silent otherwise."""

    def __init__(self, interactive: bool):
        super().__init__(interactive)
        self.statuses: dict[str, str] = {}

    def first_frame(self) -> Any:
        return status_table("costpipe run", self.statuses, header=False)

    def __call__(self, name: str, status: str, details: dict[str, Any]) -> None:
        suffix = " (cached)" if details.get("cache_source") else ""
        self.statuses[name] = status + suffix
        if self.live is not None:
            self.live.update(status_table("costpipe run", self.statuses, header=False))


class WaitProgress(LiveStatus):
    """An AWS execution's step statuses: a live table on a terminal, else one stderr line
    per change."""

    refresh_per_second = 4

    def __init__(self, interactive: bool):
        super().__init__(interactive)
        self.seen: dict[str, str] = {}

    def __call__(self, snapshot: Any) -> None:
        if self.live is not None:
            statuses = {step.name: step.status for step in snapshot.steps}
            title = f"{snapshot.arn}: {snapshot.status}"
            self.live.update(status_table(title, statuses, header=True))
            return
        for step in snapshot.steps:
            if self.seen.get(step.name) != step.status:
                self.seen[step.name] = step.status
                print(f"{step.name}: {step.status}", file=sys.stderr)
