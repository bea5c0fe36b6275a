"""Saving and loading a trained model: the booster in XGBoost's JSON format plus its metadata.

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
from typing import Any, Dict, Optional

from steps.errors import InputError

BOOSTER_FILE = "xgboost-model.json"
META_FILE = "model_meta.json"
OUT_OF_FOLD_FILE = "oof_scores.parquet"
ARCHIVE_FILE = "model.tar.gz"


@dataclass
class LoadedModel:
    """A trained model: the booster, its metadata, and its out-of-fold scores if it has them."""

    booster: Any
    meta: Dict[str, Any]
    out_of_fold: Optional[Any] = None  # a DataFrame: __row__, split, label, score


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


def save_model(booster: Any, meta: Dict[str, Any], model_dir: Path) -> None:
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / BOOSTER_FILE))
    write_json(model_dir / META_FILE, meta)


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
    elif (path / BOOSTER_FILE).is_file():
        return path
    elif (path / ARCHIVE_FILE).is_file():
        archive = path / ARCHIVE_FILE
    else:
        raise InputError(f"no model at '{path}': expected {BOOSTER_FILE} or {ARCHIVE_FILE} there")
    safe_extract(archive, scratch)
    if not (scratch / BOOSTER_FILE).is_file():
        raise InputError(f"model archive '{archive}' holds no {BOOSTER_FILE}: retrain the model")
    return scratch


def load_model(path: Path) -> LoadedModel:
    """Load the booster, its metadata and any out-of-fold scores from a folder or archive."""
    import pandas as pd
    import xgboost as xgb

    with tempfile.TemporaryDirectory(prefix="costpipe-model-") as scratch:
        folder = locate_model_files(Path(path), Path(scratch))
        booster = xgb.Booster()
        booster.load_model(str(folder / BOOSTER_FILE))
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise InputError(f"model at '{path}' has no {META_FILE}: retrain the model")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        oof_path = folder / OUT_OF_FOLD_FILE
        out_of_fold = pd.read_parquet(oof_path) if oof_path.is_file() else None
    return LoadedModel(booster=booster, meta=meta, out_of_fold=out_of_fold)
