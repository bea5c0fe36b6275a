"""Preprocess job: read and check the data, split it, run the class-imbalance check.

Container conventions: data under ``/opt/ml/processing/input/data`` (and an optional test file
under ``/opt/ml/processing/input/test``), outputs under ``/opt/ml/processing/output/<name>``.
Run by hand with explicit paths::

    python -m steps.preprocess --data data.csv --target diagnosis --positive-label M \\
        --output out/

Writes ``train/train.parquet``, ``validation/validation.parquet``, ``test/test.parquet`` and
``profile/profile.json`` under the output folder, only after every check passed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from steps.checks import DEFAULT_SAMPLES, DEFAULT_THRESHOLD_IMBALANCE, class_imbalance_check
from steps.data import (
    ROW_COLUMN,
    PreparedTable,
    TableSpec,
    apply_schema,
    file_digest,
    find_data_file,
    prepare_table,
    read_table,
)
from steps.errors import InputError, run_entry_point
from steps.model_io import write_json
from steps.split import oversample_minority, stratified_split

PROCESSING_ROOT = Path("/opt/ml/processing")
SPLITS = ("train", "validation", "test")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=PROCESSING_ROOT / "input" / "data")
    parser.add_argument(
        "--test-data",
        type=Path,
        default=None,
        help="a test file instead of a test split (default: the test input folder if it exists)",
    )
    parser.add_argument("--target", required=True)
    parser.add_argument("--positive-label", default="")
    parser.add_argument("--label-name", default="")
    parser.add_argument("--categorical", default="", help="comma-separated column names")
    parser.add_argument("--drop", default="", help="comma-separated columns to ignore")
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--oversample-ratio", type=float, default=0.0, help="0 turns it off")
    parser.add_argument("--threshold-imbalance", type=float, default=DEFAULT_THRESHOLD_IMBALANCE)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=PROCESSING_ROOT / "output")
    return parser.parse_args(argv)


def _names(text: str) -> tuple:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def table_spec(args: argparse.Namespace) -> TableSpec:
    return TableSpec(
        target=args.target,
        positive_label=args.positive_label or None,
        label_name=args.label_name or None,
        categorical=_names(args.categorical),
        drop=_names(args.drop),
    )


def default_test_data(args: argparse.Namespace) -> Optional[Path]:
    if args.test_data is not None:
        return args.test_data
    channel = PROCESSING_ROOT / "input" / "test"
    return channel if channel.is_dir() and any(channel.iterdir()) else None


def split_frame(
    features: pd.DataFrame, labels: np.ndarray, rows: np.ndarray, target: str
) -> pd.DataFrame:
    """Features, the 0/1 target and each row's position in its source file.

    The position (``ROW_COLUMN``) lets cross-validation keep an oversampled row and its
    copies in one fold, and lets reports trace a decision back to the input.
    """
    frame = features.reset_index(drop=True)
    frame[target] = labels
    frame[ROW_COLUMN] = np.asarray(rows, dtype=np.int64)
    return frame


def _split_summary(labels: np.ndarray) -> Dict[str, int]:
    positives = int(labels.sum())
    return {
        "rows": int(labels.size),
        "positives": positives,
        "negatives": int(labels.size) - positives,
    }


def build_splits(
    prepared: PreparedTable,
    test: Optional[PreparedTable],
    args: argparse.Namespace,
) -> Dict[str, pd.DataFrame]:
    """The split frames (features plus the 0/1 target), oversampling only the training rows."""
    target = prepared.schema["target"]
    rows = stratified_split(
        prepared.labels,
        validation_fraction=args.validation_fraction,
        test_fraction=0.0 if test is not None else args.test_fraction,
        seed=args.seed,
    )
    ratio = args.oversample_ratio if args.oversample_ratio > 0 else None
    rows["train"] = oversample_minority(rows["train"], prepared.labels, ratio, seed=args.seed)
    frames = {
        name: split_frame(prepared.features.iloc[index], prepared.labels[index], index, target)
        for name, index in rows.items()
    }
    if test is not None:
        frames["test"] = split_frame(
            test.features, test.labels, np.arange(len(test.labels)), target
        )
    return frames


def profile(
    data_file: Path,
    test_file: Optional[Path],
    prepared: PreparedTable,
    frames: Dict[str, pd.DataFrame],
    args: argparse.Namespace,
) -> Dict[str, Any]:
    target = prepared.schema["target"]
    all_labels = prepared.labels
    imbalance = class_imbalance_check(all_labels, args.threshold_imbalance, args.samples)
    warnings: List[str] = list(prepared.warnings)
    if not imbalance["passed"]:
        warnings.append(
            f"class imbalance {imbalance['ratio']:.1f} exceeds {imbalance['threshold']:g}: "
            "consider --oversample-ratio"
        )
    return {
        "data": {
            "file": data_file.name,
            "digest": file_digest(data_file),
            "rows": int(all_labels.size),
            "test_file": test_file.name if test_file else None,
            "test_digest": file_digest(test_file) if test_file else None,
        },
        "schema": prepared.schema,
        "splits": {
            name: _split_summary(frame[target].to_numpy()) for name, frame in frames.items()
        },
        "class_imbalance": imbalance,
        "warnings": warnings,
        "options": {
            "validation_fraction": args.validation_fraction,
            "test_fraction": 0.0 if test_file else args.test_fraction,
            "oversample_ratio": args.oversample_ratio or None,
            "seed": args.seed,
        },
    }


def write_outputs(frames: Dict[str, pd.DataFrame], report: Dict[str, Any], output: Path) -> None:
    """Write every output into a scratch folder first, then move them in: all or nothing."""
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output, prefix=".staging-") as staging:
        staged = Path(staging)
        for name, frame in frames.items():
            (staged / name).mkdir()
            frame.to_parquet(staged / name / f"{name}.parquet", index=False)
        write_json(staged / "profile" / "profile.json", report)
        for name in [*frames, "profile"]:
            destination = output / name
            destination.mkdir(parents=True, exist_ok=True)
            for item in (staged / name).iterdir():
                os.replace(item, destination / item.name)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    spec = table_spec(args)
    data_file = find_data_file(args.data)
    prepared = prepare_table(read_table(data_file), spec)
    test_path = default_test_data(args)
    test = None
    test_file = None
    if test_path is not None:
        test_file = find_data_file(test_path)
        test_frame = read_table(test_file)
        test_spec = TableSpec(
            target=spec.target,
            positive_label=prepared.schema["positive_label"],
            label_name=spec.label_name,
            categorical=spec.categorical,
            drop=spec.drop,
        )
        checked = prepare_table(test_frame, test_spec)
        if checked.schema["features"] != prepared.schema["features"]:
            raise InputError(
                f"test file '{test_file.name}' has other feature columns than the data: give it "
                "the same columns"
            )
        test = PreparedTable(
            features=apply_schema(test_frame, prepared.schema),
            labels=checked.labels,
            schema=prepared.schema,
        )
    frames = build_splits(prepared, test, args)
    report = profile(data_file, test_file, prepared, frames, args)
    write_outputs(frames, report, args.output)
    shares = ", ".join(f"{name} {len(frame)}" for name, frame in frames.items())
    print(f"preprocess: {report['data']['rows']} rows -> {shares}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")


if __name__ == "__main__":
    run_entry_point(main)
