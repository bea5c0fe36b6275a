"""Lay a pipeline definition's DAG out in layers, left to right.

Each step sits one layer after the latest of the steps it needs (``pipeline.definition.graph.
dependencies``); a step inside a condition's branch sits after its condition step. So the
bundled pipeline reads Preprocess | the training steps side by side | Evaluate | CheckCheapest |
the true and false branches. Edges are drawn only where no longer path already connects the two
steps (Preprocess -> Evaluate is implied by Preprocess -> Train -> Evaluate), and a branch step
hangs from its condition step with the branch's name on the edge, as SageMaker Studio draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.definition.graph import all_steps, branch_members, dependencies


@dataclass(frozen=True)
class Node:
    name: str
    type: str
    display_name: str | None
    layer: int
    row: float  # position within the layer, centred against the tallest layer


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str | None = None  # "true" / "false" for a condition's branches


@dataclass(frozen=True)
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    layers: int
    rows: int


def _ancestors(parents: dict[str, set[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def visit(name: str) -> set[str]:
        if name not in found:
            found[name] = set()  # guards against cycles (check_graph rejects them anyway)
            result: set[str] = set()
            for parent in parents.get(name, ()):
                result |= {parent} | visit(parent)
            found[name] = result
        return found[name]

    for name in parents:
        visit(name)
    return found


def layout(definition: dict[str, Any] | None, step_names: list[str] | None = None) -> Layout:
    """Nodes with layer and row, and the edges to draw.

    ``step_names`` are steps known from the execution but missing from the definition (or all
    of them when there is no definition): they are appended as one more layer, unconnected.
    """
    steps = all_steps(definition) if definition else []
    known = [step["Name"] for step in steps]
    members = branch_members(definition) if definition else {}
    parents: dict[str, set[str]] = {}
    drawn: dict[str, set[str]] = {}
    for step in steps:
        name = step["Name"]
        needed = {dep for dep in dependencies(step) if dep in known}
        if name in members:
            condition = members[name][0]
            parents[name] = needed | {condition}
            drawn[name] = {condition}
        else:
            parents[name] = needed
            drawn[name] = set(needed)
    ancestors = _ancestors(parents)
    layer_of: dict[str, int] = {}

    def place(name: str, trail: frozenset[str] = frozenset()) -> int:
        if name not in layer_of:
            previous = [place(p, trail | {name}) for p in parents[name] if p not in trail]
            layer_of[name] = 1 + max(previous, default=-1)
        return layer_of[name]

    for name in known:
        place(name)
    extra = [n for n in (step_names or []) if n not in layer_of]
    if extra:
        last = max(layer_of.values(), default=-1) + 1
        for name in extra:
            layer_of[name] = last
    edges = []
    for name in known:
        for parent in sorted(drawn[name], key=known.index):
            implied = any(parent in ancestors.get(other, ()) for other in drawn[name] - {parent})
            if implied:
                continue
            label = None
            if name in members and members[name][0] == parent:
                label = "true" if members[name][1] else "false"
            edges.append(Edge(parent, name, label))
    by_layer: dict[int, list[str]] = {}
    for name in [*known, *extra]:
        by_layer.setdefault(layer_of[name], []).append(name)
    rows = max((len(names) for names in by_layer.values()), default=0)
    info = {step["Name"]: step for step in steps}
    nodes = []
    for layer, names in sorted(by_layer.items()):
        offset = (rows - len(names)) / 2
        for index, name in enumerate(names):
            step = info.get(name, {})
            nodes.append(
                Node(
                    name=name,
                    type=str(step.get("Type", "")),
                    display_name=step.get("DisplayName"),
                    layer=layer,
                    row=offset + index,
                )
            )
    return Layout(nodes=nodes, edges=edges, layers=len(by_layer), rows=rows)
