"""The jobs' source code, packaged the same way every time so its address is its content.

Processing jobs download the loose files (``.../code/<sha>/source/steps/*.py``); training jobs
in script mode download ``.../code/<sha>/sourcedir.tar.gz``. The sha256 covers the files'
names and bytes, so the same code always has the same S3 URIs: step caching keys on them, and
a changed script can never reuse a stale cached result.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import steps

STEPS_DIR = Path(steps.__file__).resolve().parent
PACKAGE_NAME = "steps"
SOURCEDIR_ARCHIVE = "sourcedir.tar.gz"


@dataclass(frozen=True)
class CodeBundle:
    """The step scripts' files, their digest, and the bytes of the script-mode archive."""

    files: dict[str, bytes]  # relative path (steps/x.py) -> content
    digest: str  # hex sha256

    @classmethod
    def from_directory(cls, directory: Path = STEPS_DIR) -> CodeBundle:
        files = {
            f"{PACKAGE_NAME}/{path.relative_to(directory).as_posix()}": path.read_bytes()
            for path in sorted(directory.rglob("*.py"))
            if "__pycache__" not in path.parts
        }
        digest = hashlib.sha256()
        for name, content in files.items():
            digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return cls(files=files, digest=digest.hexdigest())

    def prefix(self, bucket: str, pipeline_name: str) -> str:
        return f"s3://{bucket}/{pipeline_name}/code/{self.digest}"

    def source_uri(self, bucket: str, pipeline_name: str) -> str:
        """The folder processing jobs download (it holds the ``steps`` package)."""
        return f"{self.prefix(bucket, pipeline_name)}/source/"

    def sourcedir_uri(self, bucket: str, pipeline_name: str) -> str:
        """The archive training jobs download in script mode."""
        return f"{self.prefix(bucket, pipeline_name)}/{SOURCEDIR_ARCHIVE}"

    def objects(self, bucket: str, pipeline_name: str) -> dict[str, bytes]:
        """Every object to upload, by S3 URI."""
        source = self.source_uri(bucket, pipeline_name)
        uploads = {f"{source}{name}": content for name, content in self.files.items()}
        uploads[self.sourcedir_uri(bucket, pipeline_name)] = self.sourcedir_archive()
        return uploads

    def sourcedir_archive(self) -> bytes:
        """A reproducible tar.gz: sorted members, zero times and owners."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, content in self.files.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mode = 0o644
                info.mtime = 0
                tar.addfile(info, io.BytesIO(content))
        return gzip.compress(raw.getvalue(), mtime=0)
