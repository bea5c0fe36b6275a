"""The graph lint: every broken wiring is an error at build time naming the step."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pipeline.code_bundle import CodeBundle
from pipeline.definition import Target, build_definition
from pipeline.definition.graph import all_steps, check_graph
from pipeline.errors import GraphError
from tests.conftest import fast_config


@pytest.fixture(scope="module")
def good(breast_cancer_csv: Path) -> dict:
    return build_definition(
        fast_config(breast_cancer_csv), Target(), CodeBundle.from_directory(), "s3://b/p/d.csv"
    )


@pytest.fixture
def definition(good: dict) -> dict:
    return copy.deepcopy(good)


def step(definition: dict, name: str) -> dict:
    return next(s for s in all_steps(definition) if s["Name"] == name)


def test_the_built_definition_passes(good):
    check_graph(good)


def test_a_get_naming_a_missing_step(definition):
    channel = step(definition, "TrainFn1Fp1")["Arguments"]["InputDataConfig"][0]
    channel["DataSource"]["S3DataSource"]["S3Uri"] = {
        "Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    with pytest.raises(GraphError, match=r"step 'TrainFn1Fp1' reads .*no step 'Prepare' exists"):
        check_graph(definition)


def test_a_get_naming_a_missing_output(definition):
    channel = step(definition, "TrainFn1Fp1")["Arguments"]["InputDataConfig"][0]
    channel["DataSource"]["S3DataSource"]["S3Uri"] = {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['trian'].S3Output.S3Uri"
    }
    with pytest.raises(GraphError, match=r"'TrainFn1Fp1'.*has no output 'trian'"):
        check_graph(definition)


def test_a_get_naming_a_property_the_step_type_lacks(definition):
    channel = step(definition, "TrainFn1Fp1")["Arguments"]["InputDataConfig"][0]
    channel["DataSource"]["S3DataSource"]["S3Uri"] = {
        "Get": "Steps.Preprocess.ModelArtifacts.S3ModelArtifacts"
    }
    with pytest.raises(GraphError, match="a Processing step has no property 'ModelArtifacts'"):
        check_graph(definition)


def test_an_undeclared_parameter(definition):
    definition["Parameters"] = [p for p in definition["Parameters"] if p["Name"] != "NumRound"]
    with pytest.raises(GraphError, match=r"step 'TrainFn1Fp1' reads Parameters.NumRound"):
        check_graph(definition)


def test_an_unknown_property_file(definition):
    check = step(definition, "CheckCheapest")
    check["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"]["PropertyFile"] = {
        "Get": "Steps.Evaluate.PropertyFiles.Report"
    }
    with pytest.raises(GraphError, match=r"'CheckCheapest'.*declares no such property file"):
        check_graph(definition)


def test_a_cycle(definition):
    step(definition, "Preprocess")["DependsOn"] = ["Evaluate"]
    with pytest.raises(GraphError, match=r"part of a cycle \(.*Preprocess.*Evaluate"):
        check_graph(definition)


def test_a_training_step_that_depends_on_another(definition):
    step(definition, "TrainFn200Fp1")["DependsOn"] = ["TrainFn1Fp1"]
    with pytest.raises(GraphError, match="training step 'TrainFn200Fp1' depends on TrainFn1Fp1"):
        check_graph(definition)


def test_registration_outside_the_true_branch(definition):
    check = step(definition, "CheckCheapest")
    register = check["Arguments"]["IfSteps"].pop()
    check["Arguments"]["ElseSteps"].append(register)
    with pytest.raises(GraphError, match="registration step 'RegisterCheapest' is not in"):
        check_graph(definition)


def test_registration_at_the_top_level(definition):
    check = step(definition, "CheckCheapest")
    definition["Steps"].append(check["Arguments"]["IfSteps"].pop())
    with pytest.raises(GraphError, match="registration step 'RegisterCheapest'"):
        check_graph(definition)


def test_a_duplicate_step_name(definition):
    definition["Steps"].append(copy.deepcopy(step(definition, "TrainFn1Fp1")))
    with pytest.raises(GraphError, match="step 'TrainFn1Fp1' is defined twice"):
        check_graph(definition)


def test_depends_on_a_missing_step(definition):
    step(definition, "Evaluate")["DependsOn"] = ["Tune"]
    with pytest.raises(GraphError, match="step 'Evaluate' depends on 'Tune', which does not exist"):
        check_graph(definition)


def test_an_unknown_execution_variable(definition):
    preprocess = step(definition, "Preprocess")
    preprocess["Arguments"]["Environment"]["RUN"] = {"Get": "Execution.RunId"}
    with pytest.raises(GraphError, match=r"reads Execution.RunId, which is no execution variable"):
        check_graph(definition)
