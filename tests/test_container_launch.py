"""Jobs run the way their containers run them: the training module name, the processing
entrypoint, the job interpreter, and relative homes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.code_bundle import CodeBundle
from pipeline.definition import Target, build_definition
from pipeline.errors import UsageError
from pipeline.local.bucket import LocalBucket
from pipeline.local.jobs import (
    JobContext,
    JobError,
    check_job_python,
    container_module_name,
    run_processing_job,
    run_training_job,
)
from tests.conftest import fast_config, fast_config_file

INPUT = "s3://costpipe-artifacts/costpipe/data/abc/bc.csv"


def sagemaker_containers_module_name(program: str) -> str:
    """sagemaker-containers 2.8.6 ``_env.Environment._parse_module_name``, copied verbatim:
    the stock XGBoost container (3.0-5) runs ``python -m`` with what this returns."""
    if program and program.endswith(".py"):
        return program[:-3]
    return program


@pytest.mark.parametrize(
    "program", ["train.py", "steps.train", "steps/train.py", "steps.train.py", "a.pyc"]
)
def test_the_module_name_rule_is_sagemaker_containers(program):
    assert container_module_name(program) == sagemaker_containers_module_name(program)


def test_the_old_program_path_is_a_module_no_interpreter_can_run():
    assert container_module_name("steps/train.py") == "steps/train"


@pytest.fixture(scope="module")
def definition(breast_cancer_csv: Path) -> dict:
    return build_definition(
        fast_config(breast_cancer_csv), Target(), CodeBundle.from_directory(), INPUT
    )


def test_the_training_module_of_the_definition_runs_from_the_source_bundle(definition, tmp_path):
    """Derive the module from the definition with the container's rule, unpack the bundle the
    definition names, and run ``python -m <module>`` there as sagemaker-containers does: from
    the code folder, with nothing of this checkout on the path."""
    training = next(s for s in definition["Steps"] if s["Type"] == "Training")
    hyperparameters = training["Arguments"]["HyperParameters"]
    module = sagemaker_containers_module_name(hyperparameters["sagemaker_program"])
    bundle = CodeBundle.from_directory()
    assert hyperparameters["sagemaker_submit_directory"] == bundle.sourcedir_uri(
        Target().bucket, Target().pipeline_name
    )
    code = tmp_path / "opt" / "ml" / "code"
    code.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(bundle.sourcedir_archive()), mode="r:gz") as tar:
        tar.extractall(code, filter="data")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -I: isolated mode, so this checkout (installed editable) cannot be imported instead.
    probe = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import importlib.util, sys; sys.path.insert(0, '');"
            f"print(importlib.util.find_spec({module!r}).origin)",
        ],
        cwd=code,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()) == code / "steps" / "train.py"
    run = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=code,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "Training job" in run.stdout


def _context(folder: Path, python: str = sys.executable) -> JobContext:
    return JobContext(name="job", folder=folder, stop=threading.Event(), threads=1, python=python)


def test_a_job_folder_must_be_absolute():
    with pytest.raises(ValueError, match="absolute"):
        _context(Path("relative/job"))


def test_a_processing_entrypoint_that_is_not_python_is_an_error(tmp_path):
    bucket = LocalBucket(tmp_path / "bucket")
    for entrypoint, message in (
        (["bash", "-c", "true"], "start with the image's Python"),
        ([], "no ContainerEntrypoint"),
    ):
        arguments = {"AppSpecification": {"ImageUri": "x", "ContainerEntrypoint": entrypoint}}
        with pytest.raises(JobError, match=message) as raised:
            run_processing_job(arguments, bucket, _context(tmp_path / "job"))
        assert raised.value.exception_type == "ClientError"


def test_processing_runs_its_entrypoint_with_the_job_interpreter(tmp_path):
    """``python3`` of the image is the job interpreter; the arguments arrive as given, with
    /opt/ml paths mapped into the job folder."""
    bucket = LocalBucket(tmp_path / "bucket")
    folder = tmp_path / "job"
    script = (
        "import sys, json, pathlib; pathlib.Path(sys.argv[1]).write_text("
        "json.dumps([sys.executable, sys.argv[2:]]))"
    )
    arguments = {
        "AppSpecification": {
            "ImageUri": "x",
            "ContainerEntrypoint": ["python3", "-c", script],
            "ContainerArguments": ["/opt/ml/processing/out.json", "--flag=/opt/ml/x", "plain"],
        },
        "ProcessingOutputConfig": {"Outputs": []},
    }
    (folder / "opt" / "ml" / "processing").mkdir(parents=True)
    run_processing_job(arguments, bucket, _context(folder))
    executable, args = json.loads((folder / "opt/ml/processing/out.json").read_text())
    assert Path(executable) == Path(sys.executable)
    assert args == [f"--flag={folder}/opt/ml/x", "plain"]


def _training_arguments(submit: str, program: str = "steps.train", count: int = 1) -> dict:
    return {
        "HyperParameters": {"sagemaker_program": program, "sagemaker_submit_directory": submit},
        "ResourceConfig": {"InstanceCount": count},
        "InputDataConfig": [],
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    }


def _bundle(bucket: LocalBucket, files: dict[str, str]) -> str:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    uri = "s3://b/code/sourcedir.tar.gz"
    bucket.put_bytes(uri, raw.getvalue())
    return uri


def test_training_runs_python_dash_m_from_the_code_folder_with_sagemakers_environment(tmp_path):
    bucket = LocalBucket(tmp_path / "bucket")
    probe = (
        "import json, os, sys\n"
        "out = os.path.join(os.environ['SM_MODEL_DIR'], 'probe.json')\n"
        "json.dump({'cwd': os.getcwd(), 'argv': sys.argv[1:], 'name': __name__,\n"
        "           'spec': __spec__.name, 'hosts': os.environ['SM_HOSTS'],\n"
        "           'host': os.environ['SM_CURRENT_HOST'], 'hps': os.environ['SM_HPS']},\n"
        "          open(out, 'w'))\n"
    )
    submit = _bundle(bucket, {"pkg/__init__.py": "", "pkg/job.py": probe})
    arguments = _training_arguments(submit, program="pkg.job")
    arguments["HyperParameters"]["rounds"] = "3"
    folder = tmp_path / "job"
    properties = run_training_job(arguments, bucket, _context(folder))
    with tarfile.open(bucket.path(properties["ModelArtifacts"]["S3ModelArtifacts"])) as tar:
        seen = json.load(tar.extractfile("probe.json"))
    assert seen["cwd"] == str(folder / "opt" / "ml" / "code")
    assert seen["argv"] == ["--rounds", "3"]
    assert (seen["name"], seen["spec"]) == ("__main__", "pkg.job")
    assert json.loads(seen["hosts"]) == ["algo-1"] and seen["host"] == "algo-1"
    assert json.loads(seen["hps"]) == {"rounds": "3"}


def test_a_program_given_as_a_path_fails_as_it_would_in_the_container(tmp_path):
    bucket = LocalBucket(tmp_path / "bucket")
    submit = _bundle(bucket, {"steps/__init__.py": "", "steps/train.py": "print('ran')"})
    with pytest.raises(JobError, match="No module named steps/train"):
        run_training_job(
            _training_arguments(submit, "steps/train.py"), bucket, _context(tmp_path / "j")
        )


@pytest.mark.parametrize("installed", ["setup.py", "requirements.txt"])
def test_a_bundle_the_container_would_pip_install_is_refused(tmp_path, installed):
    bucket = LocalBucket(tmp_path / "bucket")
    submit = _bundle(bucket, {"job.py": "", installed: ""})
    with pytest.raises(JobError, match=f"holds {installed}"):
        run_training_job(_training_arguments(submit, "job"), bucket, _context(tmp_path / "j"))


def test_the_job_interpreter_is_checked_before_anything_runs(tmp_path):
    with pytest.raises(UsageError, match="not an executable file"):
        check_job_python(str(tmp_path / "no-python"))
    bare = tmp_path / "bare-python"
    bare.write_text('#!/bin/sh\nexec python3 -S -I "$@"\n')
    bare.chmod(0o755)
    with pytest.raises(UsageError, match="cannot import numpy"):
        check_job_python(str(bare))
    assert check_job_python(sys.executable) == str(Path(sys.executable).absolute())


@pytest.mark.slow
def test_a_relative_home_works_from_the_flag_and_the_environment(
    tmp_path, monkeypatch, breast_cancer_csv, capsys
):
    """The home is resolved once where the command starts: relative names work whether they
    come from --home, COSTPIPE_HOME or the default ./.costpipe."""
    monkeypatch.chdir(tmp_path)
    config = fast_config_file(tmp_path, breast_cancer_csv, "relative")
    assert main(["run", "--config", config.name, "--home", "homes/flag", "--json"]) == 0
    flag = json.loads(capsys.readouterr().out)
    assert flag["status"] == "Succeeded" and flag["registered"]["version"] == 1
    assert (tmp_path / "homes" / "flag" / "costpipe.db").is_file()
    monkeypatch.setenv("COSTPIPE_HOME", "homes/env")
    assert main(["run", "--config", config.name, "--json", "--no-report"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "Succeeded"
    assert (tmp_path / "homes" / "env" / "costpipe.db").is_file()
    monkeypatch.delenv("COSTPIPE_HOME")
    assert main(["run", "--config", config.name, "--json", "--no-report"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "Succeeded"
    assert (tmp_path / ".costpipe" / "costpipe.db").is_file()


#: sagemaker-containers 2.8.6's ``_modules.prepare``: what the container writes beside a source
#: bundle without setup.py before it runs ``python -m pip install .`` in /opt/ml/code (training,
#: ``run_module``; serving, ``_server.start``), copied verbatim.
PREPARED_SETUP = """
from setuptools import setup
setup(packages=[''],
      name="%s",
      version='1.0.0',
      include_package_data=True)
"""
PREPARED_CFG = "\n[wheel]\nuniversal = 1\n"
PREPARED_MANIFEST = (
    "\nrecursive-include . *\nrecursive-exclude . __pycache__*\nrecursive-exclude . *.pyc\n"
    "recursive-exclude . *.pyo\n"
)


@pytest.mark.parametrize("module", ["steps.train", "steps.inference"])
def test_the_containers_install_step_succeeds_on_the_source_bundle(tmp_path, module):
    """The container pip-installs the bundle before it runs the training or serving module;
    with its generated setup.py that must succeed, offline, with the image's Python."""
    from tests.external import container_python

    python = container_python()
    code = tmp_path / "code"
    code.mkdir()
    with tarfile.open(
        fileobj=io.BytesIO(CodeBundle.from_directory().sourcedir_archive()), mode="r:gz"
    ) as tar:
        tar.extractall(code, filter="data")
    (code / "setup.py").write_text(PREPARED_SETUP % module)
    (code / "setup.cfg").write_text(PREPARED_CFG)
    (code / "MANIFEST.in").write_text(PREPARED_MANIFEST)
    site = tmp_path / "site"
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            ".",
            "--target",
            str(site),
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "--quiet",
        ],
        cwd=code,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    assert (site / "steps" / f"{module.split('.')[1]}.py").is_file()
