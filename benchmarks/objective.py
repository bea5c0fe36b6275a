"""Custom asymmetric objective vs the built-in ``binary:logistic`` with sample weights.

Trains the same boosting rounds both ways on a synthetic table (standard normal features, about
10 % positives) and prints their wall times, the ratio (goal: the custom objective at most
1.2x the built-in) and the largest difference of predicted probabilities on held-out rows.

Both boosters see the same ``hist`` bin edges: the weighted data is a ``QuantileDMatrix``
built with the unweighted one as its reference, so the comparison times the objective, not
two different sketches. Building the matrices is not timed. After a one-round warm-up of each,
the two trainings alternate (built-in, custom, custom, built-in, ...) ``--repeat`` times each
and the best time of each is reported, which damps the noise of a shared machine.

    python -m benchmarks.objective                     # 1,000,000 x 30, 100 rounds, 2 threads
    python -m benchmarks.objective --rows 100000 --rounds 20
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Sequence

import numpy as np
import xgboost as xgb

from benchmarks._table import markdown_table, seconds
from steps.objective import (
    asymmetric_logistic_objective,
    class_weights,
    logit,
    sigmoid,
    weighted_prior,
)

GOAL = 1.2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows")
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--holdout", type=int, default=100_000, help="held-out rows compared")
    parser.add_argument("--fn-weight", type=float, default=10.0)
    parser.add_argument("--fp-weight", type=float, default=2.0)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2, help="timed trainings of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="small run: 100,000 rows, 20 rounds, 20,000 held out"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds, args.holdout = 100_000, 20, 20_000
    return args


def synthetic(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 features and 0/1 labels, the top 10 % of a noisy nonlinear score positive."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    beta = rng.standard_normal(features).astype(np.float32)
    score = X @ beta + 0.5 * X[:, 0] * X[:, 1] + np.abs(X[:, 2]) + rng.standard_normal(rows)
    y = (score > np.quantile(score, 0.9)).astype(np.float32)
    return X, y


def timed_train(
    params: dict, dtrain: xgb.DMatrix, rounds: int, obj: Callable | None = None
) -> tuple[xgb.Booster, float, float]:
    """Train; return the booster, its wall time and the process's CPU time, in seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    booster = xgb.train(params, dtrain, num_boost_round=rounds, obj=obj)
    return booster, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: Sequence[str] | None = None) -> None:
    """Run the comparison and print its table."""
    args = parse_args(argv)
    load = os.getloadavg()[0]  # other work on the machine, before this one adds to it
    X, y = synthetic(args.rows + args.holdout, args.features, args.seed)
    X_train, y_train = X[: args.rows], y[: args.rows]
    X_hold = X[args.rows :]

    weights = class_weights(y_train, args.fn_weight, args.fp_weight)
    prior = weighted_prior(y_train, args.fn_weight, args.fp_weight)
    plain = xgb.QuantileDMatrix(X_train, label=y_train, nthread=args.threads)
    weighted = xgb.QuantileDMatrix(
        X_train, label=y_train, weight=weights, ref=plain, nthread=args.threads
    )
    params = {
        "tree_method": "hist",
        "nthread": args.threads,
        "max_depth": args.max_depth,
        "eta": 0.3,
        "seed": args.seed,
    }
    runs = {
        "built-in": lambda rounds: timed_train(
            {**params, "objective": "binary:logistic", "base_score": prior}, weighted, rounds
        ),
        "custom": lambda rounds: timed_train(
            {**params, "base_score": logit(prior)},
            plain,
            rounds,
            obj=asymmetric_logistic_objective(args.fn_weight, args.fp_weight),
        ),
    }
    for run in runs.values():  # warm-up: thread pools, allocations, the bin index
        run(1)
    wall = {name: float("inf") for name in runs}
    cpu = {name: float("inf") for name in runs}
    boosters = {}
    order = ["built-in", "custom"]
    for repeat in range(args.repeat):
        for name in order if repeat % 2 == 0 else order[::-1]:
            boosters[name], elapsed, used = runs[name](args.rounds)
            wall[name] = min(wall[name], elapsed)
            cpu[name] = min(cpu[name], used)
    builtin, custom = boosters["built-in"], boosters["custom"]
    held_out = xgb.DMatrix(X_hold, nthread=args.threads)
    p_builtin = sigmoid(builtin.predict(held_out, output_margin=True))
    p_custom = sigmoid(custom.predict(held_out, output_margin=True))
    difference = float(np.max(np.abs(p_custom - p_builtin)))
    ratio = wall["custom"] / wall["built-in"]

    print(
        f"xgboost {xgb.__version__}, {platform.machine()}, {args.threads} threads, "
        f"fn_weight {args.fn_weight:g}, fp_weight {args.fp_weight:g}, "
        f"{float(y_train.mean()):.1%} positives, max_depth {args.max_depth}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start\n"
    )
    print(
        markdown_table(
            [
                "rows x features",
                "rounds",
                f"built-in + weights, wall s (best of {args.repeat})",
                "custom objective, wall s",
                "custom / built-in, wall",
                f"goal <= {GOAL}x",
                "custom / built-in, CPU",
                f"max abs diff p ({args.holdout:,} held out)",
            ],
            [
                [
                    f"{args.rows:,} x {args.features}",
                    args.rounds,
                    seconds(wall["built-in"]),
                    seconds(wall["custom"]),
                    f"{ratio:.2f}x",
                    "met" if ratio <= GOAL else "missed",
                    f"{cpu['custom'] / cpu['built-in']:.2f}x",
                    f"{difference:.1e}",
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
