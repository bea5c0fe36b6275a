"""Running ``costpipe run`` from a benchmark: a subprocess, its JSON, its wall time and the
peak memory of the largest process it started (psutil, polled)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RunResult:
    payload: dict[str, Any]
    seconds: float
    peak_rss_bytes: int
    exit_code: int


def run_costpipe(
    arguments: list[str],
    home: Path,
    sample: Callable[[Any, list[Any]], None] | None = None,
    interval: float = 0.2,
) -> RunResult:
    """``costpipe run ... --json --no-report`` in a fresh process; never raises on exit 1.

    Every ``interval`` seconds the run's processes (psutil's, the runner first) are polled for
    the peak resident memory, and shown to ``sample(runner, processes)`` when it is given.
    """
    import psutil

    command = [sys.executable, "-m", "pipeline.cli", "run", *arguments, "--home", str(home)]
    command += ["--json", "--no-report"]
    peak = 0
    done = threading.Event()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def watch() -> None:
        nonlocal peak
        parent = psutil.Process(process.pid)
        while not done.is_set():
            with contextlib.suppress(psutil.Error):  # processes come and go between calls
                members = [parent, *parent.children(recursive=True)]
                for member in members:
                    with contextlib.suppress(psutil.Error):
                        peak = max(peak, member.memory_info().rss)
                if sample is not None:
                    sample(parent, members)
            time.sleep(interval)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"costpipe run failed ({process.returncode}): {err.decode()[-2000:]}")
    return RunResult(json.loads(out), seconds, peak, process.returncode)
