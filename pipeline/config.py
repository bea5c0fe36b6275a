"""The run configuration: a TOML file, overridden by command-line flags, checked up front.

Every key is declared once, in :mod:`pipeline.options` (its type, default and allowed values);
the sections here are built from that table. An unknown key, a wrong type or an impossible
value is a :class:`~pipeline.errors.UsageError` naming the key, before anything runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, make_dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.options import (
    APPROVAL_STATUSES,
    BY_KEY,
    COST,
    DEFAULT_XGBOOST_CONTAINER,
    LABEL_COSTS,
    NO_COST_LIMIT,
    NUMBER,
    PATH,
    SECTIONS,
    SETTINGS,
    TEXT,
    TEXT_LIST,
    WHOLE,
    Option,
    section_options,
)
from steps.cost_expressions import OUTCOMES, CostSpec
from steps.costs import (
    CostMatrix,
    CostSetting,
    InputError,
    default_cost_settings,
    default_row_cost_settings,
    parse_cost_settings,
    validate_cost_settings,
)
from steps.options import delimiter_option

__all__ = [
    "APPROVAL_STATUSES",
    "DEFAULT_XGBOOST_CONTAINER",
    "NO_COST_LIMIT",
    "AwsConfig",
    "ChecksConfig",
    "Config",
    "CostConfig",
    "DataConfig",
    "EvaluationConfig",
    "RegistryConfig",
    "SplitConfig",
    "TrainingConfig",
    "from_mapping",
    "load_config",
    "override",
    "override_many",
    "parse_settings_flag",
    "validate",
]


def _section_class(section: str, doc: str) -> type:
    """A frozen dataclass of one config section, its fields and defaults from the table."""
    annotations = {
        TEXT: "str",
        PATH: "str",
        WHOLE: "int",
        NUMBER: "float",
        TEXT_LIST: "tuple[str, ...]",
        SETTINGS: "tuple[str, ...]",
        COST: "float | str",
    }
    specs: list[tuple[str, str, Any]] = []
    for option in section_options(section):
        if option.kind == LABEL_COSTS:
            specs.append(
                (option.name, "dict[str, dict[str, float | str]]", field(default_factory=dict))
            )
        elif option.default is None:
            specs.append((option.name, annotations[option.kind] + " | None", field(default=None)))
        else:
            specs.append((option.name, annotations[option.kind], field(default=option.default)))
    cls = make_dataclass(f"{section.title()}Config", specs, frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = doc
    return cls


DataConfig = _section_class("data", "The data file(s), the target(s) and the feature columns.")
CostConfig = _section_class("costs", "The cost matrix, and per-label overrides of its entries.")
SplitConfig = _section_class("split", "The train/validation/test split and oversampling.")
TrainingConfig = _section_class("training", "The cost settings and XGBoost's parameters.")
EvaluationConfig = _section_class("evaluation", "Thresholds, pricing and the register limit.")
ChecksConfig = _section_class("checks", "The class-imbalance checks (SageMaker Debugger's).")
RegistryConfig = _section_class("registry", "The model package group and approval status.")
AwsConfig = _section_class("aws", "Where the pipeline runs on AWS, and its instances.")


@dataclass(frozen=True)
class Config:
    """Everything a run needs; see ``pipeline/examples/breast-cancer.toml`` for every key."""

    data: DataConfig = field(default_factory=DataConfig)
    costs: CostConfig = field(default_factory=CostConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)

    @property
    def label_costs_json(self) -> str:
        """Per-label cost overrides as the JSON the Preprocess job reads ("" for none)."""
        import json

        return json.dumps(self.costs.labels, sort_keys=True) if self.costs.labels else ""

    @property
    def cost_spec(self) -> CostSpec:
        """The cost entries (numbers, columns or formulas), parsed."""
        try:
            return CostSpec.parse({k: getattr(self.costs, k) for k in OUTCOMES})
        except InputError as error:
            raise UsageError(str(error)) from None

    @property
    def per_row_costs(self) -> bool:
        """Whether some cost entry (or per-label override) reads columns of the data."""
        if self.cost_spec.per_row:
            return True
        return any(
            CostSpec.parse({**self.cost_entries, **entries}).per_row
            for entries in self.costs.labels.values()
        )

    @property
    def cost_entries(self) -> dict[str, float | str]:
        return {k: getattr(self.costs, k) for k in OUTCOMES}

    @property
    def cost_matrix(self) -> CostMatrix:
        """The constant cost matrix (a UsageError when the costs are per row)."""
        matrix = self.cost_spec.matrix
        if matrix is None:
            raise UsageError("the costs read columns of the data: there is no one cost matrix")
        return CostMatrix(**matrix)

    @property
    def settings(self) -> list[CostSetting]:
        """The cost settings to train: the configured list, or the grid from the cost matrix
        (per-row costs: the grid around 1:1, ``steps.costs.default_row_cost_settings``)."""
        if self.training.cost_settings is None:
            if self.per_row_costs:
                grid = default_row_cost_settings()
            else:
                grid = default_cost_settings(self.cost_matrix)
            if self.aws.training_instance_count > 1:
                # XGBoost's linear booster does not train across hosts (each fits its own rows
                # and the first host's weights would be the model): the grid keeps its trees.
                grid = [setting for setting in grid if setting.booster != "linear"]
            return grid
        try:
            return validate_cost_settings(
                CostSetting.parse(text) for text in self.training.cost_settings
            )
        except InputError as error:
            raise UsageError(str(error)) from None


_SECTION_TYPES = {
    "data": DataConfig,
    "costs": CostConfig,
    "split": SplitConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
    "checks": ChecksConfig,
    "registry": RegistryConfig,
    "aws": AwsConfig,
}
assert tuple(_SECTION_TYPES) == SECTIONS


def load_config(path: Path | None) -> Config:
    """Read a TOML file into a :class:`Config` (defaults when ``path`` is None)."""
    if path is None:
        return validate(Config())
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file '{path}' does not exist: check the --config path")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"config file '{path}' is not UTF-8 text: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(
            f"config file '{path}' is not valid TOML ({error}): fix the syntax"
        ) from None
    config = from_mapping(raw, source=str(path))
    # Relative paths are relative to the config file, as users expect of a config.
    updates: dict[str, dict[str, str]] = {}
    for option in BY_KEY.values():
        value = getattr(getattr(config, option.section), option.name)
        if option.kind == PATH and value and "://" not in value and not Path(value).is_absolute():
            updates.setdefault(option.section, {})[option.name] = str(
                (path.parent / value).resolve()
            )
    return override_many(config, updates)


def from_mapping(raw: dict[str, Any], source: str = "config") -> Config:
    unknown = sorted(set(raw) - set(_SECTION_TYPES))
    if unknown:
        raise UsageError(
            f"{source}: unknown section [{unknown[0]}]: the sections are "
            f"{', '.join(_SECTION_TYPES)}"
        )
    sections = {}
    for name in _SECTION_TYPES:
        values = raw.get(name, {})
        if not isinstance(values, dict):
            raise UsageError(f"{source}: [{name}] must be a table of keys, got {values!r}")
        sections[name] = _section(name, values, f"{source}: [{name}]")
    return validate(Config(**sections))


def _section(section: str, values: dict[str, Any], where: str) -> Any:
    known = {option.name: option for option in section_options(section)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(
            f"{where} has an unknown key '{unknown[0]}': the keys are {', '.join(known)}"
        )
    converted = {
        key: _convert(value, known[key], f"{where} {key}") for key, value in values.items()
    }
    return _SECTION_TYPES[section](**converted)


def _convert(value: Any, option: Option, where: str) -> Any:
    """A TOML value as the option's kind, or a UsageError naming the key."""
    if option.kind in (TEXT, PATH):
        if not isinstance(value, str):
            raise UsageError(f"{where} must be text, got {value!r}")
        return value
    if option.kind == WHOLE:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where} must be a whole number, got {value!r}")
        return value
    if option.kind == NUMBER:
        return _number(value, where)
    if option.kind == COST:
        return _cost(value, where)
    if option.kind == LABEL_COSTS:
        return _label_costs(value, where)
    if isinstance(value, str):  # a list of text, also as one comma-separated text
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"{where} must be a list of text, got {value!r}")
    return tuple(value)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where} must be a number, got {value!r}")
    return float(value)


def _cost(value: Any, where: str) -> float | str:
    """A cost entry: a number, or text (a number, a column or a formula, checked when the
    config is validated)."""
    if isinstance(value, str):
        return value
    return _number(value, where)


def _label_costs(value: Any, where: str) -> dict[str, dict[str, float | str]]:
    """``[costs.labels."name"]`` tables: a subset of tp/fp/fn/tn entries per label."""
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be tables of cost entries per label")
    checked: dict[str, dict[str, float | str]] = {}
    for label, entries in value.items():
        if not isinstance(entries, dict) or not entries:
            raise UsageError(f"{where}.{label} must be a table of tp/fp/fn/tn entries")
        unknown = sorted(set(entries) - {"tp", "fp", "fn", "tn"})
        if unknown:
            raise UsageError(f"{where}.{label} has an unknown key '{unknown[0]}': use tp/fp/fn/tn")
        checked[label] = {
            key: _cost(entry, f"{where}.{label} {key}") for key, entry in entries.items()
        }
    return checked


def override(config: Config, section: str, **values: Any) -> Config:
    """A copy of ``config`` with the given keys of one section replaced (flags beat the file)."""
    return override_many(config, {section: values})


def override_many(config: Config, sections: dict[str, dict[str, Any]]) -> Config:
    """``config`` with keys of several sections replaced (None leaves a key as it is), checked
    once as a whole."""
    changes = {}
    for section, values in sections.items():
        present = {key: value for key, value in values.items() if value is not None}
        if present:
            changes[section] = replace(getattr(config, section), **present)
    return validate(replace(config, **changes)) if changes else config


def validate(config: Config) -> Config:
    """Check every option against its declared constraint, then the rules that tie options
    together; the cost matrix and settings check themselves."""
    for option in BY_KEY.values():
        problem = option.problem(getattr(getattr(config, option.section), option.name))
        if problem:
            raise UsageError(problem)
    for rule in _RULES:
        rule(config)
    return config


def _split_rule(config: Config) -> None:
    split = config.split
    if split.validation_fraction <= 0:
        raise UsageError("split validation_fraction must be above 0: thresholds are tuned on it")
    if split.validation_fraction + split.test_fraction >= 0.9:
        raise UsageError("split validation_fraction + test_fraction must stay below 0.9")


def _instances_rule(config: Config) -> None:
    """What training across instances cannot do, where the config alone says so (the data's
    size and detected text columns are checked with the data, :func:`pipeline.definition.
    inputs.check_data`, and again by the training job)."""
    count = config.aws.training_instance_count
    if count == 1:
        return
    linear = [setting.text for setting in config.settings if setting.booster == "linear"]
    if linear:
        raise UsageError(
            f"aws training_instance_count is {count}, but XGBoost's linear booster does not "
            f"train across instances (each would fit its own rows): name the cost settings "
            f"without ':linear' ({', '.join(linear)}) or set training_instance_count = 1"
        )
    if config.data.text:
        raise UsageError(
            f"aws training_instance_count is {count}, but text columns need one TF-IDF "
            "vocabulary over all training rows, which is learnt on one instance: set "
            "training_instance_count = 1 or drop the text columns"
        )


def _targets_rule(config: Config) -> None:
    data = config.data
    if data.targets and data.label_delimiter:
        raise UsageError("data targets and label_delimiter exclude each other: choose one")
    if data.targets and data.target:
        raise UsageError("data target and targets exclude each other: give one of them")
    if config.costs.labels and not (data.targets or data.label_delimiter):
        raise UsageError("per-label costs ([costs.labels]) need a multi-label target")


def _delimiter_rule(config: Config) -> None:
    try:
        delimiter_option(config.data.delimiter)
    except InputError as error:
        raise UsageError(f"data {error}") from None


def _costs_rule(config: Config) -> None:
    config.cost_spec  # noqa: B018  (raises UsageError for a bad entry or a bad constant matrix)
    for label, entries in config.costs.labels.items():
        try:
            CostSpec.parse({**config.cost_entries, **entries}, label)
        except InputError as error:
            raise UsageError(f"costs for label '{label}': {error}") from None
    settings = config.settings  # raises UsageError for bad or duplicated settings
    if not config.per_row_costs:
        flat = [setting.text for setting in settings if setting.flat]
        if flat:
            raise UsageError(
                f"cost setting {flat[0]} is flat (class weights alone), which differs from "
                f"{flat[0].removesuffix(':flat')} only under per-row costs, and the costs are "
                "constant: drop ':flat' or give costs that read columns (e.g. fn = \"amount\")"
            )
    elif config.evaluation.threshold_smoothing != "none":
        raise UsageError(
            "evaluation threshold_smoothing kernel smooths one threshold per label, and per-row "
            "costs give each row its own: set it to none"
        )


#: Checks that involve more than one option, in the order they run.
_RULES = (_split_rule, _instances_rule, _targets_rule, _delimiter_rule, _costs_rule)


def parse_settings_flag(text: str) -> tuple[str, ...]:
    """``--cost-settings "1:1,5:1,200:1"`` as config values (checked when validated)."""
    try:
        return tuple(s.text for s in parse_cost_settings(text))
    except InputError as error:
        raise UsageError(str(error)) from None
