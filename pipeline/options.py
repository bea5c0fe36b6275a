"""Every option of a run, declared once.

An :class:`Option` says everything about one setting: its config key (``[section] name``), its
type and default, the values it may take (a :class:`Choices` or an :class:`Interval`, declared
next to it as scikit-learn's ``_parameter_constraints`` declare theirs), its help, and where
it goes: a command-line flag, a pipeline parameter, and the jobs' arguments that read that
parameter. The config sections (``pipeline.config``), the flags (``pipeline.cli.options``),
the pipeline parameters and the job arguments (``pipeline.definition``) are all derived from
:data:`OPTIONS`; choice lists come from ``steps.options``, the jobs' own constants.

The table's order is the order of the pipeline's parameters (text first, then numbers, then
whole numbers, as Studio lists them); each job argument says where it stands in its job's
argument list, so neither order depends on the other.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from steps.checks import (
    DEFAULT_SAMPLES,
    DEFAULT_THRESHOLD_IMBALANCE,
    DEFAULT_THRESHOLD_MISPREDICTION,
)
from steps.options import (
    AUTO,
    CHAMPION_CHEAPER,
    CHAMPION_POLICIES,
    MULTILABEL_STRATEGIES,
    OBJECTIVE_IMPLEMENTATIONS,
    THRESHOLD_OBJECTIVES,
    THRESHOLD_SMOOTHINGS,
)

#: "No limit" for MaxCostPerDecision: the largest float, since JSON has no infinity.
NO_COST_LIMIT = sys.float_info.max
DEFAULT_XGBOOST_CONTAINER = "3.0-5"
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")

#: The jobs that read options: the two processing jobs take ``--name=value`` arguments, the
#: training jobs take hyperparameters.
PREPROCESS = "preprocess"
TRAIN = "train"
EVALUATE = "evaluate"
JOBS = (PREPROCESS, TRAIN, EVALUATE)

#: Value kinds: text, a whole number, a number, a list of text (comma-separated on the command
#: line and in text parameters), per-label cost tables (a JSON text parameter), a file path or
#: s3:// URI (relative paths are relative to the config file, or to where a flag is given), and
#: a list of cost settings ("fn:fp[:booster][:flat]", checked by steps.costs), and a cost
#: entry (a number, a column or a formula of them, checked by steps.cost_expressions).
TEXT, WHOLE, NUMBER, TEXT_LIST, LABEL_COSTS = "text", "whole", "number", "text list", "costs"
PATH, SETTINGS = "path", "settings"
#: A cost matrix entry: a number, a column, or arithmetic of columns and numbers
#: (``steps.cost_expressions``); a text parameter, which Preprocess parses.
COST = "cost"


# constraints --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choices:
    """One of a few names (scikit-learn's ``StrOptions``)."""

    values: tuple[str, ...]

    def allows(self, value: Any) -> bool:
        return value in self.values

    def describe(self) -> str:
        if len(self.values) == 2:
            return f"'{self.values[0]}' or '{self.values[1]}'"
        return f"one of {', '.join(self.values)}"

    def shown(self, value: Any) -> str:
        return repr(value)


@dataclass(frozen=True)
class Interval:
    """A range of numbers (scikit-learn's ``Interval``): ``low`` and ``high`` (None: open),
    which ends are included, values allowed besides (``also``), and whether it must be finite.
    """

    low: float | None = None
    high: float | None = None
    closed: str = "left"  # "left", "right", "both" or "neither"
    also: tuple[float, ...] = ()
    finite: bool = False
    note: str = ""  # said after the range, e.g. "(0 turns it off)"

    def allows(self, value: Any) -> bool:
        if value in self.also:
            return True
        if math.isnan(value) or (self.finite and not math.isfinite(value)):
            return False
        if self.low is not None and (
            value < self.low or (value == self.low and self.closed not in ("left", "both"))
        ):
            return False
        return self.high is None or not (
            value > self.high or (value == self.high and self.closed not in ("right", "both"))
        )

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("left", "both") else "("
            right = "]" if self.closed in ("right", "both") else ")"
            text = f"in {left}{_number(self.low)}, {_number(self.high)}{right}"
        elif self.low is not None and self.also:
            also = " or ".join(_number(v) for v in self.also)
            text = f"{also} or at least {_number(self.low)}"
        elif self.low is not None and self.finite:
            text = f"a finite number >= {_number(self.low)}"
        elif self.low is not None and isinstance(self.low, int) and self.low > 0:
            text = f"at least {self.low}"
        elif self.low is not None:
            text = f">= {_number(self.low)}"
        else:
            text = "a number"
        return f"{text} {self.note}" if self.note else text

    def shown(self, value: Any) -> str:
        return str(value)


def _number(value: float) -> str:
    return f"{value:g}"


# options ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobArgument:
    """Where a job reads the option: its argument (or hyperparameter) name and its place in
    the job's argument list."""

    job: str
    name: str
    position: int


@dataclass(frozen=True)
class Option:
    section: str
    name: str
    kind: str
    default: Any
    help: str
    constraint: Choices | Interval | None = None
    #: The command-line flag, if the option has one (``--cost-tp``).
    flag: str | None = None
    #: The pipeline parameter that carries it into an execution, if any.
    parameter: str | None = None
    arguments: tuple[JobArgument, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, in the words of a config error; None when it is fine."""
        if self.constraint is None or value is None or self.constraint.allows(value):
            return None
        if isinstance(self.constraint, Interval) and math.isnan(value):
            return f"{self.section} {self.name} is NaN: give a number"
        return (
            f"{self.section} {self.name} must be {self.constraint.describe()}, got "
            f"{self.constraint.shown(value)}"
        )


def _args(*places: tuple[str, str, int]) -> tuple[JobArgument, ...]:
    return tuple(JobArgument(job, name, position) for job, name, position in places)


_UNIT = Interval(0, 1, closed="right")  # (0, 1]
_FRACTION = Interval(0, 1, closed="left")  # [0, 1)
_AT_LEAST_ONE = Interval(1)
_NOT_NEGATIVE = Interval(0)

OPTIONS: tuple[Option, ...] = (
    # [data] and the rest, as files and names (no parameter: the file is staged as InputData)
    Option("data", "path", PATH, "", "training data: a CSV or Parquet file", flag="--data"),
    Option(
        "data", "test_path", PATH, "", "a test file, instead of a test split", flag="--test-data"
    ),
    # text parameters
    Option(
        "data",
        "target",
        TEXT,
        "",
        "the target column",
        flag="--target",
        parameter="Target",
        arguments=_args((PREPROCESS, "target", 1)),
    ),
    Option(
        "data",
        "positive_label",
        TEXT,
        "",
        "the target value that is the positive class",
        flag="--positive-label",
        parameter="PositiveLabel",
        arguments=_args((PREPROCESS, "positive-label", 5)),
    ),
    Option(
        "data",
        "label_name",
        TEXT,
        "",
        "a name for the positive class in reports",
        flag="--label-name",
        parameter="LabelName",
        arguments=_args((PREPROCESS, "label-name", 6)),
    ),
    Option(
        "data",
        "targets",
        TEXT_LIST,
        (),
        "multi-label: comma-separated 0/1 label columns",
        flag="--targets",
        parameter="TargetColumns",
        arguments=_args((PREPROCESS, "targets", 2)),
    ),
    Option(
        "data",
        "label_delimiter",
        TEXT,
        "",
        "multi-label: the target column joins labels with this",
        flag="--label-delimiter",
        parameter="LabelDelimiter",
        arguments=_args((PREPROCESS, "label-delimiter", 3)),
    ),
    Option(
        "data",
        "no_label",
        TEXT,
        "",
        "multi-label: a label for rows that have none",
        flag="--no-label",
        parameter="NoLabel",
        arguments=_args((PREPROCESS, "no-label", 4)),
    ),
    Option(
        "data",
        "text",
        TEXT_LIST,
        (),
        "comma-separated text columns (TF-IDF features)",
        flag="--text",
        parameter="TextColumns",
        arguments=_args((PREPROCESS, "text", 9)),
    ),
    Option(
        "data",
        "categorical",
        TEXT_LIST,
        (AUTO,),
        "categorical feature columns: 'auto' (default: string columns with few distinct "
        "values), a comma-separated list (exactly those), or 'auto,a,b'",
        flag="--categorical",
        parameter="CategoricalColumns",
        arguments=_args((PREPROCESS, "categorical", 7)),
    ),
    Option(
        "data",
        "drop",
        TEXT_LIST,
        (),
        "comma-separated columns to ignore",
        flag="--drop",
        parameter="DropColumns",
        arguments=_args((PREPROCESS, "drop", 8)),
    ),
    Option(
        "data",
        "delimiter",
        TEXT,
        "",
        "the CSV files' delimiter (one character, or 'tab'; default: sniffed)",
        flag="--delimiter",
        parameter="Delimiter",
        arguments=_args((PREPROCESS, "delimiter", 10)),
    ),
    Option(
        "costs",
        "labels",
        LABEL_COSTS,
        None,
        'per-label overrides of tp/fp/fn/tn: [costs.labels."name"]',
        parameter="LabelCosts",
        arguments=_args((PREPROCESS, "label-costs", 23)),
    ),
    Option(
        "training",
        "multilabel_strategy",
        TEXT,
        "multi-output",
        "one booster per label, or one multi-output booster",
        Choices(MULTILABEL_STRATEGIES),
        flag="--multilabel-strategy",
        parameter="MultiLabelStrategy",
        arguments=_args((TRAIN, "multilabel_strategy", 13)),
    ),
    Option(
        "evaluation",
        "threshold_objective",
        TEXT,
        "cost",
        "what thresholds optimise",
        Choices(THRESHOLD_OBJECTIVES),
        flag="--threshold-objective",
        parameter="ThresholdObjective",
        arguments=_args((EVALUATE, "threshold-objective", 7)),
    ),
    Option(
        "evaluation",
        "threshold_smoothing",
        TEXT,
        "none",
        "cost thresholds on the tuning scores (none, default) or smoothed distributions",
        Choices(THRESHOLD_SMOOTHINGS),
        flag="--threshold-smoothing",
        parameter="ThresholdSmoothing",
        arguments=_args((EVALUATE, "threshold-smoothing", 8)),
    ),
    Option(
        "training",
        "objective",
        TEXT,
        "weighted",
        "asymmetric loss implementation",
        Choices(OBJECTIVE_IMPLEMENTATIONS),
        flag="--objective",
        parameter="ObjectiveImplementation",
        arguments=_args((TRAIN, "objective_impl", 1)),
    ),
    Option(
        "registry",
        "model_package_group",
        TEXT,
        "costpipe",
        "the model package group to register in",
        flag="--model-package-group",
        parameter="ModelPackageGroupName",
        # Evaluate looks up the group's latest Approved version (the champion) in it.
        arguments=_args((EVALUATE, "model-package-group", 12)),
    ),
    Option(
        "registry",
        "approval_status",
        TEXT,
        "PendingManualApproval",
        "the approval status a new model package version gets",
        Choices(APPROVAL_STATUSES),
        parameter="ModelApprovalStatus",
    ),
    Option(
        "registry",
        "champion_policy",
        TEXT,
        CHAMPION_CHEAPER,
        "register only when the model beats the group's latest Approved version: cheaper on "
        "test, significantly cheaper (paired 95% interval below 0), or off",
        Choices(CHAMPION_POLICIES),
        flag="--champion-policy",
        parameter="ChampionPolicy",
        arguments=_args((EVALUATE, "champion-policy", 13)),
    ),
    Option(
        "aws",
        "processing_instance_type",
        TEXT,
        "ml.m5.xlarge",
        "the processing jobs' instance type",
        parameter="ProcessingInstanceType",
    ),
    Option(
        "aws",
        "training_instance_type",
        TEXT,
        "ml.m5.xlarge",
        "the training jobs' instance type",
        parameter="TrainingInstanceType",
    ),
    # The cost matrix: text parameters (numbers, columns or formulas), parsed by Preprocess.
    *(
        Option(
            "costs",
            outcome,
            COST,
            default,
            f"money per decision for {meaning}: a number, a column, or a formula of columns "
            "and numbers (e.g. '0.75 * amount')",
            flag=f"--cost-{outcome}",
            parameter=f"Cost{outcome.title()}",
            arguments=_args((PREPROCESS, f"cost-{outcome}", position)),
        )
        for outcome, default, meaning, position in (
            ("tp", 0.0, "a true positive", 19),
            ("fp", 1.0, "a false positive", 20),
            ("fn", 1.0, "a false negative", 21),
            ("tn", 0.0, "a true negative", 22),
        )
    ),
    # number parameters
    Option(
        "evaluation",
        "max_cost_per_decision",
        NUMBER,
        NO_COST_LIMIT,
        "register only at or below",
        Interval(),
        flag="--max-cost-per-decision",
        parameter="MaxCostPerDecision",
        arguments=_args((EVALUATE, "max-cost-per-decision", 6)),
    ),
    Option(
        "split",
        "validation_fraction",
        NUMBER,
        0.2,
        "the share of rows in the validation split",
        _FRACTION,
        parameter="ValidationFraction",
        arguments=_args((PREPROCESS, "validation-fraction", 11)),
    ),
    Option(
        "split",
        "test_fraction",
        NUMBER,
        0.2,
        "the share of rows in the test split (none with a test file)",
        _FRACTION,
        parameter="TestFraction",
        arguments=_args((PREPROCESS, "test-fraction", 12)),
    ),
    Option(
        "split",
        "oversample_ratio",
        NUMBER,
        0.0,
        "oversample the minority class (0-1)",
        Interval(0, 1, closed="both", note="(0 turns it off)"),
        flag="--oversample-ratio",
        parameter="OversampleRatio",
        arguments=_args((PREPROCESS, "oversample-ratio", 13)),
    ),
    Option(
        "checks",
        "threshold_imbalance",
        NUMBER,
        DEFAULT_THRESHOLD_IMBALANCE,
        "the largest allowed ratio of the largest to the smallest class",
        Interval(1, finite=True),
        parameter="ThresholdImbalance",
        arguments=_args((PREPROCESS, "threshold-imbalance", 16)),
    ),
    Option(
        "checks",
        "threshold_misprediction",
        NUMBER,
        DEFAULT_THRESHOLD_MISPREDICTION,
        "the largest allowed share of mispredictions of any class",
        _UNIT,
        parameter="ThresholdMisprediction",
        arguments=_args((EVALUATE, "threshold-misprediction", 9)),
    ),
    Option(
        "training",
        "eta",
        NUMBER,
        0.05,
        "XGBoost's learning rate",
        _UNIT,
        parameter="Eta",
        arguments=_args((TRAIN, "eta", 4)),
    ),
    Option(
        "training",
        "min_child_weight",
        NUMBER,
        1.0,
        "XGBoost's min_child_weight",
        Interval(0, finite=True),
        parameter="MinChildWeight",
        arguments=_args((TRAIN, "min_child_weight", 5)),
    ),
    Option(
        "training",
        "subsample",
        NUMBER,
        0.8,
        "XGBoost's row subsample per tree",
        _UNIT,
        parameter="Subsample",
        arguments=_args((TRAIN, "subsample", 6)),
    ),
    Option(
        "training",
        "colsample_bytree",
        NUMBER,
        0.8,
        "XGBoost's column subsample per tree",
        _UNIT,
        parameter="ColsampleByTree",
        arguments=_args((TRAIN, "colsample_bytree", 7)),
    ),
    Option(
        "training",
        "reg_lambda",
        NUMBER,
        1.0,
        "XGBoost's L2 penalty",
        Interval(0, finite=True),
        parameter="RegLambda",
        arguments=_args((TRAIN, "reg_lambda", 8)),
    ),
    # whole-number parameters
    Option(
        "split",
        "seed",
        WHOLE,
        0,
        "the seed of the splits",
        parameter="SplitSeed",
        arguments=_args((PREPROCESS, "seed", 18)),
    ),
    Option(
        "split",
        "oversample_min_count",
        WHOLE,
        0,
        "multi-label: oversample rare labels to this",
        _NOT_NEGATIVE,
        flag="--oversample-min-count",
        parameter="OversampleMinCount",
        arguments=_args((PREPROCESS, "oversample-min-count", 14)),
    ),
    Option(
        "split",
        "min_label_count",
        WHOLE,
        10,
        "fewest positives per label in the training split",
        _NOT_NEGATIVE,
        parameter="MinLabelCount",
        arguments=_args((PREPROCESS, "min-label-count", 15)),
    ),
    Option(
        "data",
        "text_max_features",
        WHOLE,
        1000,
        "the largest TF-IDF vocabulary per text column",
        _AT_LEAST_ONE,
        parameter="TextMaxFeatures",
        arguments=_args((TRAIN, "text_max_features", 14)),
    ),
    Option(
        "checks",
        "samples",
        WHOLE,
        DEFAULT_SAMPLES,
        "labels needed before the class-imbalance checks apply",
        _NOT_NEGATIVE,
        parameter="CheckSamples",
        arguments=_args((PREPROCESS, "samples", 17), (EVALUATE, "samples", 10)),
    ),
    Option(
        "evaluation",
        "bootstrap_resamples",
        WHOLE,
        2000,
        "bootstrap resamples of each cost interval",
        Interval(100),
        parameter="BootstrapResamples",
        arguments=_args((EVALUATE, "bootstrap-resamples", 11)),
    ),
    Option(
        "training",
        "num_round",
        WHOLE,
        300,
        "boosting rounds",
        _AT_LEAST_ONE,
        parameter="NumRound",
        arguments=_args((TRAIN, "num_round", 2)),
    ),
    Option(
        "training",
        "max_depth",
        WHOLE,
        4,
        "XGBoost's tree depth",
        _AT_LEAST_ONE,
        parameter="MaxDepth",
        arguments=_args((TRAIN, "max_depth", 3)),
    ),
    Option(
        "training",
        "max_bin",
        WHOLE,
        256,
        "XGBoost's histogram bins",
        _AT_LEAST_ONE,
        parameter="MaxBin",
        arguments=_args((TRAIN, "max_bin", 9)),
    ),
    Option(
        "training",
        "seed",
        WHOLE,
        0,
        "the seed of training and of the folds",
        parameter="TrainingSeed",
        arguments=_args((TRAIN, "seed", 10)),
    ),
    Option(
        "training",
        "cv_folds",
        WHOLE,
        5,
        "folds of the out-of-fold scores (0: tune on the validation split)",
        Interval(2, also=(0,)),
        parameter="CrossValidationFolds",
        arguments=_args((TRAIN, "cv_folds", 11)),
    ),
    Option(
        "training",
        "cv_max_rows",
        WHOLE,
        200_000,
        "above this many rows, tune on the validation split",
        _NOT_NEGATIVE,
        parameter="CrossValidationMaxRows",
        arguments=_args((TRAIN, "cv_max_rows", 12)),
    ),
    Option(
        "aws",
        "processing_instance_count",
        WHOLE,
        1,
        "the processing jobs' instance count",
        _AT_LEAST_ONE,
        parameter="ProcessingInstanceCount",
    ),
    Option(
        "aws",
        "training_instance_count",
        WHOLE,
        1,
        "training instances per cost setting; above 1 the training split is written as that "
        "many files and one model trains across them (fixed when the definition is built)",
        _AT_LEAST_ONE,
        flag="--training-instance-count",
        parameter="TrainingInstanceCount",
    ),
    # no parameter: fixed when the definition is built, or where it is deployed
    Option(
        "training",
        "cost_settings",
        SETTINGS,
        None,
        'training weights fn_weight:fp_weight[:linear][:flat], e.g. "1:1,5:1,200:1"',
        flag="--cost-settings",
    ),
    Option("aws", "pipeline_name", TEXT, "costpipe", "the pipeline's name", flag="--pipeline-name"),
    Option("aws", "region", TEXT, "us-east-1", "the AWS region"),
    Option("aws", "role_arn", TEXT, "", "the SageMaker execution role"),
    Option("aws", "bucket", TEXT, "", "the artifact bucket"),
    Option("aws", "state_machine_role_arn", TEXT, "", "the role Step Functions runs as"),
    Option(
        "aws",
        "xgboost_container_version",
        TEXT,
        DEFAULT_XGBOOST_CONTAINER,
        "the stock SageMaker XGBoost image's version",
    ),
)

#: The config file's sections, in the order they are documented.
SECTIONS = ("data", "costs", "split", "training", "evaluation", "checks", "registry", "aws")
BY_KEY = {option.key: option for option in OPTIONS}
BY_PARAMETER = {option.parameter: option for option in OPTIONS if option.parameter}


def section_options(section: str) -> list[Option]:
    return [option for option in OPTIONS if option.section == section]


def job_arguments(job: str) -> Iterator[tuple[JobArgument, Option]]:
    """The options a job reads, in the order of its argument list."""
    places = [(a, option) for option in OPTIONS for a in option.arguments if a.job == job]
    yield from sorted(places, key=lambda place: place[0].position)


def _check_table() -> None:
    """The table is consistent: unique keys, flags, parameters and argument places."""
    for what, values in (
        ("key", [o.key for o in OPTIONS]),
        ("flag", [o.flag for o in OPTIONS if o.flag]),
        ("parameter", [o.parameter for o in OPTIONS if o.parameter]),
        ("argument", [(a.job, a.name) for o in OPTIONS for a in o.arguments]),
    ):
        repeated = {v for v in values if values.count(v) > 1}
        assert not repeated, f"option table: {what} declared twice: {repeated}"
    assert {o.section for o in OPTIONS} == set(SECTIONS)
    for job in JOBS:
        positions = [a.position for a, _ in job_arguments(job)]
        assert positions == sorted(set(positions)), f"option table: {job} positions repeat"
    for option in OPTIONS:
        assert option.arguments == () or option.parameter, f"{option.key}: argument, no parameter"


_check_table()
