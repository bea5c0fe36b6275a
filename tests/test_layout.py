"""The house rules of the layout, read from the imports themselves (every import statement,
also those inside functions):

* ``steps/`` runs inside the stock containers: it imports nothing of ``pipeline``, nor the
  SageMaker SDK, boto3, rich or matplotlib (``steps/champion.py`` alone imports boto3, lazily:
  the Evaluate job looks up the approved model on AWS);
* ``pipeline/definition/`` serves every backend: it imports none of them (``local``, ``aws``),
  nor the CLI or the report;
* the backends do not reach into each other, and nothing but the CLI imports the CLI;
* inside the CLI, imports go one way: parser -> local, serving -> aws -> flags, render.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: (package, prefixes its modules may never import)
RULES = [
    ("steps", ("pipeline", "sagemaker", "boto3", "botocore", "rich", "matplotlib", "moto")),
    ("pipeline/definition", ("pipeline.local", "pipeline.aws", "pipeline.cli", "pipeline.report")),
    ("pipeline/local", ("pipeline.aws", "pipeline.cli", "pipeline.report")),
    ("pipeline/aws", ("pipeline.local", "pipeline.cli", "pipeline.report")),
    ("pipeline/report", ("pipeline.cli",)),
    ("pipeline/cli/render.py", ("pipeline.cli",)),
    ("pipeline/cli/flags.py", ("pipeline.cli",)),
    ("pipeline/cli/aws.py", ("pipeline.cli.local", "pipeline.cli.parser")),
    ("pipeline/cli/local.py", ("pipeline.cli.parser",)),
    ("pipeline/cli/serving.py", ("pipeline.cli.parser", "pipeline.cli.local", "pipeline.cli.aws")),
    ("pipeline/serving", ("pipeline.cli", "pipeline.local.executor")),
]
#: Exceptions to a rule: (module, prefixes it may import although its package may not).
#: steps/champion.py finds the champion on AWS from inside the Evaluate job: the stock
#: containers ship boto3, and it is imported lazily there only, so every other job module
#: stays free of AWS clients.
ALLOWED = {"steps/champion.py": ("boto3", "botocore")}
#: Modules outside the CLI that may not import it.
NOT_THE_CLI = [
    "pipeline/definition",
    "pipeline/local",
    "pipeline/aws",
    "pipeline/report",
    "pipeline/serving",
]


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in the file names (absolute form)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def python_files(place: str) -> list[Path]:
    path = ROOT / place
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


def breaks(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize(("place", "forbidden"), RULES, ids=[place for place, _ in RULES])
def test_imports_follow_the_layout(place, forbidden):
    assert python_files(place), f"{place} has no Python files: the rule checks nothing"
    for path in python_files(place):
        allowed = ALLOWED.get(path.relative_to(ROOT).as_posix(), ())
        bad = breaks(imported_modules(path), tuple(f for f in forbidden if f not in allowed))
        assert not bad, f"{path.relative_to(ROOT)} imports {', '.join(bad)}"


def test_boto3_in_steps_is_imported_lazily_in_the_champion_module_only():
    """The exception is as narrow as it says: no module-level AWS import anywhere in steps/,
    and no other steps/ module imports boto3 or botocore."""
    for path in python_files("steps"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {
            alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
        }
        top |= {node.module or "" for node in tree.body if isinstance(node, ast.ImportFrom)}
        assert not breaks(top, ("boto3", "botocore")), f"{path.name} imports AWS at module level"
        if path.name != "champion.py":
            assert not breaks(imported_modules(path), ("boto3", "botocore")), path.name
    assert breaks(imported_modules(ROOT / "steps" / "champion.py"), ("boto3",))


def test_only_the_cli_imports_the_cli():
    for place in NOT_THE_CLI:
        for path in python_files(place):
            bad = breaks(imported_modules(path), ("pipeline.cli",))
            assert not bad, f"{path.relative_to(ROOT)} imports {', '.join(bad)}"


def test_the_rule_sees_imports_inside_functions():
    """A rule that missed a function-level import could never fail where it matters."""
    sample = ROOT / "steps" / "_layout_probe.py"
    sample.write_text("def f():\n    from pipeline.config import Config\n    return Config\n")
    try:
        assert breaks(imported_modules(sample), ("pipeline",)) == [
            "pipeline.config",
            "pipeline.config.Config",
        ]
    finally:
        sample.unlink()


def test_relative_imports_are_resolved():
    probe = ROOT / "pipeline" / "local" / "_layout_probe.py"
    probe.write_text("from ..aws import session\nfrom . import db\n")
    try:
        modules = imported_modules(probe)
    finally:
        probe.unlink()
    assert "pipeline.aws" in modules and "pipeline.aws.session" in modules
    assert "pipeline.local.db" in modules
