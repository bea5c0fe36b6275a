"""Container conventions of the local jobs: path mapping, failure reasons, the local bucket."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.local.bucket import LocalBucket
from pipeline.local.executor import parse_duration
from pipeline.local.jobs import JobContext, JobError, map_container_paths, run_process


def test_container_paths_are_mapped_wherever_they_appear(tmp_path):
    root = tmp_path / "job"
    assert (
        map_container_paths("/opt/ml/processing/input", root) == f"{root}/opt/ml/processing/input"
    )
    assert (
        map_container_paths("--data=/opt/ml/processing/x", root)
        == f"--data={root}/opt/ml/processing/x"
    )
    assert map_container_paths("/opt/ml", root) == f"{root}/opt/ml"
    # Not container paths: left alone.
    assert map_container_paths("/home/opt/ml/x", root) == "/home/opt/ml/x"
    assert map_container_paths("s3://b/opt/ml/x", root) == "s3://b/opt/ml/x"
    assert map_container_paths("/opt/mlflow", root) == "/opt/mlflow"


def context(tmp_path: Path) -> JobContext:
    return JobContext(name="job", folder=tmp_path, stop=threading.Event(), threads=1)


def test_a_failing_process_reports_the_last_stderr_line(tmp_path):
    code = (
        "import sys; print('progress'); print('Traceback...', file=sys.stderr); "
        "print('error: column x is empty: drop it', file=sys.stderr); sys.exit(2)"
    )
    with pytest.raises(JobError) as raised:
        run_process(["python3", "-c", code], {}, context(tmp_path), None)
    assert raised.value.reason == "error: column x is empty: drop it (exit code 2)"
    assert raised.value.exception_type == "AlgorithmError"
    assert (tmp_path / "logs" / "stdout.log").read_text() == "progress\n"


def test_a_killed_process_is_an_internal_error_that_retry_policies_match(tmp_path):
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    with pytest.raises(JobError) as raised:
        run_process(["python3", "-c", code], {}, context(tmp_path), None)
    assert raised.value.exception_type == "SageMaker.JOB_INTERNAL_ERROR"
    assert "killed by signal SIGKILL" in raised.value.reason


def test_max_runtime_stops_a_job(tmp_path):
    with pytest.raises(JobError, match="MaxRuntimeExceeded"):
        run_process(["python3", "-c", "import time; time.sleep(30)"], {}, context(tmp_path), 0.3)


def test_the_local_bucket_maps_uris_and_refuses_escapes(tmp_path):
    bucket = LocalBucket(tmp_path)
    bucket.put_bytes("s3://b/a/file.csv", b"x,y\n")
    assert (tmp_path / "b" / "a" / "file.csv").read_bytes() == b"x,y\n"
    bucket.download_prefix("s3://b/a/file.csv", tmp_path / "in")
    assert (tmp_path / "in" / "file.csv").is_file()
    with pytest.raises(InputError, match="points outside the local bucket"):
        bucket.path("s3://b/../../etc/passwd")
    with pytest.raises(InputError, match="not an s3://bucket/key URI"):
        bucket.path("/etc/passwd")
    with pytest.raises(InputError, match="no object at"):
        bucket.download_prefix("s3://b/missing", tmp_path / "in")


@pytest.mark.parametrize(
    ("text", "days", "seconds"),
    [
        ("P30D", 30, 0),
        ("PT1H", 0, 3600),
        ("P1Y", 365, 0),
        ("P2W", 14, 0),
        ("30d", 30, 0),
        ("PT16M", 0, 960),
    ],
)
def test_cache_expiry_durations(text, days, seconds):
    duration = parse_duration(text)
    assert (duration.days, duration.seconds) == (days, seconds)


def test_the_reason_is_the_error_line_even_with_a_native_stack_trace_after_it(tmp_path):
    code = (
        "import sys\n"
        "print('Traceback (most recent call last):', file=sys.stderr)\n"
        "print('xgboost.core.XGBoostError: [14:55] updater.cc:204: not yet implemented.', "
        "file=sys.stderr)\n"
        "print('Stack trace:', file=sys.stderr)\n"
        "print('  [bt] (8) /lib/x86_64-linux-gnu/libffi.so.8(+0x640e)', file=sys.stderr)\n"
        "sys.exit(1)\n"
    )
    with pytest.raises(JobError) as raised:
        run_process(["python3", "-c", code], {}, context(tmp_path), None)
    assert raised.value.reason == (
        "xgboost.core.XGBoostError: [14:55] updater.cc:204: not yet implemented. (exit code 1)"
    )
