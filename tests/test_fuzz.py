"""Fuzzing the data reader and the config parser: every failure is the clear error type.

Whatever bytes arrive as a data file and whatever a config holds, the answer is a prepared
table, a valid config, or one of the project's errors (InputError and its UsageError) with a
message; never a traceback from pandas, pyarrow, tomllib or the dataclasses.
"""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import from_mapping, load_config
from steps.data import TableSpec, prepare_table, read_table
from steps.errors import InputError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CELLS = st.one_of(
    st.text(alphabet=string.printable, max_size=8),
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "nan", "True", "false", "1e309", "-0", '"a,b"', "M", "B"]),
)


def reads_cleanly(content: bytes, name: str, spec: TableSpec) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            prepare_table(read_table(path), spec)
        except InputError as error:
            assert str(error) and "\n" not in str(error)


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from(["d.csv", "d.parquet", "d.csv.gz", "d.txt"]))
def test_any_bytes_are_read_or_refused_clearly(content, name):
    reads_cleanly(content, name, TableSpec(target="y", positive_label="M"))


@FUZZ
@given(
    st.lists(st.sampled_from(["x", "y", "z", "y ", "", "__row__", "a,b"]), min_size=1, max_size=4),
    st.lists(st.lists(CELLS, min_size=0, max_size=5), min_size=0, max_size=12),
    st.sampled_from([None, "M", "1", "True"]),
)
def test_any_csv_text_is_read_or_refused_clearly(header, rows, positive):
    text = ",".join(header) + "\n" + "\n".join(",".join(row) for row in rows)
    reads_cleanly(text.encode(), "d.csv", TableSpec(target="y", positive_label=positive))


VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(
    ["data", "costs", "split", "training", "evaluation", "checks", "registry", "aws", "tarining"]
)
FIELDS = st.sampled_from(
    [
        "path",
        "target",
        "tp",
        "fp",
        "fn",
        "tn",
        "labels",
        "num_round",
        "eta",
        "cost_settings",
        "validation_fraction",
        "approval_status",
        "cv_folds",
        "bogus",
        "categorical",
    ]
)


@FUZZ
@given(
    st.dictionaries(
        KEYS, st.one_of(VALUES, st.dictionaries(FIELDS, VALUES, max_size=4)), max_size=4
    )
)
def test_any_config_mapping_is_accepted_or_refused_clearly(raw):
    try:
        from_mapping(raw)
    except InputError as error:
        assert str(error) and "\n" not in str(error)


@FUZZ
@given(st.text(max_size=300))
def test_any_config_text_is_accepted_or_refused_clearly(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "costpipe.toml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except InputError as error:
            assert str(error)
