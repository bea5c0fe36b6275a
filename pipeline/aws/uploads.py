"""The jobs' code and the data, uploaded to the artifact bucket under content addresses.

Every object's key is derived from its bytes (the code bundle's digest, the data file's
sha256), so an object that is already there is already right: it is skipped, and a second
upsert of the same code and data uploads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.code_bundle import CodeBundle
from pipeline.config import Config
from pipeline.definition.inputs import data_uri
from pipeline.definition.names import Target
from pipeline.errors import UsageError
from steps.data import find_data_file

_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass
class UploadReport:
    """What an upload did: objects written, objects already there, bytes written."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "already_there": len(self.skipped),
            "bytes_uploaded": self.bytes_uploaded,
        }


@dataclass(frozen=True)
class Plan:
    """The S3 addresses the definition reads its data from, and every object to upload."""

    input_uri: str
    test_uri: str | None
    objects: dict[str, bytes | Path]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise UsageError(f"'{uri}' is not an s3://bucket/key address")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def check_bucket(s3: Any, bucket: str) -> None:
    """Raise a :class:`UsageError` unless the bucket exists and the caller may use it."""
    from botocore.exceptions import ClientError

    from pipeline.aws.session import error_code

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = error_code(error)
        if code in _MISSING or code == "NoSuchBucket":
            raise UsageError(
                f"bucket '{bucket}' does not exist: create it (the infra stack does) or give "
                "another with --bucket"
            ) from None
        if code in ("403", "AccessDenied"):
            raise UsageError(
                f"no access to bucket '{bucket}': grant s3:ListBucket, s3:GetObject and "
                "s3:PutObject on it to your credentials' identity"
            ) from None
        raise


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    from pipeline.aws.session import error_code

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in _MISSING:
            return False
        raise
    return True


def upload_missing(s3: Any, objects: Mapping[str, bytes | Path]) -> UploadReport:
    """Upload each object that is not in S3 yet; skip those that are.

    Parameters
    ----------
    s3 : botocore client
        An S3 client.
    objects : mapping
        ``s3://`` URI -> the bytes, or a local file to upload.

    Returns
    -------
    UploadReport
    """
    report = UploadReport()
    for uri, content in objects.items():
        bucket, key = split_s3_uri(uri)
        if _exists(s3, bucket, key):
            report.skipped.append(uri)
            continue
        if isinstance(content, Path):
            s3.upload_file(str(content), bucket, key)
            report.bytes_uploaded += content.stat().st_size
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=content)
            report.bytes_uploaded += len(content)
        report.uploaded.append(uri)
    return report


def plan(config: Config, target: Target, code: CodeBundle) -> Plan:
    """What to upload (the code bundle, local data files) and the data's S3 addresses.

    Data given as ``s3://`` addresses is used where it is and not copied. Nothing is read
    from or written to S3 here.
    """
    objects: dict[str, bytes | Path] = dict(code.objects(target.bucket, target.pipeline_name))
    uris: list[str | None] = []
    for location in (config.data.path, config.data.test_path):
        if not location:
            uris.append(None)
            continue
        uri = data_uri(location, target)
        if not location.startswith("s3://"):
            objects[uri] = find_data_file(Path(location))
        uris.append(uri)
    if uris[0] is None:
        raise UsageError("no data given: pass --data FILE (CSV or Parquet, or an s3:// address)")
    return Plan(uris[0], uris[1], objects)
