"""The rich tables the executions commands print, for local and SageMaker executions alike."""

from __future__ import annotations

from typing import Any


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
