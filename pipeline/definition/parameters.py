"""The pipeline's parameters: declared from the option table, resolved per execution.

:func:`pipeline_parameters` turns every option that has a parameter into the SDK's
``ParameterString``/``ParameterFloat``/``ParameterInteger`` with the config's value as its
default; :func:`job_argument_values` gives each job its arguments from the same table.
:func:`resolve_parameters` is what every backend (the local executor, SageMaker and Step
Functions starts) does with an execution's overrides: defaults, replaced by typed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config import Config
from pipeline.errors import UsageError
from pipeline.options import (
    COST,
    LABEL_COSTS,
    NUMBER,
    OPTIONS,
    TEXT_LIST,
    WHOLE,
    JobArgument,
    Option,
    job_arguments,
)
from steps.cost_expressions import CostExpression, CostSpec, parse_label_costs
from steps.errors import InputError

#: The parameter naming the staged data file, and the test file when one was given.
INPUT_DATA = "InputData"
TEST_DATA = "TestData"


@dataclass(frozen=True)
class Parameters:
    """The pipeline parameters by name (SDK objects). Executions may override any of them."""

    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def all(self) -> list[Any]:
        return list(self.values.values())


def parameter_default(option: Option, config: Config) -> Any:
    """The option's value in ``config`` as its parameter holds it."""
    value = getattr(getattr(config, option.section), option.name)
    if option.kind == TEXT_LIST:
        return ",".join(value)
    if option.kind == LABEL_COSTS:
        return config.label_costs_json
    if option.kind == COST:
        # The entry as Preprocess reads it: numbers written plainly (35280, 1287.67).
        return CostExpression.parse(value, option.name).text
    if option.kind == NUMBER:
        return float(value)
    if option.kind == WHOLE:
        return int(value)
    return value


def pipeline_parameters(config: Config, input_uri: str, test_uri: str | None) -> Parameters:
    """Every value a user may change per execution, with the config's values as defaults."""
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    values: dict[str, Any] = {INPUT_DATA: ParameterString(INPUT_DATA, default_value=input_uri)}
    if test_uri is not None:
        values[TEST_DATA] = ParameterString(TEST_DATA, default_value=test_uri)
    kinds = {NUMBER: ParameterFloat, WHOLE: ParameterInteger}
    for option in OPTIONS:
        if option.parameter:
            parameter = kinds.get(option.kind, ParameterString)
            values[option.parameter] = parameter(
                option.parameter, default_value=parameter_default(option, config)
            )
    return Parameters(values)


def job_argument_values(job: str, params: Parameters) -> list[tuple[JobArgument, Any]]:
    """The job's arguments, in order, each with the parameter that carries its value."""
    return [(argument, params[option.parameter]) for argument, option in job_arguments(job)]


def resolve_parameters(declared: list[dict[str, Any]], overrides: dict[str, Any]) -> dict[str, Any]:
    """Parameter values: declared defaults, replaced by overrides of the right type."""
    types = {p["Name"]: p["Type"] for p in declared}
    unknown = sorted(set(overrides) - set(types))
    if unknown:
        raise UsageError(
            f"unknown pipeline parameter '{unknown[0]}': the parameters are "
            f"{', '.join(sorted(types))}"
        )
    values = {p["Name"]: p.get("DefaultValue") for p in declared}
    for name, value in overrides.items():
        values[name] = _typed(name, types[name], value)
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise UsageError(f"pipeline parameter '{missing[0]}' has no default: give it a value")
    _check_costs(values)
    check_instance_count(declared, values)
    return values


#: The parameter whose default is fixed by the definition: Preprocess writes the training split
#: as that many files, one per training instance.
INSTANCE_COUNT = "TrainingInstanceCount"


def check_instance_count(declared: list[dict[str, Any]], values: dict[str, Any]) -> None:
    """Refuse an execution whose TrainingInstanceCount differs from its definition's.

    The count is fixed when the definition is built (``[aws] training_instance_count``): the
    Preprocess step writes that many training files and each instance reads one
    (``ShardedByS3Key``). The parameter stays declared, with that count as its default, so it
    shows beside the others; an override may only repeat it.
    """
    built = next((p.get("DefaultValue") for p in declared if p["Name"] == INSTANCE_COUNT), None)
    if built is None or int(values[INSTANCE_COUNT]) == int(built):
        return
    raise UsageError(
        f"pipeline parameter '{INSTANCE_COUNT}' is {values[INSTANCE_COUNT]}, but this pipeline "
        f"was built for {built} training instance(s) (its Preprocess step writes the training "
        f"split as {built} file(s), one per instance): build and upsert it with "
        f"--training-instance-count {values[INSTANCE_COUNT]} instead of overriding the parameter"
    )


def _typed(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "Integer":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            if isinstance(value, str):
                if value.lower() not in ("true", "false"):
                    raise ValueError
                return value.lower() == "true"
            return bool(value)
        return str(value)
    except (TypeError, ValueError):
        raise UsageError(f"pipeline parameter '{name}' must be {kind}, got {value!r}") from None


def _check_costs(values: dict[str, Any]) -> None:
    """The cost parameters parse (numbers, columns or formulas) and constant matrices are
    sound, before an execution starts; Preprocess checks them again against the data."""
    names = {outcome: f"Cost{outcome.title()}" for outcome in ("tp", "fp", "fn", "tn")}
    if not all(name in values for name in names.values()):
        return
    entries = {outcome: values[name] for outcome, name in names.items()}
    try:
        CostSpec.parse(entries)
        for label, overrides in parse_label_costs(str(values.get("LabelCosts") or "")).items():
            CostSpec.parse({**entries, **overrides}, label)
    except InputError as error:
        raise UsageError(f"pipeline parameters: {error}") from None
