"""Raw input rows checked against a model's input schema and turned into model inputs.

The input schema is what a served model promises to accept: the feature columns in training
order (numeric and categorical columns as the prepared splits order them, then the text
columns), each column's type, the category levels, and the label columns that may ride along
(they are ignored when scoring and used to price decisions when present). Each rule below
raises one :class:`~steps.errors.InputError` naming the column and the fix:

* a missing feature column, or a column the model does not know (labels and ``__row__``
  excepted), is refused;
* a numeric column takes numbers, ``true``/``false`` (as 1/0, the way training read boolean
  columns) and missing values (empty, null, NaN); text or an infinite value is refused;
* a categorical column takes the levels training saw, compared as text the way the
  Preprocess job compares them (``1``, ``1.0`` and ``True`` are all ``"1"``), and missing
  values; **an unseen level is refused**, because the model and its threshold were priced on
  the levels it knew. Send the value as missing (null or empty) to have it scored as XGBoost
  scores a missing category;
* a text column takes text (numbers are read as their text) and missing values (empty text).

The rows that come out hold the columns in schema order: numbers as float64, categories as
their level text (or None), text as str. ``steps.model.CostSensitiveModel.inputs`` then applies
the same category codes, TF-IDF and linear transforms that Evaluate used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from steps.cost_expressions import COST_COLUMN_PREFIX
from steps.data import ROW_COLUMN, _is_missing, _label_text
from steps.errors import InputError

NUMERIC = "numeric"
CATEGORICAL = "categorical"
TEXT = "text"
#: How many known levels an unknown-category message lists.
SHOWN_LEVELS = 10


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema of a model trained on data with ``schema`` (profile.json's schema).

    Examples
    --------
    >>> schema = {"features": ["age", "site"], "categorical": {"site": ["a", "b"]},
    ...           "text": ["note"], "label_columns": ["y"], "target": "y"}
    >>> spec = input_schema(schema)
    >>> spec["columns"], spec["types"]["site"], spec["types"]["note"]
    (['age', 'site', 'note'], 'categorical', 'text')
    """
    categorical = {name: list(levels) for name, levels in schema.get("categorical", {}).items()}
    text = list(schema.get("text", []))
    columns = list(schema["features"]) + text
    types = {
        name: TEXT if name in text else CATEGORICAL if name in categorical else NUMERIC
        for name in columns
    }
    label_columns = list(schema.get("label_columns") or [schema["target"]])
    passengers = sorted({*label_columns, schema.get("target") or label_columns[0], ROW_COLUMN})
    return {
        "columns": columns,
        "types": types,
        "categories": categorical,
        "text": text,
        "label_columns": label_columns,
        "ignored_columns": passengers,
    }


def check_columns(names: list[str], spec: dict[str, Any]) -> None:
    """Refuse a missing feature column or a column the model does not know."""
    present = set(names)
    missing = [name for name in spec["columns"] if name not in present]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(
            f"column '{missing[0]}' is missing{more}: the model needs the columns "
            f"{_listed(spec['columns'])}"
        )
    # Under per-row costs the columns the costs read come along too (steps.decision); a
    # prepared split's own cost columns (``__cost:...``) ride along like its label columns.
    known = set(spec["columns"]) | set(spec["ignored_columns"]) | set(spec.get("cost_columns", []))
    unknown = [
        name for name in names if name not in known and not name.startswith(COST_COLUMN_PREFIX)
    ]
    if unknown:
        raise InputError(
            f"column '{unknown[0]}' is not one the model was trained on: remove it (the model "
            f"takes {_listed(spec['columns'])})"
        )


def _listed(names: list[str], limit: int = 12) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _row_hint(position: int) -> str:
    return f"row {position + 1}"


def numeric_column(name: str, values: pd.Series) -> np.ndarray:
    """A numeric column as float64, NaN for missing; text or infinity refused."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        result = values.astype("float64").to_numpy()
    else:
        result = np.empty(len(values), dtype=np.float64)
        for position, value in enumerate(values.tolist()):
            result[position] = _number(name, value, position)
    infinite = np.isinf(result)
    if infinite.any():
        position = int(np.flatnonzero(infinite)[0])
        raise InputError(
            f"column '{name}' holds an infinite value in {_row_hint(position)}: send a finite "
            "number, or leave it empty for a missing value"
        )
    return result


def _number(name: str, value: Any, position: int) -> float:
    if _is_missing(value):
        return math.nan
    if isinstance(value, (bool, np.bool_)):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return math.nan
        flag = {"true": 1.0, "false": 0.0}.get(text.lower())
        if flag is not None:
            return flag
        try:
            return float(text)
        except ValueError:
            pass
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InputError(
            f"column '{name}' is numeric but holds '{shown}' in {_row_hint(position)}: send a "
            "number, or leave it empty for a missing value"
        )
    raise InputError(
        f"column '{name}' is numeric but holds a {type(value).__name__} in "
        f"{_row_hint(position)}: send a number, or leave it empty for a missing value"
    )


def categorical_column(name: str, values: pd.Series, levels: list[str]) -> list[Any]:
    """Level texts (None for missing); a level training never saw is refused."""
    known = set(levels)
    out: list[Any] = []
    for position, value in enumerate(values.tolist()):
        if _is_missing(value) or (isinstance(value, str) and value.strip() == ""):
            out.append(None)
            continue
        if isinstance(value, (dict, list, tuple)):
            raise InputError(
                f"column '{name}' is categorical but holds a {type(value).__name__} in "
                f"{_row_hint(position)}: send one of its levels"
            )
        text = _label_text(value)
        if text not in known:
            shown = _listed(levels, SHOWN_LEVELS)
            raise InputError(
                f"column '{name}' holds the category '{text}' in {_row_hint(position)}, which "
                f"training never saw (levels: {shown}): send a known level, or leave it empty to "
                "score it as missing"
            )
        out.append(text)
    return out


def text_column(name: str, values: pd.Series) -> list[str]:
    """Text as str, missing as empty text (as training read it)."""
    out: list[str] = []
    for position, value in enumerate(values.tolist()):
        if _is_missing(value):
            out.append("")
        elif isinstance(value, (str, bool, int, float, np.bool_, np.integer, np.floating)):
            out.append(str(value))
        else:
            raise InputError(
                f"column '{name}' is text but holds a {type(value).__name__} in "
                f"{_row_hint(position)}: send text"
            )
    return out


def all_numeric(spec: dict[str, Any]) -> bool:
    return all(kind == NUMERIC for kind in spec["types"].values())


def numeric_matrix(rows: list[list[Any]], spec: dict[str, Any]) -> np.ndarray:
    """Rows of values in the schema's column order as float64, by the rules of
    :func:`numeric_column` (a schema of numeric columns only; no pandas on the way)."""
    if not rows:
        raise InputError("there are no rows to score: send at least one row")
    columns = spec["columns"]
    matrix = np.empty((len(rows), len(columns)), dtype=np.float64)
    for position, row in enumerate(rows):
        for index, (name, value) in enumerate(zip(columns, row, strict=False)):
            matrix[position, index] = _number(name, value, position)
    infinite = np.isinf(matrix)
    if infinite.any():
        position, index = (int(i) for i in np.argwhere(infinite)[0])
        raise InputError(
            f"column '{columns[index]}' holds an infinite value in {_row_hint(position)}: send "
            "a finite number, or leave it empty for a missing value"
        )
    return matrix


def prepare_rows(frame: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Check ``frame`` against the input schema; return the model's input columns.

    Examples
    --------
    >>> spec = input_schema({"features": ["x", "c"], "categorical": {"c": ["a", "b"]},
    ...                      "text": [], "target": "y"})
    >>> rows = prepare_rows(pd.DataFrame({"x": ["1.5", ""], "c": ["b", None], "y": [1, 0]}), spec)
    >>> rows["x"].tolist()[0], rows["c"].tolist()
    (1.5, ['b', None])
    >>> prepare_rows(pd.DataFrame({"x": [1.0], "c": ["z"]}), spec)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    steps.errors.InputError: column 'c' holds the category 'z' in row 1, which training never...
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"the rows must be a pandas DataFrame with named columns, not {type(frame).__name__}"
        )
    names = [str(name) for name in frame.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InputError(f"column '{duplicated[0]}' is given twice: give each column once")
    if len(frame) == 0:
        raise InputError("there are no rows to score: send at least one row")
    check_columns(names, spec)
    frame = frame.set_axis(names, axis=1)
    index = pd.RangeIndex(len(frame))
    prepared: dict[str, pd.Series] = {}
    for name in spec["columns"]:
        kind = spec["types"][name]
        if kind == NUMERIC:
            prepared[name] = pd.Series(numeric_column(name, frame[name]), index=index)
        elif kind == CATEGORICAL:
            levels = spec["categories"][name]
            # object, not pandas' string dtype: missing stays None, as apply_schema expects.
            prepared[name] = pd.Series(
                categorical_column(name, frame[name], levels), index=index, dtype=object
            )
        else:
            prepared[name] = pd.Series(text_column(name, frame[name]), index=index, dtype=object)
    return pd.DataFrame(prepared, index=index)
