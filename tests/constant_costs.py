"""The bundled examples' thresholds and costs as they were before per-row costs existed.

``tests/golden/constant-costs.json`` was written by the code of commit d2fb6b5 (the last one
without per-row costs): for each example (breast cancer as it ships, yeast and hhs-breaches at
40 boosting rounds), every model's thresholds, tuning and test costs, test interval and test
confusion counts, the model chosen and the execution's status. Constant-cost runs must keep
them: the per-row code paths may not move a constant-cost number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden" / "constant-costs.json"
#: Only the last digits of the JSON round trip may differ.
TOLERANCE = 1e-9


def golden(name: str) -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))[name]


def assert_unchanged(name: str, evaluation: dict[str, Any], status: str) -> None:
    """``evaluation`` (of the example ``name`` at the golden round count) equals the golden."""
    expected = golden(name)
    assert (evaluation["best"]["name"], status) == (expected["best"], expected["status"])
    models = {model["name"]: model for model in evaluation["models"]}
    assert sorted(models) == sorted(expected["models"])
    for model_name, figures in expected["models"].items():
        model = models[model_name]
        assert model["thresholds"] == pytest.approx(figures["thresholds"], abs=TOLERANCE)
        assert model["validation"]["expected_cost"] == pytest.approx(
            figures["validation_expected_cost"], abs=TOLERANCE
        ), model_name
        assert model["test"]["expected_cost"] == pytest.approx(
            figures["test_expected_cost"], abs=TOLERANCE
        ), model_name
        assert model["test"]["expected_cost_ci"] == pytest.approx(
            figures["test_expected_cost_ci"], abs=TOLERANCE
        ), model_name
        assert model["test"]["confusion"] == figures["test_confusion"], model_name
