"""The reference study reproduced: breast cancer, the study's split and value matrix.

The study split scikit-learn's copy of the UCI data (UCI row order) with
``train_test_split(test_size=0.25, random_state=1)``: 143 test patients, 55 malignant. It
compared a symmetric loss, 5:1 and 200:1 weights, all cut at 0.5. Here the training rows are
given to ``costpipe run`` as the data file and the study's test rows as the test file, with the
study's value matrix per patient (QALY x $100,000, as costs).

    python -m benchmarks study
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks._costpipe import run_costpipe
from benchmarks._table import markdown_table
from steps.costs import setting_sort_key, setting_text

STUDY = {"1:1": 21164.86, "5:1": 18160.83, "200:1": 15273.85}
PERFECT = 13569.23
ALL_POSITIVE = 14361.64
GOAL = 14000.0
MATRIX = {"tp": 35280.0, "fp": 1287.67, "fn": 252000.0, "tn": 0.0}
COSTS = [f"--cost-{outcome}={value:g}" for outcome, value in MATRIX.items()]
STUDY_SETTINGS = ["1:1", "5:1", "200:1"]


def study_settings() -> str:
    """The study's three settings and costpipe's default grid for the study's matrix."""
    from steps.costs import CostMatrix, CostSetting, default_cost_settings

    settings = [CostSetting.parse(text) for text in STUDY_SETTINGS]
    settings += [s for s in default_cost_settings(CostMatrix(**MATRIX)) if s not in settings]
    settings.sort(key=lambda s: s.sort_key)
    return ",".join(s.text for s in settings)


def study_split(folder: Path) -> tuple[Path, Path]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = frame.pop("target").map({0: "M", 1: "B"})
    train, test = train_test_split(frame, test_size=0.25, random_state=1)
    assert len(test) == 143 and (test["diagnosis"] == "M").sum() == 55
    paths = folder / "study-train.csv", folder / "study-test.csv"
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the study's three settings only")
    args = parser.parse_args(argv)
    settings = ",".join(STUDY_SETTINGS) if args.quick else study_settings()
    with tempfile.TemporaryDirectory(prefix="costpipe-study-") as scratch:
        work = Path(scratch)
        train, test = study_split(work)
        result = run_costpipe(
            [
                "--data",
                str(train),
                "--test-data",
                str(test),
                "--target",
                "diagnosis",
                "--positive-label",
                "M",
                "--cost-settings",
                settings,
                *COSTS,
            ],
            work / "home",
        )
    evaluation = result.payload["evaluation"]
    best = evaluation["best"]
    rows = []
    for model in sorted(evaluation["models"], key=lambda m: setting_sort_key(m["setting"])):
        weights = setting_text(model["setting"])
        test_figures = model["test"]
        study = STUDY.get(weights)
        rows.append(
            [
                weights + (" (cheapest)" if model["name"] == best["name"] else ""),
                f"{next(iter(model['thresholds'].values())):.4f}",
                f"${test_figures['expected_cost']:,.2f}",
                test_figures["confusion"]["fn"],
                test_figures["confusion"]["fp"],
                f"${study:,.2f}" if study else "",
            ]
        )
    registered = result.payload["registered"]
    print("\n### The reference study's split (143 test patients, 55 malignant)\n")
    print(
        markdown_table(
            [
                "cost setting",
                "threshold",
                "test cost per patient",
                "missed cancers",
                "false alarms",
                "study (cut at 0.5)",
            ],
            rows,
        )
    )
    outcome = (
        f"registered {registered['group']} version {registered['version']}"
        if registered
        else f"nothing registered: {result.payload['failure_reason']}"
    )
    print(
        f"\nChosen by cross-validated cost: {best['name']}, ${best['expected_cost']:,.2f} per "
        f"patient on test ({outcome}); goal at most ${GOAL:,.2f} "
        f"({'met' if best['expected_cost'] <= GOAL else 'missed'}). Perfect classifier "
        f"${PERFECT:,.2f}; calling every patient malignant ${ALL_POSITIVE:,.2f}. "
        f"{result.seconds:.0f} s."
    )
