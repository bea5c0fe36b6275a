"""The pipeline definition and everything that serves it, for every backend.

* :mod:`.names`: where it runs (:class:`Target`), step names, container paths;
* :mod:`.parameters`: the pipeline parameters from the option table, and their resolution;
* :mod:`.build`: the SDK steps and :func:`build_definition`;
* :mod:`.graph`: the graph lint every definition passes before it is used;
* :mod:`.expressions`: ``Get``, ``Std:Join`` and ``Std:JsonGet`` and conditions, evaluated;
* :mod:`.inputs`: the data's checks and its content-addressed URIs.

The local executor, the SageMaker and Step Functions backends and the report all read these;
none of them reaches into another backend.
"""

from pipeline.definition.build import (
    METADATA_KEYS,
    JobSetup,
    build_definition,
    build_pipeline,
    check_step,
    evaluate_step,
    preprocess_step,
    register_step,
    training_step,
)
from pipeline.definition.names import (
    CODE_ROOT,
    EVALUATION_OUTPUT,
    EVALUATION_PROPERTY_FILE,
    PLACEHOLDER_BUCKET,
    PLACEHOLDER_ROLE,
    PREPROCESS_OUTPUTS,
    PROCESSING_ROOT,
    STEP_CHECK,
    STEP_EVALUATE,
    STEP_FAIL,
    STEP_PREPROCESS,
    STEP_REGISTER,
    TRAINING_MODULE,
    Target,
)
from pipeline.definition.parameters import Parameters, pipeline_parameters, resolve_parameters

__all__ = [
    "CODE_ROOT",
    "EVALUATION_OUTPUT",
    "EVALUATION_PROPERTY_FILE",
    "METADATA_KEYS",
    "PLACEHOLDER_BUCKET",
    "PLACEHOLDER_ROLE",
    "PREPROCESS_OUTPUTS",
    "PROCESSING_ROOT",
    "STEP_CHECK",
    "STEP_EVALUATE",
    "STEP_FAIL",
    "STEP_PREPROCESS",
    "STEP_REGISTER",
    "TRAINING_MODULE",
    "JobSetup",
    "Parameters",
    "Target",
    "build_definition",
    "build_pipeline",
    "check_step",
    "evaluate_step",
    "pipeline_parameters",
    "preprocess_step",
    "register_step",
    "resolve_parameters",
    "training_step",
]
