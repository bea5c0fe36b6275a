"""The README's two opening commands are the ones CI runs, and they are what a newcomer types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_command(which: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "readme_commands.py"), which],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_readme_opens_with_run_then_tests():
    run, tests = readme_command("run"), readme_command("test")
    # No arguments: the bundled example, the default home, relative paths only.
    assert run == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/costpipe run"
    assert tests.startswith("python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'")
    assert tests.endswith("-m pytest")


def test_ci_runs_the_readme_commands_it_reads_from_the_readme():
    ci = (ROOT / ".ci" / "run").read_text()
    assert '"$(python3 .ci/readme_commands.py run)"' in ci
    assert '"$(python3 .ci/readme_commands.py test)"' in ci
    assert 'bash -c "$run_command"' in ci and 'bash -c "$test_command"' in ci
