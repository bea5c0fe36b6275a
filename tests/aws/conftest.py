"""Fixtures of the AWS tests: fake credentials for every test, the translated machine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.aws.support import ENVIRONMENT_NAMES, REGION, built_definition


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, one region, and no costpipe settings from the environment."""
    for name in ENVIRONMENT_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The translated state machine of :func:`built_definition`."""
    from pipeline.aws.asl import translate

    return translate(built_definition(tmp_path_factory))
