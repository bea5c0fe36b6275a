"""Scale: a 1,000,000-row x 30-feature table with 1 % positives and 6 cost settings, locally.

Runs ``costpipe run`` at growing sizes on generated data (make_classification, float32,
Parquet): wall time, the peak resident memory of the largest process (the runner or one of its
jobs; goal at most 4 GiB), and how time grows with the rows. Up to ``cv_max_rows`` (200,000)
rows of train + validation the thresholds come from cross-fitting (six fits per setting); above
it from the validation split (one fit), which the table says.

    python -m benchmarks scale                       # 100k, 300k and 1M rows
    python -m benchmarks scale --rows 100000,1000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks._costpipe import run_costpipe
from benchmarks._table import markdown_table

SETTINGS = "1:1,3:1,10:1,30:1,100:1,300:1"
COSTS = ["--cost-tp", "10", "--cost-fp", "10", "--cost-fn", "300", "--cost-tn", "0"]
GOAL_BYTES = 4 * 1024**3


def make_table(
    rows: int, path: Path, seed: int = 0, positives: float = 0.01, flip: float = 0.005
) -> None:
    """A 30-feature float32 binary table (10 informative) with about ``positives`` of the rows
    positive and ``flip`` of the labels flipped, as Parquet."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=30,
        n_informative=10,
        weights=[1 - positives],
        flip_y=flip,
        random_state=seed,
    )
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(30)])
    del X  # the float64 copy: the 2M-row tables are built within the benchmark's memory
    frame["label"] = y.astype(np.int8)
    frame.to_parquet(path, index=False)


def _outcome(payload: dict) -> str:
    """Registered, or why not (the register gate's verdict, shortened)."""
    if payload["registered"]:
        return f"registered (version {payload['registered']['version']})"
    reason = payload["failure_reason"] or payload["status"]
    if "class-imbalance" in reason:
        return "not registered: class-imbalance check (99:1 > 10)"
    return "not registered: " + reason.removeprefix("nothing registered: ")[:80]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,300000,1000000")
    parser.add_argument("--quick", action="store_true", help="20,000 and 50,000 rows")
    args = parser.parse_args(argv)
    sizes = [20_000, 50_000] if args.quick else [int(x) for x in args.rows.split(",")]
    rows = []
    first = None
    with tempfile.TemporaryDirectory(prefix="costpipe-scale-") as scratch:
        for size in sizes:
            data = Path(scratch) / f"table-{size}.parquet"
            make_table(size, data)
            result = run_costpipe(
                ["--data", str(data), "--target", "label", "--cost-settings", SETTINGS, *COSTS],
                Path(scratch) / f"home-{size}",
            )
            evaluation = result.payload["evaluation"] or {}
            method = evaluation.get("best", {}).get("threshold_data", {}).get("method", "-")
            first = first or (size, result.seconds)
            growth = (result.seconds / first[1]) / (size / first[0])
            rows.append(
                [
                    f"{size:,}",
                    f"{result.seconds:.0f}",
                    f"{growth:.2f}",
                    f"{result.peak_rss_bytes / 1024**3:.2f}",
                    "met" if result.peak_rss_bytes <= GOAL_BYTES else "missed",
                    method,
                    _outcome(result.payload),
                ]
            )
            (Path(scratch) / f"table-{size}.parquet").unlink()
    print(f"\n### Scale: 30 features, 1 % positives, 6 cost settings, {os.cpu_count()} cores\n")
    print(
        markdown_table(
            [
                "rows",
                "wall time (s)",
                "time per row vs the smallest",
                "peak memory, largest process (GiB)",
                "goal <= 4 GiB",
                "thresholds from",
                "outcome",
            ],
            rows,
        )
    )
