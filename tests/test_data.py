"""Reading and checking the data: one test per bad input, and the happy paths.

Every bad input goes through the Preprocess job's ``main`` and must raise ``InputError`` with
one line that names the problem and then the fix, leaving nothing in the output folder.
"""

from __future__ import annotations

import gzip
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steps import preprocess
from steps.data import (
    TableSpec,
    apply_schema,
    find_data_file,
    labels_from_frame,
    prepare_table,
    read_table,
)
from steps.errors import InputError

# 12 rows, 6 of each class, so that stratified 60/20/20 splits are possible.
ROWS = [
    "x,n,colour,y",
    "1.5,1,red,M",
    "2.5,2,blue,B",
    "0.5,3,red,M",
    "3.5,4,green,B",
    "1.0,5,blue,M",
    "2.0,6,red,B",
    "4.0,7,blue,M",
    "4.5,8,green,B",
    "5.0,9,red,M",
    "5.5,10,blue,B",
    "6.0,11,red,M",
    "6.5,12,green,B",
]
GOOD_CSV = "\n".join(ROWS) + "\n"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``folder/name``."""
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def write_parquet(folder: Path, name: str, table: pa.Table | pd.DataFrame) -> Path:
    """Write a pyarrow table (or a frame, without its index) as Parquet."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    path = folder / name
    pq.write_table(table, path)
    return path


def files_under(folder: Path) -> list[Path]:
    """Every file below ``folder``, hidden ones included; none when it does not exist."""
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def preprocess_error(tmp_path: Path, data: Path, *options: str, target: str = "y") -> str:
    """Run the Preprocess job on ``data``; return its one-line error, checking that it
    wrote nothing."""
    output = tmp_path / "out"
    with pytest.raises(InputError) as info:
        preprocess.main(
            ["--data", str(data), "--target", target, "--output", str(output), *options]
        )
    assert files_under(output) == []
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_problem_then_fix(message: str, problem: Sequence[str], fix: str) -> None:
    """Every ``problem`` phrase is in the message and ``fix`` comes after all of them."""
    for phrase in problem:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    assert fix in message, f"fix {fix!r} not in {message!r}"
    assert message.rindex(fix) > max(message.index(phrase) for phrase in problem)


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist."""
    message = preprocess_error(tmp_path, tmp_path / "nope.csv")
    assert_problem_then_fix(message, ["nope.csv", "does not exist"], "check the path")


def test_empty_file(tmp_path: Path) -> None:
    """A 0-byte file."""
    message = preprocess_error(tmp_path, write(tmp_path, "empty.csv", b""))
    assert_problem_then_fix(
        message, ["'empty.csv'", "is empty"], "give a table with a header and rows"
    )


def test_whitespace_only_file(tmp_path: Path) -> None:
    """Blank lines, spaces and tabs are as empty as no bytes."""
    message = preprocess_error(tmp_path, write(tmp_path, "blank.csv", "  \n\t\n   \n"))
    assert_problem_then_fix(message, ["'blank.csv'", "is empty"], "give a table")


def test_header_only(tmp_path: Path) -> None:
    """A header and no rows."""
    message = preprocess_error(tmp_path, write(tmp_path, "head.csv", "x,y\n"))
    assert_problem_then_fix(
        message, ["'head.csv'", "has a header but no rows"], "give at least one row per class"
    )


def test_unknown_target_suggests_a_close_match(tmp_path: Path) -> None:
    """A misspelt target names the columns and suggests the nearest one."""
    data = write(tmp_path, "d.csv", "diagnosis,x\nM,1\nB,2\n")
    message = preprocess_error(tmp_path, data, target="diagnosys")
    assert_problem_then_fix(
        message,
        ["target column 'diagnosys' is not in the data", "columns: diagnosis, x"],
        "name the target with --target",
    )
    assert "did you mean 'diagnosis'?" in message


def test_unknown_target_without_a_close_match(tmp_path: Path) -> None:
    """No near name: no suggestion, still the fix."""
    data = write(tmp_path, "d.csv", "diagnosis,x\nM,1\nB,2\n")
    message = preprocess_error(tmp_path, data, target="zzz")
    assert "did you mean" not in message
    assert_problem_then_fix(message, ["'zzz' is not in the data"], "--target")


def test_target_with_one_class(tmp_path: Path) -> None:
    """All rows benign."""
    data = write(tmp_path, "d.csv", "x,y\n1,B\n2,B\n3,B\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(
        message, ["target 'y' has one class ('B') in all 3 rows"], "examples of both classes"
    )


def test_target_with_more_than_two_classes(tmp_path: Path) -> None:
    """Three values in the target."""
    data = write(tmp_path, "d.csv", "x,y\n1,a\n2,b\n3,c\n4,a\n")
    message = preprocess_error(tmp_path, data)
    assert_problem_then_fix(
        message, ["target 'y' has 3 classes (a, b, c), not two"], "give a binary target"
    )


def test_missing_target_values_say_how_many_rows(tmp_path: Path) -> None:
    """Two of five labels are blank, the first in data row 3."""
    data = write(tmp_path, "d.csv", "x,y\n1,M\n2,B\n3,\n4,M\n5,\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(
        message,
        ["target 'y' is missing in 2 of 5 rows", "first at data row 3"],
        "drop those rows or fill in their labels",
    )


def test_entirely_empty_feature_column(tmp_path: Path) -> None:
    """A column with a header and no values."""
    data = write(tmp_path, "d.csv", "x,empty,y\n1,,M\n2,,B\n3,,M\n4,,B\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(
        message, ["feature column 'empty' is entirely empty"], "drop it (--drop empty)"
    )


def test_text_in_a_numeric_column_names_column_value_and_row(tmp_path: Path) -> None:
    """'big' in the second data row of a numeric column (three of four values are numbers, so
    it is not a categorical column: the fix adds it to the automatic ones)."""
    data = write(tmp_path, "d.csv", "x,size,y\n1,3,M\n2,big,B\n3,4,M\n4,5,B\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(
        message,
        ["feature column 'size'", "'big'", "data row 2"],
        "declare it categorical (--categorical auto,size)",
    )


def test_duplicate_column_names_in_csv(tmp_path: Path) -> None:
    """pandas would silently rename the second 'x' to 'x.1'; the check refuses."""
    data = write(tmp_path, "d.csv", "x,x,y\n1,2,M\n3,4,B\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(message, ["duplicate column names (x)"], "rename them")


def test_duplicate_column_names_in_parquet(tmp_path: Path) -> None:
    """Parquet allows two columns of one name; the check refuses."""
    table = pa.Table.from_arrays(
        [pa.array([1, 2]), pa.array([3, 4]), pa.array(["M", "B"])], names=["x", "x", "y"]
    )
    data = write_parquet(tmp_path, "d.parquet", table)
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(message, ["'d.parquet'", "duplicate column names (x)"], "rename them")


def test_binary_garbage_named_csv(tmp_path: Path) -> None:
    """Bytes with NULs are not CSV text, whatever the name says."""
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)) + b"\x00"
    message = preprocess_error(tmp_path, write(tmp_path, "d.csv", garbage))
    assert_problem_then_fix(
        message, ["'d.csv' is binary, not CSV text"], "give a CSV (UTF-8) or Parquet file"
    )


def test_non_utf8_text_in_a_row(tmp_path: Path) -> None:
    """Latin-1 'é' (0xe9) at byte 20 of the file, in a data row."""
    content = "name,x,y\nAna,1,M\nJos\xe9,2,B\n".encode("latin-1")
    assert content.index(b"\xe9") == 20
    message = preprocess_error(tmp_path, write(tmp_path, "d.csv", content))
    assert_problem_then_fix(
        message, ["'d.csv' is not UTF-8 text", "byte 0xe9 at offset 20"], "save it as UTF-8"
    )


def test_non_utf8_text_in_the_header(tmp_path: Path) -> None:
    """Latin-1 in a column name is caught while reading the header."""
    content = "caf\xe9,x,y\n1,1,M\n2,2,B\n".encode("latin-1")
    message = preprocess_error(tmp_path, write(tmp_path, "d.csv", content))
    assert_problem_then_fix(
        message, ["is not UTF-8 text", "byte 0xe9 at offset 3"], "save it as UTF-8"
    )


def test_malformed_csv_row(tmp_path: Path) -> None:
    """The second data row (line 3) has four fields under a three-field header."""
    data = write(tmp_path, "d.csv", "x,z,y\n1,2,M\n3,4,5,B\n5,6,M\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(
        message,
        ["'d.csv' is not a well-formed CSV", "line 3", "saw 4"],
        "give every row the same number of fields as the header",
    )


def test_parquet_name_on_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    """CSV text saved as .parquet."""
    message = preprocess_error(tmp_path, write(tmp_path, "d.parquet", GOOD_CSV))
    assert_problem_then_fix(
        message, ["'d.parquet' is named .parquet but is not Parquet"], "convert it"
    )


def test_truncated_parquet(tmp_path: Path) -> None:
    """A Parquet file cut in half starts like Parquet but cannot be read."""
    whole = write_parquet(tmp_path, "whole.parquet", good_frame())
    half = write(tmp_path, "half.parquet", whole.read_bytes()[: whole.stat().st_size // 2])
    message = preprocess_error(tmp_path, half, "--positive-label", "M")
    assert_problem_then_fix(message, ["'half.parquet' is not a valid Parquet file"], "rewrite it")


@pytest.mark.parametrize(
    "nested",
    [
        pa.array([[1, 2], [3], [], [4]]),
        pa.array([{"a": 1, "b": "u"}, {"a": 2, "b": "v"}, {"a": 3, "b": "w"}, {"a": 4, "b": "x"}]),
    ],
    ids=["list", "struct"],
)
def test_parquet_with_a_nested_column(tmp_path: Path, nested: pa.Array) -> None:
    """List and struct columns cannot be features."""
    table = pa.table({"x": [1, 2, 3, 4], "tags": nested, "y": ["M", "B", "M", "B"]})
    data = write_parquet(tmp_path, "d.parquet", table)
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(
        message, ["column 'tags'", "holds nested values"], "flatten it into plain columns"
    )


CONSTANT_CSV = "a,b,y\n1,x,M\n1,x,B\n1,x,M\n1,x,B\n"


def test_every_feature_constant_is_rejected(tmp_path: Path) -> None:
    """Nothing varies: the job refuses to train."""
    data = write(tmp_path, "d.csv", CONSTANT_CSV)
    message = preprocess_error(tmp_path, data, "--positive-label", "M", "--categorical", "b")
    assert "every feature column is constant" in message


def test_every_feature_constant_names_a_fix(tmp_path: Path) -> None:
    """The constant-features message, like every other, must say what to do."""
    data = write(tmp_path, "d.csv", CONSTANT_CSV)
    message = preprocess_error(tmp_path, data, "--positive-label", "M", "--categorical", "b")
    fix = message.split(": ", 1)[1]
    assert re.match(r"(give|add|check|use|drop|remove|choose|name)\b", fix), message


def test_positive_label_not_a_target_value(tmp_path: Path) -> None:
    """--positive-label X where the target holds B and M."""
    message = preprocess_error(
        tmp_path, write(tmp_path, "d.csv", GOOD_CSV), "--positive-label", "X"
    )
    assert_problem_then_fix(
        message,
        ["positive label 'X' is not a value of target 'y'", "values: B, M"],
        "name one of them with --positive-label",
    )


def test_positive_label_needed_for_a_target_that_is_not_0_1(tmp_path: Path) -> None:
    """B/M with no positive label named: which one is positive is asked for."""
    message = preprocess_error(tmp_path, write(tmp_path, "d.csv", GOOD_CSV))
    assert_problem_then_fix(
        message,
        ["target 'y' has the values B and M"],
        "name the positive one with --positive-label",
    )


def test_categorical_column_that_does_not_exist(tmp_path: Path) -> None:
    """--categorical names a column the data does not have."""
    message = preprocess_error(
        tmp_path,
        write(tmp_path, "d.csv", GOOD_CSV),
        "--positive-label",
        "M",
        "--categorical",
        "colour,color",
    )
    assert_problem_then_fix(
        message, ["categorical column 'color' is not in the data"], "check its spelling"
    )


def test_dropped_column_that_does_not_exist(tmp_path: Path) -> None:
    """--drop names a column the data does not have."""
    message = preprocess_error(
        tmp_path, write(tmp_path, "d.csv", GOOD_CSV), "--positive-label", "M", "--drop", "id"
    )
    assert_problem_then_fix(message, ["dropped column 'id' is not in the data"], "check")


def test_target_listed_as_a_feature_role(tmp_path: Path) -> None:
    """The target cannot also be categorical."""
    message = preprocess_error(
        tmp_path,
        write(tmp_path, "d.csv", GOOD_CSV),
        "--positive-label",
        "M",
        "--categorical",
        "colour,y",
    )
    assert_problem_then_fix(
        message, ["target 'y' is also listed as a categorical column"], "remove it there"
    )


def test_no_feature_columns(tmp_path: Path) -> None:
    """Only the target is left once the other columns are dropped."""
    message = preprocess_error(
        tmp_path,
        write(tmp_path, "d.csv", GOOD_CSV),
        "--positive-label",
        "M",
        "--drop",
        "x,n,colour",
    )
    assert_problem_then_fix(message, ["no feature columns besides the target"], "add features")


def test_folder_with_more_than_one_file(tmp_path: Path) -> None:
    """An input channel must hold exactly one data file."""
    folder = tmp_path / "channel"
    folder.mkdir()
    write(folder, "a.csv", GOOD_CSV)
    write(folder, "b.csv", GOOD_CSV)
    message = preprocess_error(tmp_path, folder, "--positive-label", "M")
    assert_problem_then_fix(
        message, ["must hold exactly one data file, found 2", "a.csv, b.csv"], "give the file"
    )


def test_too_few_rows_for_stratified_splits(tmp_path: Path) -> None:
    """Two malignant rows cannot be split three ways."""
    data = write(tmp_path, "d.csv", "x,y\n1,M\n2,B\n3,M\n4,B\n5,B\n")
    message = preprocess_error(tmp_path, data, "--positive-label", "M")
    assert_problem_then_fix(message, ["the smaller class has 2 rows"], "add rows")


def test_boolean_feature_with_a_gap_is_handled(tmp_path: Path) -> None:
    """True/False with one blank is read as an object column; it must become a 0/1 feature
    with a gap, or an InputError naming the column, never a crash."""
    data = write(tmp_path, "d.csv", "x,flag,y\n1,True,M\n2,,B\n3,False,M\n4,True,B\n")
    try:
        prepared = prepare_table(read_table(data), TableSpec("y", positive_label="M"))
    except InputError as error:
        assert "'flag'" in str(error)
    else:
        column = prepared.features["flag"]
        assert column.tolist()[0] == 1 and np.isnan(column.tolist()[1])


def test_timestamp_feature_is_an_input_error(tmp_path: Path) -> None:
    """A Parquet timestamp column is neither numeric nor declared: InputError naming it."""
    table = pa.table(
        {
            "when": pa.array(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])),
            "x": [1.0, 2.0, 3.0],
            "y": ["M", "B", "M"],
        }
    )
    data = write_parquet(tmp_path, "d.parquet", table)
    with pytest.raises(InputError, match="'when'"):
        prepare_table(read_table(data), TableSpec("y", positive_label="M"))


# --------------------------------------------------------------------------- happy paths

SPEC = TableSpec(target="y", positive_label="M", categorical=("colour",))


def good_frame() -> pd.DataFrame:
    """The rows of GOOD_CSV as a frame."""
    return pd.DataFrame(
        {
            "x": [1.5, 2.5, 0.5, 3.5, 1.0, 2.0, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5],
            "n": list(range(1, 13)),
            "colour": [r.split(",")[2] for r in ROWS[1:]],
            "y": [r.split(",")[3] for r in ROWS[1:]],
        }
    )


def test_csv_happy_path(tmp_path: Path) -> None:
    """Labels 1 for M, features in file order, colour a category with sorted levels."""
    prepared = prepare_table(read_table(write(tmp_path, "d.csv", GOOD_CSV)), SPEC)
    assert prepared.labels[:, 0].tolist() == [1, 0] * 6
    assert prepared.labels.shape == (12, 1)
    assert prepared.labels.dtype == np.int8
    assert prepared.schema == {
        "task": "binary",
        "target": "y",
        "positive_label": "M",
        "negative_label": "B",
        "labels": ["M"],
        "label_columns": ["y"],
        "features": ["x", "n", "colour"],
        "categorical": {"colour": ["blue", "green", "red"]},
        "text": [],
        "detected": {"categorical": [], "text": []},
    }
    assert list(prepared.features.columns) == ["x", "n", "colour"]
    assert isinstance(prepared.features["colour"].dtype, pd.CategoricalDtype)
    assert prepared.features["colour"].cat.categories.tolist() == ["blue", "green", "red"]
    assert prepared.features["colour"].tolist()[:3] == ["red", "blue", "red"]
    assert prepared.features["x"].tolist() == good_frame()["x"].tolist()
    assert prepared.warnings == []


def test_parquet_happy_path_equals_csv(tmp_path: Path) -> None:
    """The same table as Parquet gives the same labels, schema and feature values."""
    from_csv = prepare_table(read_table(write(tmp_path, "d.csv", GOOD_CSV)), SPEC)
    from_parquet = prepare_table(
        read_table(write_parquet(tmp_path, "d.parquet", good_frame())), SPEC
    )
    assert from_parquet.schema == from_csv.schema
    assert np.array_equal(from_parquet.labels, from_csv.labels)
    pd.testing.assert_frame_equal(from_parquet.features, from_csv.features, check_dtype=False)


def test_parquet_is_read_by_content_whatever_the_name(tmp_path: Path) -> None:
    """A Parquet file named .csv is still read as Parquet."""
    path = write_parquet(tmp_path, "really-parquet.csv", good_frame())
    assert read_table(path).shape == (12, 4)


def test_gzipped_csv_and_a_one_file_folder(tmp_path: Path) -> None:
    """A .csv.gz is read; a folder holding one file resolves to that file."""
    folder = tmp_path / "channel"
    folder.mkdir()
    path = write(folder, "d.csv.gz", gzip.compress(GOOD_CSV.encode()))
    assert find_data_file(folder) == path
    assert read_table(folder).shape == (12, 4)


def test_category_levels_come_from_all_rows(tmp_path: Path) -> None:
    """A level seen only in the last row is a level; missing values are not."""
    frame = good_frame()
    frame.loc[11, "colour"] = "violet"
    frame.loc[0, "colour"] = None
    prepared = prepare_table(frame, SPEC)
    assert prepared.schema["categorical"]["colour"] == ["blue", "green", "red", "violet"]
    assert pd.isna(prepared.features["colour"].iloc[0])
    assert prepared.features["colour"].iloc[11] == "violet"


def test_numeric_categories_are_levels_as_text() -> None:
    """Codes 1, 2, 10 (and 1.0) are one set of text levels."""
    frame = good_frame()
    frame["colour"] = [1, 2, 10, 1.0, 2, 10, 1, 2, 10, 1, 2, 10]
    prepared = prepare_table(frame, SPEC)
    assert prepared.schema["categorical"]["colour"] == ["1", "10", "2"]


NEW_ROWS = pd.DataFrame(
    {
        "extra": [0, 0, 0, 0],
        "colour": ["green", "purple", None, "red"],
        "n": [1, 2, 3, 4],
        "x": [0.1, 0.2, 0.3, 0.4],
    }
)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_apply_schema_recodes_new_data_with_the_same_levels() -> None:
    """New rows in another column order, with an unseen level and a gap: same levels and
    codes, unseen and missing values become NaN, extra columns are ignored."""
    schema = prepare_table(good_frame(), SPEC).schema
    features = apply_schema(NEW_ROWS, schema)
    assert list(features.columns) == ["x", "n", "colour"]
    assert features["colour"].cat.categories.tolist() == ["blue", "green", "red"]
    assert features["colour"].cat.codes.tolist() == [1, -1, -1, 2]


def test_apply_schema_handles_unseen_levels_without_deprecated_pandas() -> None:
    """Scoring data with a level unseen in training must not depend on behaviour pandas is
    removing."""
    schema = prepare_table(good_frame(), SPEC).schema
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        features = apply_schema(NEW_ROWS, schema)
    assert features["colour"].cat.codes.tolist() == [1, -1, -1, 2]


def test_apply_schema_requires_the_trained_columns() -> None:
    """Scoring data without a trained feature column is rejected with the fix."""
    schema = prepare_table(good_frame(), SPEC).schema
    with pytest.raises(InputError, match=r"lacks feature columns .*\(n\).*same columns"):
        apply_schema(good_frame().drop(columns=["n"]), schema)


def test_constant_feature_among_others_is_a_warning() -> None:
    """One constant column is kept with a warning."""
    frame = good_frame()
    frame["same"] = 7
    prepared = prepare_table(frame, SPEC)
    assert prepared.warnings == ["feature 'same' is constant: it cannot help the model"]
    assert "same" in prepared.schema["features"]


def test_boolean_feature_becomes_float() -> None:
    """A complete boolean column is a 0/1 float feature."""
    frame = good_frame()
    frame["flag"] = [True, False] * 6
    features = prepare_table(frame, SPEC).features
    assert features["flag"].dtype == np.float32
    assert features["flag"].tolist()[:2] == [1.0, 0.0]


@pytest.mark.parametrize("positive", ["1", "True", "true", 1.0, 1, True, None])
@pytest.mark.parametrize(
    "target",
    [[1, 0, 0, 1], [1.0, 0.0, 0.0, 1.0], [True, False, False, True], ["1", "0", "0", "1"]],
    ids=["int", "float", "bool", "text"],
)
def test_positive_label_spellings_match_flag_targets(positive: object, target: list) -> None:
    """1, 1.0, True and '1' are one label, however the target or the option is written."""
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4], "y": target})
    prepared = prepare_table(frame, TableSpec("y", positive_label=positive))  # type: ignore[arg-type]
    assert prepared.labels[:, 0].tolist() == [1, 0, 0, 1]
    assert (prepared.schema["positive_label"], prepared.schema["negative_label"]) == ("1", "0")


@pytest.mark.parametrize("positive", ["0", "False", 0])
def test_the_zero_class_can_be_the_positive_one(positive: object) -> None:
    """Naming 0 (or False) as positive flips the labels."""
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3], "y": [True, False, True]})
    prepared = prepare_table(frame, TableSpec("y", positive_label=positive))  # type: ignore[arg-type]
    assert prepared.labels[:, 0].tolist() == [0, 1, 0]


def test_boolean_parquet_target(tmp_path: Path) -> None:
    """A Parquet bool target with --positive-label True."""
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "y": [False, True, True, False]})
    prepared = prepare_table(
        read_table(write_parquet(tmp_path, "d.parquet", table)),
        TableSpec("y", positive_label="True", label_name="fraud"),
    )
    assert prepared.labels[:, 0].tolist() == [0, 1, 1, 0]
    assert prepared.schema["labels"] == ["fraud"]


def test_labels_from_a_prepared_split() -> None:
    """A split's label columns already hold 0/1: one column per label, rows x labels."""
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [1, 0]})
    labels = labels_from_frame(frame, {"target": "y", "label_columns": ["y"]})
    assert labels.tolist() == [[1], [0]] and labels.dtype == np.int8
