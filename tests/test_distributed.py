"""Training across instances: the sharded definition, the build-time instance count, the
shards Preprocess writes, the local executor's hosts, the collective's timeouts and the checks
that refuse what stays on one instance."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.code_bundle import CodeBundle
from pipeline.config import override
from pipeline.definition import Target, build_definition
from pipeline.definition.parameters import resolve_parameters
from pipeline.errors import UsageError
from pipeline.local.bucket import LocalBucket
from pipeline.local.executor import LocalExecutor
from pipeline.local.jobs import JobContext, JobError, run_training_job
from steps.collective import HOST_ADDRESSES_VARIABLE, TRACKER_PORT_VARIABLE
from steps.data import ROW_COLUMN
from steps.errors import InputError
from steps.preprocess_io import read_split, shard_file
from tests.conftest import fast_config

ROOT = Path(__file__).resolve().parents[1]
INPUT = "s3://costpipe-artifacts/costpipe/data/abc/bc.csv"


@pytest.fixture(params=["project", "container"])
def job_python(request: pytest.FixtureRequest) -> str:
    """The jobs' interpreter: this environment's (xgboost 3.2), and the container-parity one
    (Python 3.10, xgboost 3.0.5, the stock image's), whose collective must work the same."""
    if request.param == "project":
        return sys.executable
    from tests.external import container_python

    return container_python()


# the definition --------------------------------------------------------------------------------
def _definition(capsys, tmp_path: Path, *flags: str) -> dict:
    assert main(["definition", "--home", str(tmp_path), *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_definition_for_four_instances_shards_the_training_channel(capsys, tmp_path):
    definition = _definition(capsys, tmp_path, "--training-instance-count", "4")
    steps = {step["Name"]: step for step in definition["Steps"]}
    arguments = steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[-1] == "--train-shards=4"
    trainings = [step for step in definition["Steps"] if step["Type"] == "Training"]
    # The default grid keeps its trees: XGBoost's linear booster does not train across hosts.
    assert len(trainings) == 6
    for step in trainings:
        channels = {c["ChannelName"]: c for c in step["Arguments"]["InputDataConfig"]}
        distribution = {
            name: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
            for name, c in channels.items()
        }
        assert distribution == {
            "train": "ShardedByS3Key",
            "validation": "FullyReplicated",
            "profile": "FullyReplicated",
        }
        assert {c["InputMode"] for c in channels.values()} == {"File"}
        assert step["Arguments"]["ResourceConfig"]["InstanceCount"] == {
            "Get": "Parameters.TrainingInstanceCount"
        }
    (count,) = [p for p in definition["Parameters"] if p["Name"] == "TrainingInstanceCount"]
    assert count["DefaultValue"] == 4


def test_the_one_instance_definition_keeps_one_training_file(capsys, tmp_path):
    definition = _definition(capsys, tmp_path)
    preprocess = next(s for s in definition["Steps"] if s["Name"] == "Preprocess")
    assert not any(
        isinstance(a, str) and a.startswith("--train-shards")
        for a in preprocess["Arguments"]["AppSpecification"]["ContainerArguments"]
    )
    for step in definition["Steps"]:
        if step["Type"] == "Training":
            for channel in step["Arguments"]["InputDataConfig"]:
                source = channel["DataSource"]["S3DataSource"]
                assert source["S3DataDistributionType"] == "FullyReplicated"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--training-instance-count", "2", "--cost-settings", "1:1,1:1:linear"],
            "linear booster does not train across instances",
        ),
        (["--training-instance-count", "2", "--text", "notes"], "text columns"),
        (["--training-instance-count", "0"], "training_instance_count must be at least 1"),
    ],
)
def test_what_cannot_train_across_instances_is_one_line_and_exit_2(
    capsys, tmp_path, flags, message
):
    assert main(["definition", "--home", str(tmp_path), *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and message in error


def test_the_instance_count_is_fixed_when_the_definition_is_built():
    declared = [{"Name": "TrainingInstanceCount", "Type": "Integer", "DefaultValue": 4}]
    assert resolve_parameters(declared, {})["TrainingInstanceCount"] == 4
    repeated = resolve_parameters(declared, {"TrainingInstanceCount": "4"})
    assert repeated["TrainingInstanceCount"] == 4
    with pytest.raises(UsageError, match=r"is 2, but this pipeline was built for 4") as raised:
        resolve_parameters(declared, {"TrainingInstanceCount": 2})
    assert "--training-instance-count 2" in str(raised.value)
    one = [{"Name": "TrainingInstanceCount", "Type": "Integer", "DefaultValue": 1}]
    with pytest.raises(UsageError, match="built for 1 training instance"):
        resolve_parameters(one, {"TrainingInstanceCount": 3})


def test_a_mismatched_count_stops_before_an_execution_exists(tmp_path, breast_cancer_csv):
    config = override(fast_config(breast_cancer_csv, cv_folds=0), "aws", training_instance_count=2)
    definition = build_definition(config, Target(), CodeBundle.from_directory(), INPUT)
    executor = LocalExecutor(tmp_path / "home")
    try:
        with pytest.raises(UsageError, match="built for 2 training instance"):
            executor.start(definition, "costpipe", {"TrainingInstanceCount": 1})
        assert executor.store.executions() == []
    finally:
        executor.close()


@pytest.mark.parametrize(
    ("training", "split", "message"),
    [
        ({}, {}, "would be cross-fitted, which runs on one instance"),
        ({"cv_folds": 0}, {"validation_fraction": 0.2, "test_fraction": 0.7}, None),
    ],
)
def test_costpipe_run_finds_cross_fitting_before_anything_runs(
    tmp_path, breast_cancer_csv, training, split, message
):
    from pipeline.definition.inputs import check_data

    config = override(fast_config(breast_cancer_csv, **training), "aws", training_instance_count=3)
    if split:
        config = override(config, "split", **split)
    if message is None:
        check_data(config)  # holdout on three instances: nothing to refuse
        return
    with pytest.raises(UsageError, match=message):
        check_data(config)


def test_costpipe_run_refuses_more_instances_than_training_rows(breast_cancer_csv):
    from pipeline.definition.inputs import check_data

    config = fast_config(breast_cancer_csv, cv_folds=0)
    config = override(config, "aws", training_instance_count=400)
    with pytest.raises(UsageError, match=r"training split has 341 rows, fewer than"):
        check_data(config)


# Preprocess writes shards ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory, breast_cancer_csv: Path) -> Path:
    """Preprocess's outputs for breast cancer with the training split in two files."""
    from steps.preprocess import main as preprocess

    output = tmp_path_factory.mktemp("sharded")
    preprocess(
        [
            f"--data={breast_cancer_csv}",
            "--target=diagnosis",
            "--positive-label=M",
            f"--output={output}",
            "--train-shards=2",
        ]
    )
    return output


def test_preprocess_writes_one_training_file_per_instance(sharded, tmp_path, breast_cancer_csv):
    from steps.preprocess import main as preprocess

    files = sorted(path.name for path in (sharded / "train").iterdir())
    assert files == [shard_file("train", 0, 2), shard_file("train", 1, 2)]
    one = tmp_path / "one"
    preprocess(
        [
            f"--data={breast_cancer_csv}",
            "--target=diagnosis",
            "--positive-label=M",
            f"--output={one}",
        ]
    )
    whole = pd.read_parquet(one / "train" / "train.parquet")
    parts = [pd.read_parquet(sharded / "train" / name) for name in files]
    # Every row in exactly one part; each part holds its share of each class.
    rows = sorted(row for part in parts for row in part[ROW_COLUMN])
    assert rows == sorted(whole[ROW_COLUMN])
    for part in parts:
        assert abs(len(part) - len(whole) / 2) <= 1
        assert abs(part["diagnosis"].mean() - whole["diagnosis"].mean()) < 0.01
    # The other splits are as before; reading the folder gives every training row.
    for name in ("validation", "test"):
        assert pd.read_parquet(sharded / name / f"{name}.parquet").equals(
            pd.read_parquet(one / name / f"{name}.parquet")
        )
    assert sorted(read_split(sharded / "train", "train")[ROW_COLUMN]) == rows
    profile = json.loads((sharded / "profile" / "profile.json").read_text())
    assert profile["options"]["train_shards"] == 2


def test_more_shards_than_training_rows_is_refused_and_nothing_is_written(
    tmp_path, breast_cancer_csv
):
    from steps.preprocess import main as preprocess

    with pytest.raises(InputError, match="fewer than the 1000 training instances"):
        preprocess(
            [
                f"--data={breast_cancer_csv}",
                "--target=diagnosis",
                "--positive-label=M",
                f"--output={tmp_path / 'out'}",
                "--train-shards=1000",
            ]
        )
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


# the local executor's hosts --------------------------------------------------------------------
def _context(folder: Path, threads: int = 2, python: str = sys.executable) -> JobContext:
    return JobContext(
        name="job", folder=folder, stop=threading.Event(), threads=threads, python=python
    )


def _bundle(bucket: LocalBucket, script: str) -> str:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("job.py")
        info.size = len(script.encode())
        tar.addfile(info, io.BytesIO(script.encode()))
    uri = "s3://b/code/sourcedir.tar.gz"
    bucket.put_bytes(uri, raw.getvalue())
    return uri


def _arguments(submit: str, hosts: int, **hyperparameters: str) -> dict:
    channel = {
        "S3DataType": "S3Prefix",
        "S3Uri": "s3://b/train/",
        "S3DataDistributionType": "ShardedByS3Key",
    }
    return {
        "HyperParameters": {
            "sagemaker_program": "job",
            "sagemaker_submit_directory": submit,
            **hyperparameters,
        },
        "ResourceConfig": {"InstanceCount": hosts},
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": channel}},
            {
                "ChannelName": "profile",
                "DataSource": {
                    "S3DataSource": {
                        **channel,
                        "S3Uri": "s3://b/profile/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            },
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    }


def _staged(tmp_path: Path, shards: int) -> LocalBucket:
    bucket = LocalBucket(tmp_path / "bucket")
    for index in range(shards):
        bucket.put_bytes(f"s3://b/train/{shard_file('train', index, shards)}", b"rows")
    bucket.put_bytes("s3://b/profile/profile.json", b"{}")
    return bucket


#: Each host writes what it was given into the model folder, under its own name.
PROBE = """
import json, os
host = os.environ["SM_CURRENT_HOST"]
config = os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json")
record = {
    "hosts": json.loads(os.environ["SM_HOSTS"]),
    "train": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
    "profile": sorted(os.listdir(os.environ["SM_CHANNEL_PROFILE"])),
    "addresses": json.loads(os.environ["COSTPIPE_HOST_ADDRESSES"]),
    "port": os.environ["COSTPIPE_TRACKER_PORT"],
    "threads": os.environ["OMP_NUM_THREADS"],
    "cwd": os.getcwd(),
    "resource": json.load(open(config)),
}
name = "model.json" if os.environ.get("SM_HP_SAME_NAME") else f"probe-{host}.json"
json.dump(record, open(os.path.join(os.environ["SM_MODEL_DIR"], name), "w"))
"""


def test_each_host_runs_with_its_own_name_folder_and_share_of_the_training_files(tmp_path):
    bucket = _staged(tmp_path, 3)
    arguments = _arguments(_bundle(bucket, PROBE), 3)
    folder = tmp_path / "job"
    properties = run_training_job(arguments, bucket, _context(folder, threads=3))
    with tarfile.open(bucket.path(properties["ModelArtifacts"]["S3ModelArtifacts"])) as tar:
        seen = {
            member.name.removeprefix("probe-").removesuffix(".json"): json.load(
                tar.extractfile(member)
            )
            for member in tar.getmembers()
        }
    hosts = ["algo-1", "algo-2", "algo-3"]
    assert sorted(seen) == hosts
    ports = set()
    for host, record in seen.items():
        assert record["hosts"] == hosts
        assert record["resource"] == {"current_host": host, "hosts": hosts}
        assert record["cwd"] == str(folder / host / "opt" / "ml" / "code")
        assert record["addresses"] == dict.fromkeys(hosts, "127.0.0.1")
        assert record["threads"] == "1"  # the job's three cores shared by three hosts
        assert record["profile"] == ["profile.json"]  # FullyReplicated: every host
        ports.add(record["port"])
    # ShardedByS3Key: one training file each, every file once; one tracker port for the job.
    assert sorted(f for record in seen.values() for f in record["train"]) == [
        shard_file("train", index, 3) for index in range(3)
    ]
    assert all(len(record["train"]) == 1 for record in seen.values())
    assert len(ports) == 1


def test_two_hosts_writing_the_same_model_file_fail_the_job(tmp_path):
    bucket = _staged(tmp_path, 2)
    arguments = _arguments(_bundle(bucket, PROBE), 2, same_name="1")
    with pytest.raises(JobError, match=r"hosts algo-1 and algo-2 both wrote 'model\.json'"):
        run_training_job(arguments, bucket, _context(tmp_path / "job"))


#: Hosts record their pid, then the one named by the ``fail`` hyperparameter fails its way
#: (a bad-input error, or waits to be killed); the others wait forever.
WAITER = """
import os, sys, time
host = os.environ["SM_CURRENT_HOST"]
folder = os.environ["SM_HP_PIDS"]
open(os.path.join(folder, host), "w").write(str(os.getpid()))
if host == os.environ["SM_HP_FAIL"] and os.environ["SM_HP_HOW"] == "error":
    print("error: this host's shard is broken", file=sys.stderr)
    sys.exit(2)
while True:
    time.sleep(1)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _run_hosts_until_one_fails(tmp_path: Path, hosts: int, how: str) -> tuple[JobError, list]:
    bucket = _staged(tmp_path, hosts)
    pids = tmp_path / "pids"
    pids.mkdir()
    arguments = _arguments(_bundle(bucket, WAITER), hosts, pids=str(pids), fail="algo-2", how=how)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(run_training_job, arguments, bucket, _context(tmp_path / "job"))
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < hosts and time.monotonic() < deadline:
            time.sleep(0.05)
        recorded = {p.name: int(p.read_text()) for p in pids.iterdir()}
        if how == "kill":
            os.kill(recorded["algo-2"], signal.SIGKILL)
        with pytest.raises(JobError) as raised:
            job.result(timeout=60)
    return raised.value, list(recorded.values())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_host_fails_the_job_with_its_reason_and_no_host_is_left(tmp_path):
    failure, pids = _run_hosts_until_one_fails(tmp_path, 3, "kill")
    assert failure.reason.startswith("host algo-2 of 3: the job was killed by signal SIGKILL")
    # Killed from outside: an internal error, which the pipeline's retry policy retries.
    assert failure.exception_type == "SageMaker.JOB_INTERNAL_ERROR"
    assert len(pids) == 3 and not any(_alive(pid) for pid in pids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_host_that_reports_bad_input_fails_the_job_with_its_line(tmp_path):
    failure, pids = _run_hosts_until_one_fails(tmp_path, 2, "error")
    assert failure.reason == "host algo-2 of 2: error: this host's shard is broken (exit code 2)"
    assert failure.exception_type == "AlgorithmError"
    assert not any(_alive(pid) for pid in pids)


# the training job on several hosts --------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _train_alone(sharded: Path, tmp_path: Path, host: str, timeout: int, python: str) -> tuple:
    """``python -m steps.train`` as one host of two whose partner never comes."""
    port = _free_port()
    environment = {
        **os.environ,
        "SM_HOSTS": '["algo-1", "algo-2"]',
        "SM_CURRENT_HOST": host,
        HOST_ADDRESSES_VARIABLE: '{"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}',
        TRACKER_PORT_VARIABLE: str(port),
    }
    channel = tmp_path / "train"
    channel.mkdir()
    index = int(host[-1]) - 1
    (channel / shard_file("train", index, 2)).write_bytes(
        (sharded / "train" / shard_file("train", index, 2)).read_bytes()
    )
    started = time.monotonic()
    run = subprocess.run(
        [
            python,
            "-m",
            "steps.train",
            f"--train={channel}",
            f"--validation={sharded / 'validation'}",
            f"--profile={sharded / 'profile'}",
            f"--model-dir={tmp_path / 'model'}",
            "--fn_weight=1",
            "--fp_weight=1",
            "--cv_folds=0",
            f"--collective_timeout={timeout}",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run, time.monotonic() - started, port


def test_a_host_that_cannot_reach_the_tracker_fails_within_the_timeout(
    sharded, tmp_path, job_python
):
    run, seconds, port = _train_alone(sharded, tmp_path, "algo-2", 3, job_python)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: host algo-2 could not reach the tracker on algo-1 (127.0.0.1:{port}) within 3 s"
    ), last
    assert "Connection refused" in last
    assert 3 <= seconds < 60
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())


def test_the_first_host_fails_when_the_others_never_join(sharded, tmp_path, job_python):
    run, seconds, port = _train_alone(sharded, tmp_path, "algo-1", 3, job_python)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: the 2 hosts did not all join the tracker on algo-1 (127.0.0.1:{port}) within 3 s"
    ), last
    assert 3 <= seconds < 60


@pytest.mark.parametrize(
    ("arguments", "profile_change", "message"),
    [
        ([], {"train_shards": 1}, "Preprocess wrote the training split as 1 file(s)"),
        (["--booster=linear"], {}, "linear booster does not train across instances"),
        (["--cv_folds=5"], {}, "cross-fitting (5 folds over 455 training and validation rows"),
    ],
)
def test_the_training_job_refuses_what_stays_on_one_instance(
    sharded, tmp_path, monkeypatch, arguments, profile_change, message
):
    from steps.train import main as train

    profile = json.loads((sharded / "profile" / "profile.json").read_text())
    profile["options"].update(profile_change)
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "profile.json").write_text(json.dumps(profile))
    monkeypatch.setenv("SM_HOSTS", '["algo-1", "algo-2"]')
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-2")
    with pytest.raises(InputError) as raised:
        train(
            [
                f"--train={sharded / 'train'}",
                f"--validation={sharded / 'validation'}",
                f"--profile={tmp_path / 'profile'}",
                f"--model-dir={tmp_path / 'model'}",
                "--fn_weight=1",
                "--fp_weight=1",
                "--cv_folds=0",
                *arguments,
            ]
        )
    assert message in str(raised.value)


# the real training job on local hosts -----------------------------------------------------------
@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, sharded: Path) -> LocalBucket:
    """A local bucket holding the code bundle and the two-file Preprocess outputs."""
    bucket = LocalBucket(tmp_path_factory.mktemp("bucket"))
    for uri, content in CodeBundle.from_directory().objects("b", "p").items():
        bucket.put_bytes(uri, content)
    for name in ("train", "validation", "test", "profile"):
        bucket.upload_folder(sharded / name, f"s3://b/preprocess/{name}")
    return bucket


def _training(hosts: int, distribution: str, **hyperparameters: str) -> dict:
    def channel(name: str, kind: str = "FullyReplicated") -> dict:
        source = {
            "S3DataType": "S3Prefix",
            "S3Uri": f"s3://b/preprocess/{name}",
            "S3DataDistributionType": kind,
        }
        return {"ChannelName": name, "DataSource": {"S3DataSource": source}}

    return {
        "HyperParameters": {
            "sagemaker_program": "steps.train",
            "sagemaker_submit_directory": CodeBundle.from_directory().sourcedir_uri("b", "p"),
            "fn_weight": "5",
            "fp_weight": "1",
            "num_round": "40",
            "cv_folds": "0",
            "subsample": "1.0",
            "collective_timeout": "120",
            **hyperparameters,
        },
        "ResourceConfig": {"InstanceCount": hosts},
        "InputDataConfig": [
            channel("train", distribution),
            channel("validation"),
            channel("profile"),
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://b/out-{hosts}"},
        "Environment": {"PYTHONPATH": "/opt/ml/code"},
    }


def _test_scores(bucket: LocalBucket, properties: dict, sharded: Path) -> tuple:
    from steps.model_io import load_model

    loaded = load_model(bucket.path(properties["ModelArtifacts"]["S3ModelArtifacts"]))
    test = pd.read_parquet(sharded / "test" / "test.parquet")
    return loaded.model.predict_proba(test)[:, 0], loaded.meta


def test_the_custom_objective_trains_one_model_across_hosts(staged, sharded, tmp_path, job_python):
    """Each host computes the custom objective's gradients on its own rows; the booster is
    the one a single host grows on all of them (here bit for bit: 341 rows fit XGBoost's
    quantile sketch whole, see the README for larger tables)."""
    results = {}
    for hosts in (1, 2):
        arguments = _training(
            hosts, "ShardedByS3Key" if hosts > 1 else "FullyReplicated", objective_impl="custom"
        )
        context = _context(tmp_path / f"job-{hosts}", python=job_python)
        properties = run_training_job(arguments, staged, context)
        results[hosts] = _test_scores(staged, properties, sharded)
    (one, one_meta), (two, two_meta) = results[1], results[2]
    assert float(abs(one - two).max()) <= 1e-6
    assert two_meta["training_hosts"] == 2 and "training_hosts" not in one_meta
    assert one_meta["training_rows"] == two_meta["training_rows"] == 341
    assert one_meta["training_positives"] == two_meta["training_positives"]
    # Only the first host wrote the model folder.
    second = tmp_path / "job-2" / "algo-2" / "opt" / "ml" / "model"
    assert not second.exists() or not any(second.iterdir())


def test_a_training_channel_that_is_not_sharded_is_refused_on_several_hosts(staged, tmp_path):
    arguments = _training(2, "FullyReplicated")
    with pytest.raises(JobError) as raised:
        run_training_job(arguments, staged, _context(tmp_path / "job"))
    assert raised.value.reason.startswith(
        "host algo-1 of 2: error: the hosts read 682 training rows together, but the training "
        "split has 341: the train channel must be ShardedByS3Key"
    )


# whole executions ------------------------------------------------------------------------------
def _models(run, home: Path) -> dict:
    """Per model: its test confusion counts, test cost, thresholds and test-split scores."""
    from pipeline.home import bucket_folder
    from steps.model_io import load_model

    bucket = LocalBucket(bucket_folder(home.absolute()))
    outputs = run.result.steps["Preprocess"]["properties"]["ProcessingOutputConfig"]["Outputs"]
    test_uri = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == "test")
    test = pd.read_parquet(bucket.path(f"{test_uri.rstrip('/')}/test.parquet"))
    evaluated = {model["name"]: model for model in run.evaluation["models"]}
    found = {}
    for step in run.result.steps.values():
        artifacts = step.get("properties", {}).get("ModelArtifacts")
        if artifacts:
            loaded = load_model(bucket.path(artifacts["S3ModelArtifacts"]))
            model = evaluated[loaded.meta["name"]]
            found[loaded.meta["name"]] = {
                "confusion": model["test"]["confusion"],
                "cost": model["test"]["expected_cost"],
                "thresholds": model["thresholds"],
                "scores": loaded.model.predict_proba(test)[:, 0],
                "hosts": loaded.meta.get("training_hosts", 1),
            }
    return found


@pytest.mark.slow
def test_one_two_and_four_hosts_train_the_same_models(tmp_path, breast_cancer_csv):
    """The same data and seed on 1, 2 and 4 local hosts: the same thresholds, test confusion
    counts and test costs, and test scores within 1e-6 (measured: bit for bit equal).

    ``subsample`` is 1: with row subsampling each host draws its own rows' sample, so the
    models differ as with another seed (README, Training across instances, for how much)."""
    from pipeline.runner import run_locally

    models = {}
    for hosts in (1, 2, 4):
        config = fast_config(breast_cancer_csv, cv_folds=0, subsample=1.0, cost_settings=("200:1",))
        config = override(config, "aws", training_instance_count=hosts)
        config = override(config, "evaluation", bootstrap_resamples=100)
        run = run_locally(config, tmp_path / f"home-{hosts}", max_parallel=2)
        assert run.evaluation is not None, run.result.failure_reason
        models[hosts] = _models(run, tmp_path / f"home-{hosts}")
    assert sorted(models[1]) == ["fn200-fp1"]
    for hosts in (2, 4):
        assert sorted(models[hosts]) == sorted(models[1])
        for name, one in models[1].items():
            many = models[hosts][name]
            assert many["hosts"] == hosts and one["hosts"] == 1
            assert many["confusion"] == one["confusion"]
            assert many["cost"] == one["cost"]
            assert many["thresholds"] == one["thresholds"]
            assert float(abs(many["scores"] - one["scores"]).max()) <= 1e-6


@pytest.mark.slow
def test_per_row_costs_train_the_same_model_on_one_and_two_hosts(tmp_path, breast_cancer_csv):
    """Per-row costs across instances: each host weighs its own rows by their own cost of a
    wrong decision, normalised by the mean over every host's rows, so 2 hosts grow the model 1
    host grows (the same rule, test confusion counts and cost; scores within 1e-6)."""
    from pipeline.runner import run_locally

    runs = {}
    for hosts in (1, 2):
        config = fast_config(breast_cancer_csv, cv_folds=0, subsample=1.0, cost_settings=("1:1",))
        config = override(
            config, "costs", tp=0.0, tn=0.0, fn="20 * `mean radius`", fp="5 + `mean texture`"
        )
        config = override(config, "aws", training_instance_count=hosts)
        config = override(config, "evaluation", bootstrap_resamples=100)
        run = run_locally(config, tmp_path / f"home-{hosts}", max_parallel=2)
        assert run.evaluation is not None, run.result.failure_reason
        assert run.evaluation["costs"]["per_row"] is True
        runs[hosts] = (run.evaluation["models"][0], _models(run, tmp_path / f"home-{hosts}"))
    (one_model, one), (two_model, two) = runs[1], runs[2]
    assert one_model["rules"] == two_model["rules"]
    [(name, single)], [(_, across)] = one.items(), two.items()
    assert name == "fn1-fp1" and single["hosts"] == 1 and across["hosts"] == 2
    assert across["confusion"] == single["confusion"]
    assert across["cost"] == single["cost"]
    assert float(abs(across["scores"] - single["scores"]).max()) <= 1e-6


def _host_processes(folder: Path, host: str) -> list[int]:
    """Pids of the host processes that run in ``folder``'s job folders as ``host``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd.startswith(str(folder)) and f"/{host}/" in f"{cwd}/":
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_host_killed_mid_training_fails_the_step_and_nothing_is_registered(
    tmp_path, breast_cancer_csv, monkeypatch
):
    """algo-2 is killed once the hosts have formed their group, in every attempt the retry
    policy makes: the step fails with the killed host's reason, nothing is registered, and no
    host process of the execution is left."""
    import functools

    import pipeline.runner
    from pipeline.local.registry import ModelRegistry

    # The retry policy's 30 and 60 s waits, made 0: the attempts follow at once.
    monkeypatch.setattr(
        pipeline.runner,
        "LocalExecutor",
        functools.partial(LocalExecutor, retry_interval_scale=0),
    )
    home = (tmp_path / "home").absolute()
    config = fast_config(breast_cancer_csv, cv_folds=0, cost_settings=("200:1",), num_round=20000)
    config = override(config, "aws", training_instance_count=2)
    killed: list[int] = []
    done = threading.Event()

    def kill_algo_2_once_the_group_formed() -> None:
        while not done.is_set():
            for log in (home / "jobs").glob("*/Train*/attempt-*/algo-*/logs/*.log"):
                attempt = log.parents[2]
                if "got rank 1" not in log.read_text(errors="replace"):
                    continue
                for pid in _host_processes(attempt, "algo-2"):
                    if pid not in killed:
                        time.sleep(1.0)  # well inside 20,000 rounds
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
            time.sleep(0.1)

    killer = threading.Thread(target=kill_algo_2_once_the_group_formed, daemon=True)
    killer.start()
    try:
        run = pipeline.runner.run_locally(config, home, max_parallel=1)
    finally:
        done.set()
        killer.join()
    assert run.result.status == "Failed"
    assert run.result.registered is None
    reason = run.result.failure_reason
    assert "host algo-2 of 2: the job was killed by signal SIGKILL" in reason, reason
    step = run.result.steps["TrainFn200Fp1"]
    assert step["status"] == "Failed" and step["attempts"] == 3 == len(killed)
    registry = ModelRegistry(home)
    try:
        assert registry.packages("bc-test") == []
    finally:
        registry.close()
    assert _host_processes(home, "algo-1") == [] and _host_processes(home, "algo-2") == []
