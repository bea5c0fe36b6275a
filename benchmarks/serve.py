"""Serve: the decision artifact against XGBoost's own ``inplace_predict`` on the same boosters.

A five-fold model (the default kind: the mean of five fold boosters' probabilities), 100
rounds, trained on generated data (make_classification, 30 features), written as a decision
artifact. Two measurements, on this machine's loopback only:

* batch: ``DecisionModel.predict_proba`` on a 1,000,000 x 30 table in memory (input checks,
  the model's inputs, one DMatrix per fold model) against ``inplace_predict`` of the same five
  boosters on the table's float32 array (margins, sigmoid, mean); goal at most 1.25x. Reading the
  table from Parquet is timed apart and excluded;
* HTTP: single-row ``text/csv`` requests from 8 concurrent clients for 30 s against
  ``costpipe serve``'s app (the container's handler sequence) and against a bare WSGI app that
  parses the row and calls ``inplace_predict`` on the same boosters, both on gunicorn with the
  same workers: p50/p99 latency and requests per second (goal: p99 at most 1.3x), and each
  server's peak resident memory (gunicorn master and workers together, VmHWM).

    python -m benchmarks serve                     # 1M rows, 30 s of requests
    python -m benchmarks serve --quick             # 100k rows, 5 s
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks._table import markdown_table, seconds

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 30
FOLDS = 5
ROUNDS = 100
CLIENTS = 8
WORKERS = 2
BATCH_GOAL = 1.25
LATENCY_GOAL = 1.3
BARE_APP_ENV = "COSTPIPE_BENCH_MODEL_DIR"


def make_frame(rows: int, seed: int = 0):
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows, n_features=FEATURES, n_informative=10, weights=[0.9], random_state=seed
    )
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(FEATURES)])
    return frame, y.astype(np.int8)


def build_artifact(folder: Path) -> Path:
    """Five fold boosters trained on 50,000 rows, as a decision artifact."""
    from steps.artifact import check_document, decision_document, write_artifact
    from steps.inputs import input_schema
    from steps.model import FoldEnsemble, fit_model
    from steps.model_io import save_model

    frame, y = make_frame(50_000, seed=1)
    schema = {
        "task": "binary",
        "target": "label",
        "positive_label": "1",
        "negative_label": "0",
        "labels": ["positive"],
        "label_columns": ["label"],
        "features": list(frame.columns),
        "categorical": {},
        "text": [],
    }
    args = argparse.Namespace(
        eta=0.1, reg_lambda=1.0, reg_alpha=0.0, seed=0, booster="tree", max_depth=4,
        min_child_weight=1.0, subsample=0.8, colsample_bytree=0.8, gamma=0.0, max_bin=256,
        tree_method="hist", nthread=0, objective_impl="weighted", fn_weight=10.0,
        fp_weight=1.0, num_round=ROUNDS, text_max_features=100,
        multilabel_strategy="multi-output",
    )  # fmt: skip
    folds = np.arange(len(frame)) % FOLDS
    members = [
        fit_model(frame[folds != k], y[folds != k, None], schema, args) for k in range(FOLDS)
    ]
    model = FoldEnsemble(members)
    trained = folder / "trained"
    save_model(model, {"setting": {"fn_weight": 10.0, "fp_weight": 1.0}}, trained)
    result = {
        "name": "fn10-fp1",
        "setting": {"fn_weight": 10.0, "fp_weight": 1.0, "booster": "tree"},
        "strategy": "binary",
        "thresholds": {"positive": 0.5},
        "test": {"expected_cost": 0.0, "confusion": {}},
    }
    costs = {"positive": {"tp": 0.0, "fp": 1.0, "fn": 10.0, "tn": 0.0}}
    check = check_document(model, frame, input_schema(schema))
    meta = json.loads((trained / "model_meta.json").read_text())
    decision = decision_document(result, meta, schema, costs, check)
    return write_artifact(trained, decision, folder / "artifact")


def fold_boosters(model_dir: Path) -> list:
    import xgboost as xgb

    boosters = []
    for k in range(FOLDS):
        booster = xgb.Booster()
        booster.load_model(str(model_dir / "model" / f"fold-{k}" / "xgboost-model.json"))
        boosters.append(booster)
    return boosters


def inplace_scores(boosters: list, values: np.ndarray) -> np.ndarray:
    margins = [b.inplace_predict(values, predict_type="margin") for b in boosters]
    return np.mean([1.0 / (1.0 + np.exp(-m)) for m in margins], axis=0)


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def batch(rows: int, model_dir: Path, scratch: Path) -> list[list[object]]:
    import pandas as pd

    from steps.decision import DecisionModel

    frame, _ = make_frame(rows)
    path = scratch / "batch.parquet"
    frame.to_parquet(path, index=False)
    read = best_of(lambda: pd.read_parquet(path), 2)
    model = DecisionModel.load(model_dir)
    boosters = fold_boosters(model_dir)
    values = frame.to_numpy()
    ours = model.predict_proba(frame)[:, 0]
    theirs = inplace_scores(boosters, values)
    difference = float(np.max(np.abs(ours - theirs)))
    artifact = best_of(lambda: model.predict_proba(frame))
    bare = best_of(lambda: inplace_scores(boosters, values))
    ratio = artifact / bare
    return [
        [f"{rows:,} x {FEATURES}", "decision artifact (predict_proba)", seconds(artifact),
         f"{ratio:.2f}x", "met" if ratio <= BATCH_GOAL else "missed", f"{difference:.1e}"],
        [f"{rows:,} x {FEATURES}", "inplace_predict, same 5 boosters", seconds(bare), "1.00x", "",
         ""],
        [f"{rows:,} x {FEATURES}", "reading the Parquet file (excluded)", seconds(read), "", "",
         ""],
    ]  # fmt: skip


# ---------------------------------------------------------------------------- over HTTP
def bare_application(environ, start_response):
    """A WSGI app with no checks: parse one CSV row, inplace_predict, JSON."""
    global _BOOSTERS
    if _BOOSTERS is None:
        _BOOSTERS = fold_boosters(Path(os.environ[BARE_APP_ENV]))
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    values = np.array([[float(v) for v in body.decode().split(",")]], dtype=np.float32)
    score = float(inplace_scores(_BOOSTERS, values)[0])
    payload = json.dumps({"score": score, "decision": int(score >= 0.5)}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [payload]


_BOOSTERS = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_memory(pid: int) -> int:
    """VmHWM of a process and its children, in bytes (Linux)."""
    import psutil

    total = 0
    parent = psutil.Process(pid)
    for process in [parent, *parent.children(recursive=True)]:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
    return total


def load(app: str, environment: dict[str, str], row: str, duration: float) -> dict[str, float]:
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(WORKERS), "--log-level", "warning", app]
    env = {**os.environ, **environment, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"{url}/invocations", data=row.encode(), headers={"Content-Type": "text/csv"}
                )
                # Warm every worker (each loads its model on its first request).
                for _ in range(4 * WORKERS):
                    urllib.request.urlopen(request, timeout=10).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        latencies: list[float] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + duration

        def client() -> None:
            mine = []
            while time.monotonic() < stop_at:
                request = urllib.request.Request(
                    f"{url}/invocations", data=row.encode(), headers={"Content-Type": "text/csv"}
                )
                start = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as reply:
                    reply.read()
                mine.append(time.perf_counter() - start)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        memory = _peak_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latency = np.array(latencies) * 1000
    return {
        "p50": float(np.percentile(latency, 50)),
        "p99": float(np.percentile(latency, 99)),
        "rps": len(latencies) / elapsed,
        "memory": memory,
    }


def http(model_dir: Path, duration: float) -> list[list[object]]:
    frame, _ = make_frame(10, seed=3)
    row = ",".join(repr(float(v)) for v in frame.iloc[0])
    ours = load(
        "pipeline.serving.app:application", {"COSTPIPE_SERVE_MODEL_DIR": str(model_dir)}, row,
        duration,
    )  # fmt: skip
    bare = load("benchmarks.serve:bare_application", {BARE_APP_ENV: str(model_dir)}, row, duration)
    ratio = ours["p99"] / bare["p99"]
    rows = []
    for name, result, ratio_text, goal in (
        ("costpipe serve (container handler sequence)", ours, f"{ratio:.2f}x",
         "met" if ratio <= LATENCY_GOAL else "missed"),
        ("bare WSGI app, inplace_predict", bare, "1.00x", ""),
    ):  # fmt: skip
        rows.append(
            [name, f"{result['p50']:.2f}", f"{result['p99']:.2f}", ratio_text, goal,
             f"{result['rps']:.0f}", f"{result['memory'] / 1024**2:.0f}"]
        )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="of HTTP requests per app")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 5 s of requests")
    args = parser.parse_args(argv)
    rows, duration = (100_000, 5.0) if args.quick else (args.rows, args.seconds)
    from steps.artifact import open_artifact

    with tempfile.TemporaryDirectory(prefix="costpipe-serve-bench-") as scratch:
        folder = Path(scratch)
        model_dir = open_artifact(build_artifact(folder), folder / "model")
        batch_rows = batch(rows, model_dir, folder)
        http_rows = http(model_dir, duration)
    cores = os.cpu_count()
    print(f"\n### Serve: batch scoring, {FOLDS} fold boosters x {ROUNDS} rounds, {cores} cores\n")
    print(
        markdown_table(
            ["rows", "path", "seconds (best of 3)", "vs inplace_predict",
             f"goal <= {BATCH_GOAL}x", "max score difference"],
            batch_rows,
        )
    )  # fmt: skip
    print(
        f"\n### Serve: single-row CSV requests, {CLIENTS} clients, {duration:.0f} s, "
        f"gunicorn {WORKERS} workers, 127.0.0.1\n"
    )
    print(
        markdown_table(
            ["server", "p50 (ms)", "p99 (ms)", "p99 vs bare", f"goal <= {LATENCY_GOAL}x",
             "requests/s", "peak memory (MiB)"],
            http_rows,
        )
    )  # fmt: skip
