"""The definition JSON translated to Amazon States Language: structure, request shapes,
expressions, conditions, retries and the errors for what has no translation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline.aws.asl import (
    JOB_NAME_STEP_PART,
    TranslationError,
    execution_input,
    job_name_prefix,
    parameter_declarations,
    translate,
)
from pipeline.definition.graph import all_steps, dependencies
from tests.aws.support import (
    ROLE,
    built_definition,
)


@pytest.fixture(scope="module")
def definition(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return built_definition(tmp_path_factory)


def _states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those inside Parallel branches included."""
    found = {}

    def visit(states: dict[str, Any]) -> None:
        for name, state in states.items():
            found[name] = state
            for branch in state.get("Branches", []):
                visit(branch["States"])

    visit(machine["States"])
    return found


def _sagemaker_input_shape(operation: str) -> Any:
    import botocore.session

    service = "s3" if operation == "GetObject" else "sagemaker"
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).input_shape


def _placeholder(shape: Any) -> Any:
    kind = shape.type_name
    if kind == "string":
        return "x" * max(1, shape.metadata.get("min", 1))
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    if kind == "list":
        return [_placeholder(shape.member)]
    return {}


def _concrete(value: Any, shape: Any, where: str) -> Any:
    """The Parameters block with each computed (``.$``) value replaced by a value of the
    member's type, so that botocore can validate it as a request."""
    if isinstance(value, dict) and shape.type_name in ("structure", "map"):
        result = {}
        for key, item in value.items():
            name = key.removesuffix(".$")
            if shape.type_name == "structure":
                assert name in shape.members, f"{where}: {name} is not a {shape.name} member"
                member = shape.members[name]
            else:
                member = shape.value
            if key.endswith(".$"):
                assert isinstance(item, str) and item.startswith(("$", "States.")), (where, key)
                result[name] = _placeholder(member)
            else:
                result[name] = _concrete(item, member, f"{where}.{name}")
        return result
    if isinstance(value, list) and shape.type_name == "list":
        return [_concrete(item, shape.member, where) for item in value]
    return value


def test_statelint_finds_no_problem(machine):
    from statelint.linter import Linter

    assert Linter.validate(machine) == []


def test_order_follows_the_definition_graph(definition, machine):
    states = machine["States"]
    assert machine["StartAt"] == "DefaultParameters"
    assert states["MergeParameters"]["Next"] == states["UseDefaultParameters"]["Next"]
    first = states["MergeParameters"]["Next"]
    steps = {s["Name"]: s for s in all_steps(definition)}
    assert steps[first]["Type"] == "Processing" and not dependencies(steps[first])
    # The steps that depend only on the first one run in one Parallel state.
    parallel = states[states[first]["Next"]]
    assert parallel["Type"] == "Parallel"
    trainings = [s["Name"] for s in definition["Steps"] if s["Type"] == "Training"]
    assert [b["StartAt"] for b in parallel["Branches"]] == trainings
    assert all(dependencies(steps[name]) == {first} for name in trainings)
    merge = states[parallel["Next"]]
    evaluate = states[merge["Next"]]
    assert merge["Type"] == "Pass" and evaluate["Resource"].endswith("createProcessingJob.sync")
    reader = states[evaluate["Next"]]
    assert reader["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert reader["ResultSelector"] == {"document.$": "States.StringToJson($.Body)"}
    choice = states[reader["Next"]]
    assert choice["Type"] == "Choice"
    register = states[choice["Choices"][0]["Next"]]
    assert register["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
    assert register["End"] is True
    fail = states[choice["Default"]]
    assert fail["Type"] == "Fail" and fail["Error"] == "NothingRegistered"
    assert "best.verdict" in fail["CausePath"]


def test_every_definition_step_has_its_state(definition, machine):
    states = _states(machine)
    kinds = {
        "Processing": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "Training": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "RegisterModel": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
    }
    for step in all_steps(definition):
        state = states[step["Name"]]
        if step["Type"] in kinds:
            assert state["Resource"] == kinds[step["Type"]]
        else:
            assert state["Type"] == {"Condition": "Choice", "Fail": "Fail"}[step["Type"]]


def test_no_definition_expression_is_left(machine):
    text = json.dumps(machine)
    assert "Std:" not in text and '"Get"' not in text
    assert "PipelineExecutionId" not in text


@pytest.mark.parametrize(
    ("resource", "operation"),
    [
        ("sagemaker:createProcessingJob.sync", "CreateProcessingJob"),
        ("sagemaker:createTrainingJob.sync", "CreateTrainingJob"),
        ("aws-sdk:sagemaker:createModelPackage", "CreateModelPackage"),
        ("aws-sdk:s3:getObject", "GetObject"),
    ],
)
def test_parameters_are_the_service_request_shape(machine, resource, operation):
    from botocore.validate import validate_parameters

    shape = _sagemaker_input_shape(operation)
    tasks = [s for s in _states(machine).values() if s.get("Resource", "").endswith(resource)]
    assert tasks
    for state in tasks:
        validate_parameters(_concrete(state["Parameters"], shape, operation), shape)


def test_job_names_are_unique_per_execution_and_retry(machine):
    prefixes = []
    for state in _states(machine).values():
        parameters = state.get("Parameters", {})
        key = next((k for k in parameters if k.endswith("JobName.$")), None)
        if key is None:
            continue
        match = re.fullmatch(
            r"States\.Format\('([A-Za-z0-9-]+)-\{\}-\{\}', \$\$\.Execution\.Name, "
            r"\$\$\.State\.RetryCount\)",
            parameters[key],
        )
        assert match, parameters[key]
        prefixes.append(match.group(1))
        # step part + execution name (36, a UUID) + retry count (2) + two dashes
        assert len(match.group(1)) + 1 + 36 + 1 + 2 <= 63
    assert len(prefixes) == len(set(prefixes)) > 2


def test_long_step_names_stay_short_and_distinct():
    first = job_name_prefix("TrainFn1234567890Fp1234567890Something")
    second = job_name_prefix("TrainFn1234567890Fp1234567890Otherwise")
    assert len(first) <= JOB_NAME_STEP_PART and len(second) <= JOB_NAME_STEP_PART
    assert first != second
    assert job_name_prefix("train_step.v2") == "train-step-v2"


def test_outputs_are_under_the_execution_name(machine):
    states = _states(machine)
    preprocess = states["Preprocess"]["Parameters"]
    for output in preprocess["ProcessingOutputConfig"]["Outputs"]:
        assert "$$.Execution.Name" in output["S3Output"]["S3Uri.$"]
    for state in states.values():
        if state.get("Resource", "").endswith("createTrainingJob.sync"):
            path = state["Parameters"]["OutputDataConfig"]["S3OutputPath.$"]
            assert "$$.Execution.Name" in path


def test_hyperparameters_and_arguments_are_text(machine):
    training = next(
        s for s in _states(machine).values() if s.get("Resource", "").endswith("TrainingJob.sync")
    )
    hyperparameters = training["Parameters"]["HyperParameters"]
    assert hyperparameters["num_round.$"] == "States.Format('{}', $.parameters.NumRound)"
    # A String parameter needs no conversion.
    assert hyperparameters["objective_impl.$"] == "$.parameters.ObjectiveImplementation"
    # Numbers stay numbers where the API takes numbers.
    resources = training["Parameters"]["ResourceConfig"]
    assert resources["InstanceCount.$"] == "$.parameters.TrainingInstanceCount"
    arguments = _states(machine)["Preprocess"]["Parameters"]["AppSpecification"]
    assert arguments["ContainerArguments.$"].startswith("States.Array('--data=")


def test_step_properties_are_kept_and_read_back(machine):
    states = _states(machine)
    selector = states["Preprocess"]["ResultSelector"]
    outputs = selector["ProcessingOutputConfig"]["Outputs"]
    assert outputs["train"]["S3Output"]["S3Uri.$"] == (
        "$.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"
    )
    training = next(
        s
        for s in states.values()
        if s.get("Resource", "").endswith("Job.sync") and "TrainingJobName.$" in s["Parameters"]
    )
    channel = training["Parameters"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert (
        channel["S3Uri.$"]
        == "$.steps.Preprocess.ProcessingOutputConfig.Outputs.train.S3Output.S3Uri"
    )
    assert training["ResultSelector"]["ModelArtifacts"] == {
        "S3ModelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts"
    }


def test_condition_is_a_choice_on_the_property_file(machine):
    choice = machine["States"]["CheckCheapest"]
    rules = choice["Choices"][0]["And"]
    report = "$.propertyFiles.Evaluate.EvaluationReport.document"
    assert rules == [
        {"Variable": f"{report}.best.beats_baseline", "BooleanEquals": True},
        {"Variable": f"{report}.checks.passed", "BooleanEquals": True},
        {
            "Variable": f"{report}.best.expected_cost",
            "NumericLessThanEqualsPath": "$.parameters.MaxCostPerDecision",
        },
        {"Variable": f"{report}.champion.passed", "BooleanEquals": True},
    ]


def test_retry_policies_map_where_step_functions_has_an_equivalent(machine):
    preprocess = machine["States"]["Preprocess"]
    assert preprocess["Retry"] == [
        {
            "ErrorEquals": ["SageMaker.AmazonSageMakerException", "ThrottlingException"],
            "IntervalSeconds": 5,
            "BackoffRate": 2.0,
            "MaxAttempts": 3,
        },
        {
            "ErrorEquals": ["SageMaker.ResourceLimitExceededException"],
            "IntervalSeconds": 30,
            "BackoffRate": 2.0,
            "MaxAttempts": 3,
        },
    ]
    assert "SageMaker.JOB_INTERNAL_ERROR, SageMaker.CAPACITY_ERROR" in preprocess["Comment"]
    assert "CacheConfig has no Step Functions equivalent" in preprocess["Comment"]


def test_parameter_defaults_round_trip(definition, machine):
    declared = parameter_declarations(machine)
    assert declared == [
        {"Name": p["Name"], "Type": p["Type"], "DefaultValue": p["DefaultValue"]}
        for p in definition["Parameters"]
    ]
    assert execution_input({"A": 1}) == {"Parameters": {"A": 1}}


# small definitions ---------------------------------------------------------------------------
def _processing(name: str, arguments: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {"ImageUri": "image", "ContainerArguments": arguments or ["x"]},
            "RoleArn": ROLE,
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": f"s3://bucket/{name}/out",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
        **extra,
    }


def _definition(*steps: dict[str, Any], parameters: list[dict[str, Any]] | None = None) -> dict:
    return {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": list(steps)}


def _condition(*conditions: dict[str, Any]) -> dict[str, Any]:
    fail = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}
    return {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {"Conditions": list(conditions), "IfSteps": [], "ElseSteps": [fail]},
    }


def test_untranslatable_step_type_names_the_step():
    lambda_step = {"Name": "CallLambda", "Type": "Lambda", "Arguments": {}}
    with pytest.raises(TranslationError, match="'CallLambda' is a Lambda step"):
        translate(_definition(_processing("Preprocess"), lambda_step))


def test_constant_on_the_left_flips_the_comparison():
    parameters = [{"Name": "Limit", "Type": "Integer", "DefaultValue": 3}]
    condition = {"Type": "GreaterThan", "LeftValue": 5, "RightValue": {"Get": "Parameters.Limit"}}
    machine = translate(_definition(_condition(condition), parameters=parameters))
    check = machine["States"]["Check"]
    assert check["Choices"][0] == {
        "Variable": "$.parameters.Limit",
        "NumericLessThan": 5,
        "Next": "CheckTrue",
    }
    assert machine["States"]["CheckTrue"] == {"Type": "Succeed"}
    assert check["Default"] == "Stop"


def test_not_or_in_and_strings():
    parameters = [{"Name": "Mode", "Type": "String", "DefaultValue": "a"}]
    mode = {"Get": "Parameters.Mode"}
    condition = {
        "Type": "Not",
        "Expression": {
            "Type": "Or",
            "Conditions": [
                {"Type": "In", "QueryValue": mode, "Values": ["b", "c"]},
                {"Type": "LessThanOrEqualTo", "LeftValue": mode, "RightValue": "m"},
            ],
        },
    }
    rule = translate(_definition(_condition(condition), parameters=parameters))["States"]["Check"][
        "Choices"
    ][0]
    assert rule["Not"] == {
        "Or": [
            {
                "Or": [
                    {"Variable": "$.parameters.Mode", "StringEquals": "b"},
                    {"Variable": "$.parameters.Mode", "StringEquals": "c"},
                ]
            },
            {"Variable": "$.parameters.Mode", "StringLessThanEquals": "m"},
        ]
    }


def test_comparing_two_constants_is_an_error():
    condition = {"Type": "Equals", "LeftValue": 1, "RightValue": 1}
    with pytest.raises(TranslationError, match="condition step 'Check' compares two constants"):
        translate(_definition(_condition(condition)))


def test_join_escapes_literal_text():
    parameters = [{"Name": "Who", "Type": "String", "DefaultValue": "x"}]
    join = {"Std:Join": {"On": "", "Values": ["it's {", {"Get": "Parameters.Who"}, "}\\"]}}
    machine = translate(_definition(_processing("Preprocess", [join]), parameters=parameters))
    arguments = machine["States"]["Preprocess"]["Parameters"]["AppSpecification"]
    assert arguments["ContainerArguments.$"] == (
        "States.Array(States.Format('it\\'s \\{{}\\}\\\\', $.parameters.Who))"
    )


def test_constant_join_is_computed_at_translation():
    join = {"Std:Join": {"On": "/", "Values": ["a", 1, True]}}
    machine = translate(_definition(_processing("Preprocess", [join])))
    arguments = machine["States"]["Preprocess"]["Parameters"]["AppSpecification"]
    assert arguments["ContainerArguments"] == ["a/1/true"]


def test_condition_beside_another_step_is_an_error():
    parameters = [{"Name": "Limit", "Type": "Integer", "DefaultValue": 3}]
    condition = {"Type": "Equals", "LeftValue": {"Get": "Parameters.Limit"}, "RightValue": 3}
    definition = _definition(
        _processing("Preprocess"), _condition(condition), parameters=parameters
    )
    with pytest.raises(TranslationError, match="condition step 'Check' can run at the same time"):
        translate(definition)


def test_property_file_needs_a_constant_bucket():
    parameters = [{"Name": "Out", "Type": "String", "DefaultValue": "s3://b/x"}]
    step = _processing(
        "Preprocess",
        PropertyFiles=[{"PropertyFileName": "Report", "OutputName": "out", "FilePath": "r.json"}],
    )
    step["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = {
        "Get": "Parameters.Out"
    }
    report = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Preprocess.PropertyFiles.Report"},
            "Path": "ok",
        }
    }
    condition = {"Type": "Equals", "LeftValue": report, "RightValue": True}
    with pytest.raises(TranslationError, match="'Preprocess': the output holding a property"):
        translate(_definition(step, {**_condition(condition)}, parameters=parameters))


def test_a_sharded_training_channel_and_its_instance_count_survive_translation(tmp_path):
    """Built for three training instances, the state machine asks SageMaker for a sharded train
    channel, writes three training files, and defaults TrainingInstanceCount to three."""
    from botocore.validate import validate_parameters
    from statelint.linter import Linter

    from pipeline.code_bundle import CodeBundle
    from pipeline.config import load_config, override
    from pipeline.definition import Target, build_definition
    from pipeline.definition.inputs import data_uri
    from tests.aws.support import BUCKET, PIPELINE, REGION, write_config, write_dataset

    config = load_config(write_config(tmp_path, write_dataset(tmp_path)))
    config = override(config, "aws", training_instance_count=3)
    target = Target(bucket=BUCKET, role_arn=ROLE, region=REGION, pipeline_name=PIPELINE)
    definition = build_definition(
        config, target, CodeBundle.from_directory(), data_uri(config.data.path, target)
    )
    machine = translate(definition)
    assert Linter.validate(machine) == []
    states = _states(machine)
    assert (
        "'--train-shards=3'"
        in (states["Preprocess"]["Parameters"]["AppSpecification"]["ContainerArguments.$"])
    )
    shape = _sagemaker_input_shape("CreateTrainingJob")
    trainings = [s for s in states.values() if s.get("Resource", "").endswith("TrainingJob.sync")]
    assert len(trainings) == 2
    for state in trainings:
        channels = state["Parameters"]["InputDataConfig"]
        distribution = {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
            for c in channels
        }
        assert distribution["train"] == "ShardedByS3Key"
        assert {distribution["validation"], distribution["profile"]} == {"FullyReplicated"}
        validate_parameters(_concrete(state["Parameters"], shape, "CreateTrainingJob"), shape)
    defaults = {p["Name"]: p["DefaultValue"] for p in parameter_declarations(machine)}
    assert defaults["TrainingInstanceCount"] == 3
