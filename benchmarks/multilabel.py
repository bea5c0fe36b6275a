"""Multi-label strategies on the yeast data: one booster per label, or one multi-output booster.

Both train with the asymmetric loss (the yeast example's 5:1 cost ratio as the weights) through
the training job's own code, cross-fitted the way the pipeline does it, and are priced by the
Evaluate job on the same test split: total cost per gene (the sum over its 14 labels, in the
example's lab hours), Hamming loss, micro and macro F1, and the training job's wall time.

    python -m benchmarks multilabel            # 300 rounds, 5 folds (the pipeline's defaults)
    python -m benchmarks multilabel --quick    # 100 rounds, 3 folds
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks._table import markdown_table, seconds

STRATEGIES = ("per-label", "multi-output")
COSTS = ["--cost-tp", "0", "--cost-fp", "1", "--cost-fn", "5", "--cost-tn", "0"]


def main(argv: list[str] | None = None) -> None:
    from pipeline.examples import example_data
    from steps import evaluate, preprocess, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 rounds, 3 folds")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    rounds, folds = (100, 3) if args.quick else (args.rounds, args.folds)
    with tempfile.TemporaryDirectory(prefix="costpipe-multilabel-") as scratch:
        work = Path(scratch)
        data = example_data("yeast", work)
        targets = ",".join(f"Class{i}" for i in range(1, 15))
        prep = work / "prep"
        preprocess.main(
            [
                "--data",
                str(data),
                "--targets",
                targets,
                "--output",
                str(prep),
                "--oversample-min-count",
                "200",
            ]
        )
        timings = {}
        models = []
        for strategy in STRATEGIES:
            start = time.perf_counter()
            train.main(
                [
                    "--train",
                    str(prep / "train"),
                    "--validation",
                    str(prep / "validation"),
                    "--profile",
                    str(prep / "profile"),
                    "--model-dir",
                    str(work / strategy),
                    "--fn_weight",
                    "5",
                    "--fp_weight",
                    "1",
                    "--num_round",
                    str(rounds),
                    "--cv_folds",
                    str(folds),
                    "--multilabel_strategy",
                    strategy,
                    "--nthread",
                    "1",
                ]
            )
            timings[strategy] = time.perf_counter() - start
            models += ["--model", f"{strategy}={work / strategy}"]
        evaluate.main(
            [
                "--validation",
                str(prep / "validation"),
                "--test",
                str(prep / "test"),
                "--profile",
                str(prep / "profile"),
                "--models-dir",
                str(work),
                "--output",
                str(work / "evaluation"),
                *COSTS,
                *models,
            ]
        )
        report = json.loads((work / "evaluation" / "evaluation.json").read_text())
    rows = []
    for model in report["models"]:
        test = model["test"]
        low, high = test["expected_cost_ci"]
        rows.append(
            [
                model["name"],
                f"{model['validation']['expected_cost']:.3f}",
                f"{test['expected_cost']:.3f} ({low:.3f} - {high:.3f})",
                f"{test['hamming_loss']:.4f}",
                f"{test['micro_f1']:.3f}",
                f"{test['macro_f1']:.3f}",
                seconds(timings[model["name"]]),
            ]
        )
    trivial = report["baselines"]["per_label_trivial"]["test"]["expected_cost"]
    print(
        f"\n### Multi-label strategies on yeast (2,417 genes, 14 labels; {rounds} rounds, "
        f"{folds}-fold cross-fitting, weights 5:1, one thread)\n"
    )
    headers = [
        "strategy",
        "cross-validated cost",
        "test cost per gene (95% interval)",
        "Hamming loss",
        "micro F1",
        "macro F1",
        "training job (s)",
    ]
    print(markdown_table(headers, rows))
    print(f"\nBest trivial policy per label on the same test split: {trivial:.3f} per gene.")
