"""The run configuration: a TOML file, overridden by command-line flags, checked up front.

Every key is known in advance; an unknown key, a wrong type or an impossible value is a
:class:`~pipeline.errors.UsageError` naming the key, before anything runs.
"""

from __future__ import annotations

import math
import sys
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from steps.checks import (
    DEFAULT_SAMPLES,
    DEFAULT_THRESHOLD_IMBALANCE,
    DEFAULT_THRESHOLD_MISPREDICTION,
)
from steps.costs import (
    CostMatrix,
    CostSetting,
    InputError,
    default_cost_settings,
    parse_cost_settings,
    validate_cost_settings,
)
from steps.options import AUTO, delimiter_option

#: "No limit" for MaxCostPerDecision: the largest float, since JSON has no infinity.
NO_COST_LIMIT = sys.float_info.max
DEFAULT_XGBOOST_CONTAINER = "3.0-5"
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


@dataclass(frozen=True)
class DataConfig:
    path: str = ""
    test_path: str = ""
    target: str = ""
    positive_label: str = ""
    label_name: str = ""
    # "auto": string columns with few, short values (steps.data.AUTO_MAX_LEVELS); a list: exactly
    # those; "auto" with names: those and the detected ones.
    categorical: tuple[str, ...] = (AUTO,)
    drop: tuple[str, ...] = ()
    # Multi-label: several 0/1 columns, or one column of labels joined by label_delimiter.
    targets: tuple[str, ...] = ()
    label_delimiter: str = ""
    no_label: str = ""  # a label name for rows with none; empty: such rows are an error
    text: tuple[str, ...] = ()  # text columns, turned into TF-IDF features
    text_max_features: int = 1000
    delimiter: str = ""  # the CSV files' delimiter; empty: sniffed from their first lines


@dataclass(frozen=True)
class SplitConfig:
    validation_fraction: float = 0.2
    test_fraction: float = 0.2
    oversample_ratio: float = 0.0
    oversample_min_count: int = 0  # multi-label: raise every label to this many positives
    min_label_count: int = 10  # fewest positives per label in the training split
    seed: int = 0


@dataclass(frozen=True)
class TrainingConfig:
    # None: the grid derived from the cost matrix; an explicit list must not be empty.
    cost_settings: tuple[str, ...] | None = None
    objective: str = "weighted"
    num_round: int = 300
    max_depth: int = 4
    eta: float = 0.05
    min_child_weight: float = 1.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    max_bin: int = 256
    seed: int = 0
    # Thresholds come from out-of-fold scores (cv_folds folds over train + validation) up to
    # cv_max_rows rows; 0 folds, or more rows, tune on the validation split instead.
    cv_folds: int = 5
    cv_max_rows: int = 200_000
    # One multi-output booster for all labels (cheaper on yeast, see the README) or one per label.
    multilabel_strategy: str = "multi-output"


@dataclass(frozen=True)
class EvaluationConfig:
    threshold_objective: str = "cost"
    # Cost thresholds on the tuning scores as they are, or under kernel-smoothed score
    # distributions (no measurable gain on breast cancer, see the README).
    threshold_smoothing: str = "none"
    max_cost_per_decision: float = NO_COST_LIMIT
    bootstrap_resamples: int = 2000


@dataclass(frozen=True)
class ChecksConfig:
    threshold_imbalance: float = DEFAULT_THRESHOLD_IMBALANCE
    threshold_misprediction: float = DEFAULT_THRESHOLD_MISPREDICTION
    samples: int = DEFAULT_SAMPLES


@dataclass(frozen=True)
class RegistryConfig:
    model_package_group: str = "costpipe"
    approval_status: str = "PendingManualApproval"


@dataclass(frozen=True)
class AwsConfig:
    pipeline_name: str = "costpipe"
    region: str = "us-east-1"
    role_arn: str = ""
    bucket: str = ""
    state_machine_role_arn: str = ""
    processing_instance_type: str = "ml.m5.xlarge"
    processing_instance_count: int = 1
    training_instance_type: str = "ml.m5.xlarge"
    training_instance_count: int = 1
    xgboost_container_version: str = DEFAULT_XGBOOST_CONTAINER


@dataclass(frozen=True)
class CostConfig:
    tp: float = 0.0
    fp: float = 1.0
    fn: float = 1.0
    tn: float = 0.0
    # Per-label overrides of the entries above: {"threat": {"fn": 500.0}}.
    labels: dict[str, dict[str, float]] = field(default_factory=dict)


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
        """Per-label cost overrides as the JSON the Evaluate job reads ("" for none)."""
        import json

        return json.dumps(self.costs.labels, sort_keys=True) if self.costs.labels else ""

    @property
    def cost_matrix(self) -> CostMatrix:
        try:
            return CostMatrix(**{k: getattr(self.costs, k) for k in ("tp", "fp", "fn", "tn")})
        except InputError as error:
            raise UsageError(str(error)) from None

    @property
    def settings(self) -> list[CostSetting]:
        """The cost settings to train: the configured list, or the grid from the cost matrix."""
        if self.training.cost_settings is None:
            return default_cost_settings(self.cost_matrix)
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
    # Relative data paths are relative to the config file, as users expect of a config.
    data = config.data
    updates = {}
    for key in ("path", "test_path"):
        value = getattr(data, key)
        if value and "://" not in value and not Path(value).is_absolute():
            updates[key] = str((path.parent / value).resolve())
    return replace(config, data=replace(data, **updates)) if updates else config


def from_mapping(raw: dict[str, Any], source: str = "config") -> Config:
    unknown = sorted(set(raw) - set(_SECTION_TYPES))
    if unknown:
        raise UsageError(
            f"{source}: unknown section [{unknown[0]}]: the sections are "
            f"{', '.join(_SECTION_TYPES)}"
        )
    sections = {}
    for name, section_type in _SECTION_TYPES.items():
        values = raw.get(name, {})
        if not isinstance(values, dict):
            raise UsageError(f"{source}: [{name}] must be a table of keys, got {values!r}")
        sections[name] = _section(section_type, values, f"{source}: [{name}]")
    return validate(Config(**sections))


def _section(section_type: type, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(section_type)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(
            f"{where} has an unknown key '{unknown[0]}': the keys are {', '.join(known)}"
        )
    converted = {
        key: _convert(value, known[key].type, f"{where} {key}") for key, value in values.items()
    }
    return section_type(**converted)


def _convert(value: Any, annotation: Any, where: str) -> Any:
    kind = str(annotation)
    if kind == "str":
        if not isinstance(value, str):
            raise UsageError(f"{where} must be text, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where} must be a whole number, got {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{where} must be a number, got {value!r}")
        return float(value)
    if kind.startswith("dict"):
        return _label_costs(value, where)
    if kind.endswith("| None"):
        return _convert(value, kind.removesuffix("| None").strip(), where)
    if kind.startswith("tuple"):
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise UsageError(f"{where} must be a list of text, got {value!r}")
        return tuple(value)
    raise AssertionError(f"unhandled config type {kind}")  # a bug in this module, not input


def _label_costs(value: Any, where: str) -> dict[str, dict[str, float]]:
    """``[costs.labels."name"]`` tables: a subset of tp/fp/fn/tn numbers per label."""
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be tables of cost entries per label")
    checked: dict[str, dict[str, float]] = {}
    for label, entries in value.items():
        if not isinstance(entries, dict) or not entries:
            raise UsageError(f"{where}.{label} must be a table of tp/fp/fn/tn entries")
        unknown = sorted(set(entries) - {"tp", "fp", "fn", "tn"})
        if unknown:
            raise UsageError(f"{where}.{label} has an unknown key '{unknown[0]}': use tp/fp/fn/tn")
        checked[label] = {
            key: _convert(number, "float", f"{where}.{label} {key}")
            for key, number in entries.items()
        }
    return checked


def override(config: Config, section: str, **values: Any) -> Config:
    """A copy of ``config`` with the given keys of one section replaced (flags beat the file)."""
    present = {key: value for key, value in values.items() if value is not None}
    if not present:
        return config
    current = getattr(config, section)
    return validate(replace(config, **{section: replace(current, **present)}))


def validate(config: Config) -> Config:
    """Check values that have a valid range; the cost matrix and settings check themselves."""
    split = config.split
    for name in ("validation_fraction", "test_fraction"):
        value = getattr(split, name)
        if not 0 <= value < 1:
            raise UsageError(f"split {name} must be in [0, 1), got {value}")
    if split.validation_fraction <= 0:
        raise UsageError("split validation_fraction must be above 0: thresholds are tuned on it")
    if split.validation_fraction + split.test_fraction >= 0.9:
        raise UsageError("split validation_fraction + test_fraction must stay below 0.9")
    if not 0 <= split.oversample_ratio <= 1:
        raise UsageError(
            "split oversample_ratio must be in [0, 1] (0 turns it off), got "
            f"{split.oversample_ratio}"
        )
    training = config.training
    if training.objective not in ("weighted", "custom"):
        raise UsageError(
            f"training objective must be 'weighted' or 'custom', got {training.objective!r}"
        )
    if training.cv_folds == 1 or training.cv_folds < 0:
        raise UsageError(f"training cv_folds must be 0 or at least 2, got {training.cv_folds}")
    if training.cv_max_rows < 0:
        raise UsageError(f"training cv_max_rows must be >= 0, got {training.cv_max_rows}")
    positive_ints = ("num_round", "max_depth", "max_bin")
    for name in positive_ints:
        if getattr(training, name) < 1:
            raise UsageError(f"training {name} must be at least 1, got {getattr(training, name)}")
    for name in ("eta", "subsample", "colsample_bytree"):
        value = getattr(training, name)
        if not 0 < value <= 1:
            raise UsageError(f"training {name} must be in (0, 1], got {value}")
    for name in ("min_child_weight", "reg_lambda"):
        value = getattr(training, name)
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"training {name} must be a finite number >= 0, got {value}")
    evaluation = config.evaluation
    if evaluation.threshold_objective not in ("cost", "f1"):
        raise UsageError(
            "evaluation threshold_objective must be 'cost' or 'f1', got "
            f"{evaluation.threshold_objective!r}"
        )
    if evaluation.threshold_smoothing not in ("kernel", "none"):
        raise UsageError(
            "evaluation threshold_smoothing must be 'kernel' or 'none', got "
            f"{evaluation.threshold_smoothing!r}"
        )
    if math.isnan(evaluation.max_cost_per_decision):
        raise UsageError("evaluation max_cost_per_decision is NaN: give a number")
    if evaluation.bootstrap_resamples < 100:
        raise UsageError(
            "evaluation bootstrap_resamples must be at least 100, got "
            f"{evaluation.bootstrap_resamples}"
        )
    checks = config.checks
    if not (math.isfinite(checks.threshold_imbalance) and checks.threshold_imbalance >= 1):
        raise UsageError(
            f"checks threshold_imbalance must be >= 1, got {checks.threshold_imbalance}"
        )
    if not 0 < checks.threshold_misprediction <= 1:
        raise UsageError(
            "checks threshold_misprediction must be in (0, 1], got "
            f"{checks.threshold_misprediction}"
        )
    if checks.samples < 0:
        raise UsageError(f"checks samples must be >= 0, got {checks.samples}")
    if config.registry.approval_status not in APPROVAL_STATUSES:
        raise UsageError(
            f"registry approval_status must be one of {', '.join(APPROVAL_STATUSES)}, got "
            f"{config.registry.approval_status!r}"
        )
    aws = config.aws
    for name in ("processing_instance_count", "training_instance_count"):
        if getattr(aws, name) < 1:
            raise UsageError(f"aws {name} must be at least 1, got {getattr(aws, name)}")
    data = config.data
    if data.targets and data.label_delimiter:
        raise UsageError("data targets and label_delimiter exclude each other: choose one")
    if data.targets and data.target:
        raise UsageError("data target and targets exclude each other: give one of them")
    multilabel = bool(data.targets or data.label_delimiter)
    if config.costs.labels and not multilabel:
        raise UsageError("per-label costs ([costs.labels]) need a multi-label target")
    if training.multilabel_strategy not in ("per-label", "multi-output"):
        raise UsageError(
            "training multilabel_strategy must be 'per-label' or 'multi-output', got "
            f"{training.multilabel_strategy!r}"
        )
    if data.text_max_features < 1:
        raise UsageError(f"data text_max_features must be at least 1, got {data.text_max_features}")
    try:
        delimiter_option(data.delimiter)
    except InputError as error:
        raise UsageError(f"data {error}") from None
    for name in ("oversample_min_count", "min_label_count"):
        if getattr(split, name) < 0:
            raise UsageError(f"split {name} must be >= 0, got {getattr(split, name)}")
    config.cost_matrix  # noqa: B018  (raises UsageError for a bad matrix)
    for label, entries in config.costs.labels.items():
        try:
            CostMatrix.from_mapping({**config.cost_matrix.as_dict(), **entries})
        except InputError as error:
            raise UsageError(f"costs for label '{label}': {error}") from None
    config.settings  # noqa: B018  (raises UsageError for bad or duplicated settings)
    return config


def parse_settings_flag(text: str) -> tuple[str, ...]:
    """``--cost-settings "1:1,5:1,200:1"`` as config values (checked when validated)."""
    try:
        return tuple(s.text for s in parse_cost_settings(text))
    except InputError as error:
        raise UsageError(str(error)) from None
