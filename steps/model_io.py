"""Saving and loading a trained model: boosters in XGBoost's JSON format plus metadata.

Never pickle: a pickled model runs code when loaded and breaks across library versions.
SageMaker tars the job's model folder into ``model.tar.gz``; loading accepts that archive, a
folder holding it, or the model folder itself, and refuses archive members that would land
outside the extraction folder.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from steps.errors import InputError

BOOSTER_FILE = "xgboost-model.json"
META_FILE = "model_meta.json"
TEXT_FILE = "text_features.json"
LINEAR_FILE = "linear_inputs.json"
#: Fitted input transforms saved beside the boosters: metadata key, model attribute, file.
INPUT_STATES = (
    ("text_features", "text_state", TEXT_FILE),
    ("linear_inputs", "linear_state", LINEAR_FILE),
)
OUT_OF_FOLD_FILE = "oof_scores.parquet"
ARCHIVE_FILE = "model.tar.gz"


@dataclass
class LoadedModel:
    """A trained model, its metadata, and its out-of-fold scores if it has them."""

    model: Any  # steps.model.CostSensitiveModel
    meta: dict[str, Any]
    out_of_fold: Any | None = None  # a DataFrame: __row__, split, label_name, label, score


def booster_files(count: int) -> list[str]:
    """One booster: ``xgboost-model.json``; several: numbered. (The stock container's
    algorithm-mode server cannot serve these archives: it would also try to load
    ``model_meta.json`` and the out-of-fold scores as boosters.)"""
    if count == 1:
        return [BOOSTER_FILE]
    return [f"xgboost-model-{index}.json" for index in range(count)]


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the whole new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, sort_keys=False, allow_nan=False)
            stream.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp makes files private; outputs are ordinary files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _save_member(model: Any, folder: Path) -> dict[str, Any]:
    """Write one model's boosters and text features into ``folder``; return what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = booster_files(len(model.boosters))
    for booster, name in zip(model.boosters, files, strict=True):
        booster.save_model(str(folder / name))
    description: dict[str, Any] = {
        "booster_files": files,
        "base_margins": model.base_margins,
        # XGBoost names the boosters' inputs f0, f1, ...: input_columns[i] is what f<i> is.
        "input_columns": model.input_columns,
    }
    for key, attribute, file_name in INPUT_STATES:
        state = getattr(model, attribute)
        if state is not None:
            write_json(folder / file_name, state)
        description[key] = file_name if state is not None else None
    return description


def save_model(model: Any, meta: dict[str, Any], model_dir: Path) -> None:
    """Write the boosters, the text features and the metadata (which lists the files).

    A fold ensemble writes each fold model into its own ``fold-<k>`` folder.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    description: dict[str, Any] = {"schema": model.schema, "strategy": model.strategy}
    members = getattr(model, "members", None)
    if members is not None:
        description["members"] = [
            {"folder": f"fold-{k}", **_save_member(member, model_dir / f"fold-{k}")}
            for k, member in enumerate(members)
        ]
    else:
        description.update(_save_member(model, model_dir))
    write_json(model_dir / META_FILE, {**meta, **description})


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar archive, refusing absolute paths, '..', links and special files."""
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise InputError(
                    f"model archive '{archive.name}' has an unsafe member '{member.name}': "
                    "rebuild the archive with relative paths"
                )
            if not (member.isfile() or member.isdir()):
                raise InputError(
                    f"model archive '{archive.name}' has a link or special file "
                    f"'{member.name}': rebuild it with plain files"
                )
        for member in members:
            tar.extract(member, destination)  # members checked above


def locate_model_files(path: Path, scratch: Path) -> Path:
    """The folder holding the booster: ``path`` itself, or ``model.tar.gz`` extracted to scratch."""
    path = Path(path)
    if path.is_file():
        archive = path
    elif (path / META_FILE).is_file():
        return path
    elif (path / ARCHIVE_FILE).is_file():
        archive = path / ARCHIVE_FILE
    else:
        raise InputError(f"no model at '{path}': expected {BOOSTER_FILE} or {ARCHIVE_FILE} there")
    safe_extract(archive, scratch)
    if not (scratch / META_FILE).is_file():
        raise InputError(f"model archive '{archive}' holds no {META_FILE}: retrain the model")
    return scratch


def load_model(path: Path) -> LoadedModel:
    """Load a model, its metadata and any out-of-fold scores from a folder or archive."""
    import pandas as pd
    import xgboost as xgb

    from steps.model import CostSensitiveModel, FoldEnsemble

    def member(folder: Path, description: dict[str, Any]) -> CostSensitiveModel:
        boosters = []
        for name in description.get("booster_files", [BOOSTER_FILE]):
            if PurePosixPath(name).name != name or not (folder / name).is_file():
                raise InputError(f"model at '{path}' lacks its booster file '{name}': retrain it")
            booster = xgb.Booster()
            booster.load_model(str(folder / name))
            boosters.append(booster)
        states = {}
        for key, attribute, file_name in INPUT_STATES:
            if description.get(key):
                if not (folder / file_name).is_file():
                    raise InputError(f"model at '{path}' lacks its file '{file_name}': retrain it")
                states[attribute] = json.loads((folder / file_name).read_text(encoding="utf-8"))
        return CostSensitiveModel(
            schema=meta["schema"],
            strategy=meta.get("strategy", "binary"),
            boosters=boosters,
            base_margins=description.get("base_margins"),
            input_columns=description.get("input_columns"),
            **states,
        )

    with tempfile.TemporaryDirectory(prefix="costpipe-model-") as scratch:
        folder = locate_model_files(Path(path), Path(scratch))
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if "members" in meta:
            members = []
            for description in meta["members"]:
                name = description["folder"]
                if PurePosixPath(name).name != name or not (folder / name).is_dir():
                    raise InputError(
                        f"model at '{path}' lacks its fold folder '{name}': retrain it"
                    )
                members.append(member(folder / name, description))
            model: Any = FoldEnsemble(members)
        else:
            model = member(folder, meta)
        oof_path = folder / OUT_OF_FOLD_FILE
        out_of_fold = pd.read_parquet(oof_path) if oof_path.is_file() else None
    return LoadedModel(model=model, meta=meta, out_of_fold=out_of_fold)
