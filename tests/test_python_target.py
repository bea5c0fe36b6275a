"""steps/ runs inside the stock SageMaker XGBoost 3.0-5 container, whose Python is 3.10: vermin
checks that no file in it needs a newer Python (syntax, standard-library members, modules).

ruff checks steps/ against py310 too (per-file-target-version), but ruff only knows what its rules
know (it flags no use of ``datetime.UTC`` or ``tomllib``); vermin looks up every construct and
standard-library name in its table of the versions that introduced them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = "3.10"


def vermin(*paths: Path) -> subprocess.CompletedProcess:
    # vermin has no ``__main__``; its console script calls vermin.main(), as this does, with the
    # test's interpreter (so the one the dev extra installed it into).
    command = [
        sys.executable,
        "-c",
        "import sys, vermin; sys.exit(vermin.main())",
        "--quiet",
        "--violations",
        f"--target={TARGET}-",
        "--no-tips",
        "--eval-annotations",
        "--no-make-paths-absolute",
        *map(str, paths),
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_steps_need_no_python_newer_than_the_container():
    result = vermin(ROOT / "steps")
    assert result.returncode == 0, (
        f"steps/ uses Python newer than {TARGET} (the SageMaker XGBoost 3.0-5 container's):\n"
        f"{result.stdout}{result.stderr}"
    )


@pytest.mark.parametrize(
    "source",
    [
        "import datetime\n\nprint(datetime.UTC)\n",
        "try:\n    pass\nexcept* ValueError:\n    pass\n",
        "from typing import Self\n",
        "import tomllib\n",
    ],
    ids=["datetime.UTC", "except-star", "typing.Self", "tomllib"],
)
def test_the_check_flags_python_311_constructs(tmp_path: Path, source: str):
    # The same command on a package holding one 3.11-only construct must fail, or the test
    # above could never fail.
    package = tmp_path / "steps"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "newer.py").write_text(source)
    result = vermin(package)
    assert result.returncode != 0
    assert "newer.py" in result.stdout
