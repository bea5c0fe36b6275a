"""The decision artifact: everything that turns a raw input row into a decision, in one archive.

Evaluate writes it for the best model and the registry points at it, so what was priced is
what is served. ``model.tar.gz`` holds JSON and XGBoost booster files only (never pickle)::

    decision.json            labels, thresholds, cost matrices, input schema, versions, provenance
    model/model_meta.json    the training job's metadata and file list (steps.model_io)
    model/xgboost-model*.json, model/fold-<k>/...   the boosters (one folder per fold model)
    model/linear_inputs.json, model/text_features.json   fitted input transforms, when used

``model/`` is the training job's model folder as it was priced, less its out-of-fold scores
(tuning data, not part of a decision). ``decision.json``:

* ``format``: ``costpipe-decision/1``;
* ``name``, ``setting``, ``strategy``: the cost setting and how its scores are made;
* ``labels`` and ``thresholds`` (one per label: a score at or above it is called positive);
* ``cost_matrices``: each label's tp/fp/fn/tn, the money per decision it was priced with;
* format 2 only (a model that decides with per-row costs): ``thresholds`` are null, ``rules``
  holds each label's minimum-risk rule (``steps.rules``: its shift and calibration), ``costs``
  each label's cost entries (numbers, columns or formulas, ``steps.cost_expressions``) and
  ``input_schema.cost_columns`` the columns a request must carry for them;
* ``input_schema``: columns in training order, their types, category levels, text columns and
  the label columns that may ride along (``steps.inputs``); ``target``: how a labelled file's
  target column(s) become 0/1 labels (positive label, delimiter, label columns);
* ``versions``: python, xgboost, numpy, pandas and scikit-learn of the training job (from
  model_meta.json; older models record only python and xgboost) and ``priced_with``, the same
  for the Evaluate job that priced it;
* ``check``: a few synthetic rows (quantiles of the test split's numeric columns, no real row)
  and the scores Evaluate's model gave them; loading refuses an artifact that the running
  XGBoost scores differently (e.g. an older XGBoost that reads the boosters otherwise);
* ``priced``: the execution's test expected cost and confusion counts, for comparison.

Booster files are copied byte for byte except one portability fix: XGBoost 3.1+ writes
``base_score`` as a one-element vector, which XGBoost 3.0 (the 3.0-5 image) silently reads as
0.5; it is written as the scalar both versions read alike (:func:`portable_booster_json`).

SageMaker extracts the archive into ``/opt/ml/model`` before the inference handlers run, so
:func:`open_artifact` accepts the archive, a folder holding it, or the extracted folder.
"""

from __future__ import annotations

import gzip
import io
import json
import platform
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steps.errors import InputError
from steps.inputs import input_schema, prepare_rows
from steps.model_io import (
    ARCHIVE_FILE,
    META_FILE,
    OUT_OF_FOLD_FILE,
    locate_model_files,
    safe_extract,
)

ARTIFACT_FORMAT = "costpipe-decision/1"
#: Models that decide with per-row costs: ``rules`` per label and the cost entries that give
#: each row its costs. Constant-cost models keep format 1 (and its bytes), so registries and
#: servers that read format 1 keep working; a reader of format 1 only refuses format 2.
ROW_COSTS_FORMAT = "costpipe-decision/2"
FORMATS = (ARTIFACT_FORMAT, ROW_COSTS_FORMAT)
DECISION_FILE = "decision.json"
MODEL_FOLDER = "model"
#: Files of the training job's model folder that are not part of a decision.
NOT_SERVED = (OUT_OF_FOLD_FILE,)
#: XGBoost 3.1+ writes ``base_score`` as a vector (``"[9.9E-1]"``); 3.0 (the 3.0-5 image) reads
#: that as its default 0.5 and shifts every margin. One value, or equal values, are written
#: as the scalar both read alike.
_VECTOR_BASE_SCORE = re.compile(rb'"base_score":"\[([^\]"]*)\]"')
#: Quantiles of each numeric column that make the check rows (no real row is stored).
CHECK_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
#: Largest score difference the check rows tolerate when the artifact is loaded.
CHECK_TOLERANCE = 1e-6


def library_versions() -> dict[str, str]:
    """The versions of this process's python and scoring libraries."""
    import numpy
    import pandas
    import sklearn
    import xgboost

    return {
        "python": platform.python_version(),
        "xgboost": xgboost.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
    }


def decision_document(
    model_result: dict[str, Any],
    meta: dict[str, Any],
    schema: dict[str, Any],
    cost_matrices: dict[str, dict[str, Any]],
    check: dict[str, Any],
    cost_specs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``decision.json`` for one evaluated model (an entry of evaluation.json's ``models``).

    ``cost_specs`` (label -> ``steps.cost_expressions.CostSpec``) for a model that decides
    with per-row costs: the document is then format 2, with each label's rule, the cost
    entries and the columns a request must carry for them.
    """
    trained = dict(meta.get("library_versions") or {})
    trained.setdefault("python", meta.get("python_version"))
    trained.setdefault("xgboost", meta.get("xgboost_version"))
    labels = list(schema["labels"])
    test = model_result["test"]
    document = {
        "format": ARTIFACT_FORMAT,
        "name": model_result["name"],
        "setting": model_result["setting"],
        "strategy": model_result["strategy"],
        "task": schema["task"],
        "labels": labels,
        "thresholds": {
            label: None
            if model_result["thresholds"][label] is None
            else float(model_result["thresholds"][label])
            for label in labels
        },
        "cost_matrices": {label: dict(cost_matrices[label]) for label in labels},
        "input_schema": input_schema(schema),
        # How a file's target becomes 0/1 labels, to price decisions on labelled rows.
        "target": {
            "task": schema["task"],
            "target": schema.get("target"),
            "positive_label": schema.get("positive_label"),
            "negative_label": schema.get("negative_label"),
            "label_delimiter": schema.get("label_delimiter"),
            "label_columns": list(schema.get("label_columns") or [schema["target"]]),
        },
        "versions": {**trained, "priced_with": library_versions()},
        "check": check,
        "priced": {
            "test_expected_cost": test["expected_cost"],
            "test_confusion": test["confusion"],
            "threshold_data": model_result.get("threshold_data"),
        },
    }
    if cost_specs is None:
        return document
    columns: list[str] = []
    for spec in cost_specs.values():
        columns += [name for name in spec.columns if name not in columns]
    document["format"] = ROW_COSTS_FORMAT
    document["thresholds"] = dict.fromkeys(labels)
    document["rules"] = {label: model_result["rules"][label] for label in labels}
    document["costs"] = {label: cost_specs[label].texts() for label in labels}
    document["input_schema"] = {**document["input_schema"], "cost_columns": columns}
    return document


def portable_booster_json(content: bytes) -> bytes:
    """A booster's JSON with a vector ``base_score`` of one distinct value written as a scalar.

    Only that string changes (every other byte is kept), so the model scores the same in the
    XGBoost that wrote it and reads the same in XGBoost 3.0.
    """

    def scalar(match: re.Match[bytes]) -> bytes:
        values = [v.strip() for v in match.group(1).split(b",")]
        if len({float(v) for v in values}) != 1:
            return match.group(0)  # per-target intercepts: nothing portable to write
        return b'"base_score":"' + values[0] + b'"'

    return _VECTOR_BASE_SCORE.sub(scalar, content)


def check_rows(test: pd.DataFrame, spec: dict[str, Any]) -> dict[str, list[Any]]:
    """Synthetic rows to check a loaded artifact scores as it was priced.

    Numeric columns take quantiles of the test split (no real row is stored); categorical
    columns cycle through their levels; text columns are empty.
    """
    rows: dict[str, list[Any]] = {}
    count = len(CHECK_QUANTILES)
    for name in spec["columns"]:
        kind = spec["types"][name]
        if kind == "numeric":
            values = pd.to_numeric(test[name], errors="coerce").astype("float64")
            quantiles = (
                values.quantile(list(CHECK_QUANTILES)).tolist() if values.notna().any() else []
            )
            rows[name] = [None if not np.isfinite(q) else float(q) for q in quantiles] or [
                None
            ] * count
        elif kind == "categorical":
            levels = spec["categories"][name] or [None]
            rows[name] = [levels[i % len(levels)] for i in range(count)]
        else:
            rows[name] = [""] * count
    return rows


def check_document(model: Any, test: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    """The check rows and the scores ``model`` (as Evaluate loaded it) gives them."""
    rows = check_rows(test, spec)
    scores = model.predict_proba(prepare_rows(pd.DataFrame(rows), spec))
    return {"rows": rows, "scores": [[float(v) for v in row] for row in scores]}


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    info.mtime = 0
    tar.addfile(info, io.BytesIO(content))


def write_artifact(trained_model: Path, decision: dict[str, Any], destination: Path) -> Path:
    """Write ``destination/model.tar.gz`` from a training job's model (archive or folder).

    Members are sorted with zero times and owners, so the same model and decision always give
    the same bytes (and the same sha256 in the registry). Written to a temporary file and
    moved into place: a reader never sees half an archive.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="costpipe-artifact-") as scratch:
        folder = locate_model_files(Path(trained_model), Path(scratch))
        files: list[Path] = sorted(
            path
            for path in folder.rglob("*")
            if path.is_file() and path.name not in NOT_SERVED and not path.name.startswith(".")
        )
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(
                tar,
                DECISION_FILE,
                (json.dumps(decision, indent=2, allow_nan=False) + "\n").encode("utf-8"),
            )
            for path in files:
                relative = path.relative_to(folder).as_posix()
                content = path.read_bytes()
                if path.name.startswith("xgboost-model") and path.suffix == ".json":
                    content = portable_booster_json(content)
                _add_bytes(tar, f"{MODEL_FOLDER}/{relative}", content)
        with tempfile.NamedTemporaryFile(
            dir=destination, prefix=".model-", suffix=".tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
        target = destination / ARCHIVE_FILE
        try:
            temporary.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
            temporary.chmod(0o644)
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return target


def open_artifact(path: Path, scratch: Path) -> Path:
    """The folder holding ``decision.json``: ``path`` itself (an extracted artifact, such as
    SageMaker's ``/opt/ml/model``), or the archive at or in ``path`` extracted into scratch."""
    path = Path(path)
    if path.is_dir() and (path / DECISION_FILE).is_file():
        return path
    archive: Path | None = None
    if path.is_file():
        archive = path
    elif path.is_dir() and (path / ARCHIVE_FILE).is_file():
        archive = path / ARCHIVE_FILE
    if archive is None:
        if path.is_dir() and (path / META_FILE).is_file():
            raise InputError(
                f"'{path}' is a training job's model, not a decision artifact: use the model "
                "Evaluate wrote (evaluation.json best.model_uri)"
            )
        raise InputError(
            f"no decision artifact at '{path}': expected {ARCHIVE_FILE} or a folder with "
            f"{DECISION_FILE}"
        )
    try:
        safe_extract(archive, scratch)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise InputError(f"'{archive}' is not a readable tar.gz archive ({error})") from None
    if not (scratch / DECISION_FILE).is_file():
        if (scratch / META_FILE).is_file():
            raise InputError(
                f"'{archive}' is a training job's model, not a decision artifact: use the model "
                "Evaluate wrote (evaluation.json best.model_uri)"
            )
        raise InputError(f"'{archive}' holds no {DECISION_FILE}: it is not a decision artifact")
    return scratch


def read_decision(folder: Path) -> dict[str, Any]:
    decision = json.loads((Path(folder) / DECISION_FILE).read_text(encoding="utf-8"))
    if decision.get("format") not in FORMATS:
        raise InputError(
            f"decision artifact format {decision.get('format')!r} is not one of "
            f"{', '.join(repr(f) for f in FORMATS)}: evaluate the model again with this version "
            "of costpipe"
        )
    return decision
