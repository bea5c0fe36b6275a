"""Preprocess job: read and check the data, split it, run the class-imbalance check.

Container conventions: data under ``/opt/ml/processing/input/data`` (and an optional test file
under ``/opt/ml/processing/input/test``), outputs under ``/opt/ml/processing/output/<name>``.
Run by hand with explicit paths::

    python -m steps.preprocess --data data.csv --target diagnosis --positive-label M \\
        --output out/

Writes ``train/train.parquet``, ``validation/validation.parquet``, ``test/test.parquet`` and
``profile/profile.json`` under the output folder, only after every check passed. With
``--train-shards N`` (a pipeline built for N training instances) the training split is written
as N files instead, ``train/train-00000-of-0000N.parquet`` and on, one per instance.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steps.checks import DEFAULT_SAMPLES, DEFAULT_THRESHOLD_IMBALANCE, multilabel_imbalance_check
from steps.cost_expressions import (
    OUTCOMES,
    CostSpec,
    cost_frame,
    label_cost_specs,
    parse_label_costs,
    summary,
)
from steps.data import (
    ROW_COLUMN,
    PreparedTable,
    TableFile,
    TableSpec,
    file_digest,
    find_data_file,
    label_frame,
    labels_from_frame,
    load_table,
    prepare_table,
    prepare_test_table,
)
from steps.errors import InputError, run_entry_point
from steps.model_io import write_json
from steps.options import AUTO, delimiter_option
from steps.preprocess_io import shard_file
from steps.split import oversample_training_rows, stratified_split

PROCESSING_ROOT = Path("/opt/ml/processing")
#: Fewest positives per label in the training split (Amazon Comprehend's guideline).
MIN_LABEL_COUNT = 10
SPLITS = ("train", "validation", "test")
#: The cost matrix entries when none are given (a miss and a false alarm cost the same).
COST_DEFAULTS = {"tp": "0", "fp": "1", "fn": "1", "tn": "0"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=PROCESSING_ROOT / "input" / "data")
    parser.add_argument(
        "--test-data",
        type=Path,
        default=None,
        help="a test file instead of a test split (default: the test input folder if it exists)",
    )
    parser.add_argument("--target", default="", help="the target column (binary or delimited)")
    parser.add_argument("--targets", default="", help="comma-separated 0/1 label columns")
    parser.add_argument("--label-delimiter", default="", help="labels joined in one column")
    parser.add_argument("--no-label", default="", help="a label for rows with none")
    parser.add_argument("--text", default="", help="comma-separated text columns")
    parser.add_argument("--positive-label", default="")
    parser.add_argument("--label-name", default="")
    parser.add_argument(
        "--categorical",
        default=AUTO,
        help="comma-separated column names; 'auto' (the default) detects string columns with "
        "few distinct values, alone or with names",
    )
    parser.add_argument(
        "--delimiter",
        default="",
        help="the CSV files' delimiter (one character, or 'tab'); empty: sniff it",
    )
    parser.add_argument("--drop", default="", help="comma-separated columns to ignore")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--oversample-ratio", type=float, default=0.0, help="0 turns it off")
    parser.add_argument(
        "--oversample-min-count",
        type=int,
        default=0,
        help="multi-label: duplicate rows of rare labels up to this many positives (0: off)",
    )
    parser.add_argument(
        "--min-label-count",
        type=int,
        default=MIN_LABEL_COUNT,
        help="fewest positives a label needs in the training split",
    )
    for outcome, default in COST_DEFAULTS.items():
        parser.add_argument(
            f"--cost-{outcome}",
            default=default,
            help="money per decision: a number, a column or arithmetic of them (0.75 * amount)",
        )
    parser.add_argument(
        "--label-costs",
        default="",
        help='per-label cost overrides as JSON, e.g. {"threat": {"fn": "2 * amount"}}',
    )
    parser.add_argument("--threshold-imbalance", type=float, default=DEFAULT_THRESHOLD_IMBALANCE)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=PROCESSING_ROOT / "output")
    parser.add_argument(
        "--train-shards",
        type=int,
        default=1,
        help="write the training split as this many files, one per training instance",
    )
    args = parser.parse_args(argv)
    if args.train_shards < 1:
        raise InputError(f"--train-shards must be at least 1, got {args.train_shards}")
    if not args.target and not args.targets:
        raise InputError("no target given: name the target column with --target (or --targets)")
    if args.targets and args.label_delimiter:
        raise InputError("--targets and --label-delimiter exclude each other: choose one")
    args.delimiter = delimiter_option(args.delimiter)
    return args


def _names(text: str) -> tuple:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def table_spec(args: argparse.Namespace) -> TableSpec:
    return TableSpec(
        target=args.target,
        positive_label=args.positive_label or None,
        label_name=args.label_name or None,
        categorical=_names(args.categorical),
        drop=_names(args.drop),
        targets=_names(args.targets),
        label_delimiter=args.label_delimiter or None,
        text=_names(args.text),
        no_label=args.no_label or None,
    )


def default_test_data(args: argparse.Namespace) -> Path | None:
    if args.test_data is not None:
        return args.test_data
    channel = PROCESSING_ROOT / "input" / "test"
    return channel if channel.is_dir() and any(channel.iterdir()) else None


def split_frame(
    features: pd.DataFrame,
    labels: np.ndarray,
    rows: np.ndarray,
    schema: dict[str, Any],
    costs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features, the 0/1 label columns, each row's costs (per-row costs only) and each row's
    position in its source file.

    The position (``ROW_COLUMN``) lets cross-validation keep an oversampled row and its
    copies in one fold, and lets reports trace a decision back to the input.
    """
    parts = [features.reset_index(drop=True), label_frame(labels, schema)]
    if costs is not None:
        parts.append(costs.reset_index(drop=True))
    frame = pd.concat(parts, axis=1)
    frame[ROW_COLUMN] = np.asarray(rows, dtype=np.int64)
    return frame


def cost_specs(args: argparse.Namespace, labels: list[str]) -> dict[str, CostSpec]:
    """Each label's cost entries from the arguments (numbers, columns or expressions)."""
    default = {outcome: getattr(args, f"cost_{outcome}") for outcome in OUTCOMES}
    return label_cost_specs(default, parse_label_costs(args.label_costs), labels)


def costs_record(
    specs: dict[str, CostSpec],
    frames: dict[str, pd.DataFrame] | None = None,
    default: dict[str, str] | None = None,
) -> dict[str, Any]:
    """profile.json's ``costs``: the default entries and each label's entries as written,
    whether any reads columns, the columns read and, for per-row costs, each split's summary
    of every entry."""
    from steps.cost_expressions import costs_from_split

    per_row = any(spec.per_row for spec in specs.values())
    columns: list[str] = []
    for spec in specs.values():
        columns += [name for name in spec.columns if name not in columns]
    first = next(iter(specs.values()))
    record: dict[str, Any] = {
        "per_row": per_row,
        "default": default or first.texts(),
        "entries": {label: spec.texts() for label, spec in specs.items()},
        "columns": columns,
    }
    if per_row and frames is not None:
        record["summary"] = {
            split: {
                label: {
                    outcome: summary(getattr(costs_from_split(frame, label), outcome))
                    for outcome in OUTCOMES
                }
                for label in specs
            }
            for split, frame in frames.items()
        }
    return record


def _split_summary(labels: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Rows and positives of one split; per label when there are several."""
    rows = int(labels.shape[0])
    summary: dict[str, Any] = {"rows": rows}
    if len(names) == 1:
        positives = int(labels[:, 0].sum())
        summary.update({"positives": positives, "negatives": rows - positives})
    else:
        summary["positives"] = {name: int(labels[:, i].sum()) for i, name in enumerate(names)}
    return summary


def check_label_counts(
    train_labels: np.ndarray, names: list[str], min_label_count: int, oversample_min_count: int
) -> None:
    """Amazon Comprehend's guideline: at least ``min_label_count`` positives per label in the
    training split, unless oversampling will raise the rare ones."""
    counts = train_labels.sum(axis=0)
    short = [
        f"{name} ({int(count)})"
        for name, count in zip(names, counts, strict=False)
        if count < min_label_count
    ]
    if not short:
        return
    absent = [name for name, count in zip(names, counts, strict=False) if count == 0]
    if absent:
        raise InputError(
            f"label(s) {', '.join(absent)} have no positive row in the training split: add rows "
            "with them or drop them"
        )
    if oversample_min_count >= min_label_count:
        return
    raise InputError(
        f"label(s) {', '.join(short)} have fewer than {min_label_count} positives in the "
        "training split: add examples, or oversample rare labels with --oversample-min-count "
        f"{min_label_count} (or more)"
    )


def build_splits(
    prepared: PreparedTable,
    test: PreparedTable | None,
    args: argparse.Namespace,
    costs: pd.DataFrame | None = None,
    test_costs: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The split frames (features, 0/1 label columns, row positions), oversampling only the
    training rows: the minority class to ``oversample_ratio`` for binary data, every rare
    label to ``oversample_min_count`` positives for multi-label data."""
    schema = prepared.schema
    labels = prepared.labels
    rows = stratified_split(
        labels,
        validation_fraction=args.validation_fraction,
        test_fraction=0.0 if test is not None else args.test_fraction,
        seed=args.seed,
    )
    check_label_counts(
        labels[rows["train"]], schema["labels"], args.min_label_count, args.oversample_min_count
    )
    ratio = args.oversample_ratio if args.oversample_ratio > 0 else None
    rows["train"] = oversample_training_rows(
        rows["train"], labels, schema["task"], ratio, args.oversample_min_count, seed=args.seed
    )
    frames = {
        name: split_frame(
            prepared.features.iloc[index],
            labels[index],
            index,
            schema,
            None if costs is None else costs.iloc[index],
        )
        for name, index in rows.items()
    }
    if test is not None:
        frames["test"] = split_frame(
            test.features, test.labels, np.arange(len(test.labels)), schema, test_costs
        )
    return frames


def profile(
    data_file: Path,
    test_file: Path | None,
    prepared: PreparedTable,
    frames: dict[str, pd.DataFrame],
    args: argparse.Namespace,
    read: dict[str, TableFile] | None = None,
    costs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """profile.json: the data's digest and how it was read, the schema, the splits, the
    class-imbalance check and the costs (``costs_record``). ``read`` holds how the ``data``
    (and ``test``) file were read."""
    read = read or {}
    schema = prepared.schema
    names = schema["labels"]
    # The check judges the labels the models train on: the training split, oversampling included.
    train_labels = labels_from_frame(frames["train"], schema)
    imbalance = multilabel_imbalance_check(
        train_labels, names, args.threshold_imbalance, args.samples
    )
    before = multilabel_imbalance_check(prepared.labels, names, args.threshold_imbalance, 0)
    imbalance["data_ratio"] = before["ratio"]
    warnings: list[str] = list(prepared.warnings)
    if not imbalance["passed"]:
        remedy = "--oversample-ratio" if schema["task"] == "binary" else "--oversample-min-count"
        warnings.append(
            f"class imbalance {imbalance['ratio']:.1f} exceeds {imbalance['threshold']:g} in the "
            f"training split: consider {remedy}"
        )
    return {
        "data": {
            "file": data_file.name,
            "digest": file_digest(data_file),
            "rows": int(prepared.labels.shape[0]),
            "test_file": test_file.name if test_file else None,
            "test_digest": file_digest(test_file) if test_file else None,
            **({"read": read["data"].describe()} if "data" in read else {}),
            **({"test_read": read["test"].describe()} if "test" in read else {}),
        },
        "schema": schema,
        "splits": {
            name: _split_summary(labels_from_frame(frame, schema), names)
            for name, frame in frames.items()
        },
        "class_imbalance": imbalance,
        "costs": costs,
        "warnings": warnings,
        "options": {
            "validation_fraction": args.validation_fraction,
            "test_fraction": 0.0 if test_file else args.test_fraction,
            "oversample_ratio": args.oversample_ratio or None,
            "oversample_min_count": args.oversample_min_count or None,
            "seed": args.seed,
            "categorical": args.categorical,
            "delimiter": args.delimiter,
            # The training job checks that it runs on as many instances as there are files.
            "train_shards": args.train_shards,
        },
    }


def detected_lines(schema: dict[str, Any]) -> list[str]:
    """One line per role columns got without an option (``auto``, or their Parquet type)."""
    detected = schema.get("detected", {})
    return [
        f"{role} (detected): {', '.join(repr(name) for name in detected[role])}"
        for role in ("categorical", "text")
        if detected.get(role)
    ]


def train_shards(frame: pd.DataFrame, labels: np.ndarray, count: int) -> list[pd.DataFrame]:
    """The training split in ``count`` parts, stratified: the rows of each label combination
    are dealt out in turn, so every part gets its share of each class (within one row) and
    every row lands in exactly one part; each part keeps the split's row order."""
    if len(frame) < count:
        raise InputError(
            f"the training split has {len(frame)} rows, fewer than the {count} training "
            "instances it is written for: set training_instance_count to at most "
            f"{len(frame)}"
        )
    order = np.lexsort(labels.T[::-1]) if labels.size else np.arange(len(frame))
    part = np.empty(len(frame), dtype=np.int64)
    part[order] = np.arange(len(frame)) % count
    return [frame[part == index].reset_index(drop=True) for index in range(count)]


def write_outputs(
    frames: dict[str, pd.DataFrame], report: dict[str, Any], output: Path, shards: int = 1
) -> None:
    """Write every output into a scratch folder first, then move them in: all or nothing.
    With ``shards`` above 1 the training split is written as that many files."""
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output, prefix=".staging-") as staging:
        staged = Path(staging)
        for name, frame in frames.items():
            (staged / name).mkdir()
            if name == "train" and shards > 1:
                labels = labels_from_frame(frame, report["schema"])
                for index, part in enumerate(train_shards(frame, labels, shards)):
                    part.to_parquet(staged / name / shard_file(name, index, shards), index=False)
                continue
            frame.to_parquet(staged / name / f"{name}.parquet", index=False)
        write_json(staged / "profile" / "profile.json", report)
        for name in [*frames, "profile"]:
            destination = output / name
            destination.mkdir(parents=True, exist_ok=True)
            for item in (staged / name).iterdir():
                os.replace(item, destination / item.name)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    spec = table_spec(args)
    data_file = find_data_file(args.data)
    read = {"data": load_table(data_file, args.delimiter)}
    prepared = prepare_table(read["data"].frame, spec)
    specs = cost_specs(args, prepared.schema["labels"])
    per_row = any(cost.per_row for cost in specs.values())
    # Per-row costs are computed from the file as read, so a column named by --drop still
    # prices its rows; each row's costs ride along in the splits.
    costs = cost_frame(read["data"].frame, specs) if per_row else None
    test_path = default_test_data(args)
    test = None
    test_file = None
    test_costs = None
    if test_path is not None:
        test_file = find_data_file(test_path)
        read["test"] = load_table(test_file, args.delimiter)
        test = prepare_test_table(read["test"].frame, spec, prepared.schema)
        test_costs = cost_frame(read["test"].frame, specs) if per_row else None
    frames = build_splits(prepared, test, args, costs, test_costs)
    default = CostSpec.parse({o: getattr(args, f"cost_{o}") for o in OUTCOMES}).texts()
    record = costs_record(specs, frames, default)
    report = profile(data_file, test_file, prepared, frames, args, read, record)
    write_outputs(frames, report, args.output, args.train_shards)
    shares = ", ".join(f"{name} {len(frame)}" for name, frame in frames.items())
    print(f"preprocess: {report['data']['rows']} rows -> {shares}")
    for line in detected_lines(prepared.schema):
        print(line)
    if per_row:
        print(f"costs per row from: {', '.join(repr(name) for name in record['columns'])}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")


if __name__ == "__main__":
    run_entry_point(main)
