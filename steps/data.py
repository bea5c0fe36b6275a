"""Reading a table (CSV or Parquet) and checking it before anything is trained on it.

Every problem found here raises :class:`~steps.errors.InputError` with one line that names the
problem and the fix. The checks run twice on purpose: in the command line before an execution
starts (so bad input exits 2 and nothing is recorded) and in the Preprocess job (so the same
data gets the same answer on SageMaker).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from steps.errors import InputError

#: Column the splits add: each row's position in its source file. Reserved in input data.
ROW_COLUMN = "__row__"
PARQUET_MAGIC = b"PAR1"
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class TableSpec:
    """What the user said about the table: the target, its positive value, the column roles."""

    target: str
    positive_label: Optional[str] = None
    label_name: Optional[str] = None
    categorical: Tuple[str, ...] = ()
    drop: Tuple[str, ...] = ()


@dataclass
class PreparedTable:
    """Features and 0/1 labels, with the schema that turns new data into the same features."""

    features: pd.DataFrame
    labels: np.ndarray
    schema: Dict[str, Any]
    warnings: List[str] = field(default_factory=list)


def find_data_file(path: Path) -> Path:
    """The data file itself, or the one data file inside a folder (a job's input channel)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"data file '{path}' does not exist: check the path")
    if path.is_file():
        return path
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if len(files) != 1:
        names = ", ".join(p.name for p in files[:5]) or "none"
        raise InputError(
            f"folder '{path}' must hold exactly one data file, found {len(files)} ({names}): "
            "give the file itself"
        )
    return files[0]


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, by content rather than by name where they disagree."""
    path = find_data_file(Path(path))
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if size == 0 or not head.strip():
        raise InputError(f"data file '{path.name}' is empty: give a table with a header and rows")
    if head.startswith(PARQUET_MAGIC):
        frame = _read_parquet(path)
    elif path.name.lower().endswith(PARQUET_SUFFIXES):
        raise InputError(
            f"data file '{path.name}' is named .parquet but is not Parquet: convert it or give a "
            "CSV file"
        )
    elif path.name.lower().endswith(".gz"):
        frame = _read_csv(path, compression="gzip")
    else:
        if b"\x00" in head:
            raise InputError(
                f"data file '{path.name}' is binary, not CSV text: give a CSV (UTF-8) or Parquet "
                "file"
            )
        frame = _read_csv(path, compression=None)
    if len(frame.columns) == 0:
        raise InputError(f"data file '{path.name}' has no columns: give a header row")
    if len(frame) == 0:
        raise InputError(
            f"data file '{path.name}' has a header but no rows: give at least one row per class"
        )
    return frame


def _read_csv(path: Path, compression: Optional[str]) -> pd.DataFrame:
    header = _csv_header(path, compression)
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(
            f"data file '{path.name}' has duplicate column names ({', '.join(duplicates)}): "
            "rename them so each column has one name"
        )
    try:
        return pd.read_csv(path, compression=compression, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError as error:
        raise InputError(
            f"data file '{path.name}' is not UTF-8 text (byte {error.object[error.start]:#04x} "
            f"at offset {error.start}): save it as UTF-8"
        ) from None
    except pd.errors.ParserError as error:
        detail = str(error).strip().splitlines()[-1]
        raise InputError(
            f"data file '{path.name}' is not a well-formed CSV ({detail}): give every row the "
            "same number of fields as the header, quoting fields that contain commas"
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(
            f"data file '{path.name}' is empty: give a table with a header and rows"
        ) from None
    except (OSError, EOFError) as error:
        raise InputError(
            f"data file '{path.name}' could not be read ({error}): check the file"
        ) from None


def _csv_header(path: Path, compression: Optional[str]) -> List[str]:
    import gzip

    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
            row = next(csv.reader(io.StringIO(handle.readline())), [])
    except UnicodeDecodeError as error:
        raise InputError(
            f"data file '{path.name}' is not UTF-8 text (byte {error.object[error.start]:#04x} "
            f"at offset {error.start}): save it as UTF-8"
        ) from None
    except (OSError, EOFError) as error:
        raise InputError(
            f"data file '{path.name}' could not be read ({error}): check the file"
        ) from None
    return [name.strip() for name in row]


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(
            f"data file '{path.name}' is not a valid Parquet file ({error}): rewrite it"
        ) from None
    names = list(schema.names)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(
            f"data file '{path.name}' has duplicate column names ({', '.join(duplicates)}): "
            "rename them so each column has one name"
        )
    for column in schema:
        if pa.types.is_nested(column.type):
            raise InputError(
                f"column '{column.name}' of '{path.name}' holds nested values ({column.type}): "
                "flatten it into plain columns"
            )
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(
            f"data file '{path.name}' is not a valid Parquet file ({error}): rewrite it"
        ) from None


def prepare_table(frame: pd.DataFrame, spec: TableSpec) -> PreparedTable:
    """Check the target and features and turn them into model inputs.

    The target becomes 1 for ``spec.positive_label`` and 0 for the other class; declared
    categorical columns become pandas categories with levels fixed here (from all rows), so
    every split and every later scoring uses the same codes.
    """
    labels, positive, negative = _binary_labels(frame, spec)
    features, categorical_levels, warnings = _features(frame, spec)
    schema = {
        "target": spec.target,
        "positive_label": positive,
        "negative_label": negative,
        "labels": [spec.label_name or positive],
        "features": list(features.columns),
        "categorical": categorical_levels,
    }
    return PreparedTable(features=features, labels=labels, schema=schema, warnings=warnings)


def _binary_labels(frame: pd.DataFrame, spec: TableSpec) -> Tuple[np.ndarray, str, str]:
    if spec.target not in frame.columns:
        columns = [str(c) for c in frame.columns]
        close = difflib.get_close_matches(spec.target, columns, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise InputError(
            f"target column '{spec.target}' is not in the data (columns: {shown}): {hint}name the "
            "target with --target"
        )
    target = frame[spec.target]
    missing = target.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0]) + 1
        raise InputError(
            f"target '{spec.target}' is missing in {int(missing.sum())} of {len(frame)} rows "
            f"(first at data row {first}): drop those rows or fill in their labels"
        )
    text = target.map(_label_text)
    values = sorted(text.unique().tolist())
    if len(values) == 1:
        raise InputError(
            f"target '{spec.target}' has one class ('{values[0]}') in all {len(frame)} rows: a "
            "classifier needs examples of both classes"
        )
    if len(values) > 2:
        shown = ", ".join(values[:6]) + (", ..." if len(values) > 6 else "")
        raise InputError(
            f"target '{spec.target}' has {len(values)} classes ({shown}), not two: give a binary "
            "target, or one 0/1 column per label for multi-label data"
        )
    positive = _positive_label(spec, values)
    negative = values[0] if values[1] == positive else values[1]
    return (text == positive).to_numpy().astype(np.int8), positive, negative


def _label_text(value: Any) -> str:
    """A label as text, with 1, 1.0 and True all written '1' so flags match however stored."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _positive_label(spec: TableSpec, values: Sequence[str]) -> str:
    if spec.positive_label is None:
        if set(values) == {"0", "1"}:
            return "1"
        raise InputError(
            f"target '{spec.target}' has the values {values[0]} and {values[1]}: name the "
            "positive one with --positive-label"
        )
    wanted = _label_text(spec.positive_label)
    if wanted.lower() in ("true", "false") and set(values) == {"0", "1"}:
        wanted = "1" if wanted.lower() == "true" else "0"
    if wanted not in values:
        raise InputError(
            f"positive label '{spec.positive_label}' is not a value of target '{spec.target}' "
            f"(values: {', '.join(values)}): name one of them with --positive-label"
        )
    return wanted


def _features(
    frame: pd.DataFrame, spec: TableSpec
) -> Tuple[pd.DataFrame, Dict[str, List[str]], List[str]]:
    columns = [str(c) for c in frame.columns]
    if ROW_COLUMN in columns:
        raise InputError(
            f"the data has a column named '{ROW_COLUMN}', which costpipe reserves for row "
            "positions: rename that column"
        )
    for role, names in (("categorical", spec.categorical), ("dropped", spec.drop)):
        unknown = [name for name in names if name not in columns]
        if unknown:
            raise InputError(
                f"{role} column '{unknown[0]}' is not in the data: check its spelling "
                f"(columns: {', '.join(columns[:12])})"
            )
    if spec.target in spec.categorical or spec.target in spec.drop:
        raise InputError(
            f"target '{spec.target}' is also listed as a feature column: remove it from "
            "categorical/drop"
        )
    names = [c for c in frame.columns if c != spec.target and c not in spec.drop]
    if not names:
        raise InputError("the data has no feature columns besides the target: add features")
    features = frame[names].copy()
    levels: Dict[str, List[str]] = {}
    warnings: List[str] = []
    for name in names:
        column = features[name]
        if column.isna().all():
            raise InputError(
                f"feature column '{name}' is entirely empty: drop it (--drop {name}) or fill "
                "in its values"
            )
        if name in spec.categorical:
            text = column.map(lambda v: None if _is_missing(v) else _label_text(v))
            levels[name] = sorted(text.dropna().unique().tolist())
            features[name] = pd.Categorical(text, categories=levels[name])
        elif pd.api.types.is_bool_dtype(column):
            features[name] = column.astype(np.float32)
        elif not pd.api.types.is_numeric_dtype(column):
            raise InputError(_text_in_numeric_message(name, column))
        if features[name].nunique(dropna=True) <= 1:
            warnings.append(f"feature '{name}' is constant: it cannot help the model")
    if len(warnings) == len(names):
        raise InputError("every feature column is constant: the data holds nothing to learn from")
    return features, levels, warnings


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _text_in_numeric_message(name: str, column: pd.Series) -> str:
    numeric = pd.to_numeric(column, errors="coerce")
    bad = column.notna() & numeric.isna()
    position = int(np.flatnonzero(bad.to_numpy())[0])
    value = str(column.iloc[position])
    if len(value) > 40:
        value = value[:37] + "..."
    return (
        f"feature column '{name}' holds text ('{value}' in data row {position + 1}): declare "
        f"it categorical (--categorical {name}) or make its values numbers"
    )


def apply_schema(frame: pd.DataFrame, schema: Dict[str, Any]) -> pd.DataFrame:
    """The schema's feature columns of ``frame``, categories re-coded with the schema's levels."""
    missing = [name for name in schema["features"] if name not in frame.columns]
    if missing:
        raise InputError(
            f"the data lacks feature columns the model was trained on ({', '.join(missing[:5])}):"
            " give data with the same columns"
        )
    features = frame[schema["features"]].copy()
    for name, levels in schema["categorical"].items():
        text = features[name].map(lambda v: None if _is_missing(v) else _label_text(v))
        features[name] = pd.Categorical(text, categories=levels)
    return features


def labels_from_frame(frame: pd.DataFrame, schema: Dict[str, Any]) -> np.ndarray:
    """0/1 labels of a prepared split (the target column already holds 0/1)."""
    return frame[schema["target"]].to_numpy().astype(np.int8)
