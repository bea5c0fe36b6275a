"""Run the benchmark scripts in this folder.

    python -m benchmarks                      # every benchmark
    python -m benchmarks objective sweep      # some of them, in that order
    python -m benchmarks --quick              # every benchmark, small sizes
    python -m benchmarks objective --rows 100000 --rounds 20
    python -m benchmarks --list

Names come first; everything from the first argument that starts with '-' on is passed to each
selected benchmark's ``main(argv)``. ``--quick`` is understood by every benchmark; other size
flags belong to one benchmark, so name it when you use them. A benchmark is any module here
whose name does not start with '_' and that has a ``main(argv)`` function; it is named with
hyphens for the module's underscores (``per-row-costs`` runs ``per_row_costs.py``), and either
spelling is accepted.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

PACKAGE = "benchmarks"
HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the benchmarks in this folder (module names, '_' written '-'), sorted."""
    return sorted(
        benchmark_name(info.name)
        for info in pkgutil.iter_modules([str(HERE)])
        if not info.name.startswith("_") and not info.ispkg
    )


def benchmark_name(name: str) -> str:
    """A benchmark's name as listed: ``per_row_costs`` and ``per-row-costs`` are
    ``per-row-costs`` (module names cannot hold hyphens)."""
    return name.replace("_", "-")


def module_name(name: str) -> str:
    """The module that runs a benchmark: ``per-row-costs`` is ``per_row_costs``."""
    return name.replace("-", "_")


def split_arguments(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Leading benchmark names, and the flags (with their values) passed through."""
    names: list[str] = []
    for index, argument in enumerate(argv):
        if argument.startswith("-"):
            return names, list(argv[index:])
        names.append(argument)
    return names, []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks one after another; 1 if any failed, 2 for usage errors."""
    argv = list(sys.argv[1:] if argv is None else argv)
    known = available()
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(known))
        return 0
    if argv[:1] == ["--list"]:
        print("\n".join(known))
        return 0
    names, flags = split_arguments(argv)
    names = [benchmark_name(name) for name in names]
    unknown = [name for name in names if name not in known]
    if unknown:
        print(
            f"error: no benchmark named {', '.join(unknown)}: choose from {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    failed: list[str] = []
    for name in names or known:
        module = importlib.import_module(f"{PACKAGE}.{module_name(name)}")
        run = getattr(module, "main", None)
        if not callable(run):
            print(
                f"error: benchmarks/{module_name(name)}.py has no main(argv) function",
                file=sys.stderr,
            )
            failed.append(name)
            continue
        print(f"\n## {name}\n", flush=True)
        started = time.perf_counter()
        try:
            run(list(flags))
        except SystemExit as stop:  # argparse errors and explicit exits
            if stop.code not in (0, None):
                failed.append(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"\n({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
