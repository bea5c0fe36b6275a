"""The definition's expression language, evaluated as SageMaker would."""

from __future__ import annotations

import pytest

from pipeline.definition.expressions import (
    ExpressionError,
    condition_holds,
    evaluate,
    lookup,
    parse_path,
    references,
)

PROPERTIES = {
    "Steps": {
        "Preprocess": {
            "ProcessingOutputConfig": {
                "Outputs": [
                    {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                    {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
                ]
            }
        }
    },
    "Parameters": {"MaxCost": 14000.0, "Name": "bc"},
}
REPORT = {"best": {"expected_cost": 13291.57, "beats_baseline": True, "models": ["a", "b"]}}


def get(path: str):
    return lookup(PROPERTIES, parse_path(path), path)


def read(step: str, name: str):
    assert (step, name) == ("Evaluate", "EvaluationReport")
    return REPORT


def json_get(path: str) -> dict:
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": path,
        }
    }


def test_parse_path_tokens():
    assert parse_path("Steps.A.Outputs['train'].S3Output[0]") == [
        "Steps",
        "A",
        "Outputs",
        "train",
        "S3Output",
        0,
    ]
    with pytest.raises(ExpressionError, match="cannot parse"):
        parse_path("Steps.A[")


def test_a_key_on_a_list_selects_by_name():
    assert get("Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri") == (
        "s3://b/test"
    )
    with pytest.raises(ExpressionError, match="no element named 'valid'"):
        get("Steps.Preprocess.ProcessingOutputConfig.Outputs['valid'].S3Output.S3Uri")


def test_join_writes_numbers_and_booleans_as_json_does():
    value = {"Std:Join": {"On": "/", "Values": ["s3:/", {"Get": "Parameters.Name"}, 3, True]}}
    assert evaluate(value, get, read) == "s3://bc/3/true"


def test_json_get_reads_the_property_file():
    assert evaluate(json_get("best.models[1]"), get, read) == "b"
    with pytest.raises(ExpressionError, match="nothing at 'cost'"):
        evaluate(json_get("best.cost"), get, read)


def test_nested_values_are_resolved_everywhere():
    value = {"A": [{"Get": "Parameters.Name"}, {"B": json_get("best.expected_cost")}], "C": 1}
    assert evaluate(value, get, read) == {"A": ["bc", {"B": 13291.57}], "C": 1}


@pytest.mark.parametrize(
    ("kind", "right", "expected"),
    [
        ("LessThanOrEqualTo", {"Get": "Parameters.MaxCost"}, True),
        ("LessThan", 13291.57, False),
        ("GreaterThan", 13000, True),
        ("GreaterThanOrEqualTo", 13291.57, True),
        ("Equals", "13291.57", True),  # numbers compare as numbers, also from text
    ],
)
def test_comparisons(kind, right, expected):
    condition = {"Type": kind, "LeftValue": json_get("best.expected_cost"), "RightValue": right}
    assert condition_holds(condition, get, read) is expected


def test_not_or_in():
    true = {"Type": "Equals", "LeftValue": json_get("best.beats_baseline"), "RightValue": True}
    false = {"Type": "Not", "Expression": true}
    assert condition_holds(false, get, read) is False
    assert condition_holds({"Type": "Or", "Conditions": [false, true]}, get, read) is True
    member = {"Type": "In", "QueryValue": {"Get": "Parameters.Name"}, "Values": ["x", "bc"]}
    assert condition_holds(member, get, read) is True


def test_uncomparable_values_are_an_expression_error():
    condition = {"Type": "LessThan", "LeftValue": "abc", "RightValue": 3}
    with pytest.raises(ExpressionError, match="cannot compare"):
        condition_holds(condition, get, read)


def test_references_finds_every_get():
    value = {
        "a": [{"Get": "Parameters.X"}, {"Std:Join": {"On": "", "Values": [{"Get": "Steps.S.P"}]}}]
    }
    assert sorted(references(value)) == ["Parameters.X", "Steps.S.P"]
