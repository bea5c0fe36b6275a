"""The names a pipeline definition is built from and read by: where it runs (:class:`Target`),
its steps and outputs, and the container paths its jobs see.

No SDK import here: the local executor, the reports and the AWS commands read these names
without building anything.
"""

from __future__ import annotations

from dataclasses import dataclass

PROCESSING_ROOT = "/opt/ml/processing"
CODE_ROOT = f"{PROCESSING_ROOT}/input/code"
TRAINING_CODE_ROOT = "/opt/ml/code"
#: ``sagemaker_program`` of the training jobs. The XGBoost container's script mode runs
#: ``python -m <sagemaker_program less .py>`` from /opt/ml/code, so this must be a module name
#: (``steps/train.py`` would become ``python -m steps/train``, which cannot be imported).
TRAINING_MODULE = "steps.train"
PREPROCESS_OUTPUTS = ("train", "validation", "test", "profile")
EVALUATION_PROPERTY_FILE = "EvaluationReport"
EVALUATION_OUTPUT = "evaluation"
#: Evaluate's output holding the best model's decision artifact (steps/artifact.py).
ARTIFACT_OUTPUT = "artifact"
STEP_PREPROCESS = "Preprocess"
STEP_EVALUATE = "Evaluate"
STEP_CHECK = "CheckCheapest"
STEP_REGISTER = "RegisterCheapest"
STEP_FAIL = "NothingRegistered"
CACHE_EXPIRY = "P30D"
INFERENCE_INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]
# What registered models accept and return: steps/inference.py's handlers in the stock container.
CONTENT_TYPES = ["text/csv", "application/json", "application/jsonlines"]
PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/costpipe-sagemaker-execution"
PLACEHOLDER_BUCKET = "costpipe-artifacts"


@dataclass(frozen=True)
class Target:
    """Where the definition runs: the names that end up inside it."""

    bucket: str = PLACEHOLDER_BUCKET
    role_arn: str = PLACEHOLDER_ROLE
    region: str = "us-east-1"
    pipeline_name: str = "costpipe"

    @property
    def prefix(self) -> str:
        return f"s3://{self.bucket}/{self.pipeline_name}"
