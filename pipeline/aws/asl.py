"""The SageMaker pipeline definition, translated into an Amazon States Language state machine.

A pure function of the definition JSON (no boto3, no second copy of the DAG): the steps and
their order come from the definition's own data references and ``DependsOn``, the request
bodies from its ``Arguments``, the branch rule from its ``Conditions``.

State data (JSONPath query language) is one object that every state adds to::

    {"parameters": {...},            # execution input merged over the definition's defaults
     "steps": {"Preprocess": {...}},  # per step, the fields later steps read (ResultSelector)
     "propertyFiles": {"Evaluate": {"EvaluationReport": {"document": {...}}}}}

The execution input is ``{"Parameters": {"Name": value, ...}}``; parameters left out take the
definition's defaults, and an input without ``Parameters`` runs on the defaults alone.

How each piece maps:

* ``Processing`` / ``Training`` steps -> ``sagemaker:create{Processing,Training}Job.sync`` tasks
  whose ``Parameters`` are the step's ``Arguments`` (SageMaker's request shape), plus a job
  name ``States.Format('<step>-{}-{}', $$.Execution.Name, $$.State.RetryCount)``: unique per
  execution and per retry. Step names are cut to 23 characters so that the name stays within
  SageMaker's 63 for execution names of up to 36 characters (a UUID, the console's default).
* steps that the DAG allows to run together (every training step depends only on Preprocess)
  -> one ``Parallel`` state, followed by a ``Pass`` that merges the branches' results.
* property files -> an ``aws-sdk:s3:getObject`` task after the step, parsed with
  ``States.StringToJson``; ``Std:JsonGet`` -> a path into that document.
* ``Get``: ``Parameters.X`` -> ``$.parameters.X``; ``Execution.PipelineExecutionId`` ->
  ``$$.Execution.Name`` (so output prefixes carry the execution name); ``Steps.X.<property>``
  -> ``$.steps.X.<property>``, kept from the describe response by X's ``ResultSelector``.
* ``Std:Join`` -> ``States.Format``; lists with computed elements -> ``States.Array``.
* ``Condition`` -> a ``Choice`` state (Equals, GreaterThan(OrEqualTo), LessThan(OrEqualTo),
  Not, Or, In) whose branches are translated the same way; ``Fail`` -> a ``Fail`` state whose
  ``CausePath`` is the error message; ``RegisterModel`` ->
  ``aws-sdk:sagemaker:createModelPackage``.
* ``RetryPolicies`` -> ``Retry`` where Step Functions reports an equivalent error; what has no
  equivalent (a failed job is ``States.TaskFailed`` whatever the cause, so
  ``SageMaker.JOB_INTERNAL_ERROR`` and ``SageMaker.CAPACITY_ERROR``) and ``CacheConfig`` (Step
  Functions has no step cache) are named in the state's ``Comment``.

Anything else raises :class:`TranslationError` naming the step.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from pipeline.definition.expressions import ExpressionError, is_expression, parse_path
from pipeline.definition.expressions import _as_text as _text  # how Std:Join writes constants
from pipeline.definition.graph import all_steps, check_graph, dependencies
from pipeline.errors import InputError, UsageError

#: The execution input's key that holds the parameter values.
INPUT_KEY = "Parameters"
DEFAULTS_STATE = "DefaultParameters"
_HAS_INPUT_STATE = "HasParameters"
_MERGE_INPUT_STATE = "MergeParameters"
_ONLY_DEFAULTS_STATE = "UseDefaultParameters"
#: Longest step-name part of a job name: 23 + 1 + 36 (execution name) + 1 + 2 (retry) = 63.
JOB_NAME_STEP_PART = 23
JOBS = {
    "Processing": ("createProcessingJob", "ProcessingJobName", "ProcessingJobArn"),
    "Training": ("createTrainingJob", "TrainingJobName", "TrainingJobArn"),
}
REGISTER_RESOURCE = "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
GET_OBJECT_RESOURCE = "arn:aws:states:::aws-sdk:s3:getObject"
#: Execution variables and the context-object paths that stand for them.
EXECUTION_VARIABLES = {
    "PipelineExecutionId": "$$.Execution.Name",
    "PipelineExecutionArn": "$$.Execution.Id",
    "PipelineName": "$$.StateMachine.Name",
    "PipelineArn": "$$.StateMachine.Id",
    "StartDateTime": "$$.Execution.StartTime",
    "CurrentDateTime": "$$.State.EnteredTime",
}
#: Request members whose values SageMaker takes only as text (maps and lists of strings).
TEXT_MAPS = {"HyperParameters", "Environment", "CustomerMetadataProperties"}
TEXT_LISTS = {"ContainerArguments", "ContainerEntrypoint"}
#: Pipelines' retryable exception types -> the errors Step Functions raises for them, for the
#: optimized SageMaker integration (.sync jobs) and for the AWS SDK integration.
RETRY_ERRORS = {
    "sync": {
        "Step.SERVICE_FAULT": ["SageMaker.AmazonSageMakerException"],
        "Step.THROTTLING": ["ThrottlingException", "SageMaker.AmazonSageMakerException"],
        "SageMaker.RESOURCE_LIMIT": ["SageMaker.ResourceLimitExceededException"],
    },
    "sdk": {
        "Step.SERVICE_FAULT": ["SageMaker.SageMakerException"],
        "Step.THROTTLING": ["SageMaker.SageMakerException"],
        "SageMaker.RESOURCE_LIMIT": ["SageMaker.ResourceLimitExceededException"],
    },
}
_NO_RETRY_EQUIVALENT = (
    "no Step Functions equivalent: a failed job is States.TaskFailed whatever its cause, and "
    "retrying that would rerun jobs that failed on their data"
)
_COMPARISONS = {
    "Equals": "Equals",
    "GreaterThan": "GreaterThan",
    "GreaterThanOrEqualTo": "GreaterThanEquals",
    "LessThan": "LessThan",
    "LessThanOrEqualTo": "LessThanEquals",
}
_FLIPPED = {
    "Equals": "Equals",
    "GreaterThan": "LessThan",
    "GreaterThanOrEqualTo": "LessThanOrEqualTo",
    "LessThan": "GreaterThan",
    "LessThanOrEqualTo": "GreaterThanOrEqualTo",
}
_FAMILIES = {"Integer": "Numeric", "Float": "Numeric", "String": "String", "Boolean": "Boolean"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIST_NAME_FIELDS = ("OutputName", "ChannelName", "InputName", "Name")


class TranslationError(InputError):
    """A step or expression with no Step Functions translation; names the step."""


@dataclass(frozen=True)
class _Computed:
    """A value known only at run time: a JSONPath or an intrinsic function call."""

    expression: str
    type: str | None = None  # the parameter type, where the value is a parameter


@dataclass
class _Unit:
    """Translated states of one step (or one parallel group): where to enter, all states."""

    entry: str
    states: dict[str, dict[str, Any]]


def translate(definition: dict[str, Any]) -> dict[str, Any]:
    """The state machine (ASL as a dict) that runs ``definition`` on Step Functions.

    Parameters
    ----------
    definition : dict
        A SageMaker pipeline definition, as ``build_definition`` returns it.

    Returns
    -------
    dict
        The Amazon States Language document.

    Raises
    ------
    TranslationError
        For a step type, property or expression with no translation, naming the step.
    GraphError
        For a definition whose graph is broken (see :func:`pipeline.definition.graph.check_graph`).
    """
    check_graph(definition)
    return _Translator(definition).state_machine()


def parameter_declarations(state_machine: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameters a translated state machine takes, with their defaults and types.

    Types follow the defaults' JSON types (a whole number is Integer, any other number Float).
    """
    state = state_machine.get("States", {}).get(DEFAULTS_STATE)
    if not state or not isinstance(state.get("Result"), dict):
        raise UsageError(
            f"this state machine has no {DEFAULTS_STATE} state: it was not made by costpipe"
        )
    kinds = {bool: "Boolean", int: "Integer", float: "Float", str: "String"}
    return [
        {"Name": name, "Type": kinds.get(type(value), "String"), "DefaultValue": value}
        for name, value in state["Result"].items()
    ]


def execution_input(values: dict[str, Any]) -> dict[str, Any]:
    """The execution input that carries these parameter values."""
    return {INPUT_KEY: values}


# helpers -------------------------------------------------------------------------------------
def _key(name: str) -> str:
    """A name as a plain JSONPath member: letters, digits and underscores."""
    key = re.sub(r"\W", "_", name)
    return key if _IDENTIFIER.match(key) else f"_{key}"


def _path(base: str, tokens: list[str | int]) -> str:
    path = base
    for token in tokens:
        if isinstance(token, int):
            path += f"[{token}]"
        elif _IDENTIFIER.match(token):
            path += f".{token}"
        elif "'" not in token:
            path += f"['{token}']"
        else:
            raise ExpressionError(f"cannot address the key {token!r} in a JSONPath")
    return path


def _escape(text: str) -> str:
    """Text inside an intrinsic function's string literal: ', {, } and \\ escaped."""
    return re.sub(r"([\\'{}])", r"\\\1", text)


def _quote(text: str) -> str:
    """A string literal for an intrinsic function."""
    return f"'{_escape(text)}'"


def _argument(value: Any) -> str:
    """One intrinsic-function argument."""
    if isinstance(value, _Computed):
        return value.expression
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _quote(value)
    raise ExpressionError(f"cannot pass {value!r} to an intrinsic function")


def _link(state: dict[str, Any], next_name: str | None) -> dict[str, Any]:
    if next_name:
        state["Next"] = next_name
    else:
        state["End"] = True
    return state


def job_name_prefix(step_name: str) -> str:
    """The step part of a job name: allowed characters, at most 23 of them, still unique."""
    text = re.sub(r"[^A-Za-z0-9-]+", "-", step_name).strip("-") or "step"
    if len(text) <= JOB_NAME_STEP_PART:
        return text
    digest = hashlib.sha256(step_name.encode()).hexdigest()[:4]
    return f"{text[: JOB_NAME_STEP_PART - 5].rstrip('-')}-{digest}"


class _Translator:
    def __init__(self, definition: dict[str, Any]):
        self.definition = definition
        self.steps = {step["Name"]: step for step in all_steps(definition)}
        self.parameters = {p["Name"]: p for p in definition.get("Parameters", [])}
        self.names: set[str] = set()
        #: Per step, the ResultSelector tree of the properties other steps read.
        self.kept: dict[str, dict[str, Any]] = {}
        #: Per step, the property files that Std:JsonGet reads.
        self.files_read: dict[str, set[str]] = {}
        self.parallel_groups = 0
        self.keys: dict[str, str] = {}
        for name in self.steps:
            key = _key(name)
            if key in self.keys.values():
                raise TranslationError(
                    f"steps '{name}' and '{self._step_of_key(key)}' have the same state-data "
                    "key: rename one"
                )
            self.keys[name] = key
        for step in self.steps.values():
            arguments = step.get("Arguments", {})
            if step.get("Type") == "Condition":  # its branches' steps are collected on their own
                arguments = {"Conditions": arguments.get("Conditions", [])}
            try:
                self._collect(arguments, step["Name"])
            except ExpressionError as error:
                raise TranslationError(f"step '{step['Name']}': {error}") from None

    def _files_path(self, step_name: str) -> str:
        return f"$.propertyFiles.{self.keys[step_name]}"

    def _step_of_key(self, key: str) -> str:
        return next(name for name, k in self.keys.items() if k == key)

    # the whole machine -------------------------------------------------------------------
    def state_machine(self) -> dict[str, Any]:
        first = self._sequence(self.definition.get("Steps", []), set(), None)
        defaults = {name: p.get("DefaultValue") for name, p in self.parameters.items()}
        missing = [name for name, value in defaults.items() if value is None]
        if missing:
            raise TranslationError(
                f"parameter '{missing[0]}' has no default value: give it one in the definition"
            )
        fresh = {"steps": {}, "propertyFiles": {}}
        start = first.entry if first else self._reserve("NothingToRun")
        head = {
            DEFAULTS_STATE: {
                "Type": "Pass",
                "Comment": "The pipeline parameters' defaults, from the definition.",
                "Result": defaults,
                "ResultPath": "$.defaults",
                "Next": _HAS_INPUT_STATE,
            },
            _HAS_INPUT_STATE: {
                "Type": "Choice",
                "Choices": [
                    {"Variable": f"$.{INPUT_KEY}", "IsPresent": True, "Next": _MERGE_INPUT_STATE}
                ],
                "Default": _ONLY_DEFAULTS_STATE,
            },
            _MERGE_INPUT_STATE: {
                "Type": "Pass",
                "Comment": "Parameters from the execution input, over the defaults.",
                "Parameters": {
                    "parameters.$": f"States.JsonMerge($.defaults, $.{INPUT_KEY}, false)",
                    **fresh,
                },
                "Next": start,
            },
            _ONLY_DEFAULTS_STATE: {
                "Type": "Pass",
                "Parameters": {"parameters.$": "$.defaults", **fresh},
                "Next": start,
            },
        }
        for name in head:
            self._reserve(name)
        states = {**head, **(first.states if first else {start: {"Type": "Succeed"}})}
        return {
            "Comment": (
                "costpipe: translated from the SageMaker pipeline definition "
                f'({len(self.steps)} steps). Input: {{"{INPUT_KEY}": {{"Name": value}}}}; '
                f"parameters left out take the defaults in {DEFAULTS_STATE}."
            ),
            "StartAt": DEFAULTS_STATE,
            "States": states,
        }

    def _reserve(self, name: str) -> str:
        if name in self.names:
            raise TranslationError(
                f"state name '{name}' would be used twice: rename the step called '{name}'"
            )
        if len(name) > 80:
            raise TranslationError(f"step name '{name}' is longer than a state name may be (80)")
        self.names.add(name)
        return name

    # ordering ----------------------------------------------------------------------------
    def _levels(self, steps: list[dict[str, Any]], done: set[str]) -> list[list[dict[str, Any]]]:
        """Steps grouped so that each group needs only earlier groups (and ``done``)."""
        names = {step["Name"] for step in steps}
        for step in steps:
            outside = dependencies(step) - names - done
            if outside:
                raise TranslationError(
                    f"step '{step['Name']}' depends on {', '.join(sorted(outside))}, which does "
                    "not run before it here: a step in a condition branch may depend only on "
                    "steps before the condition or in the same branch"
                )
        levels, finished, remaining = [], set(done), list(steps)
        while remaining:
            ready = [s for s in remaining if dependencies(s) & names <= finished]
            if not ready:  # check_graph rejects cycles first; this is a guard
                raise TranslationError(f"steps {[s['Name'] for s in remaining]} form a cycle")
            levels.append(ready)
            finished |= {s["Name"] for s in ready}
            remaining = [s for s in remaining if s not in ready]
        return levels

    def _sequence(
        self, steps: list[dict[str, Any]], done: set[str], next_name: str | None
    ) -> _Unit | None:
        """Translate steps that run one group after another; None when there are none."""
        levels = self._levels(steps, done)
        befores = [
            done | {s["Name"] for level in levels[:i] for s in level} for i in range(len(levels))
        ]
        numbers = {}  # parallel groups numbered in the order they run
        for index, level in enumerate(levels):
            if len(level) > 1:
                self.parallel_groups += 1
                numbers[index] = self.parallel_groups
        units: list[_Unit] = []
        entry = next_name  # built from the end, so that each unit knows its successor
        for index in reversed(range(len(levels))):
            if index in numbers:
                unit = self._parallel(levels[index], numbers[index], entry, befores[index])
            else:
                unit = self._step(levels[index][0], entry, befores[index])
            units.insert(0, unit)
            entry = unit.entry
        if not units:
            return None
        states: dict[str, dict[str, Any]] = {}
        for unit in units:
            states.update(unit.states)
        return _Unit(units[0].entry, states)

    def _parallel(
        self, level: list[dict[str, Any]], number: int, next_name: str | None, done: set[str]
    ) -> _Unit:
        for step in level:
            if step["Type"] == "Condition":
                raise TranslationError(
                    f"condition step '{step['Name']}' can run at the same time as "
                    f"{', '.join(s['Name'] for s in level if s is not step)}: make those steps "
                    "depend on each other, or on the condition"
                )
        name = self._reserve(f"Parallel{number}")
        merge = self._reserve(f"MergeParallel{number}")
        branches, kept_steps, kept_files = [], {}, {}
        for index, step in enumerate(level):
            unit = self._step(step, None, done)
            branches.append({"StartAt": unit.entry, "States": unit.states})
            key = self.keys[step["Name"]]
            if step["Type"] in JOBS or step["Type"] == "RegisterModel":
                kept_steps[f"{key}.$"] = f"$[{index}].steps.{key}"
            if self.files_read.get(step["Name"]):
                kept_files[f"{key}.$"] = f"$[{index}].propertyFiles.{key}"
        needed = sorted(set().union(*(dependencies(step) for step in level)))
        parallel = {
            "Type": "Parallel",
            "Comment": f"{', '.join(s['Name'] for s in level)} at once: each depends only on "
            f"{', '.join(needed) or 'nothing'}.",
            "Branches": branches,
            "ResultSelector": {"steps": kept_steps, "propertyFiles": kept_files},
            "ResultPath": "$.branches",
            "Next": merge,
        }
        merged = _link(
            {
                "Type": "Pass",
                "Comment": f"Adds the results of {name}'s branches to the state.",
                "Parameters": {
                    "parameters.$": "$.parameters",
                    "steps.$": "States.JsonMerge($.steps, $.branches.steps, false)",
                    "propertyFiles.$": "States.JsonMerge($.propertyFiles, "
                    "$.branches.propertyFiles, false)",
                },
            },
            next_name,
        )
        return _Unit(name, {name: parallel, merge: merged})

    # steps -------------------------------------------------------------------------------
    def _step(self, step: dict[str, Any], next_name: str | None, done: set[str]) -> _Unit:
        kind = step.get("Type")
        try:
            if kind in JOBS:
                return self._job(step, next_name)
            if kind == "Condition":
                return self._condition(step, next_name, done)
            if kind == "Fail":
                return self._fail(step)
            if kind == "RegisterModel":
                return self._register(step, next_name)
        except ExpressionError as error:
            raise TranslationError(f"step '{step['Name']}': {error}") from None
        raise TranslationError(
            f"step '{step['Name']}' is a {kind} step, which has no Step Functions translation "
            "here: costpipe translates Processing, Training, Condition, RegisterModel and Fail "
            "steps"
        )

    def _comment(self, step: dict[str, Any], notes: list[str]) -> str:
        title = step.get("DisplayName") or step["Name"]
        description = step.get("Description")
        text = f"{title}: {description}" if description else title
        return " ".join([text, *notes])

    def _job(self, step: dict[str, Any], next_name: str | None) -> _Unit:
        name, kind = step["Name"], step["Type"]
        action, name_field, arn_field = JOBS[kind]
        self._reserve(name)
        readers = self._readers(step, next_name)
        parameters = {
            f"{name_field}.$": f"States.Format('{job_name_prefix(name)}-{{}}-{{}}', "
            "$$.Execution.Name, $$.State.RetryCount)",
            **self._template(step.get("Arguments", {}), name),
        }
        retry, notes = self._retry(step, "sync")
        if step.get("CacheConfig", {}).get("Enabled"):
            notes.append(
                "CacheConfig has no Step Functions equivalent: the job runs in every execution."
            )
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": f"arn:aws:states:::sagemaker:{action}.sync",
            "Comment": self._comment(step, notes),
            "Parameters": parameters,
            "ResultSelector": {
                f"{name_field}.$": f"$.{name_field}",
                f"{arn_field}.$": f"$.{arn_field}",
                **self.kept.get(name, {}),
            },
            "ResultPath": f"$.steps.{self.keys[name]}",
        }
        if retry:
            state["Retry"] = retry
        _link(state, readers.entry if readers else next_name)
        return _Unit(name, {name: state, **(readers.states if readers else {})})

    def _readers(self, step: dict[str, Any], next_name: str | None) -> _Unit | None:
        """One getObject + StringToJson state per property file that Std:JsonGet reads."""
        files = sorted(self.files_read.get(step["Name"], ()))
        declared = {f["PropertyFileName"]: f for f in step.get("PropertyFiles", [])}
        states: dict[str, dict[str, Any]] = {}
        entry = next_name
        for file_name in reversed(files):
            declaration = declared[file_name]
            outputs = step["Arguments"].get("ProcessingOutputConfig", {}).get("Outputs", [])
            output = next(
                (o for o in outputs if o.get("OutputName") == declaration["OutputName"]), None
            )
            if output is None:
                raise TranslationError(
                    f"step '{step['Name']}': property file {file_name} names output "
                    f"'{declaration['OutputName']}', which the step does not declare"
                )
            bucket, key = self._object_address(
                output["S3Output"]["S3Uri"], declaration["FilePath"], step["Name"]
            )
            name = self._reserve(f"Read{file_name}From{step['Name']}")
            parameters: dict[str, Any] = {"Bucket": bucket}
            if isinstance(key, _Computed):
                parameters["Key.$"] = key.expression
            else:
                parameters["Key"] = key
            states = {
                name: _link(
                    {
                        "Type": "Task",
                        "Resource": GET_OBJECT_RESOURCE,
                        "Comment": f"Reads {declaration['FilePath']} ({file_name}) that "
                        f"{step['Name']} wrote, for the conditions and the registration.",
                        "Parameters": parameters,
                        "ResultSelector": {"document.$": "States.StringToJson($.Body)"},
                        "ResultPath": f"{self._files_path(step['Name'])}.{_key(file_name)}",
                    },
                    entry,
                ),
                **states,
            }
            entry = name
        return _Unit(entry, states) if entry and states else None

    def _object_address(self, uri: Any, file_path: str, where: str) -> tuple[str, Any]:
        """Bucket (a constant) and key (constant or computed) of ``<uri>/<file_path>``."""
        if isinstance(uri, str) and uri.startswith("s3://"):
            bucket, _, prefix = uri[5:].partition("/")
            return bucket, "/".join(part for part in (prefix.rstrip("/"), file_path) if part)
        join = uri.get("Std:Join") if isinstance(uri, dict) else None
        values = join.get("Values", []) if isinstance(join, dict) else []
        if values and isinstance(values[0], str) and values[0].startswith("s3://"):
            bucket, _, head = values[0][5:].partition("/")
            rest = ([head] if head else []) + list(values[1:])
            key = {
                "Std:Join": {
                    "On": "",
                    "Values": [{"Std:Join": {"On": join["On"], "Values": rest}}, f"/{file_path}"],
                }
            }
            if join["On"] == "/":
                key = {"Std:Join": {"On": "/", "Values": [*rest, file_path]}}
            return bucket, self._value(key, where)
        raise TranslationError(
            f"step '{where}': the output holding a property file must be an s3:// address "
            "whose bucket is a constant (a literal, or a Std:Join starting with s3://bucket/)"
        )

    def _register(self, step: dict[str, Any], next_name: str | None) -> _Unit:
        name = self._reserve(step["Name"])
        retry, notes = self._retry(step, "sdk")
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": REGISTER_RESOURCE,
            "Comment": self._comment(step, notes),
            "Parameters": self._template(step.get("Arguments", {}), name),
            "ResultSelector": {"ModelPackageArn.$": "$.ModelPackageArn"},
            "ResultPath": f"$.steps.{self.keys[name]}",
        }
        if retry:
            state["Retry"] = retry
        return _Unit(name, {name: _link(state, next_name)})

    def _fail(self, step: dict[str, Any]) -> _Unit:
        name = self._reserve(step["Name"])
        message = self._value(step.get("Arguments", {}).get("ErrorMessage", ""), name, text=True)
        state: dict[str, Any] = {"Type": "Fail", "Comment": self._comment(step, []), "Error": name}
        if isinstance(message, _Computed):
            state["CausePath"] = message.expression
        else:
            state["Cause"] = _text(message) or "the pipeline reached a fail step"
        return _Unit(name, {name: state})

    def _condition(self, step: dict[str, Any], next_name: str | None, done: set[str]) -> _Unit:
        name = self._reserve(step["Name"])
        arguments = step.get("Arguments", {})
        conditions = arguments.get("Conditions", [])
        if not conditions:
            raise TranslationError(f"condition step '{name}' has no conditions")
        rules = [self._rule(condition, name) for condition in conditions]
        rule = rules[0] if len(rules) == 1 else {"And": rules}
        states: dict[str, dict[str, Any]] = {}
        targets = []
        for branch, outcome in (("IfSteps", "True"), ("ElseSteps", "False")):
            unit = self._sequence(arguments.get(branch, []), done | {name}, next_name)
            if unit is not None:
                states.update(unit.states)
                targets.append(unit.entry)
            elif next_name:
                targets.append(next_name)
            else:
                end = self._reserve(f"{name}{outcome}")
                states[end] = {"Type": "Succeed"}
                targets.append(end)
        choice = {
            "Type": "Choice",
            "Comment": self._comment(step, []),
            "Choices": [{**rule, "Next": targets[0]}],
            "Default": targets[1],
        }
        return _Unit(name, {name: choice, **states})

    # retries -----------------------------------------------------------------------------
    def _retry(
        self, step: dict[str, Any], integration: str
    ) -> tuple[list[dict[str, Any]], list[str]]:
        table = RETRY_ERRORS[integration]
        retriers, notes, seen = [], [], set()
        for policy in step.get("RetryPolicies", []) or []:
            types = policy.get("ExceptionType", [])
            untranslated = [t for t in types if t not in table]
            if untranslated:
                notes.append(f"Retry policy for {', '.join(untranslated)}: {_NO_RETRY_EQUIVALENT}.")
            errors = [e for t in types for e in table.get(t, []) if e not in seen]
            if not errors:
                continue
            seen.update(errors)
            retrier: dict[str, Any] = {
                "ErrorEquals": list(dict.fromkeys(errors)),
                "IntervalSeconds": max(1, int(policy.get("IntervalSeconds", 1))),
                "BackoffRate": max(1.0, float(policy.get("BackoffRate", 2.0))),
            }
            if "MaxAttempts" in policy:
                retrier["MaxAttempts"] = int(policy["MaxAttempts"])
            elif "ExpireAfterMin" in policy:
                notes.append(
                    "ExpireAfterMin has no Step Functions equivalent: retried up to 3 times."
                )
            retriers.append(retrier)
        return retriers, notes

    # conditions --------------------------------------------------------------------------
    def _rule(self, condition: dict[str, Any], where: str) -> dict[str, Any]:
        kind = condition.get("Type")
        if kind in _COMPARISONS:
            return self._comparison(kind, condition["LeftValue"], condition["RightValue"], where)
        if kind == "Not":
            return {"Not": self._rule(condition["Expression"], where)}
        if kind == "Or":
            return {"Or": [self._rule(c, where) for c in condition["Conditions"]]}
        if kind == "In":
            query = condition["QueryValue"]
            return {
                "Or": [self._comparison("Equals", query, v, where) for v in condition["Values"]]
            }
        raise TranslationError(
            f"condition step '{where}': condition type {kind!r} has no Choice rule"
        )

    def _operand(self, value: Any, where: str) -> Any:
        operand = self._value(value, where)
        if isinstance(operand, _Computed) and not operand.expression.startswith("$"):
            raise TranslationError(
                f"condition step '{where}': a Choice rule compares paths and constants, not "
                f"computed text ({operand.expression})"
            )
        return operand

    def _comparison(self, kind: str, left: Any, right: Any, where: str) -> dict[str, Any]:
        left, right = self._operand(left, where), self._operand(right, where)
        if not isinstance(left, _Computed):
            if not isinstance(right, _Computed):
                raise TranslationError(
                    f"condition step '{where}' compares two constants ({left!r}, {right!r})"
                )
            left, right, kind = right, left, _FLIPPED[kind]
        if isinstance(right, _Computed):
            family = _FAMILIES.get(left.type or right.type or "", "")
            if not family:
                if kind != "Equals":
                    family = "Numeric"  # an ordering of values of unknown type: numbers
                else:
                    raise TranslationError(
                        f"condition step '{where}' compares two values of unknown type: "
                        "compare with a parameter or a constant"
                    )
            return {
                "Variable": left.expression,
                f"{family}{_COMPARISONS[kind]}Path": right.expression,
            }
        if isinstance(right, bool):
            if kind != "Equals":
                raise TranslationError(f"condition step '{where}' orders booleans ({kind})")
            family = "Boolean"
        elif isinstance(right, int | float):
            family = "Numeric"
        elif isinstance(right, str):
            family = "String"
        else:
            raise TranslationError(f"condition step '{where}' compares with {right!r}")
        return {"Variable": left.expression, f"{family}{_COMPARISONS[kind]}": right}

    # expressions -------------------------------------------------------------------------
    def _collect(self, value: Any, where: str) -> None:
        """Record what each expression reads: step properties to keep, files to read."""
        if isinstance(value, dict):
            if len(value) == 1 and "Std:JsonGet" in value:
                step, file_name = self._property_file(value["Std:JsonGet"], where)
                self.files_read.setdefault(step, set()).add(file_name)
                return
            if len(value) == 1 and isinstance(value.get("Get"), str):
                tokens = parse_path(value["Get"])
                if tokens[0] == "Steps":
                    self._keep(value["Get"], tokens, where)
                return
            for item in value.values():
                self._collect(item, where)
        elif isinstance(value, list):
            for item in value:
                self._collect(item, where)

    def _property_file(self, body: dict[str, Any], where: str) -> tuple[str, str]:
        source = body.get("PropertyFile")
        path = source.get("Get") if isinstance(source, dict) else source
        tokens = parse_path(str(path))
        if len(tokens) != 4 or tokens[0] != "Steps" or tokens[2] != "PropertyFiles":
            raise TranslationError(
                f"step '{where}': Std:JsonGet needs Steps.<step>.PropertyFiles.<name>, got {path!r}"
            )
        return str(tokens[1]), str(tokens[3])

    def _keep(self, path: str, tokens: list[str | int], where: str) -> str:
        """Record a step property for the producer's ResultSelector; return its path here."""
        source = str(tokens[1])
        step = self.steps[source]
        kind = step["Type"]
        properties = tokens[2:]
        if kind == "RegisterModel" and properties == ["ModelPackageArn"]:
            return f"$.steps.{self.keys[source]}.ModelPackageArn"
        if kind not in JOBS or not properties or properties[0] == "PropertyFiles":
            raise TranslationError(
                f"step '{where}' reads {path}: only job properties (and property files through "
                "Std:JsonGet) have a Step Functions translation"
            )
        raw, kept, request = "$", [], step.get("Arguments", {})
        node = self.kept.setdefault(source, {})
        for index, token in enumerate(properties):
            if isinstance(token, int):
                raise TranslationError(
                    f"step '{where}' reads {path}: address list elements by name, not by index"
                )
            if isinstance(request, list):
                position = next(
                    (
                        i
                        for i, item in enumerate(request)
                        if isinstance(item, dict)
                        and any(item.get(f) == token for f in _LIST_NAME_FIELDS)
                    ),
                    None,
                )
                if position is None:
                    raise TranslationError(f"step '{where}' reads {path}: no element {token!r}")
                raw, request, key = f"{raw}[{position}]", request[position], _key(token)
            else:
                raw = _path(raw, [token])
                request = request.get(token) if isinstance(request, dict) else None
                key = _key(token)
            kept.append(key)
            if index == len(properties) - 1:
                node.pop(key, None)
                node[f"{key}.$"] = raw
            elif f"{key}.$" not in node:
                node = node.setdefault(key, {})
            else:
                break  # the whole object is kept already
        return _path(f"$.steps.{self.keys[source]}", kept)

    def _value(self, value: Any, where: str, text: bool = False) -> Any:
        """A definition value: constants as they are, expressions as :class:`_Computed`."""
        if not is_expression(value):
            if text and value is not None and not isinstance(value, dict | list):
                return _text(value)
            return value
        ((kind, body),) = value.items()
        if kind == "Get" and isinstance(body, str):
            computed = self._get(body, where)
        elif kind == "Std:JsonGet":
            step, file_name = self._property_file(body, where)
            document = f"{self._files_path(step)}.{_key(file_name)}.document"
            computed = _Computed(_path(document, parse_path(str(body["Path"]))))
        else:
            return self._join(body, where)
        if text and computed.type != "String":
            return _Computed(f"States.Format('{{}}', {computed.expression})", "String")
        return computed

    def _get(self, path: str, where: str) -> _Computed:
        tokens = parse_path(path)
        if tokens[0] == "Parameters":
            name = str(tokens[1])
            return _Computed(_path("$.parameters", [name]), self.parameters[name]["Type"])
        if tokens[0] == "Execution":
            return _Computed(EXECUTION_VARIABLES[str(tokens[1])], "String")
        return _Computed(self._keep(path, tokens, where))

    def _join(self, body: dict[str, Any], where: str) -> Any:
        values = [self._value(item, where) for item in body.get("Values", [])]
        separator = _text(body.get("On", ""))
        if not any(isinstance(v, _Computed) for v in values):
            return separator.join(_text(v) for v in values)
        template = _escape(separator).join(
            "{}" if isinstance(v, _Computed) else _escape(_text(v)) for v in values
        )
        arguments = ", ".join(v.expression for v in values if isinstance(v, _Computed))
        return _Computed(f"States.Format('{template}', {arguments})", "String")

    def _template(self, value: Any, where: str, text: bool = False) -> Any:
        """Arguments as a Parameters block: ``.$`` keys where values are computed."""
        if isinstance(value, dict) and not is_expression(value):
            block: dict[str, Any] = {}
            for key, item in value.items():
                if key in TEXT_LISTS and isinstance(item, list):
                    translated = self._list(item, where, text=True)
                else:
                    translated = self._template(item, where, text or key in TEXT_MAPS)
                if isinstance(translated, _Computed):
                    block[f"{key}.$"] = translated.expression
                else:
                    block[key] = translated
            return block
        if isinstance(value, list):
            return self._list(value, where, text)
        return self._value(value, where, text)

    def _list(self, items: list[Any], where: str, text: bool) -> Any:
        translated = [self._template(item, where, text) for item in items]
        if not any(isinstance(item, _Computed) for item in translated):
            return translated
        if any(isinstance(item, (dict, list)) for item in translated):
            raise TranslationError(
                f"step '{where}': a list mixes computed values with objects, which no "
                "intrinsic function can build"
            )
        return _Computed(f"States.Array({', '.join(_argument(item) for item in translated)})")
