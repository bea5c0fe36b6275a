"""Training across instances: 1, 2 and 4 local hosts on a 2,000,000-row x 30-feature table.

Runs ``costpipe run --training-instance-count N`` on the same generated table (make_classification,
float32, 10 % positives, Parquet) for N = 1 (the single-host run: the one training file, no
collective), 2 and 4, one cost setting, thresholds from the validation split (``cv_folds = 0``;
above ``cv_max_rows`` that is the path anyway). For each run it reports the wall time, the
training step's time, the peak resident memory of each training host (its ``VmHWM``, the
kernel's high-water mark, polled; the largest over the hosts), that peak against the single
host's (goal at most 0.6x with 2 hosts), the largest process of the whole run (the runner, a
processing job or a host) and the test cost. Time is reported, not judged: the hosts share
this machine's cores.

It then compares the models: the test-split scores of the 2- and 4-host models against the
single host's, and the ``hist`` sketch behind them: the cut points XGBoost merges across the
hosts' rows against those one host computes on all of them (same rows, weights, ``max_bin``).

    python -m benchmarks distributed                 # 2,000,000 rows
    python -m benchmarks distributed --rows 300000
    python -m benchmarks distributed --quick         # 60,000 rows
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._costpipe import run_costpipe
from benchmarks._table import markdown_table, seconds

ROOT = Path(__file__).resolve().parents[1]
HOSTS = (1, 2, 4)
SETTING = "10:1"
FN_WEIGHT = 10.0
GOAL_RATIO = 0.6
GIB = 1024**3


def make_table(rows: int, path: Path, seed: int = 0) -> None:
    """A 30-feature binary table with 10 % positives (the scale benchmark's, less imbalanced)."""
    from benchmarks.scale import make_table as scale_table

    scale_table(rows, path, seed, positives=0.1, flip=0.01)


def write_config(folder: Path, data: Path) -> Path:
    path = folder / "costpipe.toml"
    path.write_text(
        f'[data]\npath = "{data.as_posix()}"\ntarget = "label"\npositive_label = "1"\n'
        "[costs]\ntp = 10.0\nfp = 10.0\nfn = 300.0\ntn = 0.0\n"
        f'[training]\ncost_settings = ["{SETTING}"]\ncv_folds = 0\n'
        '[registry]\nmodel_package_group = "distributed"\n',
        encoding="utf-8",
    )
    return path


# watching memory ---------------------------------------------------------------------------------
def _high_water_mark(pid: int) -> int | None:
    """The process's peak resident memory so far (VmHWM), in bytes; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _role(pid: int, jobs: Path) -> str:
    """Which process this is: ``runner``, a processing step, or ``<training step> <host>``."""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return "runner"
    if not cwd.is_relative_to(jobs):
        return "runner"
    parts = cwd.relative_to(jobs).parts  # execution, step, attempt-N[, algo-k], ...
    step = parts[1] if len(parts) > 1 else "?"
    host = next((part for part in parts if part.startswith("algo-")), None)
    if step.startswith("Train"):
        return f"{step} {host or 'algo-1'}"
    return step


@dataclass
class Watched:
    """Peak memory by process, with each process's role, over one run."""

    peaks: dict[int, int] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)

    def by_role(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for pid, peak in self.peaks.items():
            role = self.roles[pid]
            found[role] = max(found.get(role, 0), peak)
        return found


def run_watched(arguments: list[str], home: Path) -> tuple[dict[str, Any], float, Watched]:
    """``costpipe run ... --json --no-report`` in a fresh process, its processes watched."""
    watched = Watched()
    jobs = (home / "jobs").absolute()

    def sample(parent: Any, members: list[Any]) -> None:
        runner = parent.cmdline()
        for member in members:
            if member.pid != parent.pid and member.cmdline() == runner:
                # Forked, not yet the job: its pages are the runner's (copy on write).
                continue
            peak = _high_water_mark(member.pid)
            if peak is None:
                continue
            watched.peaks[member.pid] = max(watched.peaks.get(member.pid, 0), peak)
            if watched.roles.get(member.pid, "runner") == "runner":
                # A job's process starts as the runner's child, then moves to its folder.
                watched.roles[member.pid] = _role(member.pid, jobs)

    run = run_costpipe(arguments, home, sample, interval=0.1)
    return run.payload, run.seconds, watched


# what each run trained ---------------------------------------------------------------------------
def _step_seconds(home: Path, execution_id: str, prefix: str) -> float:
    from datetime import datetime

    from pipeline.local.store import ExecutionStore

    store = ExecutionStore(home)
    try:
        steps = [s for s in store.steps(execution_id) if s.name.startswith(prefix)]
    finally:
        store.close()
    return sum(
        (datetime.fromisoformat(s.ended) - datetime.fromisoformat(s.started)).total_seconds()
        for s in steps
    )


def _outputs(home: Path, execution_id: str) -> dict[str, Path]:
    """Local paths of the run's Preprocess outputs and its model archive."""
    from pipeline.home import bucket_folder
    from pipeline.local.bucket import LocalBucket
    from pipeline.local.store import ExecutionStore

    bucket = LocalBucket(bucket_folder(home.absolute()))
    store = ExecutionStore(home)
    try:
        steps = {s.name: s.properties for s in store.steps(execution_id)}
    finally:
        store.close()
    found = {
        o["OutputName"]: bucket.path(o["S3Output"]["S3Uri"])
        for o in steps["Preprocess"]["ProcessingOutputConfig"]["Outputs"]
    }
    (training,) = [p for name, p in steps.items() if name.startswith("Train")]
    found["model"] = bucket.path(training["ModelArtifacts"]["S3ModelArtifacts"])
    return found


def _test_scores(outputs: dict[str, Path]) -> Any:
    import pandas as pd

    from steps.model_io import load_model

    test = pd.read_parquet(outputs["test"] / "test.parquet")
    return load_model(outputs["model"]).model.predict_proba(test)[:, 0]


# the sketch --------------------------------------------------------------------------------------
SKETCH_WORKER = """
import json, sys
import numpy as np, pandas as pd, xgboost as xgb
from pathlib import Path
from steps.collective import Hosts, joined
files, out, rank, count, port, weight = json.loads(sys.argv[1])
import os
names = tuple(f"algo-{i + 1}" for i in range(count))
os.environ["COSTPIPE_TRACKER_PORT"] = str(port)
os.environ["COSTPIPE_HOST_ADDRESSES"] = json.dumps(dict.fromkeys(names, "127.0.0.1"))
frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
y = frame.pop("label").to_numpy()
X = frame[[f"x{i}" for i in range(30)]].to_numpy(np.float32)
with joined(Hosts(names, names[rank]), 600):
    matrix = xgb.DMatrix(X, label=y, weight=np.where(y == 1, weight, 1.0))
    params = {"tree_method": "hist", "max_bin": 256, "objective": "binary:logistic", "nthread": 1}
    xgb.train(params, matrix, 1)
    pointers, values = matrix.get_quantile_cut()
if rank == 0:
    np.savez(out, pointers=np.asarray(pointers), values=np.asarray(values))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sketch_cuts(files: list[list[Path]], scratch: Path) -> tuple[Any, Any]:
    """The cut points XGBoost computes with one host per file list (merged across hosts when
    there are several), as (pointers, values)."""
    import numpy as np

    out = scratch / f"cuts-{len(files)}.npz"
    port = _free_port()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SKETCH_WORKER,
                json.dumps([[str(f) for f in part], str(out), rank, len(files), port, FN_WEIGHT]),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for rank, part in enumerate(files)
    ]
    for worker in workers:
        _, err = worker.communicate()
        if worker.returncode != 0:
            raise RuntimeError(f"sketch worker failed: {err.decode()[-1000:]}")
    saved = np.load(out)
    return saved["pointers"], saved["values"]


def compare_cuts(single: tuple[Any, Any], merged: tuple[Any, Any], columns: Any) -> tuple:
    """Share of cut points that moved, and the largest move in training rows (as a share of
    the rows, and of one bin's rows)."""
    import numpy as np

    (p1, v1), (p2, v2) = single, merged
    moved = total = 0
    largest = 0.0
    for feature in range(len(p1) - 1):
        a, b = v1[p1[feature] : p1[feature + 1]], v2[p2[feature] : p2[feature + 1]]
        total += max(len(a), len(b))
        shared = min(len(a), len(b))
        moved += int((a[:shared] != b[:shared]).sum()) + abs(len(a) - len(b))
        ordered = columns[feature]
        rank_a = np.searchsorted(ordered, a[:shared]) / len(ordered)
        rank_b = np.searchsorted(ordered, b[:shared]) / len(ordered)
        largest = max(largest, float(np.abs(rank_a - rank_b).max(initial=0.0)))
    bins = total / (len(p1) - 1)
    return moved / total, largest, largest * bins


# the benchmark -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    import numpy as np
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="60,000 rows")
    args = parser.parse_args(argv)
    rows = 60_000 if args.quick else args.rows
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="costpipe-distributed-") as folder:
        scratch = Path(folder)
        data = scratch / "table.parquet"
        make_table(rows, data)
        config = write_config(scratch, data)
        for hosts in HOSTS:
            home = scratch / f"home-{hosts}"
            payload, wall, watched = run_watched(
                ["--config", str(config), "--training-instance-count", str(hosts)], home
            )
            if payload["evaluation"] is None:
                raise RuntimeError(f"{hosts} host(s): {payload['failure_reason']}")
            roles = watched.by_role()
            training = {role: peak for role, peak in roles.items() if role.startswith("Train")}
            largest_role = max(roles, key=roles.get)
            (model,) = payload["evaluation"]["models"]
            outputs = _outputs(home, payload["execution_id"])
            results[hosts] = {
                "wall": wall,
                "training": _step_seconds(home, payload["execution_id"], "Train"),
                "host_peak": max(training.values()),
                "host_peaks": training,
                "largest": (largest_role, roles[largest_role]),
                "roles": roles,
                "cost": model["test"]["expected_cost"],
                "confusion": model["test"]["confusion"],
                "scores": _test_scores(outputs),
                "outputs": outputs,
            }
            peaks = ", ".join(f"{r.split()[-1]} {p / GIB:.2f}" for r, p in sorted(training.items()))
            print(
                f"{hosts} host(s): {wall:.0f} s; training hosts' peaks (GiB): {peaks}; largest "
                f"process {largest_role} {roles[largest_role] / GIB:.2f} GiB",
                flush=True,
            )
        train = pd.read_parquet(results[1]["outputs"]["train"] / "train.parquet")
        columns = np.sort(train[[f"x{i}" for i in range(30)]].to_numpy(np.float32), axis=0).T
        single = sketch_cuts([[results[1]["outputs"]["train"] / "train.parquet"]], scratch)
        sketches = {
            hosts: compare_cuts(
                single,
                sketch_cuts(
                    [[path] for path in sorted(results[hosts]["outputs"]["train"].iterdir())],
                    scratch,
                ),
                columns,
            )
            for hosts in HOSTS[1:]
        }
    one = results[1]
    table = []
    for hosts in HOSTS:
        result = results[hosts]
        ratio = result["host_peak"] / one["host_peak"]
        difference = np.abs(result["scores"] - one["scores"])
        role, peak = result["largest"]
        goal = "" if hosts != 2 else ("met" if ratio <= GOAL_RATIO else "missed")
        table.append(
            [
                "1 (single host)" if hosts == 1 else str(hosts),
                seconds(result["wall"]),
                seconds(result["training"]),
                f"{result['host_peak'] / GIB:.2f}",
                f"{ratio:.2f}x",
                goal,
                f"{peak / GIB:.2f} ({role})",
                f"{result['cost']:.4f}",
                "" if hosts == 1 else f"{difference.max():.3g} / {difference.mean():.2g}",
            ]
        )
    print(
        f"\n### Training across instances: {rows:,} rows x 30 features, one cost setting "
        f"({SETTING}), {os.cpu_count()} cores\n"
    )
    print(
        markdown_table(
            [
                "training hosts",
                "wall time (s)",
                "training step (s)",
                "peak memory per host (GiB)",
                "vs single host",
                f"goal <= {GOAL_RATIO}x with 2 hosts",
                "largest process (GiB)",
                "test cost per decision",
                "test scores vs single host, max / mean abs difference",
            ],
            table,
        )
    )
    print(f"\n{len(one['scores']):,} test rows; test confusion counts:")
    for hosts in HOSTS:
        print(f"- {hosts} host(s): {results[hosts]['confusion']}")
    print("\n### Peak memory by process (GiB)\n")
    steps = ["runner", "Preprocess", "training host (largest)", "Evaluate"]
    print(
        markdown_table(
            ["training hosts", *steps],
            [
                [
                    str(hosts),
                    *(
                        f"{results[hosts]['host_peak'] / GIB:.2f}"
                        if step.startswith("training")
                        else f"{results[hosts]['roles'].get(step, 0) / GIB:.2f}"
                        for step in steps
                    ),
                ]
                for hosts in HOSTS
            ],
        )
    )
    # A host's peak as a fixed part and a part per training row it holds (least squares over
    # the runs): what an instance of a given size can train.
    train_rows = len(train)
    per_host = np.array([train_rows / hosts for hosts in HOSTS])
    peaks = np.array([results[hosts]["host_peak"] for hosts in HOSTS])
    slope, fixed = np.polyfit(per_host, peaks, 1)
    print(
        f"\nA training host's peak: about {fixed / GIB:.2f} GiB + {slope * 1e6 / GIB:.2f} GiB per "
        f"million training rows it holds ({slope:.0f} bytes per row of 30 features; fitted on "
        f"{', '.join(f'{p / GIB:.2f}' for p in peaks)} GiB at "
        f"{', '.join(f'{r:,.0f}' for r in per_host)} rows per host)."
    )
    print("\n### The hist sketch merged across hosts against one host's (max_bin 256)\n")
    print(
        markdown_table(
            ["hosts", "cut points that moved", "largest move (share of rows)", "in bins"],
            [
                [str(hosts), f"{moved:.1%}", f"{share:.2e}", f"{in_bins:.2f}"]
                for hosts, (moved, share, in_bins) in sketches.items()
            ],
        )
    )
