"""``steps.sweep.cost_sweep`` vs ``sklearn.metrics.precision_recall_curve`` on the same scores.

Both sort the scores once and count true and false positives at every distinct threshold;
the cost sweep also prices every threshold with the cost matrix. Prints the best of
``--repeat`` wall times of each (the two alternate, so load from other work hits both alike),
their ratio (goal: the cost sweep at most 1.0x scikit-learn) and whether the two agree at
every threshold: the thresholds, the counts (from ``roc_curve(drop_intermediate=False)``,
which returns them as rates) and precision and recall (from ``precision_recall_curve``).

Scores are float32 probabilities, as XGBoost predicts them, for about 10 % positives.

    python -m benchmarks.sweep             # 10,000,000 scores
    python -m benchmarks.sweep --n 1000000
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import sklearn
from sklearn.metrics import precision_recall_curve, roc_curve

from benchmarks._table import markdown_table, seconds
from steps.costs import CostMatrix
from steps.sweep import ThresholdSweep, cost_sweep

GOAL = 1.0
# The reference study's cost matrix (DESIGN.md).
MATRIX = CostMatrix(tp=35280.0, fp=1287.67, fn=252000.0, tn=0.0)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=10_000_000, help="number of scores")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small run: 1,000,000 scores")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = 1_000_000
    return args


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels (about 10 % ones) and float32 scores that rank positives higher."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    margin = rng.standard_normal(n) + 1.5 * y - 2.0
    scores = (1.0 / (1.0 + np.exp(-margin))).astype(np.float32)
    return y, scores


def interleaved_best_times(
    functions: dict[str, Callable[[], object]], repeat: int
) -> tuple[dict[str, object], dict[str, float]]:
    """Each function's last result and best wall time over ``repeat`` rounds; the functions
    alternate (A B, B A, ...) so that load from other work falls on both alike."""
    best = {name: float("inf") for name in functions}
    results: dict[str, object] = {}
    names = list(functions)
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            results[name] = functions[name]()
            best[name] = min(best[name], time.perf_counter() - started)
    return results, best


def agreement(y: np.ndarray, scores: np.ndarray, sweep: ThresholdSweep, curve: tuple) -> bool:
    """True when scikit-learn finds the same thresholds, counts, precision and recall."""
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    fpr, tpr, roc_thresholds = roc_curve(y, scores, drop_intermediate=False)
    same_thresholds = np.array_equal(roc_thresholds, sweep.thresholds) and np.array_equal(
        curve[2][::-1], sweep.thresholds[1:]
    )
    if not same_thresholds:
        return False
    same_counts = np.array_equal(np.rint(tpr * n_pos).astype(np.int64), sweep.tp) and (
        np.array_equal(np.rint(fpr * n_neg).astype(np.int64), sweep.fp)
    )
    precision, recall = curve[0][:-1][::-1], curve[1][:-1][::-1]
    tp, fp = sweep.tp[1:], sweep.fp[1:]
    return bool(
        same_counts
        and np.allclose(recall, tp / n_pos, rtol=1e-12, atol=0)
        and np.allclose(precision, tp / (tp + fp), rtol=1e-12, atol=0)
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the comparison and print its table."""
    args = parse_args(argv)
    load = os.getloadavg()[0]  # other work on the machine, before this one adds to it
    y, scores = synthetic(args.n, args.seed)
    results, best = interleaved_best_times(
        {
            "cost_sweep": lambda: cost_sweep(y, scores, MATRIX),
            "sklearn": lambda: precision_recall_curve(y, scores),
        },
        args.repeat,
    )
    sweep, curve = results["cost_sweep"], results["sklearn"]
    sweep_s, sklearn_s = best["cost_sweep"], best["sklearn"]
    assert isinstance(sweep, ThresholdSweep) and isinstance(curve, tuple)
    agree = agreement(y, scores, sweep, curve)
    ratio = sweep_s / sklearn_s

    print(
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, float32 scores, "
        f"{y.mean():.1%} positives, {os.cpu_count()} CPUs, load average {load:.2f} at start\n"
    )
    print(
        markdown_table(
            [
                "scores",
                "distinct thresholds",
                f"cost_sweep, s (best of {args.repeat})",
                "precision_recall_curve, s",
                "cost_sweep / sklearn",
                f"goal <= {GOAL}x",
                "counts agree at every threshold",
            ],
            [
                [
                    f"{args.n:,}",
                    f"{sweep.thresholds.size - 1:,}",
                    seconds(sweep_s),
                    seconds(sklearn_s),
                    f"{ratio:.2f}x",
                    "met" if ratio <= GOAL else "missed",
                    "yes" if agree else "NO",
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
