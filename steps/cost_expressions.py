"""Costs from the data: each cost matrix entry is a number, a column, or arithmetic of both.

A missed fraud costs its amount, a defaulted loan its exposure times the loss given default.
Each of ``tp``, ``fp``, ``fn`` and ``tn`` (and each per-label override) is written as

* a number: ``5``, ``1287.67``, ``252,000`` (the same cost on every row);
* a column: ``amount``, or any name in backticks: ```amount [EUR]```;
* an expression of columns and numbers with ``+ - * /``, parentheses, unary minus and
  ``min(a, b, ...)`` / ``max(a, b, ...)``: ``0.75 * amount``, ``5 + 0.02 * amount``,
  ``max(1, 0.006 * balance)``.

Expressions are parsed with Python's :mod:`ast` into a tree that is checked node by node
against that grammar and then computed here over NumPy columns: nothing is ever handed to
``eval``, and names, calls, attributes or subscripts outside the grammar are refused with the
entry and the offending part named. (pandas' ``DataFrame.eval`` would evaluate more than this
grammar and does not say which part of a text is wrong, so the small walker is written here.)

Each row's four costs are checked like any input: every column named must exist and hold
finite numbers, and per row a wrong decision may not be cheaper than the right one for the
same truth (``fn >= tp``, ``fp >= tn``); an error names the entry, the column and the first
offending data row.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from steps.errors import InputError

OUTCOMES = ("tp", "fp", "fn", "tn")
#: What each entry means, for messages.
OUTCOME_WORDS = {
    "tp": "a caught positive",
    "fp": "a false alarm",
    "fn": "a missed positive",
    "tn": "a correct negative",
}
FUNCTIONS = {"min": np.minimum, "max": np.maximum}
_BACKTICKED = re.compile(r"`([^`]*)`")
_PLACEHOLDER = "__column_{}__"
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def plain_number(text: str) -> float | None:
    """``text`` as a number when it is one (thousands separators ``,`` and ``_`` allowed)."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value


@dataclass(frozen=True)
class CostExpression:
    """One cost matrix entry: a constant, or a formula of the data's columns.

    Parameters
    ----------
    text : str
        The entry as written (numbers are written back as plain numbers).
    entry : str
        Which entry it is (``tp``, ``fp``, ``fn`` or ``tn``, with a label for overrides), for
        messages.

    Attributes
    ----------
    columns : tuple of str
        The data columns the entry reads, in order of first use.
    constant : float or None
        The entry's value when it reads no column.

    Examples
    --------
    >>> import pandas as pd
    >>> fn = CostExpression.parse("0.75 * amount", "fn")
    >>> fn.columns, fn.constant
    (('amount',), None)
    >>> fn.evaluate(pd.DataFrame({"amount": [100.0, 8.0]})).tolist()
    [75.0, 6.0]
    >>> CostExpression.parse("252,000", "fn").constant
    252000.0
    >>> CostExpression.parse("max(1, 0.5 * `balance [EUR]`)", "fn").columns
    ('balance [EUR]',)
    """

    text: str
    entry: str
    tree: Any
    columns: tuple[str, ...]
    constant: float | None

    @classmethod
    def parse(cls, value: object, entry: str) -> CostExpression:
        """Parse a number or a text; an :class:`InputError` names what is not allowed."""
        if isinstance(value, bool):
            raise InputError(f"cost entry '{entry}' is {value!r}: {_HELP}")
        if isinstance(value, (int, float, np.number)):
            number = float(value)
            return cls(_number_text(number), entry, None, (), _finite(number, entry))
        if not isinstance(value, str):
            raise InputError(f"cost entry '{entry}' is {value!r}, not a number or text: {_HELP}")
        text = value.strip()
        number = plain_number(text)
        if number is not None:
            return cls(_number_text(number), entry, None, (), _finite(number, entry))
        if not text:
            raise InputError(f"cost entry '{entry}' is empty: {_HELP}")
        names: list[str] = []

        def placeholder(match: re.Match[str]) -> str:
            name = match.group(1)
            if not name:
                raise InputError(f"cost entry '{entry}' = {text!r} has empty backticks: {_HELP}")
            names.append(name)
            return _PLACEHOLDER.format(len(names) - 1)

        source = _BACKTICKED.sub(placeholder, text)
        if "`" in source:
            raise InputError(f"cost entry '{entry}' = {text!r} has an unclosed backtick: {_HELP}")
        try:
            tree = ast.parse(source, mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise InputError(
                f"cost entry '{entry}' = {text!r} is not a number, a column or arithmetic of "
                f"them: {_HELP}"
            ) from None
        columns: list[str] = []
        checked = _check(tree, entry, text, names, columns)
        if not columns:
            # Arithmetic of numbers only ("2 * 100"): a constant, computed once here.
            constant = float(_compute(checked, {}, 1)[0])
            return cls(text, entry, None, (), _finite(constant, entry))
        return cls(text, entry, checked, tuple(columns), None)

    @property
    def per_row(self) -> bool:
        return self.constant is None

    def evaluate(self, frame: Any) -> np.ndarray:
        """The entry's value on every row of ``frame`` (a pandas DataFrame), as float64.

        A column that is missing, not numeric, or holds a missing or infinite value is an
        error naming it and its first bad data row; so is a result that is not finite
        (a division by zero).
        """
        rows = len(frame)
        if self.constant is not None:
            return np.full(rows, self.constant, dtype=np.float64)
        values = {name: numeric_cost_column(frame, name, self.entry) for name in self.columns}
        with np.errstate(all="ignore"):
            result = np.asarray(_compute(self.tree, values, rows), dtype=np.float64)
        result = np.broadcast_to(result, (rows,)).astype(np.float64)
        bad = ~np.isfinite(result)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"cost entry '{self.entry}' = {self.text!r} is not a finite number in data row "
                f"{position + 1} (a division by zero?): change the expression or that row"
            )
        return result


_HELP = (
    "write a number (5), a column (amount, or `amount [EUR]` in backticks) or arithmetic of "
    "them with + - * / ( ) min() max(), e.g. 0.75 * amount"
)


def _number_text(value: float) -> str:
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _finite(value: float, entry: str) -> float:
    if not math.isfinite(value):
        raise InputError(
            f"cost entry '{entry}' is {value}: give a finite amount of money per decision"
        )
    return value


def _check(node: ast.AST, entry: str, text: str, names: list[str], columns: list[str]) -> Any:
    """``node`` as a tree of the grammar's nodes only (columns collected in order)."""

    def refuse(what: str) -> InputError:
        return InputError(f"cost entry '{entry}' = {text!r}: {what} is not allowed; {_HELP}")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise refuse(f"the value {node.value!r}")
        return ("number", float(node.value))
    if isinstance(node, ast.Name):
        name = node.id
        match = re.fullmatch(r"__column_(\d+)__", name)
        if match:
            name = names[int(match.group(1))]
        if name in FUNCTIONS:
            raise refuse(f"'{name}' without parentheses")
        if name not in columns:
            columns.append(name)
        return ("column", name)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return (
            "binary",
            type(node.op),
            _check(node.left, entry, text, names, columns),
            _check(node.right, entry, text, names, columns),
        )
    if isinstance(node, ast.BinOp):
        raise refuse(f"the operator {type(node.op).__name__}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return ("sign", sign, _check(node.operand, entry, text, names, columns))
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            raise refuse(f"attribute access ({ast.unparse(node.func)})")
        function = node.func.id if isinstance(node.func, ast.Name) else None
        if function not in FUNCTIONS:
            shown = ast.unparse(node.func)
            raise refuse(f"calling {shown}() (only min() and max())")
        if any(isinstance(argument, ast.Starred) for argument in node.args):
            raise refuse(f"{function}() with a starred argument")
        if node.keywords or len(node.args) < 2:
            raise refuse(f"{function}() with other than two or more plain arguments")
        return (
            "call",
            function,
            [_check(argument, entry, text, names, columns) for argument in node.args],
        )
    if isinstance(node, ast.Attribute):
        raise refuse(f"attribute access ({ast.unparse(node)})")
    if isinstance(node, ast.Subscript):
        raise refuse(f"indexing ({ast.unparse(node)})")
    raise refuse(f"'{ast.unparse(node)}'")


def _compute(tree: Any, values: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
    kind = tree[0]
    if kind == "number":
        return np.full(rows, tree[1])
    if kind == "column":
        return values[tree[1]]
    if kind == "binary":
        return _BINARY[tree[1]](_compute(tree[2], values, rows), _compute(tree[3], values, rows))
    if kind == "sign":
        return tree[1] * _compute(tree[2], values, rows)
    function = FUNCTIONS[tree[1]]
    result = _compute(tree[2][0], values, rows)
    for argument in tree[2][1:]:
        result = function(result, _compute(argument, values, rows))
    return result


def numeric_cost_column(frame: Any, name: str, entry: str) -> np.ndarray:
    """A column a cost entry reads, as float64; absent, text, missing or infinite is an error."""
    import pandas as pd

    if name not in frame.columns:
        shown = ", ".join(str(c) for c in list(frame.columns)[:12])
        raise InputError(
            f"cost entry '{entry}' reads column '{name}', which the data does not have "
            f"(columns: {shown}): add the column or fix the cost"
        )
    column = frame[name]
    if pd.api.types.is_bool_dtype(column.dtype):
        values = column.astype("float64").to_numpy()
    else:
        numbers = pd.to_numeric(column.astype(object), errors="coerce")
        text = (column.notna() & numbers.isna()).to_numpy()
        if text.any():
            position = int(np.flatnonzero(text)[0])
            raise InputError(
                f"cost column '{name}' (cost entry '{entry}') holds "
                f"'{str(column.iloc[position])[:40]}' in data row {position + 1}, not a number: "
                "costs must be numbers"
            )
        values = numbers.astype("float64").to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        what = "is empty" if np.isnan(values[position]) else f"holds {values[position]}"
        raise InputError(
            f"cost column '{name}' (cost entry '{entry}') {what} in data row {position + 1}: "
            "every row needs a finite cost; fill it in or drop the row"
        )
    return values


@dataclass(frozen=True)
class RowCosts:
    """Each row's four costs (float64 arrays of one length): money per decision.

    Examples
    --------
    >>> costs = RowCosts(tp=np.array([0.0, 0.0]), fp=np.array([1.0, 1.0]),
    ...                  fn=np.array([10.0, 100.0]), tn=np.array([0.0, 0.0]))
    >>> costs.of(np.array([1, 0]), np.array([0, 1])).tolist()
    [10.0, 1.0]
    >>> costs.bayes_thresholds().round(4).tolist()
    [0.0909, 0.0099]
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    def __len__(self) -> int:
        return int(np.asarray(self.tp).shape[0])

    @classmethod
    def constant(cls, matrix: Mapping[str, float], rows: int) -> RowCosts:
        """A constant cost matrix (``tp``/``fp``/``fn``/``tn``) repeated over ``rows`` rows."""
        return cls(*(np.full(rows, float(matrix[o]), dtype=np.float64) for o in OUTCOMES))

    def take(self, index: Any) -> RowCosts:
        return RowCosts(*(np.asarray(getattr(self, o))[index] for o in OUTCOMES))

    def as_dict(self) -> dict[str, np.ndarray]:
        return {outcome: getattr(self, outcome) for outcome in OUTCOMES}

    @property
    def regret_fn(self) -> np.ndarray:
        """What missing each row's positive costs more than catching it: ``fn - tp``."""
        return self.fn - self.tp

    @property
    def regret_fp(self) -> np.ndarray:
        """What a false alarm on each row costs more than a correct negative: ``fp - tn``."""
        return self.fp - self.tn

    def regret(self, y: np.ndarray) -> np.ndarray:
        """Each row's cost of a wrong decision given its truth (the asymmetric loss weight)."""
        return np.where(np.asarray(y) == 1, self.regret_fn, self.regret_fp)

    def of(self, y: np.ndarray, decisions: np.ndarray) -> np.ndarray:
        """Each row's cost of ``decisions`` (0/1) given its truth ``y`` (0/1)."""
        y = np.asarray(y) == 1
        d = np.asarray(decisions) == 1
        return np.where(d, np.where(y, self.tp, self.fp), np.where(y, self.fn, self.tn))

    def bayes_thresholds(self) -> np.ndarray:
        """Each row's Bayes-minimum-risk threshold ``t = (fp - tn) / ((fp - tn) + (fn - tp))``:
        for a calibrated probability p, calling positive is cheaper in expectation when
        ``p >= t``. NaN where no decision changes the row's cost."""
        regret_fp, regret_fn = self.regret_fp, self.regret_fn
        total = regret_fp + regret_fn
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, regret_fp / np.where(total > 0, total, 1.0), np.nan)


@dataclass(frozen=True)
class CostSpec:
    """One label's four cost entries.

    Examples
    --------
    >>> spec = CostSpec.parse({"tp": 5, "fp": 5, "fn": "amount", "tn": 0})
    >>> spec.per_row, spec.columns
    (True, ('amount',))
    >>> CostSpec.parse({"tp": 0, "fp": 1, "fn": 10, "tn": 0}).matrix
    {'tp': 0.0, 'fp': 1.0, 'fn': 10.0, 'tn': 0.0}
    """

    tp: CostExpression
    fp: CostExpression
    fn: CostExpression
    tn: CostExpression

    @classmethod
    def parse(cls, entries: Mapping[str, object], label: str | None = None) -> CostSpec:
        unknown = sorted(set(entries) - set(OUTCOMES))
        missing = [outcome for outcome in OUTCOMES if outcome not in entries]
        if unknown or missing:
            raise InputError(
                f"cost matrix needs exactly the keys tp, fp, fn, tn (missing: "
                f"{missing or 'none'}, unknown: {unknown or 'none'})"
            )
        where = "" if label is None else f" of label '{label}'"
        spec = cls(
            *(CostExpression.parse(entries[outcome], f"{outcome}{where}") for outcome in OUTCOMES)
        )
        if not spec.per_row:
            from steps.costs import CostMatrix

            CostMatrix(**spec.matrix)  # a constant matrix gets its checks (fn >= tp, ...) now
        return spec

    @property
    def entries(self) -> tuple[CostExpression, ...]:
        return (self.tp, self.fp, self.fn, self.tn)

    @property
    def per_row(self) -> bool:
        return any(entry.per_row for entry in self.entries)

    @property
    def columns(self) -> tuple[str, ...]:
        seen: list[str] = []
        for entry in self.entries:
            seen += [name for name in entry.columns if name not in seen]
        return tuple(seen)

    @property
    def matrix(self) -> dict[str, float] | None:
        """The constant cost matrix, or None when some entry reads columns."""
        if self.per_row:
            return None
        return {o: float(e.constant) for o, e in zip(OUTCOMES, self.entries, strict=True)}

    def texts(self) -> dict[str, str]:
        return {outcome: e.text for outcome, e in zip(OUTCOMES, self.entries, strict=True)}

    def evaluate(self, frame: Any) -> RowCosts:
        """Every row's four costs; a wrong decision cheaper than the right one is an error
        naming the entries and the first such data row."""
        costs = RowCosts(*(entry.evaluate(frame) for entry in self.entries))
        for worse, better in (("fn", "tp"), ("fp", "tn")):
            bad = getattr(costs, worse) < getattr(costs, better)
            if bad.any():
                position = int(np.flatnonzero(bad)[0])
                shown = [
                    _entry_value(getattr(self, name), getattr(costs, name)[position])
                    for name in (worse, better)
                ]
                raise InputError(
                    f"costs make {OUTCOME_WORDS[worse]} cheaper than "
                    f"{OUTCOME_WORDS[better]} in data row {position + 1}: {shown[0]} is below "
                    f"{shown[1]}; costs are positive and benefits negative, so {worse} must be "
                    f">= {better} on every row"
                )
        if len(costs) and not np.any((costs.regret_fn > 0) | (costs.regret_fp > 0)):
            raise InputError(
                "the costs make every decision cost the same on every row (fn == tp and "
                "fp == tn): give the errors a higher cost than the right decisions"
            )
        return costs


def _entry_value(entry: CostExpression, value: float) -> str:
    """``fn = 0.75 * amount = 3`` for a per-row entry, ``tp = 5`` for a constant one."""
    if entry.per_row:
        return f"{entry.entry} = {entry.text} = {value:g}"
    return f"{entry.entry} = {entry.text}"


def label_cost_specs(
    default: Mapping[str, object],
    overrides: Mapping[str, Mapping[str, object]],
    labels: list[str],
) -> dict[str, CostSpec]:
    """Each label's cost entries: the default ones, with any per-label entries replaced."""
    unknown = sorted(set(overrides) - set(labels))
    if unknown:
        raise InputError(
            f"label costs name '{unknown[0]}', which is not a label (labels: "
            f"{', '.join(labels[:10])}): fix the label name"
        )
    specs = {}
    for label in labels:
        entries = overrides.get(label, {})
        if not isinstance(entries, Mapping):
            raise InputError(f"label costs for '{label}' must be a table of tp/fp/fn/tn entries")
        named = label if label in overrides else None
        specs[label] = CostSpec.parse({**default, **entries}, named)
    return specs


#: The split columns that carry each row's costs: ``__cost:<outcome>:<label>``. Reserved in
#: input data, like ``__row__`` (``steps.data`` refuses data columns with the prefix).
COST_COLUMN_PREFIX = "__cost:"


def cost_column(outcome: str, label: str) -> str:
    return f"{COST_COLUMN_PREFIX}{outcome}:{label}"


def cost_columns(labels: list[str]) -> list[str]:
    return [cost_column(outcome, label) for label in labels for outcome in OUTCOMES]


def costs_from_split(frame: Any, label: str) -> RowCosts:
    """One label's per-row costs from a prepared split's cost columns."""
    return RowCosts(*(frame[cost_column(o, label)].to_numpy(dtype=np.float64) for o in OUTCOMES))


def has_cost_columns(frame: Any, labels: list[str]) -> bool:
    return all(name in frame.columns for name in cost_columns(labels))


def summary(values: np.ndarray) -> dict[str, Any]:
    """Total, mean and quantiles of some costs (what evaluation.json records)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"rows": 0, "total": 0.0, "mean": None, "quantiles": None}
    levels = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
    quantiles = np.quantile(values, levels)
    return {
        "rows": int(values.size),
        "total": float(values.sum()),
        "mean": float(values.mean()),
        "quantiles": {f"{level:g}": float(q) for level, q in zip(levels, quantiles, strict=True)},
    }


def parse_label_costs(text: str) -> dict[str, dict[str, object]]:
    """Per-label overrides as the jobs receive them: JSON such as ``{"threat": {"fn": 500}}``
    (entries numbers or expression texts); empty text for none."""
    import json

    if not text.strip():
        return {}
    try:
        overrides = json.loads(text)
    except ValueError as error:
        raise InputError(f"label costs are not valid JSON ({error}): fix --label-costs") from None
    if not isinstance(overrides, dict):
        raise InputError('label costs must map labels to cost entries, e.g. {"a": {"fn": 5}}')
    return overrides


def cost_frame(frame: Any, specs: Mapping[str, CostSpec]) -> Any:
    """Every row's costs for every label, as the split columns ``__cost:<outcome>:<label>``."""
    import pandas as pd

    columns: dict[str, np.ndarray] = {}
    for label, spec in specs.items():
        costs = spec.evaluate(frame)
        for outcome in OUTCOMES:
            columns[cost_column(outcome, label)] = getattr(costs, outcome)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
