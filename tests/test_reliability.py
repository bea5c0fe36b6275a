"""Faults: killed and stopped runners, concurrent runs, full disks, tampered artifacts.

The promise SageMaker Pipelines and the Model Registry make, kept locally: a failed step fails
the execution with its reason, a rerun picks up from the cache, registered versions are never
lost or duplicated, and nothing secret leaks into what the pipeline writes.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from pipeline.local.executor import LocalExecutor
from pipeline.local.registry import ModelRegistry
from pipeline.local.store import ExecutionStore
from steps.model_io import safe_extract
from tests.conftest import fast_config_file

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def write_config(tmp: Path, data: Path, **training: object) -> Path:
    return fast_config_file(tmp, data, "bc-faults", **training)


def start_run(config: Path, home: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config)]
    return subprocess.Popen(
        [*command, "--home", str(home), "--json", "--no-report", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def wait_for(predicate, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def execution_ids(home: Path) -> list[str]:
    if not (home / "costpipe.db").exists():
        return []
    store = ExecutionStore(home)
    try:
        return [row["id"] for row in store._db.execute("SELECT id FROM executions")]
    finally:
        store.close()


def step_statuses(home: Path) -> dict[str, str]:
    ids = execution_ids(home)
    if not ids:
        return {}
    store = ExecutionStore(home)
    try:
        return {s.name: s.status for s in store.steps(ids[0])}
    finally:
        store.close()


def only_execution_id(home: Path) -> str:
    (execution_id,) = execution_ids(home)
    return execution_id


def job_processes(execution_id: str) -> list[int]:
    """Pids of processes whose command line or working directory is in the execution's job
    folders (a training job runs ``python -m steps.train`` from its code folder, so only its
    working directory says whose job it is)."""
    found = []
    folder = f"/jobs/{execution_id}/"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if folder in cmdline or folder in cwd + "/":
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PDEATHSIG")
def test_a_killed_runner_takes_its_jobs_along_and_a_rerun_resumes_from_the_cache(
    tmp_path, breast_cancer_csv
):
    home = tmp_path / "home"
    # One job at a time and slow trainings: the first training finishes, the second is running
    # when the runner is killed.
    config = write_config(tmp_path, breast_cancer_csv, num_round=4000)
    runner = start_run(config, home, "--max-parallel", "1")
    # A step is marked Executing just before its process starts: wait for the process too.
    wait_for(
        lambda: (
            list(step_statuses(home).values()).count("Succeeded") >= 2
            and "Executing" in step_statuses(home).values()
            and job_processes(only_execution_id(home))
        ),
        what="one training done and another one's process running",
    )
    killed = only_execution_id(home)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    # The kernel ends the runner's job with it (PR_SET_PDEATHSIG): no orphan keeps computing.
    wait_for(lambda: not job_processes(killed), timeout=10, what="the orphaned job to end")
    # The next command notices the dead runner: Failed with a reason, never Executing forever.
    assert main(["executions", "show", killed, "--home", str(home), "--json"]) == 0
    execution = ExecutionStore(home).execution(killed)
    assert execution["status"] == "Failed"
    assert "runner process ended" in execution["failure_reason"]
    finished = {s.name for s in ExecutionStore(home).steps(killed) if s.status == "Succeeded"}
    assert "Preprocess" in finished and len(finished) == 2
    # A rerun of the very same command reuses what finished and completes.
    rerun = start_run(config, home, "--max-parallel", "1")
    out, err = rerun.communicate(timeout=600)
    result = json.loads(out)
    assert rerun.returncode == 0, err
    steps = {s.name: s for s in ExecutionStore(home).steps(result["execution_id"])}
    for name in finished:
        assert steps[name].cache_source == killed
    assert result["registered"]["version"] == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_sigterm_stops_the_execution_and_its_jobs(tmp_path, breast_cancer_csv):
    home = tmp_path / "home"
    config = write_config(tmp_path, breast_cancer_csv, num_round=4000)
    runner = start_run(config, home)
    wait_for(
        lambda: any(
            n.startswith("Train") and s == "Executing" for n, s in step_statuses(home).items()
        ),
        what="a training to execute",
    )
    execution_id = only_execution_id(home)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert err.decode().strip().splitlines()[-1] == "costpipe: stopped"
    assert ExecutionStore(home).execution(execution_id)["status"] == "Stopped"
    wait_for(lambda: not job_processes(execution_id), timeout=10, what="the jobs to end")


def test_four_runs_at_once_on_one_home(tmp_path, breast_cancer_csv):
    home = tmp_path / "home"
    # One cost setting that beats calling everyone malignant on this split, so each run registers.
    config = write_config(tmp_path, breast_cancer_csv, cost_settings=["1:1"])
    runs = [start_run(config, home, "--max-parallel", "1") for _ in range(4)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=900)
        assert "database is locked" not in err.decode()
        assert run.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert len({r["execution_id"] for r in results}) == 4
    recorded = ExecutionStore(home).executions(limit=100)
    assert sorted(e["execution_id"] for e in recorded) == sorted(r["execution_id"] for r in results)
    assert all(e["status"] == "Succeeded" for e in recorded)
    versions = sorted(r["registered"]["version"] for r in results)
    assert versions == [1, 2, 3, 4]  # unique and consecutive
    assert [p["version"] for p in ModelRegistry(home).packages("bc-faults")] == [1, 2, 3, 4]


def test_a_full_disk_fails_the_step_with_the_reason(first_run, monkeypatch):
    home, run, _ = first_run
    definition = ExecutionStore(home).definition(run.result.execution_id)

    def no_space(self, source, uri):
        raise OSError(errno.ENOSPC, "No space left on device", str(source))

    monkeypatch.setattr(LocalBucket, "upload_folder", no_space)
    before = len(ModelRegistry(home).packages("bc-test"))
    # A new split seed: Preprocess cannot come from the cache, runs, and fails to store its output.
    result = LocalExecutor(home).start(definition, "costpipe", {"SplitSeed": 7})
    assert result.status == "Failed"
    reason = result.steps["Preprocess"]["failure_reason"]
    assert reason.startswith("copying the job's inputs or outputs failed: [Errno 28] No space")
    assert result.registered is None
    assert len(ModelRegistry(home).packages("bc-test")) == before


def test_an_unwritable_home_is_one_clear_line(capsys):
    code = main(["registry", "list", "--home", "/sys/costpipe-not-writable"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "costpipe: error: cannot write '/sys/costpipe-not-writable' (Operation not permitted): "
        "give a writable --home with free space"
    )


def test_a_tampered_model_fails_verification_and_cannot_be_approved(first_run, tmp_path, capsys):
    home = tmp_path / "home"
    shutil.copytree(first_run[0], home)
    package = ModelRegistry(home).packages("bc-test")[0]
    assert (
        main(["registry", "verify", "bc-test", str(package["version"]), "--home", str(home)]) == 0
    )
    artifact = LocalBucket(home / BUCKET_FOLDER).path(package["model_data_url"])
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    capsys.readouterr()
    code = main(["registry", "verify", "bc-test", str(package["version"]), "--home", str(home)])
    assert code == 1 and "MISMATCH" in capsys.readouterr().out
    code = main(["registry", "approve", "bc-test", str(package["version"]), "--home", str(home)])
    assert code == 2 and "refusing to approve" in capsys.readouterr().err
    status = ModelRegistry(home).package("bc-test", package["version"])["approval_status"]
    assert status == "PendingManualApproval"


def tar_with(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        data = b"" if kind != tarfile.REGTYPE else b"payload"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("member", "kind", "link", "message"),
    [
        ("/etc/cron.d/evil", tarfile.REGTYPE, "", "unsafe member '/etc/cron.d/evil'"),
        ("../../evil.py", tarfile.REGTYPE, "", "unsafe member '../../evil.py'"),
        ("model/../../x", tarfile.REGTYPE, "", "unsafe member"),
        ("link", tarfile.SYMTYPE, "/etc/passwd", "link or special file 'link'"),
        ("hard", tarfile.LNKTYPE, "/etc/passwd", "link or special file 'hard'"),
        ("dev", tarfile.CHRTYPE, "", "link or special file 'dev'"),
    ],
)
def test_archive_extraction_refuses_unsafe_members(tmp_path, member, kind, link, message):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(tar_with(member, kind, link))
    with pytest.raises(InputError, match=re.escape(message)):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_no_pickle_anywhere_in_the_code():
    forbidden = re.compile(
        r"^\s*(import|from)\s+(c?pickle|cloudpickle|joblib|dill)\b|read_pickle|to_pickle|"
        r"allow_pickle\s*=\s*True",
        re.MULTILINE,
    )
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("steps", "pipeline")
        for path in (ROOT / folder).rglob("*.py")
        if forbidden.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_no_credentials_reach_definitions_logs_or_reports(tmp_path, breast_cancer_csv):
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIACOSTPIPESECRET01",
        "AWS_SECRET_ACCESS_KEY": "costpipe-secret-key-do-not-leak-0123456789",
        "AWS_SESSION_TOKEN": "costpipe-session-token-do-not-leak",
    }
    env = {**os.environ, **secrets}
    home = tmp_path / "home"
    config = write_config(tmp_path, breast_cancer_csv, cost_settings=["1:1"])
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "run",
        "--config",
        str(config),
        "--home",
        str(home),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr.decode()
    definition = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "definition", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=600,
    )
    texts = [done.stdout, done.stderr, definition.stdout, definition.stderr]
    texts += [path.read_bytes() for path in home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".html" for path in home.rglob("*"))  # the report was written
    for value in secrets.values():
        assert not any(value.encode() in text for text in texts), value
