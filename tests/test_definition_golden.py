"""The bundled example's definition, byte for byte: refactoring how it is built must not
change what is built.

``tests/golden/definition-breast-cancer.json`` is ``costpipe definition`` for the default
example with every placeholder, its code digest written as ``<digest>`` (the digest changes
with every edit of ``steps/``; the addresses around it must not). A change to the definition
that is meant is recorded by regenerating the file and reading its diff::

    COSTPIPE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_definition_golden.py
"""

from __future__ import annotations

import json
import os
import re
from importlib.metadata import version
from pathlib import Path

from pipeline.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden"
DEFINITION = GOLDEN / "definition-breast-cancer.json"
ASL = GOLDEN / "state-machine-breast-cancer.json"
SDK = GOLDEN / "sdk-version.txt"
_DIGEST = re.compile(r"/code/[0-9a-f]{64}/")


def printed_definition(capsys, tmp_path: Path, *extra: str) -> str:
    assert main(["definition", "--home", str(tmp_path), *extra]) == 0
    text = capsys.readouterr().out
    json.loads(text)  # one JSON object
    return _DIGEST.sub("/code/<digest>/", text)


def compare(path: Path, text: str) -> None:
    if os.environ.get("COSTPIPE_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
        SDK.write_text(version("sagemaker") + "\n", encoding="utf-8")
        return
    recorded = SDK.read_text(encoding="utf-8").strip()
    assert version("sagemaker") == recorded, (
        f"the SageMaker SDK is {version('sagemaker')}, the golden files come from {recorded}: "
        "regenerate them (see this module's docstring) and read the diff"
    )
    assert text == path.read_text(encoding="utf-8"), (
        f"the definition differs from {path.name}: if that is meant, regenerate it (see this "
        "module's docstring) and read the diff"
    )


def test_the_definition_of_the_bundled_example_is_unchanged(capsys, tmp_path):
    compare(DEFINITION, printed_definition(capsys, tmp_path))


def test_its_state_machine_is_unchanged(capsys, tmp_path):
    compare(ASL, printed_definition(capsys, tmp_path, "--format", "asl"))


def test_only_the_code_digest_is_left_out(capsys, tmp_path):
    text = printed_definition(capsys, tmp_path)
    assert text.count("/code/<digest>/") >= 3  # the processing code and the training bundle
    assert not _DIGEST.search(text)
