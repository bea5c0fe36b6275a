"""The catalogue of bad inputs: each one line on stderr, exit 2, nothing recorded or written.

Every case goes through the real command line (``costpipe run``) into a fresh home folder.
Problems found before an execution starts must leave the home without an execution, a bucket
or a job folder; a tampered definition is refused by the graph check before it runs.
"""

from __future__ import annotations

import copy
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.errors import GraphError
from pipeline.local.executor import LocalExecutor
from pipeline.local.store import ExecutionStore

ROWS = 40


def good_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "amount": rng.normal(100, 20, ROWS).round(2),
            "age": rng.integers(18, 80, ROWS),
            "fraud": ["Y", "N", "N", "N"] * (ROWS // 4),
        }
    )


def csv(tmp: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp / name
    frame.to_csv(path, index=False)
    return path


def raw(tmp: Path, content: bytes, name: str = "data.csv") -> Path:
    path = tmp / name
    path.write_bytes(content)
    return path


def base(path: Path) -> list[str]:
    return ["--data", str(path), "--target", "fraud", "--positive-label", "Y"]


def good_csv(tmp: Path) -> Path:
    return csv(tmp, good_frame())


def with_column(name: str, values: list) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        frame = good_frame()
        frame[name] = values * (ROWS // len(values))
        return base(csv(tmp, frame))

    return build


def config(text: str, data_flags: bool = True) -> Callable[[Path], list[str]]:
    """A TOML file (written next to a good CSV) given with --config."""

    def build(tmp: Path) -> list[str]:
        data = good_csv(tmp)
        path = tmp / "costpipe.toml"
        path.write_text(text.replace("DATA", data.as_posix()), encoding="utf-8")
        return ["--config", str(path)]

    return build


GOOD_CONFIG = """
[data]
path = "DATA"
target = "fraud"
positive_label = "Y"
[costs]
tp = 5.0
fp = 5.0
fn = 100.0
tn = 0.0
"""


def parquet_nested(tmp: Path) -> list[str]:
    table = pa.table({"x": [[1, 2], [3]] * 20, "fraud": ["Y", "N"] * 20})
    path = tmp / "data.parquet"
    pq.write_table(table, path)
    return base(path)


def duplicate_columns(tmp: Path) -> list[str]:
    text = "amount,amount,fraud\n" + "1,2,Y\n3,4,N\n" * 20
    return base(raw(tmp, text.encode()))


def gzip_garbage(tmp: Path) -> list[str]:
    return base(raw(tmp, gzip.compress(b"\x00\x01\x02" * 100), "data.csv.gz"))


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    # data files
    "missing file": (lambda t: base(t / "nope.csv"), "does not exist"),
    "empty file": (lambda t: base(raw(t, b"")), "is empty"),
    "whitespace only": (lambda t: base(raw(t, b"\n  \n")), "is empty"),
    "header only": (lambda t: base(raw(t, b"amount,age,fraud\n")), "has a header but no rows"),
    "binary garbage": (lambda t: base(raw(t, bytes(range(256)) * 8)), "is binary, not CSV"),
    "not UTF-8": (
        lambda t: base(raw(t, "amount,fraud\n1,caf\xe9\n".encode("latin-1") * 3)),
        "is not UTF-8 text",
    ),
    "malformed CSV row": (
        lambda t: base(raw(t, b"amount,fraud\n1,Y\n2,N,extra,fields\n3,N\n")),
        "is not a well-formed CSV",
    ),
    "a huge line": (
        lambda t: base(raw(t, b"amount,fraud\n" + b"9" * 5_000_000 + b"x,Y\n" + b"1,N\n" * 10)),
        "holds text",
    ),
    "named parquet, is not": (lambda t: base(raw(t, b"a,b\n1,2\n", "d.parquet")), "is not Parquet"),
    "gzip of garbage": (gzip_garbage, "data file 'data.csv.gz'"),
    "nested parquet column": (parquet_nested, "holds nested values"),
    "duplicate column names": (duplicate_columns, "duplicate column names (amount)"),
    "unknown target column": (
        lambda t: ["--data", str(good_csv(t)), "--target", "fruad"],
        "did you mean 'fraud'",
    ),
    "one class": (with_column("fraud", ["N"]), "has one class ('N')"),
    "three classes": (with_column("fraud", ["Y", "N", "maybe", "N"]), "has 3 classes"),
    "missing target values": (with_column("fraud", ["Y", "N", None, "N"]), "missing in 10 of 40"),
    "positive label absent": (
        lambda t: ["--data", str(good_csv(t)), "--target", "fraud", "--positive-label", "yes"],
        "positive label 'yes' is not a value",
    ),
    "feature entirely empty": (with_column("amount", [None]), "'amount' is entirely empty"),
    "every feature constant": (
        lambda t: base(csv(t, good_frame().assign(amount=1.0, age=3))),
        "every feature column is constant",
    ),
    "text in a numeric column": (with_column("age", [30, 40, "forty", 50]), "holds text ('forty'"),
    "dates as a feature": (
        lambda t: base(csv(t, good_frame().assign(age=pd.Timestamp("2024-01-01")))),
        # CSV dates are strings that parse as dates: never automatic categories, always this.
        "holds dates or times",
    ),
    "reserved column name": (with_column("__row__", [1]), "reserves for row positions"),
    "infinite feature value": (
        with_column("amount", [1.0, 2.0, float("-inf"), 3.0]),
        "'amount' holds -inf (first in data row 3)",
    ),
    "value beyond float32": (
        with_column("amount", [1.0, 2.0, 3.0, 1e300]),
        "'amount' holds 1e+300 (first in data row 4), beyond",
    ),
    "free text nobody declared": (
        lambda t: base(
            csv(
                t,
                good_frame().assign(
                    note=[f"a long free-text note, number {i}" for i in range(ROWS)]
                ),
            )
        ),
        "'note' looks like free text (40 distinct values of 32 characters",
    ),
    "semicolons read with a comma": (
        lambda t: [*base(raw(t, b"amount;fraud\n" + b"1;Y\n2;N\n" * 20)), "--delimiter", ","],
        "target column 'fraud' is not in the data (columns: amount;fraud)",
    ),
    "too few rows of a class": (
        lambda t: base(csv(t, good_frame().assign(fraud=["Y"] + ["N"] * (ROWS - 1)))),
        "the smaller class has 1 rows",
    ),
    # configuration files
    "config: not TOML": (config("[data\n"), "is not valid TOML"),
    "config: unknown section": (config(GOOD_CONFIG + "[trainig]\n"), "unknown section [trainig]"),
    "config: unknown key": (
        config(GOOD_CONFIG + "[training]\nrounds = 3\n"),
        "unknown key 'rounds'",
    ),
    "config: wrong type": (
        config(GOOD_CONFIG + '[training]\nnum_round = "many"\n'),
        "whole number",
    ),
    "config: infinite cost": (config(GOOD_CONFIG.replace("fn = 100.0", "fn = inf")), "finite"),
    "config: negative miss cost": (
        config(GOOD_CONFIG.replace("fn = 100.0", "fn = -100.0")),
        "cheaper than a caught one",
    ),
    "config: empty cost settings": (
        config(GOOD_CONFIG + "[training]\ncost_settings = []\n"),
        "cost-setting list is empty",
    ),
    "config: duplicated settings": (
        config(GOOD_CONFIG + '[training]\ncost_settings = ["5:1", "5.0:1"]\n'),
        "fn5-fp1 is listed twice",
    ),
    "config: labels costs on binary data": (
        config(GOOD_CONFIG + "[costs.labels.fraud]\nfn = 3.0\n"),
        "need a multi-label target",
    ),
    "config: missing file": (lambda t: ["--config", str(t / "none.toml")], "does not exist"),
    "config: two-character delimiter": (
        config(GOOD_CONFIG.replace("[costs]", 'delimiter = ";;"\n[costs]')),
        "data delimiter ';;' is not one separator character",
    ),
    # command-line flags
    "flag: unknown": (lambda t: [*base(good_csv(t)), "--speed", "fast"], "unrecognized arguments"),
    "flag: cost not a number": (
        lambda t: [*base(good_csv(t)), "--cost-fn", "lots of money"],
        "cost entry 'fn' = 'lots of money' is not a number, a column or arithmetic of them",
    ),
    "flag: cost column not in the data": (
        lambda t: [*base(good_csv(t)), "--cost-fn", "0.75 * amount_eur"],
        "cost entry 'fn' reads column 'amount_eur', which the data does not have",
    ),
    "flag: a miss cheaper than a catch on some row": (
        lambda t: [*base(good_csv(t)), "--cost-fn", "amount", "--cost-tp", "100"],
        "costs make a missed positive cheaper than a caught positive in data row ",
    ),
    "flag: cost formula with a call": (
        lambda t: [*base(good_csv(t)), "--cost-fn", "__import__('os').getcwd()"],
        "cost entry 'fn' = \"__import__('os').getcwd()\": attribute access",
    ),
    "flag: bad cost setting": (
        lambda t: [*base(good_csv(t)), "--cost-settings", "5:0"],
        "fp_weight is 0",
    ),
    "flag: cost settings not pairs": (
        lambda t: [*base(good_csv(t)), "--cost-settings", "5,1"],
        "is not fn_weight:fp_weight",
    ),
    "flag: unknown example": (lambda t: ["--example", "titanic"], "unknown example 'titanic'"),
    "flag: example and data": (
        lambda t: ["--example", "breast-cancer", "--data", str(good_csv(t))],
        "--example cannot be combined",
    ),
    "flag: no target": (lambda t: ["--data", str(good_csv(t))], "no target column given"),
    "flag: both multi-label forms": (
        lambda t: [*base(good_csv(t)), "--targets", "a,b", "--label-delimiter", "|"],
        "exclude each other",
    ),
    "flag: max parallel zero": (
        lambda t: [*base(good_csv(t)), "--max-parallel", "0"],
        "--max-parallel must be at least 1",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path, capsys):
    build, message = CASES[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    home = tmp_path / "home"
    code = main(["run", *build(inputs), "--home", str(home), "--json"])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("costpipe: error: "), captured.err
    assert message in lines[0], lines[0]
    # Nothing was recorded, staged or run.
    leftovers = {p.name for p in home.iterdir()} if home.exists() else set()
    assert leftovers <= {"examples"}, leftovers
    assert ExecutionStore(tmp_path / "probe").executions() == []


def test_the_catalogue_has_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_a_tampered_definition_is_refused_before_it_runs(first_run):
    home, run, _ = first_run
    definition = copy.deepcopy(ExecutionStore(home).definition(run.result.execution_id))
    evaluate = next(s for s in definition["Steps"] if s["Name"] == "Evaluate")
    evaluate["DependsOn"] = ["CheckCheapest"]  # a cycle: Evaluate <- CheckCheapest <- Evaluate
    before = len(ExecutionStore(home).executions(limit=1000))
    with pytest.raises(GraphError, match="part of a cycle"):
        LocalExecutor(home).start(definition, "costpipe")
    assert len(ExecutionStore(home).executions(limit=1000)) == before
