"""A definition's data inputs, for every backend: their checks before anything runs, and their
content addresses on S3 (the local bucket uses the same ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.definition.names import Target
from pipeline.errors import UsageError
from steps.data import TableSpec, file_digest, find_data_file
from steps.options import delimiter_option


def data_uri(location: str, target: Target) -> str:
    """An s3:// location as given; a local file's address under ``<prefix>/data/<sha256>/``.

    The same bytes always get the same address, so uploading twice costs nothing and a rerun on
    the same data hits the step cache.
    """
    if location.startswith("s3://"):
        return location
    path = find_data_file(Path(location))
    digest = file_digest(path).removeprefix("sha256:")
    return f"{target.prefix}/data/{digest}/{path.name}"


def table_spec(config: Config) -> TableSpec:
    data = config.data
    return TableSpec(
        target=data.target,
        positive_label=data.positive_label or None,
        label_name=data.label_name or None,
        categorical=data.categorical,
        drop=data.drop,
        targets=data.targets,
        label_delimiter=data.label_delimiter or None,
        text=data.text,
        no_label=data.no_label or None,
    )


def check_data(config: Config) -> None:
    """Read and check the data (and test file) as the Preprocess job will; raise on problems."""
    # Here, not at import: scikit-learn's import alone takes a second, and building a
    # definition (which imports this module for data_uri) needs none of it.
    from steps.cost_expressions import cost_frame, label_cost_specs
    from steps.data import prepare_table, prepare_test_table, read_table
    from steps.preprocess import check_label_counts
    from steps.split import stratified_split

    data = config.data
    if not data.path:
        raise UsageError("no data given: pass --data FILE (CSV or Parquet) or --example NAME")
    if not data.target and not data.targets:
        raise UsageError("no target column given: pass --target COLUMN (or --targets A,B,C)")
    spec = table_spec(config)
    delimiter = delimiter_option(data.delimiter)
    frame = read_table(Path(data.path), delimiter)
    prepared = prepare_table(frame, spec)
    unknown = sorted(set(config.costs.labels) - set(prepared.schema["labels"]))
    if unknown:
        raise UsageError(
            f"per-label costs name '{unknown[0]}', which is not a label of the data (labels: "
            f"{', '.join(prepared.schema['labels'][:10])}): fix the label name"
        )
    # Each row's costs, checked as Preprocess will (columns present, numeric, finite, no wrong
    # decision cheaper than the right one).
    costs = label_cost_specs(config.cost_entries, config.costs.labels, prepared.schema["labels"])
    per_row = any(cost.per_row for cost in costs.values())
    if per_row:
        cost_frame(frame, costs)
    has_test = bool(data.test_path)
    if has_test:
        test = read_table(Path(data.test_path), delimiter)
        prepare_test_table(test, spec, prepared.schema)
        if per_row:
            cost_frame(test, costs)
    rows = stratified_split(
        prepared.labels,
        config.split.validation_fraction,
        0.0 if has_test else config.split.test_fraction,
        config.split.seed,
    )
    check_label_counts(
        prepared.labels[rows["train"]],
        prepared.schema["labels"],
        config.split.min_label_count,
        config.split.oversample_min_count,
    )
    if config.aws.training_instance_count > 1:
        check_training_across_instances(config, prepared, rows)


def check_training_across_instances(config: Config, prepared: Any, rows: dict[str, Any]) -> None:
    """What the training job would refuse on several instances, found before anything runs:
    text columns (detected ones too), cross-fitting (it happens at or below ``cv_max_rows``
    rows) and fewer training rows than instances."""
    from steps.split import oversample_training_rows

    count = config.aws.training_instance_count
    text = prepared.schema.get("text")
    if text:
        raise UsageError(
            f"training_instance_count is {count}, but text columns ({', '.join(text)}) need one "
            "TF-IDF vocabulary over all training rows, which is learnt on one instance: set "
            "training_instance_count = 1 or drop the text columns"
        )
    # The training split as Preprocess writes it: oversampled as the split options say.
    train = oversample_training_rows(
        rows["train"],
        prepared.labels,
        prepared.schema["task"],
        config.split.oversample_ratio or None,
        config.split.oversample_min_count,
        config.split.seed,
    )
    if len(train) < count:
        raise UsageError(
            f"the training split has {len(train)} rows, fewer than training_instance_count "
            f"{count}: set it to at most {len(train)}"
        )
    training = config.training
    both = len(train) + len(rows["validation"])
    if training.cv_folds >= 2 and both <= training.cv_max_rows:
        raise UsageError(
            f"training_instance_count is {count}, but the {both} training and validation rows "
            f"(at most cv_max_rows {training.cv_max_rows}) would be cross-fitted, which runs on "
            "one instance: set cv_folds = 0 (thresholds from the validation split) or "
            "training_instance_count = 1"
        )
