"""The SageMaker pipeline definition, built with the SDK's workflow classes.

One function per step, each taking what it depends on, so the DAG reads from the signatures:

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
from typing import Any

from pipeline.code_bundle import CodeBundle
from pipeline.config import Config
from steps.costs import CostSetting

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


def _sdk_environment(region: str) -> None:
    # Importing sagemaker.serve builds a client at import time (needs a region), and
    # ModelTrainer asks IAM to simulate the role unless told not to: neither may touch AWS here.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")


@dataclass(frozen=True)
class Parameters:
    """The pipeline parameters, by role. Executions may override any of them."""

    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def all(self) -> list[Any]:
        return list(self.values.values())


def pipeline_parameters(config: Config, input_uri: str, test_uri: str | None) -> Parameters:
    """Every value a user may change per execution, with the config's values as defaults."""
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    data, split, training = config.data, config.split, config.training
    matrix = config.cost_matrix
    values: dict[str, Any] = {
        "InputData": ParameterString("InputData", default_value=input_uri),
    }
    if test_uri is not None:
        values["TestData"] = ParameterString("TestData", default_value=test_uri)
    strings = {
        "Target": data.target,
        "PositiveLabel": data.positive_label,
        "LabelName": data.label_name,
        "TargetColumns": ",".join(data.targets),
        "LabelDelimiter": data.label_delimiter,
        "NoLabel": data.no_label,
        "TextColumns": ",".join(data.text),
        "CategoricalColumns": ",".join(data.categorical),
        "DropColumns": ",".join(data.drop),
        "LabelCosts": config.label_costs_json,
        "MultiLabelStrategy": training.multilabel_strategy,
        "ThresholdObjective": config.evaluation.threshold_objective,
        "ThresholdSmoothing": config.evaluation.threshold_smoothing,
        "ObjectiveImplementation": training.objective,
        "ModelPackageGroupName": config.registry.model_package_group,
        "ModelApprovalStatus": config.registry.approval_status,
        "ProcessingInstanceType": config.aws.processing_instance_type,
        "TrainingInstanceType": config.aws.training_instance_type,
    }
    floats = {
        "CostTp": matrix.tp,
        "CostFp": matrix.fp,
        "CostFn": matrix.fn,
        "CostTn": matrix.tn,
        "MaxCostPerDecision": config.evaluation.max_cost_per_decision,
        "ValidationFraction": split.validation_fraction,
        "TestFraction": split.test_fraction,
        "OversampleRatio": split.oversample_ratio,
        "ThresholdImbalance": config.checks.threshold_imbalance,
        "ThresholdMisprediction": config.checks.threshold_misprediction,
        "Eta": training.eta,
        "MinChildWeight": training.min_child_weight,
        "Subsample": training.subsample,
        "ColsampleByTree": training.colsample_bytree,
        "RegLambda": training.reg_lambda,
    }
    integers = {
        "SplitSeed": split.seed,
        "OversampleMinCount": split.oversample_min_count,
        "MinLabelCount": split.min_label_count,
        "TextMaxFeatures": data.text_max_features,
        "CheckSamples": config.checks.samples,
        "BootstrapResamples": config.evaluation.bootstrap_resamples,
        "NumRound": training.num_round,
        "MaxDepth": training.max_depth,
        "MaxBin": training.max_bin,
        "TrainingSeed": training.seed,
        "CrossValidationFolds": training.cv_folds,
        "CrossValidationMaxRows": training.cv_max_rows,
        "ProcessingInstanceCount": config.aws.processing_instance_count,
        "TrainingInstanceCount": config.aws.training_instance_count,
    }
    values.update({k: ParameterString(k, default_value=v) for k, v in strings.items()})
    values.update({k: ParameterFloat(k, default_value=float(v)) for k, v in floats.items()})
    values.update({k: ParameterInteger(k, default_value=int(v)) for k, v in integers.items()})
    return Parameters(values)


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


def _processor(
    script: str, params: Parameters, image_uri: str, target: Target, session: Any
) -> Any:
    from sagemaker.core.processing import Processor

    return Processor(
        role=target.role_arn,
        image_uri=image_uri,
        instance_count=params["ProcessingInstanceCount"],
        instance_type=params["ProcessingInstanceType"],
        entrypoint=["python3", f"{CODE_ROOT}/steps/{script}"],
        # The entry script imports its siblings as the ``steps`` package.
        env={"PYTHONPATH": CODE_ROOT, "PYTHONUNBUFFERED": "1"},
        base_job_name=f"{target.pipeline_name}-{script.removesuffix('.py')}",
        sagemaker_session=session,
    )


def preprocess_step(
    params: Parameters, code: CodeBundle, image_uri: str, target: Target, session: Any
) -> Any:
    from sagemaker.mlops.workflow.steps import ProcessingStep

    inputs = [
        _s3_input("code", code.source_uri(target.bucket, target.pipeline_name), CODE_ROOT),
        _s3_input("data", params["InputData"], f"{PROCESSING_ROOT}/input/data"),
    ]
    arguments = [
        _flag("data", f"{PROCESSING_ROOT}/input/data"),
        _flag("output", f"{PROCESSING_ROOT}/output"),
    ]
    if "TestData" in params.values:
        inputs.append(_s3_input("test", params["TestData"], f"{PROCESSING_ROOT}/input/test"))
        arguments.append(_flag("test-data", f"{PROCESSING_ROOT}/input/test"))
    arguments += [
        _flag("target", params["Target"]),
        _flag("targets", params["TargetColumns"]),
        _flag("label-delimiter", params["LabelDelimiter"]),
        _flag("no-label", params["NoLabel"]),
        _flag("positive-label", params["PositiveLabel"]),
        _flag("label-name", params["LabelName"]),
        _flag("categorical", params["CategoricalColumns"]),
        _flag("drop", params["DropColumns"]),
        _flag("text", params["TextColumns"]),
        _flag("validation-fraction", params["ValidationFraction"]),
        _flag("test-fraction", params["TestFraction"]),
        _flag("oversample-ratio", params["OversampleRatio"]),
        _flag("oversample-min-count", params["OversampleMinCount"]),
        _flag("min-label-count", params["MinLabelCount"]),
        _flag("threshold-imbalance", params["ThresholdImbalance"]),
        _flag("samples", params["CheckSamples"]),
        _flag("seed", params["SplitSeed"]),
    ]
    outputs = [
        _s3_output(
            name, _execution_uri(target, STEP_PREPROCESS, name), f"{PROCESSING_ROOT}/output/{name}"
        )
        for name in PREPROCESS_OUTPUTS
    ]
    step_args = _processor("preprocess.py", params, image_uri, target, session).run(
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


def _preprocess_output(preprocess: Any, name: str) -> Any:
    return preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def training_step(
    setting: CostSetting,
    preprocess: Any,
    params: Parameters,
    code: CodeBundle,
    image_uri: str,
    target: Target,
    session: Any,
) -> Any:
    """One XGBoost training in script mode for one cost setting; depends on Preprocess only."""
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.train.model_trainer import ModelTrainer

    hyperparameters = {
        # Script mode: the container downloads the archive and runs the module in it.
        "sagemaker_program": TRAINING_MODULE,
        "sagemaker_submit_directory": code.sourcedir_uri(target.bucket, target.pipeline_name),
        "fn_weight": setting.fn_weight,
        "fp_weight": setting.fp_weight,
        "setting_name": setting.name,
        "booster": setting.booster,
        "objective_impl": params["ObjectiveImplementation"],
        "num_round": params["NumRound"],
        "max_depth": params["MaxDepth"],
        "eta": params["Eta"],
        "min_child_weight": params["MinChildWeight"],
        "subsample": params["Subsample"],
        "colsample_bytree": params["ColsampleByTree"],
        "reg_lambda": params["RegLambda"],
        "max_bin": params["MaxBin"],
        "seed": params["TrainingSeed"],
        "cv_folds": params["CrossValidationFolds"],
        "cv_max_rows": params["CrossValidationMaxRows"],
        "multilabel_strategy": params["MultiLabelStrategy"],
        "text_max_features": params["TextMaxFeatures"],
    }
    trainer = ModelTrainer(
        training_image=image_uri,
        role=target.role_arn,
        sagemaker_session=session,
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
            InputData(channel_name="train", data_source=_preprocess_output(preprocess, "train")),
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
    preprocess: Any,
    trainings: dict[CostSetting, Any],
    params: Parameters,
    code: CodeBundle,
    image_uri: str,
    target: Target,
    session: Any,
) -> tuple[Any, Any]:
    """Evaluate every model; returns the step and its property file (evaluation.json)."""
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.steps import ProcessingStep

    inputs = [
        _s3_input("code", code.source_uri(target.bucket, target.pipeline_name), CODE_ROOT),
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
    arguments += [
        _flag("cost-tp", params["CostTp"]),
        _flag("cost-fp", params["CostFp"]),
        _flag("cost-fn", params["CostFn"]),
        _flag("cost-tn", params["CostTn"]),
        _flag("label-costs", params["LabelCosts"]),
        _flag("max-cost-per-decision", params["MaxCostPerDecision"]),
        _flag("threshold-objective", params["ThresholdObjective"]),
        _flag("threshold-smoothing", params["ThresholdSmoothing"]),
        _flag("threshold-misprediction", params["ThresholdMisprediction"]),
        _flag("samples", params["CheckSamples"]),
        _flag("bootstrap-resamples", params["BootstrapResamples"]),
    ]
    outputs = [
        _s3_output(
            EVALUATION_OUTPUT,
            _execution_uri(target, STEP_EVALUATE, EVALUATION_OUTPUT),
            f"{PROCESSING_ROOT}/output/{EVALUATION_OUTPUT}",
        ),
        _s3_output(
            ARTIFACT_OUTPUT,
            _execution_uri(target, STEP_EVALUATE, ARTIFACT_OUTPUT),
            f"{PROCESSING_ROOT}/output/{ARTIFACT_OUTPUT}",
        ),
    ]
    report = PropertyFile(
        name=EVALUATION_PROPERTY_FILE, output_name=EVALUATION_OUTPUT, path="evaluation.json"
    )
    step_args = _processor("evaluate.py", params, image_uri, target, session).run(
        inputs=inputs, outputs=outputs, arguments=arguments
    )
    cache, retries = _job_policies()
    step = ProcessingStep(
        name=STEP_EVALUATE,
        display_name="Price every model",
        description="Tunes each model's threshold on validation, prices it on test, picks the "
        "cheapest by validation cost.",
        step_args=step_args,
        property_files=[report],
        cache_config=cache,
        retry_policies=retries,
    )
    return step, report


def _report_value(evaluate: Any, report: Any, path: str) -> Any:
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
    evaluate: Any,
    report: Any,
    params: Parameters,
    image_uri: str,
    target: Target,
    session: Any,
    code: CodeBundle,
) -> Any:
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
    from steps.inference import model_environment

    builder = ModelBuilder(
        image_uri=image_uri,
        # Script-mode serving: the container imports steps.inference from the job's bundle.
        env_vars=model_environment(
            code.sourcedir_uri(target.bucket, target.pipeline_name), target.region
        ),
        s3_model_data_url=_report_value(evaluate, report, "best.model_uri"),
        role_arn=target.role_arn,
        sagemaker_session=session,
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


def check_step(evaluate: Any, report: Any, params: Parameters, register: Any) -> Any:
    """Register only when the best model beats the trivial policies, passes the checks and
    costs at most MaxCostPerDecision; otherwise fail with evaluation.json's verdict."""
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

    image = xgboost_image(config, target.region)
    params = pipeline_parameters(config, input_uri, test_uri)
    preprocess = preprocess_step(params, code, image, target, session)
    trainings = {
        setting: training_step(setting, preprocess, params, code, image, target, session)
        for setting in config.settings
    }
    evaluate, report = evaluate_step(preprocess, trainings, params, code, image, target, session)
    register = register_step(evaluate, report, params, image, target, session, code)
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
    from pipeline.graph import check_graph

    _sdk_environment(target.region)
    with _quiet_fast_sdk():
        pipeline = build_pipeline(config, target, code, input_uri, test_uri)
        definition = json.loads(pipeline.definition())
    check_graph(definition)
    return definition
