"""Reading a table (CSV or Parquet) and checking it before anything is trained on it.

Every problem found here raises :class:`~steps.errors.InputError` with one line that names the
problem and the fix. The checks run twice on purpose: in the command line before an execution
starts (so bad input exits 2 and nothing is recorded) and in the Preprocess job (so the same
data gets the same answer on SageMaker).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steps.cost_expressions import COST_COLUMN_PREFIX
from steps.errors import InputError
from steps.options import AUTO

#: Column the splits add: each row's position in its source file. Reserved in input data.
ROW_COLUMN = "__row__"
PARQUET_MAGIC = b"PAR1"
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
_SNIFF_BYTES = 64 * 1024
#: Delimiters sniffed in CSV files, in the order ties are broken; anything else is given with
#: ``--delimiter``.
SNIFFED_DELIMITERS = ",;\t|"
#: Lines of a CSV file the delimiter is sniffed on: enough for a stable guess, cheap on any file.
_SNIFF_LINES = 50
#: At most this many distinct values... coded attributes (German credit's A11-A14: at most 10
#: levels), US states and territories (56), months, weekdays and product groups pass; identifiers
#: and names, whose distinct values grow with the rows, do not once the data has a few hundred.
AUTO_MAX_LEVELS = 100
#: ...of at most this many characters on average: codes and labels are short, while free text
#: (descriptions, notes, addresses) averages more, and is better read as words (``--text``).
AUTO_MAX_MEAN_LENGTH = 30
#: The largest magnitude XGBoost can hold: it stores features as 32-bit floats, so a larger
#: finite value becomes infinite there and fails training.
FLOAT32_MAX = float(np.finfo(np.float32).max)


#: Most labels a multi-label target may have (Amazon Comprehend's limit for custom classifiers).
MAX_LABELS = 100
#: Prefix of the 0/1 columns the splits hold for labels read from a delimited target column.
LABEL_COLUMN_PREFIX = "label:"


@dataclass(frozen=True)
class TableSpec:
    """What the user said about the table: the target(s), the column roles.

    Binary: ``target`` and its ``positive_label``. Multi-label: ``targets`` (several 0/1
    columns), or ``target`` with ``label_delimiter`` (one column of labels joined by it, e.g.
    ``toxic|threat``); rows with no label are an error unless ``no_label`` names an explicit
    label for them (e.g. ``"none"``).
    """

    target: str = ""
    positive_label: str | None = None
    label_name: str | None = None
    #: Column names, ``("auto",)`` (string columns with few distinct values) or ``auto`` with
    #: names (those columns whatever their values, and the detected ones).
    categorical: tuple[str, ...] = (AUTO,)
    drop: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    label_delimiter: str | None = None
    text: tuple[str, ...] = ()
    no_label: str | None = None

    @property
    def multilabel(self) -> bool:
        return bool(self.targets) or bool(self.label_delimiter)

    @property
    def auto_categorical(self) -> bool:
        """Whether string columns nobody declared are detected as categorical."""
        return AUTO in self.categorical

    @property
    def declared_categorical(self) -> tuple[str, ...]:
        """The columns named as categorical (without the ``auto`` keyword)."""
        return tuple(name for name in self.categorical if name != AUTO)

    @property
    def target_columns(self) -> tuple[str, ...]:
        return self.targets if self.targets else ((self.target,) if self.target else ())


@dataclass
class PreparedTable:
    """Features, the 0/1 label matrix (one column per label; binary data has one) and the
    schema that turns new data into the same features and labels."""

    features: pd.DataFrame
    labels: np.ndarray
    schema: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass
class TableFile:
    """A table as read from its file, and how it was read."""

    frame: pd.DataFrame
    format: str  # "csv" or "parquet"
    delimiter: str | None = None  # CSV only: the delimiter the file was read with
    delimiter_sniffed: bool = False  # CSV only: found by sniffing rather than given

    def describe(self) -> dict[str, Any]:
        """What profile.json records about how the file was read."""
        return {
            "format": self.format,
            "delimiter": self.delimiter,
            "delimiter_sniffed": self.delimiter_sniffed if self.format == "csv" else None,
        }


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


def read_table(path: Path, delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, by content rather than by name where they disagree."""
    return load_table(path, delimiter).frame


def load_table(path: Path, delimiter: str | None = None) -> TableFile:
    """Read a CSV or Parquet file and say how: a CSV's delimiter is ``delimiter`` when given,
    else sniffed (comma, semicolon, tab or pipe; comma when the lines do not tell)."""
    path = find_data_file(Path(path))
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if size == 0 or not head.strip():
        raise InputError(f"data file '{path.name}' is empty: give a table with a header and rows")
    if head.startswith(PARQUET_MAGIC):
        table = TableFile(_read_parquet(path), "parquet")
    elif path.name.lower().endswith(PARQUET_SUFFIXES):
        raise InputError(
            f"data file '{path.name}' is named .parquet but is not Parquet: convert it or give a "
            "CSV file"
        )
    else:
        compression = "gzip" if path.name.lower().endswith(".gz") else None
        if compression is None and b"\x00" in head:
            raise InputError(
                f"data file '{path.name}' is binary, not CSV text: give a CSV (UTF-8) or Parquet "
                "file"
            )
        sniffed = delimiter is None
        used = sniff_delimiter(path, compression) if sniffed else delimiter
        table = TableFile(_read_csv(path, compression, used), "csv", used, sniffed)
    frame = table.frame
    if len(frame.columns) == 0:
        raise InputError(f"data file '{path.name}' has no columns: give a header row")
    if len(frame) == 0:
        raise InputError(
            f"data file '{path.name}' has a header but no rows: give at least one row per class"
        )
    return table


def _open_text(path: Path, compression: str | None) -> Any:
    import gzip

    if compression == "gzip":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


@contextlib.contextmanager
def _text_errors(path: Path) -> Iterator[None]:
    """Reading a file as text: a decoding or reading error becomes one line naming the file."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise InputError(
            f"data file '{path.name}' is not UTF-8 text (byte {error.object[error.start]:#04x} "
            f"at offset {error.start}): save it as UTF-8"
        ) from None
    except (OSError, EOFError) as error:
        raise InputError(
            f"data file '{path.name}' could not be read ({error}): check the file"
        ) from None


def sniff_delimiter(path: Path, compression: str | None = None) -> str:
    """The delimiter of a CSV file's first lines among comma, semicolon, tab and pipe (Python's
    ``csv.Sniffer``); comma when they do not tell (one column, or no consistent candidate)."""
    with _text_errors(path), _open_text(path, compression) as handle:
        sample = handle.read(_SNIFF_BYTES)
    lines = sample.splitlines(keepends=True)
    # Whole lines only (the last one read may be cut short), at most _SNIFF_LINES of them.
    complete = lines[:-1] if len(lines) > 1 and len(sample) == _SNIFF_BYTES else lines
    sample = "".join(complete[:_SNIFF_LINES])
    try:
        return csv.Sniffer().sniff(sample, delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path, compression: str | None, delimiter: str = ",") -> pd.DataFrame:
    header = _csv_header(path, compression, delimiter)
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(
            f"data file '{path.name}' has duplicate column names ({', '.join(duplicates)}): "
            "rename them so each column has one name"
        )
    try:
        return pd.read_csv(
            path, sep=delimiter, compression=compression, encoding="utf-8", low_memory=False
        )
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


def _csv_header(path: Path, compression: str | None, delimiter: str = ",") -> list[str]:
    try:
        with _text_errors(path), _open_text(path, compression) as handle:
            # The reader, not one line: a quoted column name may hold a line break.
            row = next(csv.reader(handle, delimiter=delimiter), [])
    except csv.Error:
        return []  # pandas reports the malformed file with its row
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
    """Check the target(s) and features and turn them into model inputs.

    Binary data: the target becomes 1 for ``spec.positive_label`` and 0 for the other class.
    Multi-label data: one 0/1 column per label. Categorical columns (declared, detected by
    ``auto``, or typed ``category`` in the file) become pandas categories with levels fixed here
    (from all rows), so every split and every later scoring uses the same codes; text columns
    are kept as text for the model's TF-IDF.
    """
    if spec.multilabel:
        labels, label_schema = _multilabel_labels(frame, spec)
    else:
        binary, positive, negative = _binary_labels(frame, spec)
        labels = binary[:, None]
        label_schema = {
            "task": "binary",
            "target": spec.target,
            "positive_label": positive,
            "negative_label": negative,
            "labels": [spec.label_name or positive],
            "label_columns": [spec.target],
        }
    roles = _features(frame, spec)
    schema = {
        **label_schema,
        "features": [c for c in roles.features.columns if c not in roles.text],
        "categorical": roles.levels,
        "text": roles.text,
        # Columns whose role came from their values or their Parquet type, not from an option.
        "detected": roles.detected,
    }
    _check_derived_names(schema)
    features, warnings = roles.features, roles.warnings
    return PreparedTable(features=features, labels=labels, schema=schema, warnings=warnings)


def _check_target_column(frame: pd.DataFrame, name: str, flag: str) -> None:
    if name not in frame.columns:
        columns = [str(c) for c in frame.columns]
        close = difflib.get_close_matches(name, columns, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise InputError(
            f"target column '{name}' is not in the data (columns: {shown}): {hint}name the "
            f"target with {flag}"
        )


def _check_no_missing(frame: pd.DataFrame, name: str) -> None:
    missing = frame[name].isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0]) + 1
        raise InputError(
            f"target '{name}' is missing in {int(missing.sum())} of {len(frame)} rows "
            f"(first at data row {first}): drop those rows or fill in their labels"
        )


def _binary_labels(frame: pd.DataFrame, spec: TableSpec) -> tuple[np.ndarray, str, str]:
    _check_target_column(frame, spec.target, "--target")
    _check_no_missing(frame, spec.target)
    text = frame[spec.target].map(_label_text)
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
            "target, or set a label delimiter (--label-delimiter) or one 0/1 column per label "
            "(--targets) for multi-label data"
        )
    positive = _positive_label(spec, values)
    negative = values[0] if values[1] == positive else values[1]
    return (text == positive).to_numpy().astype(np.int8), positive, negative


def _multilabel_labels(
    frame: pd.DataFrame, spec: TableSpec, require_every_label: bool = True
) -> tuple[np.ndarray, dict[str, Any]]:
    """The label matrix from several 0/1 columns or one delimited column, with its schema."""
    if spec.targets:
        names = list(spec.targets)
        if len(set(names)) != len(names):
            raise InputError("a target column is listed twice in --targets: list each once")
        for name in names:
            _check_target_column(frame, name, "--targets")
            _check_no_missing(frame, name)
        columns = []
        for name in names:
            text = frame[name].map(_label_text)
            bad = sorted(set(text.unique()) - {"0", "1"})
            if bad:
                raise InputError(
                    f"target column '{name}' holds {bad[0]!r}, not 0/1: multi-label targets given "
                    "as columns must be 0/1 (or true/false)"
                )
            columns.append((text == "1").to_numpy())
        labels = np.column_stack(columns).astype(np.int8)
        label_columns = list(names)
        schema: dict[str, Any] = {"task": "multilabel", "target": None, "targets": names}
    else:
        _check_target_column(frame, spec.target, "--target")
        delimiter = spec.label_delimiter
        tokens = frame[spec.target].map(
            lambda value: (
                []
                if _is_missing(value)
                else [t.strip() for t in str(value).split(delimiter) if t.strip()]
            )
        )
        names = sorted({token for row in tokens for token in row})
        if not names:
            raise InputError(
                f"target '{spec.target}' holds no labels: give labels joined by "
                f"'{delimiter}', e.g. toxic{delimiter}threat"
            )
        index = {name: i for i, name in enumerate(names)}
        labels = np.zeros((len(frame), len(names)), dtype=np.int8)
        for row, row_tokens in enumerate(tokens):
            for token in row_tokens:
                labels[row, index[token]] = 1
        label_columns = [LABEL_COLUMN_PREFIX + name for name in names]
        schema = {"task": "multilabel", "target": spec.target, "label_delimiter": delimiter}
    labels, names, label_columns = _rows_without_labels(labels, names, label_columns, spec)
    if len(names) > MAX_LABELS:
        raise InputError(
            f"the target has {len(names)} labels, more than {MAX_LABELS}: merge rare labels or "
            "split the problem"
        )
    counts = labels.sum(axis=0)
    for name, count in zip(names, counts, strict=False):
        if not require_every_label:
            break
        if count == 0:
            raise InputError(f"label '{name}' has no positive rows: drop it from the targets")
        if count == len(labels):
            raise InputError(
                f"label '{name}' is set on every row: it carries no information, drop it"
            )
    schema.update({"labels": list(names), "label_columns": label_columns})
    return labels, schema


def _rows_without_labels(
    labels: np.ndarray, names: list[str], columns: list[str], spec: TableSpec
) -> tuple[np.ndarray, list[str], list[str]]:
    """Refuse unlabelled rows, or give them the explicit label ``spec.no_label``."""
    empty = labels.sum(axis=1) == 0
    if not empty.any():
        return labels, names, columns
    if not spec.no_label:
        first = int(np.flatnonzero(empty)[0]) + 1
        raise InputError(
            f"{int(empty.sum())} of {len(labels)} rows have no label (first at data row {first}):"
            " label them, or set no_label (e.g. --no-label none) to give them an explicit label"
        )
    if spec.no_label in names:
        raise InputError(
            f"no_label '{spec.no_label}' is already a label: choose another name for rows "
            "without one"
        )
    column = (
        LABEL_COLUMN_PREFIX + spec.no_label if spec.label_delimiter else f"no_label:{spec.no_label}"
    )
    return (
        np.column_stack([labels, empty.astype(np.int8)]),
        [*names, spec.no_label],
        [*columns, column],
    )


def _label_text(value: Any) -> str:
    """A label as text, with 1, 1.0 and True all written '1' so flags match however stored."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return {"true": "1", "false": "0"}.get(text.lower(), text)


def _positive_label(spec: TableSpec, values: Sequence[str]) -> str:
    if spec.positive_label is None:
        if set(values) == {"0", "1"}:
            return "1"
        raise InputError(
            f"target '{spec.target}' has the values {values[0]} and {values[1]}: name the "
            "positive one with --positive-label"
        )
    wanted = _label_text(spec.positive_label)
    if wanted not in values:
        raise InputError(
            f"positive label '{spec.positive_label}' is not a value of target '{spec.target}' "
            f"(values: {', '.join(values)}): name one of them with --positive-label"
        )
    return wanted


@dataclass
class _FeatureRoles:
    """The converted feature columns and the role each got."""

    features: pd.DataFrame
    levels: dict[str, list[str]]  # categorical columns and their levels
    text: list[str]
    detected: dict[str, list[str]]  # roles found from values or file types, not options
    warnings: list[str]


def _features(
    frame: pd.DataFrame,
    spec: TableSpec,
    require_variation: bool = True,
    follow_types: bool = True,
) -> _FeatureRoles:
    """Check and convert the feature columns; ``require_variation`` refuses data in which no
    feature varies (right for the data trained on, not for a small test file);
    ``follow_types`` lets ``category`` and pandas ``string`` columns declare themselves (off for
    a test file, which follows the data's schema)."""
    columns = [str(c) for c in frame.columns]
    if ROW_COLUMN in columns:
        raise InputError(
            f"the data has a column named '{ROW_COLUMN}', which costpipe reserves for row "
            "positions: rename that column"
        )
    reserved = [name for name in columns if name.startswith(COST_COLUMN_PREFIX)]
    if reserved:
        raise InputError(
            f"the data has a column named '{reserved[0]}': names starting with "
            f"'{COST_COLUMN_PREFIX}' are reserved for each row's costs; rename that column"
        )
    declared = spec.declared_categorical
    for role, names in (
        ("categorical", declared),
        ("dropped", spec.drop),
        ("text", spec.text),
    ):
        unknown = [name for name in names if name not in columns]
        if unknown:
            raise InputError(
                f"{role} column '{unknown[0]}' is not in the data: check its spelling "
                f"(columns: {', '.join(columns[:12])})"
            )
    targets = set(spec.target_columns)
    for role, names in (
        ("categorical", declared),
        ("drop", spec.drop),
        ("text", spec.text),
    ):
        clash = targets & set(names)
        if clash:
            raise InputError(
                f"target '{sorted(clash)[0]}' is also listed as a {role} column: remove it there"
            )
    both = set(declared) & set(spec.text)
    if both:
        raise InputError(
            f"column '{sorted(both)[0]}' is declared both categorical and text: choose one"
        )
    names = [c for c in frame.columns if c not in targets and c not in spec.drop]
    if not names:
        raise InputError("the data has no feature columns besides the target: add features")
    features = frame[names].copy()
    roles = _FeatureRoles(features, {}, [], {"categorical": [], "text": []}, [])
    for name in names:
        column = features[name]
        if column.isna().all():
            raise InputError(
                f"feature column '{name}' is entirely empty: drop it (--drop {name}) or fill "
                "in its values"
            )
        role = _declared_role(name, column, spec)
        if role is None:
            role = _undeclared_role(name, column, spec, follow_types)
            if role in roles.detected:
                roles.detected[role].append(name)
        if role == "text":
            from steps.text import check_text_column

            features[name] = column.map(lambda v: "" if _is_missing(v) else str(v))
            check_text_column(features[name], name)
            roles.text.append(name)
        elif role == "categorical":
            text = column.astype(object).map(lambda v: None if _is_missing(v) else _label_text(v))
            roles.levels[name] = sorted(text.dropna().unique().tolist())
            features[name] = pd.Categorical(text, categories=roles.levels[name])
        elif role == "boolean":
            # True/False with blanks is read as text: a 0/1 feature with missing values.
            features[name] = column.map(
                lambda v: np.nan if _is_missing(v) else float(_label_text(v) == "1")
            ).astype(np.float32)
        else:
            _check_finite(name, column)
        if features[name].nunique(dropna=True) <= 1:
            roles.warnings.append(f"feature '{name}' is constant: it cannot help the model")
    if require_variation and len(roles.warnings) == len(names):
        raise InputError(
            "every feature column is constant, so the data holds nothing to learn from: give "
            "columns whose values vary"
        )
    return roles


def _declared_role(name: str, column: pd.Series, spec: TableSpec) -> str | None:
    """The role an option or the column's values fix without a doubt; None for text nobody
    declared."""
    if name in spec.text:
        return "text"
    if name in spec.declared_categorical:
        return "categorical"
    if pd.api.types.is_bool_dtype(column) or _is_boolean_with_gaps(column):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column):
        raise InputError(_dates_message(name))
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return None


def _is_typed_string(dtype: Any) -> bool:
    """pandas' ``string`` dtype (missing values are ``pd.NA``), which a Parquet file written from
    it keeps. Not pandas 3's default ``str`` for text read from CSV (missing values are NaN)."""
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA


def _undeclared_role(name: str, column: pd.Series, spec: TableSpec, follow_types: bool) -> str:
    """Categorical or text for a column of strings nobody declared, or the error saying how to
    declare it.

    A ``category`` column is categorical and a pandas ``string`` column is categorical or text
    (by the rule below): their type declares them. Other strings are categorical under ``auto``
    when they have at most ``AUTO_MAX_LEVELS`` distinct values averaging at most
    ``AUTO_MAX_MEAN_LENGTH`` characters; otherwise, and for numbers with stray text or dates, the
    error names the column and the fix.
    """
    if follow_types and isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical"
    values = column.dropna().astype(object)
    typed = follow_types and _is_typed_string(column.dtype)
    if not typed:
        if not spec.auto_categorical:
            raise InputError(_text_in_numeric_message(name, column, spec))
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().mean() >= 0.5:  # mostly numbers: the text in it is a mistake
            raise InputError(_text_in_numeric_message(name, column, spec))
        text = values.map(str)
        if pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True).notna().all():
            raise InputError(_dates_message(name))
    text = values.map(str)
    distinct = int(text.nunique())
    mean_length = float(text.str.len().mean())
    if distinct <= AUTO_MAX_LEVELS and mean_length <= AUTO_MAX_MEAN_LENGTH:
        return "categorical"
    if typed:
        return "text"
    raise InputError(_free_text_message(name, distinct, mean_length, spec))


def _free_text_message(name: str, distinct: int, mean_length: float, spec: TableSpec) -> str:
    return (
        f"feature column '{name}' looks like free text ({distinct} distinct values of "
        f"{mean_length:.0f} characters on average; automatic categories have at most "
        f"{AUTO_MAX_LEVELS} of at most {AUTO_MAX_MEAN_LENGTH}): declare it text (--text {name}) "
        f"for word features or categorical (--categorical {_categorical_fix(name, spec)}), or "
        f"drop it (--drop {name})"
    )


def _categorical_fix(name: str, spec: TableSpec) -> str:
    """The ``--categorical`` value that adds ``name`` to what the user gave."""
    return ",".join([*spec.categorical, name]) if spec.categorical else name


def _dates_message(name: str) -> str:
    return (
        f"feature column '{name}' holds dates or times: turn them into numbers (e.g. days "
        f"since a reference date) or drop the column (--drop {name})"
    )


def _check_finite(name: str, column: pd.Series) -> None:
    """Refuse infinite values and values beyond XGBoost's 32-bit floats (which become infinite
    there): training would fail on them with XGBoost's message."""
    values = column.astype("float64").to_numpy()
    bad = ~np.isnan(values) & ~(np.abs(values) <= FLOAT32_MAX)
    if not bad.any():
        return
    position = int(np.flatnonzero(bad)[0])
    value = values[position]
    if np.isinf(value):
        raise InputError(
            f"feature column '{name}' holds {value} (first in data row {position + 1}), which is "
            "not a number a model can use: replace those values with numbers, or leave the cells "
            "empty to mark them missing"
        )
    raise InputError(
        f"feature column '{name}' holds {value:g} (first in data row {position + 1}), beyond "
        f"the +-{FLOAT32_MAX:.1e} XGBoost's 32-bit floats hold: rescale the column (e.g. to "
        "thousands or a logarithm), or leave those cells empty to mark them missing"
    )


def _check_derived_names(schema: dict[str, Any]) -> None:
    """A feature may not be named like a column the model derives from another: TF-IDF columns
    are ``<text column>#<n>`` and the linear booster's one-hot columns ``<categorical>=<n>``."""
    derived = [(column, "#") for column in schema["text"]]
    derived += [(column, "=") for column in schema["categorical"]]
    for name in schema["features"]:
        for column, mark in derived:
            suffix = name[len(column) + 1 :] if name.startswith(column + mark) else ""
            if suffix.isdigit():
                raise InputError(
                    f"feature column '{name}' has the name costpipe gives the derived column "
                    f"{suffix} of column '{column}': rename it"
                )
    label_columns = set(schema["label_columns"]) & set(schema["features"])
    if label_columns:
        raise InputError(
            f"feature column '{sorted(label_columns)[0]}' has the name of a label column: rename it"
        )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _is_boolean_with_gaps(column: pd.Series) -> bool:
    values = column.dropna()
    return len(values) > 0 and all(
        isinstance(v, (bool, np.bool_)) or str(v).strip().lower() in ("true", "false")
        for v in values.unique()
    )


def _text_in_numeric_message(name: str, column: pd.Series, spec: TableSpec) -> str:
    fix = _categorical_fix(name, spec)
    numeric = pd.to_numeric(column.astype(object), errors="coerce")
    bad = (column.notna() & numeric.isna()).to_numpy()
    if not bad.any():  # values pandas can convert but not store as numbers (mixed objects)
        return (
            f"feature column '{name}' holds values of mixed types ({column.dtype}): make them all "
            f"numbers, or declare the column categorical (--categorical {fix})"
        )
    position = int(np.flatnonzero(bad)[0])
    value = str(column.iloc[position])
    if len(value) > 40:
        value = value[:37] + "..."
    return (
        f"feature column '{name}' holds text ('{value}' in data row {position + 1}): declare "
        f"it categorical (--categorical {fix}) or text (--text {name}), or make its values "
        "numbers"
    )


def apply_schema(frame: pd.DataFrame, schema: dict[str, Any]) -> pd.DataFrame:
    """The schema's non-text feature columns of ``frame``, categories re-coded with the
    schema's levels. Text columns become features through the model's TF-IDF."""
    missing = [name for name in schema["features"] if name not in frame.columns]
    if missing:
        raise InputError(
            f"the data lacks feature columns the model was trained on ({', '.join(missing[:5])}):"
            " give data with the same columns"
        )
    features = frame[schema["features"]].copy()
    for name in features.columns:
        if name not in schema["categorical"] and pd.api.types.is_numeric_dtype(features[name]):
            _check_finite(name, features[name])  # scored rows get the checks trained rows got
    for name, levels in schema["categorical"].items():
        known = set(levels)
        # Levels unseen in training become missing values, explicitly (XGBoost handles those).
        text = features[name].map(
            lambda v, known=known: (
                None if _is_missing(v) or _label_text(v) not in known else _label_text(v)
            )
        )
        features[name] = pd.Categorical(text, categories=levels)
    return features


def label_frame(labels: np.ndarray, schema: dict[str, Any]) -> pd.DataFrame:
    """The label matrix as the 0/1 columns a prepared split holds."""
    return pd.DataFrame(np.asarray(labels, dtype=np.int8), columns=schema["label_columns"])


def labels_from_frame(frame: pd.DataFrame, schema: dict[str, Any]) -> np.ndarray:
    """The 0/1 label matrix (rows x labels) of a prepared split."""
    columns = schema.get("label_columns") or [schema["target"]]
    return frame[columns].to_numpy().astype(np.int8)


def prepare_test_table(
    frame: pd.DataFrame, spec: TableSpec, schema: dict[str, Any]
) -> PreparedTable:
    """Check a user's own test file against the data's schema and read its labels.

    The same checks as :func:`prepare_table`, except that a test set may miss a class or a
    label; its labels must be ones the data has, and it must have the data's feature columns.
    """
    # The test file follows the data's schema: its categorical and text columns, no detection.
    as_trained = replace(spec, categorical=tuple(schema["categorical"]), text=tuple(schema["text"]))
    roles = _features(frame, as_trained, require_variation=False, follow_types=False)
    own = [c for c in roles.features.columns if c not in roles.text]
    if own != schema["features"] or roles.text != schema["text"]:
        raise InputError(
            "the test file has other feature columns than the data: give it the same columns"
        )
    features, warnings = roles.features, roles.warnings
    names = schema["labels"]
    if schema["task"] == "binary":
        _check_target_column(frame, spec.target, "--target")
        _check_no_missing(frame, spec.target)
        text = frame[spec.target].map(_label_text)
        known = {schema["positive_label"], schema["negative_label"]}
        unknown = sorted(set(text.unique()) - known)
        if unknown:
            raise InputError(
                f"the test file's target '{spec.target}' holds {unknown[0]!r}, which the data "
                f"does not (values: {', '.join(sorted(known))}): fix the test file"
            )
        labels = (text == schema["positive_label"]).to_numpy().astype(np.int8)[:, None]
    else:
        test_labels, test_schema = _multilabel_labels(frame, spec, require_every_label=False)
        unknown = [name for name in test_schema["labels"] if name not in names]
        if unknown:
            raise InputError(
                f"the test file has the label '{unknown[0]}', which the data does not: fix the "
                "test file or add that label to the data"
            )
        labels = np.zeros((len(frame), len(names)), dtype=np.int8)
        for index, name in enumerate(test_schema["labels"]):
            labels[:, names.index(name)] = test_labels[:, index]
    kept = apply_schema(frame, schema)
    if schema["text"]:
        kept = kept.join(features[schema["text"]])
    return PreparedTable(
        features=kept,
        labels=labels,
        schema=schema,
        warnings=warnings,
    )
