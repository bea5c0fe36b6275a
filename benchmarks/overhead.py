"""Local executor overhead: `costpipe run` against a bare script doing the same work.

The bare script runs, in one process and one after another, the very same preprocessing, one
training per cost setting (XGBoost with every core) and the evaluation, by calling the jobs'
entry points directly. `costpipe run` does that work as separate job processes, trainings in
parallel with one thread each, plus building the definition, checking the data up front,
staging files in the local bucket and recording the execution (the HTML report, which the bare
script has no counterpart for, is left out with --no-report). Both run as fresh processes on
the same generated table; the ratio is local / bare (goal: at most 0.8 on 2 cores).

    python -m benchmarks.overhead            # 200,000 rows x 30 features, 6 settings
    python -m benchmarks.overhead --rows 20000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = "1:1,3:1,10:1,19:1,60:1,190:1"
COSTS = {"tp": 5.0, "fp": 5.0, "fn": 100.0, "tn": 0.0}  # review cost 5, a miss costs 100

BARE_SCRIPT = """
import sys, tempfile
from pathlib import Path
from steps import evaluate, preprocess, train

data, work, settings, cpus = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
costs = sys.argv[5:9]
preprocess.main(["--data", data, "--target", "label", "--output", str(work / "prep")])
models = []
for text in settings:
    fn, fp = text.split(":")
    name = f"fn{fn}-fp{fp}"
    train.main([
        "--train", str(work / "prep/train"), "--validation", str(work / "prep/validation"),
        "--profile", str(work / "prep/profile"), "--model-dir", str(work / "models" / name),
        "--fn_weight", fn, "--fp_weight", fp, "--nthread", cpus,
    ])
    models += ["--model", f"{name}=file://{work / 'models' / name}"]
evaluate.main([
    "--validation", str(work / "prep/validation"), "--test", str(work / "prep/test"),
    "--profile", str(work / "prep/profile"), "--models-dir", str(work / "models"),
    "--cost-tp", costs[0], "--cost-fp", costs[1], "--cost-fn", costs[2], "--cost-tn", costs[3],
    "--output", str(work / "evaluation"), *models,
])
"""


def make_table(rows: int, path: Path, seed: int = 0) -> None:
    """A 30-feature binary table with 10 % positives."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=30,
        n_informative=12,
        weights=[0.9, 0.1],
        flip_y=0.02,
        random_state=seed,
    )
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(30)])
    frame["label"] = y
    frame.to_csv(path, index=False)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    args = parser.parse_args(argv)
    rows = 20_000 if args.quick else args.rows
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="costpipe-overhead-") as scratch:
        work = Path(scratch)
        data = work / "table.csv"
        make_table(rows, data)
        costs = [str(COSTS[k]) for k in ("tp", "fp", "fn", "tn")]
        bare = timed(
            [
                sys.executable,
                "-c",
                BARE_SCRIPT,
                str(data),
                str(work / "bare"),
                SETTINGS,
                str(cpus),
                *costs,
            ]
        )
        local = timed(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "run",
                "--data",
                str(data),
                "--target",
                "label",
                "--cost-settings",
                SETTINGS,
                *[f"--cost-{k}={v}" for k, v in COSTS.items()],
                "--home",
                str(work / "home"),
                "--max-parallel",
                str(cpus),
                "--json",
                "--no-report",  # the bare script draws no plots either
            ]
        )
    shape = f"{rows:,} rows x 30 features, 6 cost settings, {cpus} cores"
    print(f"\n### Local executor overhead ({shape})\n")
    print("| run | wall time (s) |")
    print("| --- | ---: |")
    print(f"| bare script, one process, steps one after another ({cpus} threads) | {bare:.1f} |")
    print(f"| `costpipe run` (jobs as processes, {cpus} at a time) | {local:.1f} |")
    print(f"| **ratio local / bare** (goal <= 0.8) | **{local / bare:.2f}** |")


if __name__ == "__main__":
    main()
