"""Reading what the Preprocess job wrote: the Parquet splits and profile.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from steps.errors import InputError

PROFILE_FILE = "profile.json"


def shard_file(name: str, index: int, count: int) -> str:
    """The file of one part of a split written for ``count`` training instances: each
    instance's channel gets one of them (``ShardedByS3Key`` assigns S3 objects by key)."""
    return f"{name}-{index:05d}-of-{count:05d}.parquet"


def read_profile(folder: Path) -> dict[str, Any]:
    """profile.json from a folder (the job's channel) or the file itself."""
    folder = Path(folder)
    path = folder if folder.is_file() else folder / PROFILE_FILE
    if not path.is_file():
        raise InputError(f"no {PROFILE_FILE} at '{folder}': run the Preprocess step first")
    return json.loads(path.read_text(encoding="utf-8"))


def read_split(folder: Path, name: str) -> pd.DataFrame:
    """One split's Parquet file from its folder, or the file itself; a folder of shards
    (:func:`shard_file`, a host's share or all of them) is read as their rows in file order."""
    folder = Path(folder)
    path = folder if folder.is_file() else folder / f"{name}.parquet"
    if path.is_file():
        return pd.read_parquet(path)
    shards = sorted(folder.glob(f"{name}-*-of-*.parquet")) if folder.is_dir() else []
    if not shards:
        raise InputError(f"no {name} split at '{folder}': run the Preprocess step first")
    return pd.concat([pd.read_parquet(shard) for shard in shards], ignore_index=True)
