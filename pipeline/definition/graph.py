"""Checks on a pipeline definition's graph, run before the definition is used.

In the spirit of Metaflow's graph lint: the mistakes that would otherwise surface halfway
through an execution (or, on AWS, after minutes of provisioning) are found when the definition
is built, each reported with the name of the step at fault.

* step names are unique;
* every ``Get`` names a declared parameter, a known execution variable, or an existing step and
  one of its properties (a processing output or property file that the step declares);
* the graph (data references plus ``DependsOn``) is acyclic;
* training steps depend only on Preprocess;
* registration happens only in a condition step's true branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.definition.expressions import (
    ExpressionError,
    parse_path,
    referenced_steps,
    references,
)
from pipeline.errors import GraphError

EXECUTION_VARIABLES = {
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
}
#: Top-level properties each step type exposes (the describe call's response fields).
STEP_PROPERTIES = {
    "Processing": {
        "ProcessingOutputConfig",
        "ProcessingInputs",
        "ProcessingJobName",
        "ProcessingJobArn",
        "ProcessingJobStatus",
        "PropertyFiles",
        "AppSpecification",
        "Environment",
    },
    "Training": {
        "ModelArtifacts",
        "TrainingJobName",
        "TrainingJobArn",
        "TrainingJobStatus",
        "HyperParameters",
        "OutputDataConfig",
        "InputDataConfig",
        "FinalMetricDataList",
    },
    "RegisterModel": {"ModelPackageArn", "ModelPackageGroupName"},
    "Model": {"ModelName", "ModelArn"},
    "Condition": {"Outcome"},
    "Fail": set(),
}
PREPROCESS = "Preprocess"


def all_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step, those nested in condition branches included."""
    found: list[dict[str, Any]] = []

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found.append(step)
            if step.get("Type") == "Condition":
                visit(step["Arguments"].get("IfSteps", []))
                visit(step["Arguments"].get("ElseSteps", []))

    visit(definition.get("Steps", []))
    return found


def branch_members(definition: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """For each step inside a condition branch: (condition step, True for the if-branch)."""
    members: dict[str, tuple[str, bool]] = {}
    for step in all_steps(definition):
        if step.get("Type") == "Condition":
            for branch, flag in (("IfSteps", True), ("ElseSteps", False)):
                for inner in step["Arguments"].get(branch, []):
                    members[inner["Name"]] = (step["Name"], flag)
    return members


def dependencies(step: dict[str, Any]) -> set[str]:
    """Steps that must finish before this one: data references plus DependsOn."""
    arguments = {key: value for key, value in step.get("Arguments", {}).items()}
    if step.get("Type") == "Condition":
        # A condition's branches are its children, not its inputs.
        arguments = {"Conditions": arguments.get("Conditions", [])}
    needed = referenced_steps(arguments) | referenced_steps(step.get("PropertyFiles", []))
    needed |= set(step.get("DependsOn", []) or [])
    needed.discard(step["Name"])
    return needed


@dataclass(frozen=True)
class Graph:
    """What every check sees: the definition, all its steps (branches included) by name, and
    its declared parameters."""

    definition: dict[str, Any]
    steps: list[dict[str, Any]]
    by_name: dict[str, dict[str, Any]]
    parameters: set[str]


Check = Callable[[Graph], None]
#: The checks, in the order they run (registered with :func:`check`, as Metaflow's
#: ``@linter.check``): adding one is adding a function.
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    """Register a graph check: it raises :class:`GraphError` naming the step at fault."""
    CHECKS.append(function)
    return function


def check_graph(definition: dict[str, Any]) -> None:
    """Raise :class:`GraphError` naming the step at fault, or return quietly."""
    steps = all_steps(definition)
    names = [step["Name"] for step in steps]
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        # Checked first: the other checks look steps up by name.
        raise GraphError(f"step '{repeated}' is defined twice: give each step its own name")
    graph = Graph(
        definition=definition,
        steps=steps,
        by_name={step["Name"]: step for step in steps},
        parameters={p["Name"] for p in definition.get("Parameters", [])},
    )
    for lint in CHECKS:
        lint(graph)


@check
def references_resolve(graph: Graph) -> None:
    """Every Get names a declared parameter, an execution variable or an existing step's
    property; every DependsOn names an existing step."""
    for step in graph.steps:
        _check_references(step, graph.by_name, graph.parameters)
        for name in step.get("DependsOn", []) or []:
            if name not in graph.by_name:
                raise GraphError(f"step '{step['Name']}' depends on '{name}', which does not exist")


def _check_references(
    step: dict[str, Any], by_name: dict[str, dict[str, Any]], parameters: set[str]
) -> None:
    where = f"step '{step['Name']}'"
    for path in references(step):
        try:
            tokens = parse_path(path)
        except ExpressionError as error:
            raise GraphError(f"{where}: {error}") from None
        root = tokens[0]
        if root == "Parameters":
            if len(tokens) != 2 or tokens[1] not in parameters:
                raise GraphError(f"{where} reads {path}, but no such parameter is declared")
        elif root == "Execution":
            if len(tokens) != 2 or tokens[1] not in EXECUTION_VARIABLES:
                raise GraphError(f"{where} reads {path}, which is no execution variable")
        elif root == "Steps":
            _check_step_property(where, path, tokens, by_name)
        else:
            raise GraphError(
                f"{where} reads {path}: a Get starts with Parameters, Execution or Steps"
            )


def _check_step_property(
    where: str, path: str, tokens: list[str | int], by_name: dict[str, dict[str, Any]]
) -> None:
    if len(tokens) < 3:
        raise GraphError(f"{where} reads {path}, which names no property")
    source = by_name.get(str(tokens[1]))
    if source is None:
        raise GraphError(f"{where} reads {path}, but no step '{tokens[1]}' exists")
    kind = source.get("Type", "")
    prop = tokens[2]
    if prop not in STEP_PROPERTIES.get(kind, set()):
        raise GraphError(f"{where} reads {path}, but a {kind} step has no property '{prop}'")
    if prop == "PropertyFiles":
        declared = {f["PropertyFileName"] for f in source.get("PropertyFiles", [])}
        if len(tokens) < 4 or tokens[3] not in declared:
            raise GraphError(
                f"{where} reads {path}, but step '{tokens[1]}' declares no such property file"
            )
    if prop == "ProcessingOutputConfig" and len(tokens) > 4 and tokens[3] == "Outputs":
        outputs = source["Arguments"].get("ProcessingOutputConfig", {}).get("Outputs", [])
        names = {o["OutputName"] for o in outputs}
        if isinstance(tokens[4], str) and tokens[4] not in names:
            raise GraphError(
                f"{where} reads {path}, but step '{tokens[1]}' has no output '{tokens[4]}'"
            )


@check
def acyclic(graph: Graph) -> None:
    """The data references and DependsOn make no cycle."""
    needs = {step["Name"]: dependencies(step) for step in graph.steps}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise GraphError(f"step '{name}' is part of a cycle ({cycle}): break the cycle")
        state[name] = 1
        for needed in sorted(needs.get(name, ())):
            visit(needed, [*trail, name])
        state[name] = 2

    for name in needs:
        visit(name, [])


@check
def trainings_need_only_preprocess(graph: Graph) -> None:
    """Training steps depend on Preprocess alone, so that they run in parallel."""
    for step in graph.steps:
        if step.get("Type") != "Training":
            continue
        others = dependencies(step) - {PREPROCESS}
        if others:
            raise GraphError(
                f"training step '{step['Name']}' depends on {', '.join(sorted(others))}: training "
                f"steps may depend only on {PREPROCESS}, so that they run in parallel"
            )


@check
def registration_only_when_checked(graph: Graph) -> None:
    """Registration happens only in a condition step's true branch."""
    members = branch_members(graph.definition)
    for step in graph.steps:
        if step.get("Type") not in ("RegisterModel", "Model"):
            continue
        place = members.get(step["Name"])
        if place is None or not place[1]:
            raise GraphError(
                f"registration step '{step['Name']}' is not in a condition step's true branch: "
                "register only through the check"
            )
