"""Constant costs keep today's results: hhs-breaches (multi-label, text, per-label costs, the
linear candidates) gives exactly the thresholds and costs it gave before per-row costs. The
container-parity test holds breast cancer and yeast to the same golden numbers
(``tests/constant_costs.py``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.config import override
from pipeline.examples import example_config
from pipeline.runner import run_locally
from tests.constant_costs import assert_unchanged, golden

pytestmark = pytest.mark.slow


def test_hhs_breaches_keeps_its_thresholds_and_costs(tmp_path):
    config = example_config("hhs-breaches", tmp_path)
    config = override(config, "training", num_round=golden("hhs-breaches")["num_round"])
    config = replace(config, registry=replace(config.registry, model_package_group="golden-hhs"))
    run = run_locally(config, tmp_path, max_parallel=2)
    assert run.evaluation is not None, run.result.failure_reason
    assert_unchanged("hhs-breaches", run.evaluation, run.result.status)
