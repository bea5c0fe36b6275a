"""Inputs that used to pass Preprocess and then crash training, and undeclared string columns.

Automatic categorical columns (German credit's coded attributes), free text, Parquet types,
sniffed delimiters, non-finite values, and column names XGBoost refuses, at the level of the
steps and through ``costpipe run``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.local.registry import ModelRegistry
from pipeline.local.store import ExecutionStore
from steps import preprocess
from steps.data import (
    AUTO_MAX_LEVELS,
    AUTO_MAX_MEAN_LENGTH,
    TableSpec,
    load_table,
    prepare_table,
    read_table,
)
from steps.decision import DecisionModel
from steps.errors import InputError
from steps.model import fit_model, xgboost_feature_names
from steps.model_io import load_model, save_model
from steps.options import delimiter_option

# German credit (Statlog): 20 attributes, 13 coded as strings, 7 numeric; class 1 good, 2 bad.
GERMAN_CODES = {
    "A1": ["A11", "A12", "A13", "A14"],
    "A3": ["A30", "A31", "A32", "A33", "A34"],
    "A4": ["A40", "A41", "A410", "A42", "A43", "A44", "A45", "A46", "A48", "A49"],
    "A6": ["A61", "A62", "A63", "A64", "A65"],
    "A7": ["A71", "A72", "A73", "A74", "A75"],
    "A9": ["A91", "A92", "A93", "A94"],
    "A10": ["A101", "A102", "A103"],
    "A12": ["A121", "A122", "A123", "A124"],
    "A14": ["A141", "A142", "A143"],
    "A15": ["A151", "A152", "A153"],
    "A17": ["A171", "A172", "A173", "A174"],
    "A19": ["A191", "A192"],
    "A20": ["A201", "A202"],
}
GERMAN_NUMBERS = ("A2", "A5", "A8", "A11", "A13", "A16", "A18")
GERMAN_ORDER = [f"A{i}" for i in range(1, 21)]


def german_credit(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """A table with German credit's layout; bad risk (2) follows the checking account (A1)
    and the duration (A2), so a model has something to learn."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for name in GERMAN_ORDER:
        if name in GERMAN_CODES:
            columns[name] = rng.choice(GERMAN_CODES[name], rows)
        else:
            columns[name] = rng.integers(1, 60, rows)
    frame = pd.DataFrame(columns)
    risk = (frame["A1"].isin(["A11", "A12"])).astype(float) + frame["A2"] / 60
    frame["class"] = np.where(risk + rng.normal(0, 0.3, rows) > 1.0, 2, 1)
    return frame


GERMAN_SPEC = TableSpec(target="class", positive_label="2", label_name="bad")


def test_german_credit_strings_become_categories_without_flags() -> None:
    """The 13 coded attributes are detected as categorical with their sorted levels; the 7
    numeric ones stay numbers; bad risk (class 2) is the positive label."""
    frame = german_credit()
    prepared = prepare_table(frame, GERMAN_SPEC)
    coded = [name for name in GERMAN_ORDER if name in GERMAN_CODES]
    assert prepared.schema["detected"] == {"categorical": coded, "text": []}
    assert list(prepared.schema["categorical"]) == coded
    # 300 rows, at most 10 levels: every level occurs; levels sort as text (A410 before A42).
    for name, levels in GERMAN_CODES.items():
        assert prepared.schema["categorical"][name] == sorted(levels)
        assert isinstance(prepared.features[name].dtype, pd.CategoricalDtype)
    assert prepared.schema["categorical"]["A4"][:4] == ["A40", "A41", "A410", "A42"]
    for name in GERMAN_NUMBERS:
        assert pd.api.types.is_integer_dtype(prepared.features[name])
    assert prepared.schema["features"] == GERMAN_ORDER
    assert prepared.labels[:, 0].tolist() == (frame["class"] == 2).astype(int).tolist()


def test_an_explicit_list_means_exactly_those_columns() -> None:
    """categorical=("A1",): no detection, so A3 is text nobody declared; the fix adds it."""
    with pytest.raises(InputError) as info:
        prepare_table(german_credit(), TableSpec("class", positive_label="2", categorical=("A1",)))
    message = str(info.value)
    assert message.startswith("feature column 'A3' holds text ('A3")
    assert "(--categorical A1,A3)" in message and "(--text A3)" in message


def test_auto_with_names_adds_numeric_codes_to_the_detected_columns() -> None:
    prepared = prepare_table(
        german_credit(), TableSpec("class", positive_label="2", categorical=("auto", "A8"))
    )
    assert "A8" in prepared.schema["categorical"] and "A8" not in prepared.schema["detected"]
    assert len(prepared.schema["categorical"]) == 14


def test_no_categorical_columns_at_all_refuses_strings() -> None:
    with pytest.raises(InputError, match=r"'A1' holds text .*--categorical A1\)"):
        prepare_table(german_credit(), TableSpec("class", positive_label="2", categorical=()))


def small_table(column: list[object]) -> pd.DataFrame:
    rows = len(column)
    return pd.DataFrame({"x": np.arange(rows, dtype=float), "c": column, "y": [0, 1] * (rows // 2)})


def test_the_automatic_threshold_is_100_distinct_values_of_30_characters() -> None:
    """Exactly at the limits is categorical; one value more, or one character more on
    average, is free text with the error that suggests --text."""
    assert (AUTO_MAX_LEVELS, AUTO_MAX_MEAN_LENGTH) == (100, 30)
    at_levels = [f"v{i:03d}" for i in range(100)] * 2  # 100 distinct, 4 characters
    assert (
        len(prepare_table(small_table(at_levels), TableSpec("y")).schema["categorical"]["c"]) == 100
    )
    over_levels = [f"v{i:03d}" for i in range(101)] + ["v000"]
    with pytest.raises(InputError) as info:
        prepare_table(small_table(over_levels), TableSpec("y"))
    assert str(info.value).startswith(
        "feature column 'c' looks like free text (101 distinct values of 4 characters on average;"
    )
    assert "declare it text (--text c)" in str(info.value)
    assert "(--categorical auto,c)" in str(info.value) and "(--drop c)" in str(info.value)
    at_length = ["a" * 30, "b" * 30] * 3
    assert prepare_table(small_table(at_length), TableSpec("y")).schema["categorical"]["c"] == [
        "a" * 30,
        "b" * 30,
    ]
    over_length = ["a" * 31, "b" * 31] * 3
    with pytest.raises(InputError, match=r"\(2 distinct values of 31 characters on average"):
        prepare_table(small_table(over_length), TableSpec("y"))


def test_free_text_in_a_csv_still_asks_for_text(tmp_path: Path) -> None:
    """300 notes of 39 characters each: the Preprocess job stops with the --text fix and
    writes nothing."""
    frame = german_credit()
    frame["notes"] = [f"customer note number {i:03d} about the loan" for i in range(300)]
    path = tmp_path / "credit.csv"
    frame.to_csv(path, index=False)
    output = tmp_path / "out"
    with pytest.raises(InputError) as info:
        preprocess.main(
            [
                "--data",
                str(path),
                "--target",
                "class",
                "--positive-label",
                "2",
                "--output",
                str(output),
            ]
        )
    assert str(info.value).startswith(
        "feature column 'notes' looks like free text (300 distinct values of 39 characters"
    )
    assert "--text notes" in str(info.value)
    assert not output.exists() or not any(output.rglob("*.parquet"))
    # Declared as text, the same file passes.
    preprocess.main(
        [
            "--data",
            str(path),
            "--target",
            "class",
            "--positive-label",
            "2",
            "--text",
            "notes",
            "--output",
            str(output),
        ]
    )
    profile = json.loads((output / "profile" / "profile.json").read_text())
    assert profile["schema"]["text"] == ["notes"]
    assert "notes" not in profile["schema"]["detected"]["categorical"]


def test_numbers_with_stray_text_and_dates_are_not_categories() -> None:
    with pytest.raises(InputError, match=r"'c' holds text \('n/a' in data row 2\)"):
        prepare_table(small_table(["1.5", "n/a", "2.5", "3.0"]), TableSpec("y"))
    with pytest.raises(InputError, match="'c' holds dates or times"):
        prepare_table(small_table(["2024-01-01", "2024-02-01"] * 2), TableSpec("y"))


# --------------------------------------------------------------------------- Parquet types


def test_parquet_category_and_string_types_declare_themselves(tmp_path: Path) -> None:
    """category: categorical even with 150 levels and no detection; pandas string: categorical
    when short and few, text (TF-IDF) when free text; object strings follow the auto rule."""
    rows = 300
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "shop": pd.Categorical([f"shop {i % 150}" for i in range(rows)]),
            "colour": pd.array(rng.choice(["red", "blue"], rows).tolist(), dtype="string"),
            "memo": pd.array(
                [f"payment reference {i} for the monthly invoice of the shop" for i in range(rows)],
                dtype="string",
            ),
            "y": [0, 1] * (rows // 2),
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    prepared = prepare_table(read_table(path), TableSpec("y", categorical=()))
    assert prepared.schema["detected"] == {"categorical": ["shop", "colour"], "text": ["memo"]}
    assert len(prepared.schema["categorical"]["shop"]) == 150
    assert prepared.schema["categorical"]["colour"] == ["blue", "red"]
    assert prepared.schema["text"] == ["memo"]
    assert prepared.schema["features"] == ["x", "shop", "colour"]
    # The same strings without a type are free text nobody declared.
    untyped = frame.assign(memo=frame["memo"].astype(object))
    with pytest.raises(InputError, match="'memo' looks like free text"):
        prepare_table(untyped, TableSpec("y"))


def test_text_with_no_word_in_two_rows_is_refused_before_training() -> None:
    """TF-IDF keeps words found in two rows or more; one word per row, each of another
    length (34 to 73 letters: free text by its length), gives training no feature. Declared or
    typed, the column stops here."""
    words = pd.array([f"zzqa{'b' * (30 + i)}" for i in range(40)], dtype="string")
    frame = pd.DataFrame({"x": np.arange(40.0), "memo": words, "y": [0, 1] * 20})
    for spec in (TableSpec("y"), TableSpec("y", text=("memo",))):
        with pytest.raises(InputError, match="text column 'memo' has no word in two or more rows"):
            prepare_table(frame, spec)


# --------------------------------------------------------------------------- delimiters

DELIMITED = pd.DataFrame(
    {"amount [EUR]": [1.5, 2.5, 3.5, 4.5], "kind": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]}
)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "d.csv"
    DELIMITED.to_csv(path, sep=delimiter, index=False)
    table = load_table(path)
    assert (table.delimiter, table.delimiter_sniffed) == (delimiter, True)
    pd.testing.assert_frame_equal(table.frame, DELIMITED, check_dtype=False)
    gzipped = tmp_path / "d.csv.gz"
    DELIMITED.to_csv(gzipped, sep=delimiter, index=False, compression="gzip")
    assert load_table(gzipped).delimiter == delimiter


def test_one_column_falls_back_to_comma_and_a_given_delimiter_wins(tmp_path: Path) -> None:
    single = tmp_path / "one.csv"
    single.write_text("y\n0\n1\n")
    assert load_table(single).delimiter == ","
    # Semicolons inside a comma file's text fields: given, the comma is used without sniffing.
    mixed = tmp_path / "mixed.csv"
    mixed.write_text('a,b\n"x;1",2\n"y;3",4\n')
    table = load_table(mixed, ",")
    assert (table.delimiter, table.delimiter_sniffed) == (",", False)
    assert table.frame["a"].tolist() == ["x;1", "y;3"]


def test_delimiter_option_spellings() -> None:
    assert [delimiter_option(t) for t in ("", ";", "tab", "\\t", "\t", "|")] == [
        None,
        ";",
        "\t",
        "\t",
        "\t",
        "|",
    ]
    for bad in (";;", "a", '"', "\n"):
        with pytest.raises(InputError, match="is not one separator character"):
            delimiter_option(bad)


def test_profile_records_the_delimiters_of_data_and_test_file(tmp_path: Path) -> None:
    frame = german_credit(200)
    data, test = tmp_path / "data.csv", tmp_path / "test.csv"
    frame.iloc[:150].to_csv(data, sep=";", index=False)
    frame.iloc[150:].to_csv(test, sep="|", index=False)
    output = tmp_path / "out"
    preprocess.main(
        [
            "--data",
            str(data),
            "--test-data",
            str(test),
            "--target",
            "class",
            "--positive-label",
            "2",
            "--output",
            str(output),
        ]
    )
    profile = json.loads((output / "profile" / "profile.json").read_text())
    assert profile["data"]["read"] == {"format": "csv", "delimiter": ";", "delimiter_sniffed": True}
    assert profile["data"]["test_read"] == {
        "format": "csv",
        "delimiter": "|",
        "delimiter_sniffed": True,
    }
    assert profile["splits"]["test"]["rows"] == 50
    given = tmp_path / "given"
    preprocess.main(
        [
            "--data",
            str(data),
            "--target",
            "class",
            "--positive-label",
            "2",
            "--delimiter",
            ";",
            "--output",
            str(given),
        ]
    )
    profile = json.loads((given / "profile" / "profile.json").read_text())
    assert profile["data"]["read"]["delimiter_sniffed"] is False
    assert (profile["options"]["categorical"], profile["options"]["delimiter"]) == ("auto", ";")


# --------------------------------------------------------------------------- non-finite values


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("inf", "holds inf (first in data row 3)"),
        ("-inf", "holds -inf (first in data row 3)"),
        ("1e39", "holds 1e+39 (first in data row 3), beyond the +-3.4e+38"),
    ],
)
def test_non_finite_values_stop_preprocess_naming_column_and_row(
    tmp_path: Path, cell: str, problem: str
) -> None:
    path = tmp_path / "d.csv"
    path.write_text(f"x,y\n1,0\n2,1\n{cell},0\n4,1\n5,0\n6,1\n")
    output = tmp_path / "out"
    with pytest.raises(InputError) as info:
        preprocess.main(["--data", str(path), "--target", "y", "--output", str(output)])
    message = str(info.value)
    assert message.startswith(f"feature column 'x' {problem}")
    assert "leave" in message and "empty to mark them missing" in message
    assert not output.exists() or not any(output.rglob("*"))


def test_an_empty_cell_is_missing_not_an_error() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "y": [0, 1, 0, 1]})
    assert np.isnan(prepare_table(frame, TableSpec("y")).features["x"].iloc[1])


# --------------------------------------------------------------------------- column names

ODD_NAMES = ["a[1]", "a_1_", "x<y", "line\nbreak", "n" * 300]


def odd_names_frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Five features with names XGBoost refuses or that sanitise alike, one categorical."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in ODD_NAMES[:4]})
    frame[ODD_NAMES[4]] = rng.choice(["low", "mid", "high"], rows)
    score = frame["a[1]"] - frame["x<y"] + (frame[ODD_NAMES[4]] == "high")
    frame["target"] = (score + rng.normal(0, 0.5, rows) > 0.5).astype(int)
    return frame


def train_args(**overrides: object) -> argparse.Namespace:
    """The training job's defaults, with few rounds."""
    from steps.train import parse_args

    args = parse_args(["--num_round", "5", "--fn_weight", "5", "--fp_weight", "1"])
    return argparse.Namespace(**{**vars(args), **overrides})


@pytest.mark.parametrize("booster", ["tree", "linear"])
def test_odd_column_names_survive_training_saving_and_scoring(tmp_path: Path, booster: str) -> None:
    """XGBoost sees f0..f4; the schema and model_meta keep the names; scoring a reloaded
    model gives the trained model's probabilities."""
    frame = odd_names_frame()
    path = tmp_path / "odd.csv"
    frame.to_csv(path, index=False)  # quoted: the newline stays inside its header field
    prepared = prepare_table(read_table(path), TableSpec("target"))
    assert prepared.schema["features"] == ODD_NAMES
    model = fit_model(
        prepared.features, prepared.labels, prepared.schema, train_args(booster=booster)
    )
    assert model.boosters[0].feature_names == xgboost_feature_names(len(model.input_columns))
    if booster == "tree":
        assert model.input_columns == ODD_NAMES
    else:  # one-hot levels of the categorical column, numbered
        assert model.input_columns == [*ODD_NAMES[:4], *(f"{'n' * 300}={i}" for i in range(3))]
    save_model(model, {"name": "odd"}, tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model_meta.json").read_text())
    assert meta["schema"]["features"] == ODD_NAMES
    assert meta["input_columns"] == model.input_columns
    loaded = load_model(tmp_path / "model").model
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame), rtol=1e-6)
    moved = frame[[*reversed(ODD_NAMES), "target"]]  # by name, so order does not matter
    np.testing.assert_allclose(loaded.predict_proba(moved), model.predict_proba(frame), rtol=1e-6)


def test_a_feature_named_like_a_derived_column_is_refused() -> None:
    frame = pd.DataFrame({"c": ["a", "b"] * 3, "c=0": [1.0, 2, 3, 4, 5, 6], "y": [0, 1] * 3})
    with pytest.raises(InputError, match="'c=0' has the name costpipe gives the derived column 0"):
        prepare_table(frame, TableSpec("y"))


# --------------------------------------------------------------------------- end to end


def fast_toml(folder: Path, data: Path, target: str, positive: str, group: str) -> Path:
    """One cost setting, few rounds, two folds: an execution in seconds."""
    path = folder / "costpipe.toml"
    path.write_text(
        f'[data]\npath = "{data.as_posix()}"\ntarget = "{target}"\npositive_label = "{positive}"\n'
        "[costs]\ntp = 0.0\nfp = 1.0\nfn = 5.0\ntn = 0.0\n"
        '[training]\ncost_settings = ["5:1"]\nnum_round = 20\ncv_folds = 2\n'
        f'[registry]\nmodel_package_group = "{group}"\n'
    )
    return path


def preprocess_output(home: Path, execution_id: str, name: str) -> Path:
    """A Preprocess output folder of an execution, in the local bucket."""
    steps = {s.name: s for s in ExecutionStore(home).steps(execution_id)}
    outputs = steps["Preprocess"].properties["ProcessingOutputConfig"]["Outputs"]
    uri = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == name)
    return LocalBucket(home / BUCKET_FOLDER).path(uri.rstrip("/"))


@pytest.mark.slow
def test_german_credit_runs_end_to_end_with_no_flags(tmp_path: Path, capsys) -> None:
    """costpipe run on the German credit CSV: Preprocess prints the detected columns in one
    line, profile.json records them, a model is registered."""
    data = tmp_path / "german.csv"
    german_credit(300).to_csv(data, index=False)
    home = tmp_path / "home"
    toml = fast_toml(tmp_path, data, "class", "2", "german")
    code = main(["run", "--config", str(toml), "--home", str(home), "--json", "--no-report"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0, payload["failure_reason"]
    assert payload["registered"]["group"] == "german"
    execution_id = payload["execution_id"]
    profile = json.loads(
        (preprocess_output(home, execution_id, "profile") / "profile.json").read_text()
    )
    coded = [name for name in GERMAN_ORDER if name in GERMAN_CODES]
    assert profile["schema"]["detected"]["categorical"] == coded
    assert profile["data"]["read"]["delimiter"] == ","
    logs = list((home / "jobs" / execution_id).glob("Preprocess/**/stdout.log"))
    lines = [line for log in logs for line in log.read_text().splitlines()]
    detected = [line for line in lines if line.startswith("categorical (detected): ")]
    assert detected == ["categorical (detected): " + ", ".join(repr(name) for name in coded)]


@pytest.mark.slow
def test_odd_names_and_semicolons_run_end_to_end(tmp_path: Path, capsys) -> None:
    """Names XGBoost refuses, a semicolon file and --delimiter through the definition: the
    run succeeds; profile, evaluation and the registered model keep the names; the
    registered model scores the file."""
    data = tmp_path / "odd.csv"
    frame = odd_names_frame(300)
    frame.to_csv(data, sep=";", index=False)
    home = tmp_path / "home"
    toml = fast_toml(tmp_path, data, "target", "1", "odd")
    code = main(["run", "--config", str(toml), "--home", str(home), "--json", "--delimiter", ";"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0, payload["failure_reason"]
    execution_id = payload["execution_id"]
    definition = ExecutionStore(home).definition(execution_id)
    parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert parameters["Delimiter"] == ";" and parameters["CategoricalColumns"] == "auto"
    profile = json.loads(
        (preprocess_output(home, execution_id, "profile") / "profile.json").read_text()
    )
    assert profile["schema"]["features"] == ODD_NAMES
    assert profile["data"]["read"] == {
        "format": "csv",
        "delimiter": ";",
        "delimiter_sniffed": False,
    }
    package = ModelRegistry(home).packages("odd")[0]
    model_path = LocalBucket(home / BUCKET_FOLDER).path(package["model_data_url"])
    # The registry points at the decision artifact; its model folder is the training archive.
    decision = DecisionModel.load(model_path)
    assert decision.input_schema_["columns"] == ODD_NAMES
    members = getattr(decision.model_, "members", None) or [decision.model_]
    assert all(member.input_columns == ODD_NAMES for member in members)
    scores = decision.predict_proba(frame)
    assert scores.shape == (300, 1) and np.all((scores > 0) & (scores < 1))
    assert payload["evaluation"]["best"]["beats_baseline"] is True
    assert payload["evaluation"]["inputs"]["features"] == ODD_NAMES
    assert payload["evaluation"]["inputs"]["detected"]["categorical"] == [ODD_NAMES[4]]
    report = (home / "reports" / f"{execution_id}.html").read_text()
    section = report[report.index('<h2 id="inputs">') :]
    for name, role in [("a[1]", "numeric"), ("x&lt;y", "numeric"), ("n" * 300, "categorical")]:
        assert f"<tr><td><code>{name}</code></td><td>{role}</td>" in section


# --------------------------------------------------------------------------- options


def test_categorical_and_delimiter_options_in_config_flags_and_definition(tmp_path: Path) -> None:
    """The config's categorical is auto by default, a TOML string or list otherwise; flags
    override it; the definition passes both to Preprocess as parameters."""
    from pipeline.cli.flags import config_from_args
    from pipeline.cli.parser import build_parser
    from pipeline.config import load_config
    from pipeline.definition.parameters import pipeline_parameters

    assert load_config(None).data.categorical == ("auto",)
    assert load_config(None).data.delimiter == ""
    for value, expected in (('"auto"', ("auto",)), ("[]", ()), ('"auto,zip"', ("auto", "zip"))):
        path = tmp_path / "c.toml"
        path.write_text(f'[data]\ncategorical = {value}\ndelimiter = "tab"\n')
        config = load_config(path)
        assert config.data.categorical == expected
        assert config.data.delimiter == "tab"
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,0\n")
    args = build_parser().parse_args(
        ["run", "--data", str(data), "--target", "y", "--categorical", "", "--delimiter", ";"]
    )
    config = config_from_args(args)
    assert (config.data.categorical, config.data.delimiter) == ((), ";")
    parameters = pipeline_parameters(load_config(None), "s3://b/d.csv", None)
    assert parameters["CategoricalColumns"].default_value == "auto"
    assert parameters["Delimiter"].default_value == ""
