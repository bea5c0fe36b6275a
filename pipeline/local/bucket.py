"""A folder that stands in for S3: ``s3://bucket/key`` is ``<root>/bucket/key``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from pipeline.errors import InputError


class LocalBucket:
    """S3 semantics the executor needs: put, get, and S3Prefix downloads into a folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise InputError(f"'{uri}' is not an s3://bucket/key URI")
        key = parsed.path.lstrip("/")
        target = (self.root / parsed.netloc / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise InputError(f"'{uri}' points outside the local bucket")
        return target

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key.lstrip('/')}"

    def exists(self, uri: str) -> bool:
        return self.path(uri).exists()

    def put_bytes(self, uri: str, content: bytes) -> None:
        """Write an object atomically, and skip the write when it already holds those bytes."""
        target = self.path(uri)
        if (
            target.is_file()
            and target.stat().st_size == len(content)
            and target.read_bytes() == content
        ):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def put_file(self, uri: str, source: Path) -> None:
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(handle)
        try:
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def upload_folder(self, source: Path, uri: str) -> None:
        """Copy a job's output folder to a prefix, replacing what was there."""
        prefix = self.path(uri)
        if prefix.exists():
            shutil.rmtree(prefix) if prefix.is_dir() else prefix.unlink()
        prefix.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=prefix.parent, prefix=".upload-"))
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True)
            os.replace(staging, prefix)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def download_share(self, uri: str, destination: Path, index: int, count: int) -> None:
        """A ``ShardedByS3Key`` input of instance ``index`` of ``count``: the objects under the
        prefix in key order, object ``i`` to instance ``i % count``. SageMaker promises each
        instance about 1/count of the objects; with as many objects as instances, one each."""
        source = self.path(uri)
        if source.is_file():
            objects = [(source.name, source)]
        elif source.is_dir():
            objects = sorted(
                (path.relative_to(source).as_posix(), path)
                for path in source.rglob("*")
                if path.is_file()
            )
        else:
            raise InputError(f"no object at {uri}: nothing to download")
        destination.mkdir(parents=True, exist_ok=True)
        for key, path in objects[index::count]:
            (destination / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / key)

    def download_prefix(self, uri: str, destination: Path) -> None:
        """An S3Prefix input: one object lands under its own name, a prefix keeps its tree."""
        source = self.path(uri)
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copyfile(source, destination / source.name)
        elif source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            raise InputError(f"no object at {uri}: nothing to download")
