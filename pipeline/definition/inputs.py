"""Where a definition's inputs live on S3: data and code addresses, by content."""

from __future__ import annotations

from pathlib import Path

from pipeline.definition.names import Target
from steps.data import file_digest, find_data_file


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
