"""Load a SageMaker Pipelines execution into :class:`ReportData`, with boto3.

* the execution: ``DescribePipelineExecution`` and ``ListPipelineParametersForExecution``;
* its steps: ``ListPipelineExecutionSteps`` (status, times, attempts, failure reason, cache
  hits, a condition's outcome);
* the graph: ``DescribePipelineDefinitionForExecution``, the definition that execution ran;
* evaluation.json and scores.parquet: the Evaluate step's metadata names its processing job;
  ``DescribeProcessingJob`` gives the ``evaluation`` output's S3 URI (for a cache hit, the
  source job's, which is where the files are), and S3 ``GetObject`` reads them. When the job
  cannot be described, the URI is worked out from the definition and the execution id;
* what was registered: the registration step's model package ARN and
  ``DescribeModelPackage`` for its approval status.

Whatever cannot be read is recorded in ``ReportData.problems`` and the report goes on without
it; only an execution that cannot be described at all is an error.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from pipeline.definition.expressions import ExpressionError, evaluate
from pipeline.definition.graph import all_steps
from pipeline.definition.names import EVALUATION_OUTPUT, STEP_EVALUATE
from pipeline.errors import UsageError
from pipeline.report.model import ReportData, StepView
from steps.evaluate import EVALUATION_FILE, SCORES_FILE

EXECUTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):pipeline/"
    r"(?P<pipeline>[^/]+)/execution/(?P<id>[A-Za-z0-9]+)$"
)
#: Step types, from the metadata key SageMaker fills for each kind of step.
METADATA_TYPES = {
    "ProcessingJob": "Processing",
    "TrainingJob": "Training",
    "Condition": "Condition",
    "RegisterModel": "RegisterModel",
    "Model": "Model",
    "Fail": "Fail",
}
FINISHED = ("Succeeded", "Failed", "Stopped")


def parse_execution_arn(arn: str) -> dict[str, str]:
    match = EXECUTION_ARN.match(arn.strip())
    if not match:
        raise UsageError(
            f"'{arn}' is not a SageMaker pipeline execution ARN "
            "(arn:aws:sagemaker:REGION:ACCOUNT:pipeline/NAME/execution/ID)"
        )
    return match.groupdict()


def _client_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def _pages(call: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a NextToken-paged SageMaker list call."""
    items: list[dict[str, Any]] = []
    token = None
    while True:
        response = call(**kwargs, **({"NextToken": token} if token else {}))
        items.extend(response.get(key, []))
        token = response.get("NextToken")
        if not token:
            return items


def _step_type(summary: dict[str, Any], types: dict[str, str]) -> str:
    name = summary.get("StepName", "")
    if name in types:
        return types[name]
    for key, kind in METADATA_TYPES.items():
        if key in (summary.get("Metadata") or {}):
            return kind
    return ""


def step_view(summary: dict[str, Any], types: dict[str, str]) -> StepView:
    """A ``PipelineExecutionStep`` summary as the report shows it."""
    metadata = summary.get("Metadata") or {}
    source = (summary.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    reason = summary.get("FailureReason") or (metadata.get("Fail") or {}).get("ErrorMessage")
    return StepView(
        name=summary.get("StepName", ""),
        type=_step_type(summary, types),
        status=summary.get("StepStatus", "Unknown"),
        display_name=summary.get("StepDisplayName"),
        started=summary.get("StartTime"),
        ended=summary.get("EndTime"),
        attempts=int(summary.get("AttemptCount") or 1),
        failure_reason=reason,
        cache_source=source.rsplit("/", 1)[-1] if source else None,
        outcome=(metadata.get("Condition") or {}).get("Outcome"),
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not match:
        raise ValueError(f"'{uri}' is not an s3:// URI")
    return match.group(1), match.group(2)


def evaluation_uri_from_definition(definition: dict[str, Any], execution: dict[str, Any]) -> str:
    """The Evaluate step's ``evaluation`` output URI, worked out from the definition."""
    step = next(s for s in all_steps(definition) if s["Name"] == STEP_EVALUATE)
    outputs = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    output = next(o for o in outputs if o["OutputName"] == EVALUATION_OUTPUT)
    variables = {
        "Execution.PipelineExecutionId": execution["execution_id"],
        "Execution.PipelineExecutionArn": execution["arn"],
        "Execution.PipelineName": execution["pipeline"],
    }
    parameters = execution.get("parameters") or {}

    def get(path: str) -> Any:
        if path in variables:
            return variables[path]
        if path.startswith("Parameters.") and path.split(".", 1)[1] in parameters:
            return parameters[path.split(".", 1)[1]]
        raise ExpressionError(f"{path} cannot be worked out after the execution")

    def no_property_file(step: str, name: str) -> Any:
        raise ExpressionError(f"property file {name} of {step} is not available here")

    return str(evaluate(output["S3Output"]["S3Uri"], get, no_property_file))


class SageMakerLoader:
    """Reads one execution with a SageMaker and an S3 client (boto3, or stubs in tests)."""

    def __init__(self, sagemaker: Any, s3: Any):
        self.sagemaker = sagemaker
        self.s3 = s3

    def load(self, execution_arn: str) -> ReportData:
        parsed = parse_execution_arn(execution_arn)
        try:
            described = self.sagemaker.describe_pipeline_execution(
                PipelineExecutionArn=execution_arn
            )
        except _client_errors() as error:
            raise UsageError(f"cannot describe execution {execution_arn}: {error}") from None
        problems: list[str] = []
        execution = {
            "execution_id": parsed["id"],
            "arn": execution_arn,
            "pipeline": str(described.get("PipelineArn", "")).rsplit("/", 1)[-1]
            or parsed["pipeline"],
            "status": described.get("PipelineExecutionStatus", "Unknown"),
            "parameters": self._parameters(execution_arn, problems),
            "failure_reason": described.get("FailureReason"),
            "created": described.get("CreationTime"),
            "ended": described.get("LastModifiedTime")
            if described.get("PipelineExecutionStatus") in FINISHED
            else None,
        }
        definition = self._definition(execution_arn, problems)
        types = {s["Name"]: s.get("Type", "") for s in all_steps(definition or {})}
        try:
            summaries = _pages(
                self.sagemaker.list_pipeline_execution_steps,
                "PipelineExecutionSteps",
                PipelineExecutionArn=execution_arn,
                SortOrder="Ascending",
            )
        except _client_errors() as error:
            summaries = []
            problems.append(f"the execution's steps could not be listed: {error}")
        data = ReportData(
            source="sagemaker",
            execution=execution,
            steps=[step_view(summary, types) for summary in summaries],
            definition=definition,
            problems=problems,
        )
        by_name = {summary.get("StepName"): summary for summary in summaries}
        evaluate_step = by_name.get(STEP_EVALUATE)
        if evaluate_step is not None and evaluate_step.get("StepStatus") == "Succeeded":
            self._outputs(data, evaluate_step)
        for summary in summaries:
            package = ((summary.get("Metadata") or {}).get("RegisterModel") or {}).get("Arn")
            if package and summary.get("StepStatus") == "Succeeded":
                data.registered = self._registered(package)
        return data

    def _parameters(self, arn: str, problems: list[str]) -> dict[str, Any]:
        try:
            items = _pages(
                self.sagemaker.list_pipeline_parameters_for_execution,
                "PipelineParameters",
                PipelineExecutionArn=arn,
            )
        except _client_errors() as error:
            problems.append(f"the execution's parameters could not be listed: {error}")
            return {}
        return {item["Name"]: item.get("Value") for item in items}

    def _definition(self, arn: str, problems: list[str]) -> dict[str, Any] | None:
        try:
            response = self.sagemaker.describe_pipeline_definition_for_execution(
                PipelineExecutionArn=arn
            )
            return json.loads(response["PipelineDefinition"])
        except (*_client_errors(), KeyError, ValueError) as error:
            problems.append(f"the execution's pipeline definition could not be read: {error}")
            return None

    def _evaluation_prefix(self, data: ReportData, step: dict[str, Any]) -> str | None:
        job_arn = ((step.get("Metadata") or {}).get("ProcessingJob") or {}).get("Arn")
        if job_arn:
            try:
                job = self.sagemaker.describe_processing_job(
                    ProcessingJobName=job_arn.rsplit("/", 1)[-1]
                )
                for output in job.get("ProcessingOutputConfig", {}).get("Outputs", []):
                    if output.get("OutputName") == EVALUATION_OUTPUT:
                        return str(output["S3Output"]["S3Uri"]).rstrip("/")
            except _client_errors():
                pass  # fall back on the definition below
        if data.definition is None:
            return None
        try:
            return evaluation_uri_from_definition(data.definition, data.execution).rstrip("/")
        except (StopIteration, KeyError, ExpressionError):
            return None

    def _object(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _outputs(self, data: ReportData, step: dict[str, Any]) -> None:
        prefix = self._evaluation_prefix(data, step)
        if prefix is None:
            data.problems.append("the Evaluate step's evaluation output could not be found")
            return
        try:
            data.evaluation = json.loads(self._object(f"{prefix}/{EVALUATION_FILE}"))
        except (*_client_errors(), ValueError) as error:
            data.problems.append(f"{prefix}/{EVALUATION_FILE} could not be read: {error}")
            return
        try:
            import pandas as pd

            data.scores = pd.read_parquet(io.BytesIO(self._object(f"{prefix}/{SCORES_FILE}")))
        except (*_client_errors(), ValueError, OSError) as error:
            data.problems.append(f"{prefix}/{SCORES_FILE} could not be read: {error}")

    def _registered(self, package_arn: str) -> dict[str, Any]:
        group, _, version = (
            package_arn.rsplit(":", 1)[-1].removeprefix("model-package/").rpartition("/")
        )
        registered: dict[str, Any] = {"arn": package_arn, "group": group, "version": version}
        try:
            package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
            registered["approval_status"] = package.get("ModelApprovalStatus")
            containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
            if containers:
                registered["model_uri"] = containers[0].get("ModelDataUrl")
        except _client_errors():
            pass  # the ARN alone still says what was registered
        return registered


def load_sagemaker(execution_arn: str, sagemaker: Any = None, s3: Any = None) -> ReportData:
    """Read an execution from SageMaker; clients default to boto3's in the ARN's region."""
    region = parse_execution_arn(execution_arn)["region"]
    if sagemaker is None or s3 is None:
        import boto3

        session = boto3.Session(region_name=region)
        sagemaker = sagemaker or session.client("sagemaker")
        s3 = s3 or session.client("s3")
    return SageMakerLoader(sagemaker, s3).load(execution_arn)
