"""The SageMaker definition built by the SDK: its shape, parameters and policies."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.code_bundle import CodeBundle
from pipeline.config import override
from pipeline.definition import Target, build_definition
from pipeline.definition.expressions import references
from pipeline.definition.graph import all_steps, branch_members, dependencies
from tests.conftest import fast_config

INPUT = "s3://costpipe-artifacts/costpipe/data/abc/bc.csv"


@pytest.fixture(scope="module")
def definition(breast_cancer_csv: Path) -> dict:
    config = fast_config(breast_cancer_csv)
    config = override(config, "training", cost_settings=("1:1", "5:1", "200:1"))
    return build_definition(config, Target(), CodeBundle.from_directory(), INPUT)


def steps_by_name(definition: dict) -> dict:
    return {step["Name"]: step for step in all_steps(definition)}


def test_one_training_step_per_setting_named_after_it(definition):
    trainings = [s["Name"] for s in definition["Steps"] if s["Type"] == "Training"]
    assert trainings == ["TrainFn1Fp1", "TrainFn5Fp1", "TrainFn200Fp1"]


def test_training_steps_depend_only_on_preprocess(definition):
    for step in definition["Steps"]:
        if step["Type"] == "Training":
            assert dependencies(step) == {"Preprocess"}


def test_evaluate_depends_on_every_training(definition):
    evaluate = steps_by_name(definition)["Evaluate"]
    assert dependencies(evaluate) == {"Preprocess", "TrainFn1Fp1", "TrainFn5Fp1", "TrainFn200Fp1"}


def test_registration_only_in_the_conditions_true_branch(definition):
    members = branch_members(definition)
    assert members["RegisterCheapest"] == ("CheckCheapest", True)
    assert members["NothingRegistered"] == ("CheckCheapest", False)
    top_level = {s["Name"] for s in definition["Steps"]}
    assert "RegisterCheapest" not in top_level
    check = steps_by_name(definition)["CheckCheapest"]
    assert dependencies(check) == {"Evaluate"}
    paths = [c["LeftValue"]["Std:JsonGet"]["Path"] for c in check["Arguments"]["Conditions"]]
    # The order is stable; the champion condition came last.
    assert paths == [
        "best.beats_baseline",
        "checks.passed",
        "best.expected_cost",
        "champion.passed",
    ]
    assert check["Arguments"]["Conditions"][2]["RightValue"] == {
        "Get": "Parameters.MaxCostPerDecision"
    }


def test_every_parameter_read_is_declared_and_every_declared_one_is_used(definition):
    declared = {p["Name"] for p in definition["Parameters"]}
    read = {
        path.split(".", 1)[1]
        for path in references(definition["Steps"])
        if path.startswith("Parameters.")
    }
    assert read == declared
    expected = {
        "InputData",
        "Target",
        "PositiveLabel",
        "CostTp",
        "CostFp",
        "CostFn",
        "CostTn",
        "MaxCostPerDecision",
        "ThresholdSmoothing",
        "ModelApprovalStatus",
        "ProcessingInstanceType",
        "TrainingInstanceType",
        "ProcessingInstanceCount",
        "TrainingInstanceCount",
        "NumRound",
        "MaxDepth",
        "Eta",
    }
    assert expected <= declared
    assert "TestData" not in declared  # only when built with a test file
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    # Cost entries are text parameters (a number, a column or a formula) that Preprocess parses.
    assert defaults["CostFn"] == "252000" and defaults["CostFp"] == "1287.67"
    assert defaults["ModelApprovalStatus"] == "PendingManualApproval"
    assert defaults["InputData"] == INPUT
    assert defaults["ThresholdSmoothing"] == "none"


def test_test_data_parameter_and_input_when_built_with_a_test_file(breast_cancer_csv):
    config = fast_config(breast_cancer_csv)
    definition = build_definition(
        config, Target(), CodeBundle.from_directory(), INPUT, "s3://b/costpipe/data/t/test.csv"
    )
    declared = {p["Name"] for p in definition["Parameters"]}
    assert "TestData" in declared
    preprocess = steps_by_name(definition)["Preprocess"]
    inputs = {i["InputName"]: i for i in preprocess["Arguments"]["ProcessingInputs"]}
    assert inputs["test"]["S3Input"]["S3Uri"] == {"Get": "Parameters.TestData"}


def test_jobs_have_caching_and_retries(definition):
    for step in definition["Steps"]:
        if step["Type"] in ("Processing", "Training"):
            if step["Name"] == "Evaluate":
                # It reads the registry's approved version: a cached result could be stale.
                assert "CacheConfig" not in step
            else:
                assert step["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
            retried = {e for p in step["RetryPolicies"] for e in p["ExceptionType"]}
            assert {"Step.SERVICE_FAULT", "Step.THROTTLING", "SageMaker.CAPACITY_ERROR"} <= retried


def test_training_runs_the_step_script_in_script_mode(definition):
    training = steps_by_name(definition)["TrainFn200Fp1"]["Arguments"]
    hyperparameters = training["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == "steps.train"
    assert hyperparameters["sagemaker_submit_directory"].endswith("/sourcedir.tar.gz")
    assert hyperparameters["fn_weight"] == "200.0" and hyperparameters["fp_weight"] == "1.0"
    assert "sagemaker-xgboost" in training["AlgorithmSpecification"]["TrainingImage"]
    channels = [c["ChannelName"] for c in training["InputDataConfig"]]
    assert channels == ["train", "validation", "profile"]


def test_code_addresses_follow_the_code_content(definition):
    code = CodeBundle.from_directory()
    preprocess = steps_by_name(definition)["Preprocess"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in preprocess["ProcessingInputs"]}
    assert inputs["code"] == code.source_uri("costpipe-artifacts", "costpipe")
    assert code.digest in inputs["code"]
    assert preprocess["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/steps/preprocess.py",
    ]


def test_registration_reads_the_model_and_metadata_from_the_evaluation_report(definition):
    register = steps_by_name(definition)["RegisterCheapest"]["Arguments"]
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"]["Std:JsonGet"]["Path"] == "best.model_uri"
    metadata = register["CustomerMetadataProperties"]
    assert {"threshold", "cost_setting", "cost_matrix", "data_digest"} <= set(metadata)
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"


def test_fail_step_carries_the_verdict(definition):
    fail = steps_by_name(definition)["NothingRegistered"]
    joined = fail["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert joined[0] == "nothing registered: "
    assert joined[1]["Std:JsonGet"]["Path"] == "best.verdict"


def test_the_definition_is_deterministic(breast_cancer_csv, definition):
    config = override(
        fast_config(breast_cancer_csv), "training", cost_settings=("1:1", "5:1", "200:1")
    )
    again = build_definition(config, Target(), CodeBundle.from_directory(), INPUT)
    assert json.dumps(again, sort_keys=True) == json.dumps(definition, sort_keys=True)


def test_default_grid_derives_from_the_cost_matrix(breast_cancer_csv):
    config = fast_config(breast_cancer_csv)
    config = replace(config, training=replace(config.training, cost_settings=None))
    definition = build_definition(config, Target(), CodeBundle.from_directory(), INPUT)
    names = [s["Name"] for s in definition["Steps"] if s["Type"] == "Training"]
    # The matrix's own ratio: (252000 - 35280) / 1287.67 = 168.3 -> 170:1.
    assert "TrainFn1Fp1" in names and "TrainFn170Fp1" in names
    assert 3 <= len(names) <= 8
