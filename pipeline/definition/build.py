"""The SageMaker pipeline definition, built with the SDK's workflow classes.

One function per step whose parameters are its inputs, typed (as Hamilton's nodes are): the
steps it reads from, the pipeline's :class:`Parameters`, and the :class:`JobSetup` every job
shares (code, image, target, session). The DAG reads from the signatures:

    Preprocess -> Train<setting> (one per cost setting, in parallel) -> Evaluate
        -> CheckCheapest -> RegisterCheapest | NothingRegistered (fail)

The definition JSON is the single source of truth: the local executor and the Step Functions
translation both read it. Building needs no credentials and no network: code URIs are given as
``s3://`` addresses (uploading is someone else's job), the role is only a string, and the SDK's
telemetry is switched off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.code_bundle import CodeBundle
from pipeline.config import Config
from pipeline.definition.names import (
    ARTIFACT_OUTPUT,
    CACHE_EXPIRY,
    CODE_ROOT,
    CONTENT_TYPES,
    EVALUATION_OUTPUT,
    EVALUATION_PROPERTY_FILE,
    INFERENCE_INSTANCE_TYPES,
    PREPROCESS_OUTPUTS,
    PROCESSING_ROOT,
    STEP_CHECK,
    STEP_EVALUATE,
    STEP_FAIL,
    STEP_PREPROCESS,
    STEP_REGISTER,
    TRAINING_CODE_ROOT,
    TRAINING_MODULE,
    Target,
)
from pipeline.definition.parameters import (
    INPUT_DATA,
    TEST_DATA,
    Parameters,
    job_argument_values,
    pipeline_parameters,
)
from pipeline.options import EVALUATE, PREPROCESS, TRAIN
from steps.costs import CostSetting

if TYPE_CHECKING:  # the SDK is imported when a definition is built, not when this is imported
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput
    from sagemaker.core.workflow.functions import JsonGet
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep


def _sdk_environment(region: str) -> None:
    # Importing sagemaker.serve builds a client at import time (needs a region), and
    # ModelTrainer asks IAM to simulate the role unless told not to: neither may touch AWS here.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")


def _flag(name: str, value: Any) -> Any:
    """``--name=value`` as one argument, so an empty value never becomes an empty argument."""
    from sagemaker.core.workflow.functions import Join

    return Join(on="", values=[f"--{name}=", value])


def _execution_uri(target: Target, *parts: str) -> Any:
    """An S3 prefix unique to the execution, so no two executions write the same objects."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join

    return Join(
        on="/",
        values=[f"{target.prefix}/executions", ExecutionVariables.PIPELINE_EXECUTION_ID, *parts],
    )


def _s3_input(name: str, source: Any, local_path: str) -> Any:
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=source,
            local_path=local_path,
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated",
        ),
    )


def _s3_output(name: str, destination: Any, local_path: str) -> Any:
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=destination, local_path=local_path, s3_upload_mode="EndOfJob"
        ),
    )


def _job_policies() -> tuple[Any, list[Any]]:
    """Cache config and retry policies shared by the processing and training steps."""
    from sagemaker.mlops.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )
    from sagemaker.mlops.workflow.steps import CacheConfig

    cache = CacheConfig(enable_caching=True, expire_after=CACHE_EXPIRY)
    retries = [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            interval_seconds=5,
            backoff_rate=2.0,
            max_attempts=3,
        ),
        SageMakerJobStepRetryPolicy(
            exception_types=[
                SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
            ],
            interval_seconds=30,
            backoff_rate=2.0,
            max_attempts=3,
        ),
    ]
    return cache, retries


@dataclass(frozen=True)
class JobSetup:
    """What every job step is built with: the code it runs, the image it runs in, where it
    runs, and the session that records its request."""

    code: CodeBundle
    image_uri: str
    target: Target
    session: PipelineSession
    #: Training instances per cost setting (``[aws] training_instance_count``): fixed here,
    #: because Preprocess writes the training split as that many files.
    training_instances: int = 1


def _processor(script: str, params: Parameters, setup: JobSetup) -> Processor:
    from sagemaker.core.processing import Processor

    return Processor(
        role=setup.target.role_arn,
        image_uri=setup.image_uri,
        instance_count=params["ProcessingInstanceCount"],
        instance_type=params["ProcessingInstanceType"],
        entrypoint=["python3", f"{CODE_ROOT}/steps/{script}"],
        # The entry script imports its siblings as the ``steps`` package.
        env={"PYTHONPATH": CODE_ROOT, "PYTHONUNBUFFERED": "1"},
        base_job_name=f"{setup.target.pipeline_name}-{script.removesuffix('.py')}",
        sagemaker_session=setup.session,
    )


def _option_flags(job: str, params: Parameters) -> list[Any]:
    """The job's ``--name=value`` arguments from the option table, in its order."""
    return [_flag(argument.name, value) for argument, value in job_argument_values(job, params)]


def _code_input(setup: JobSetup) -> ProcessingInput:
    source = setup.code.source_uri(setup.target.bucket, setup.target.pipeline_name)
    return _s3_input("code", source, CODE_ROOT)


def preprocess_step(params: Parameters, setup: JobSetup) -> ProcessingStep:
    """Read, check and split the data; write the splits and the profile."""
    from sagemaker.mlops.workflow.steps import ProcessingStep

    inputs = [
        _code_input(setup),
        _s3_input("data", params[INPUT_DATA], f"{PROCESSING_ROOT}/input/data"),
    ]
    arguments = [
        _flag("data", f"{PROCESSING_ROOT}/input/data"),
        _flag("output", f"{PROCESSING_ROOT}/output"),
    ]
    if TEST_DATA in params:
        inputs.append(_s3_input("test", params[TEST_DATA], f"{PROCESSING_ROOT}/input/test"))
        arguments.append(_flag("test-data", f"{PROCESSING_ROOT}/input/test"))
    arguments += _option_flags(PREPROCESS, params)
    if setup.training_instances > 1:
        # One file per training instance; the default (one instance) keeps the one file.
        arguments.append(f"--train-shards={setup.training_instances}")
    outputs = [
        _s3_output(
            name,
            _execution_uri(setup.target, STEP_PREPROCESS, name),
            f"{PROCESSING_ROOT}/output/{name}",
        )
        for name in PREPROCESS_OUTPUTS
    ]
    step_args = _processor("preprocess.py", params, setup).run(
        inputs=inputs, outputs=outputs, arguments=arguments
    )
    cache, retries = _job_policies()
    return ProcessingStep(
        name=STEP_PREPROCESS,
        display_name="Prepare and check the data",
        description="Reads and checks the data, splits it stratified, checks class imbalance.",
        step_args=step_args,
        cache_config=cache,
        retry_policies=retries,
    )


def _preprocess_output(preprocess: ProcessingStep, name: str) -> Any:
    return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def _training_channel(source: Any, instances: int) -> Any:
    """The train channel: every instance gets the whole split on one instance; on several,
    SageMaker gives each instance its own share of the split's files (``ShardedByS3Key``)."""
    from sagemaker.core.shapes import Channel, DataSource, S3DataSource
    from sagemaker.core.training.configs import InputData

    if instances == 1:
        return InputData(channel_name="train", data_source=source)
    # A Channel rather than InputData: InputData with an S3DataSource leaves out the channel's
    # InputMode, which every other channel states.
    return Channel(
        channel_name="train",
        data_source=DataSource(
            s3_data_source=S3DataSource(
                s3_data_type="S3Prefix",
                s3_uri=source,
                s3_data_distribution_type="ShardedByS3Key",
            )
        ),
        input_mode="File",
    )


def training_step(
    setting: CostSetting, preprocess: ProcessingStep, params: Parameters, setup: JobSetup
) -> TrainingStep:
    """One XGBoost training in script mode for one cost setting; depends on Preprocess only."""
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.train.model_trainer import ModelTrainer

    target = setup.target
    hyperparameters = {
        # Script mode: the container downloads the archive and runs the module in it.
        "sagemaker_program": TRAINING_MODULE,
        "sagemaker_submit_directory": setup.code.sourcedir_uri(target.bucket, target.pipeline_name),
        "fn_weight": setting.fn_weight,
        "fp_weight": setting.fp_weight,
        "setting_name": setting.name,
        "booster": setting.booster,
        # Flat settings train on the class weights alone (per-row costs only); the others'
        # hyperparameters stay as they were before per-row costs.
        **({"row_weights": setting.weighting} if setting.flat else {}),
        **{argument.name: value for argument, value in job_argument_values(TRAIN, params)},
    }
    trainer = ModelTrainer(
        training_image=setup.image_uri,
        role=target.role_arn,
        sagemaker_session=setup.session,
        base_job_name=f"{target.pipeline_name}-train",
        compute=Compute(
            instance_type=params["TrainingInstanceType"],
            instance_count=params["TrainingInstanceCount"],
        ),
        hyperparameters=hyperparameters,
        environment={"PYTHONPATH": TRAINING_CODE_ROOT, "PYTHONUNBUFFERED": "1"},
        output_data_config=OutputDataConfig(
            s3_output_path=_execution_uri(target, setting.step_name)
        ),
    )
    step_args = trainer.train(
        input_data_config=[
            _training_channel(_preprocess_output(preprocess, "train"), setup.training_instances),
            InputData(
                channel_name="validation",
                data_source=_preprocess_output(preprocess, "validation"),
            ),
            InputData(
                channel_name="profile", data_source=_preprocess_output(preprocess, "profile")
            ),
        ]
    )
    cache, retries = _job_policies()
    return TrainingStep(
        name=setting.step_name,
        display_name=f"Train {setting.text}",
        description=f"XGBoost {setting.booster} booster, asymmetric logistic loss, "
        f"fn_weight={setting.fn_weight:g}, fp_weight={setting.fp_weight:g}.",
        step_args=step_args,
        cache_config=cache,
        retry_policies=retries,
    )


def evaluate_step(
    preprocess: ProcessingStep,
    trainings: dict[CostSetting, TrainingStep],
    params: Parameters,
    setup: JobSetup,
) -> tuple[ProcessingStep, PropertyFile]:
    """Evaluate every model; returns the step and its property file (evaluation.json)."""
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.steps import ProcessingStep

    inputs = [
        _code_input(setup),
        *(
            _s3_input(name, _preprocess_output(preprocess, name), f"{PROCESSING_ROOT}/input/{name}")
            for name in ("validation", "test", "profile")
        ),
    ]
    arguments = [
        _flag("validation", f"{PROCESSING_ROOT}/input/validation"),
        _flag("test", f"{PROCESSING_ROOT}/input/test"),
        _flag("profile", f"{PROCESSING_ROOT}/input/profile"),
        _flag("models-dir", f"{PROCESSING_ROOT}/input/models"),
        _flag("output", f"{PROCESSING_ROOT}/output/{EVALUATION_OUTPUT}"),
        _flag("artifact-output", f"{PROCESSING_ROOT}/output/{ARTIFACT_OUTPUT}"),
        # Where the artifact output is uploaded (evaluation.json's best.model_uri, what the
        # registry points at) is read from the job's config: an argument holding the
        # execution's URI would change the step's cache key every execution.
        _flag("job-config", "/opt/ml/config/processingjobconfig.json"),
    ]
    for setting, step in trainings.items():
        artifacts = step.properties.ModelArtifacts.S3ModelArtifacts
        inputs.append(
            _s3_input(
                f"model-{setting.name}", artifacts, f"{PROCESSING_ROOT}/input/models/{setting.name}"
            )
        )
        arguments.append(Join(on="", values=[f"--model={setting.name}=", artifacts]))
    arguments += _option_flags(EVALUATE, params)
    outputs = [
        _s3_output(
            EVALUATION_OUTPUT,
            _execution_uri(setup.target, STEP_EVALUATE, EVALUATION_OUTPUT),
            f"{PROCESSING_ROOT}/output/{EVALUATION_OUTPUT}",
        ),
        _s3_output(
            ARTIFACT_OUTPUT,
            _execution_uri(setup.target, STEP_EVALUATE, ARTIFACT_OUTPUT),
            f"{PROCESSING_ROOT}/output/{ARTIFACT_OUTPUT}",
        ),
    ]
    report = PropertyFile(
        name=EVALUATION_PROPERTY_FILE, output_name=EVALUATION_OUTPUT, path="evaluation.json"
    )
    step_args = _processor("evaluate.py", params, setup).run(
        inputs=inputs, outputs=outputs, arguments=arguments
    )
    # No step cache: Evaluate reads the registry's latest Approved version (the champion), which
    # changes outside the step's inputs; a cached evaluation.json would compare a new model
    # against a champion that is no longer the approved one.
    _, retries = _job_policies()
    step = ProcessingStep(
        name=STEP_EVALUATE,
        display_name="Price every model",
        description="Tunes each model's threshold on validation, prices it on test, picks the "
        "cheapest by validation cost.",
        step_args=step_args,
        property_files=[report],
        retry_policies=retries,
    )
    return step, report


def _report_value(evaluate: ProcessingStep, report: PropertyFile, path: str) -> JsonGet:
    from sagemaker.core.workflow.functions import JsonGet

    return JsonGet(step_name=evaluate.name, property_file=report, json_path=path)


METADATA_KEYS = (
    "threshold",
    "label",
    "cost_setting",
    "fn_weight",
    "fp_weight",
    "cost_matrix",
    "expected_cost",
    "data_digest",
)


def register_step(
    evaluate: ProcessingStep, report: PropertyFile, params: Parameters, setup: JobSetup
) -> ModelStep:
    """Register the model evaluation.json names as best, with its threshold and costs."""
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.serve.model_builder import ModelBuilder

    evaluation_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT].S3Output.S3Uri,
            "evaluation.json",
        ],
    )
    from steps.model_package import model_environment

    builder = ModelBuilder(
        image_uri=setup.image_uri,
        # Script-mode serving: the container imports steps.inference from the job's bundle.
        env_vars=model_environment(
            setup.code.sourcedir_uri(setup.target.bucket, setup.target.pipeline_name),
            setup.target.region,
        ),
        s3_model_data_url=_report_value(evaluate, report, "best.model_uri"),
        role_arn=setup.target.role_arn,
        sagemaker_session=setup.session,
        dependencies={},  # else the builder asks S3 for a default bucket
    )
    step_args = builder.register(
        model_package_group_name=params["ModelPackageGroupName"],
        approval_status=params["ModelApprovalStatus"],
        content_types=CONTENT_TYPES,
        response_types=CONTENT_TYPES,
        inference_instances=INFERENCE_INSTANCE_TYPES,
        transform_instances=INFERENCE_INSTANCE_TYPES,
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
        ),
        customer_metadata_properties={
            key: _report_value(evaluate, report, f"best.metadata.{key}") for key in METADATA_KEYS
        },
        description="Cheapest model by expected cost per decision (costpipe).",
    )
    return ModelStep(name=STEP_REGISTER, step_args=step_args, display_name="Register the cheapest")


def check_step(
    evaluate: ProcessingStep, report: PropertyFile, params: Parameters, register: ModelStep
) -> ConditionStep:
    """Register only when the best model beats the trivial policies, passes the checks,
    costs at most MaxCostPerDecision and beats the champion as ChampionPolicy asks; otherwise
    fail with evaluation.json's verdict (which names every condition that failed)."""
    from sagemaker.core.workflow.conditions import ConditionEquals, ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep

    fail = FailStep(
        name=STEP_FAIL,
        display_name="Nothing registered",
        error_message=Join(
            on="", values=["nothing registered: ", _report_value(evaluate, report, "best.verdict")]
        ),
    )
    return ConditionStep(
        name=STEP_CHECK,
        display_name="Is the cheapest model worth registering?",
        conditions=[
            ConditionEquals(
                left=_report_value(evaluate, report, "best.beats_baseline"), right=True
            ),
            ConditionEquals(left=_report_value(evaluate, report, "checks.passed"), right=True),
            ConditionLessThanOrEqualTo(
                left=_report_value(evaluate, report, "best.expected_cost"),
                right=params["MaxCostPerDecision"],
            ),
            # Evaluate priced the group's latest Approved version and applied ChampionPolicy.
            ConditionEquals(left=_report_value(evaluate, report, "champion.passed"), right=True),
        ],
        if_steps=[register],
        else_steps=[fail],
    )


def pipeline_session(target: Target) -> Any:
    """A PipelineSession that records job requests instead of starting them, telemetry off."""
    _sdk_environment(target.region)
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        boto_session=boto3.Session(region_name=target.region),
        default_bucket=target.bucket,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )


def xgboost_image(config: Config, region: str) -> str:
    _sdk_environment(region)
    from sagemaker.core import image_uris

    return image_uris.retrieve("xgboost", region, config.aws.xgboost_container_version)


def build_pipeline(
    config: Config,
    target: Target,
    code: CodeBundle,
    input_uri: str,
    test_uri: str | None = None,
) -> Any:
    """The SDK ``Pipeline`` object: one training step per cost setting."""
    session = pipeline_session(target)
    from sagemaker.mlops.workflow.pipeline import Pipeline

    setup = JobSetup(
        code,
        xgboost_image(config, target.region),
        target,
        session,
        training_instances=config.aws.training_instance_count,
    )
    params = pipeline_parameters(config, input_uri, test_uri)
    preprocess = preprocess_step(params, setup)
    trainings = {
        setting: training_step(setting, preprocess, params, setup) for setting in config.settings
    }
    evaluate, report = evaluate_step(preprocess, trainings, params, setup)
    register = register_step(evaluate, report, params, setup)
    check = check_step(evaluate, report, params, register)
    return Pipeline(
        name=target.pipeline_name,
        parameters=params.all(),
        steps=[preprocess, *trainings.values(), evaluate, check],
        sagemaker_session=session,
    )


@contextlib.contextmanager
def _quiet_fast_sdk() -> Iterator[None]:
    """Silence the SDK's per-step log lines and validate its defaults config only once.

    With telemetry switched off through the defaults config, the SDK re-validates that config
    against its JSON schema on every lookup (about 90 times, 0.2 s each, for this pipeline).
    The config never changes during a build, so each distinct config is validated once and the
    result reused; nothing else about the SDK changes, and the original is restored after.
    """
    import warnings

    from sagemaker.core.config import config_manager

    original = config_manager.SageMakerConfig.validate_sagemaker_config
    validated: set[str] = set()

    def validate_once(sagemaker_config: dict | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in validated:
            original(sagemaker_config)
            validated.add(key)

    config_manager.SageMakerConfig.validate_sagemaker_config = staticmethod(validate_once)
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Running within a PipelineSession..." per step
            yield
    finally:
        logging.disable(logging.NOTSET)
        config_manager.SageMakerConfig.validate_sagemaker_config = staticmethod(original)


def build_definition(
    config: Config,
    target: Target,
    code: CodeBundle,
    input_uri: str,
    test_uri: str | None = None,
) -> dict[str, Any]:
    """The definition as a dict, checked by the graph lint before anyone uses it."""
    from pipeline.definition.graph import check_graph

    _sdk_environment(target.region)
    with _quiet_fast_sdk():
        pipeline = build_pipeline(config, target, code, input_uri, test_uri)
        definition = json.loads(pipeline.definition())
    check_graph(definition)
    return definition
