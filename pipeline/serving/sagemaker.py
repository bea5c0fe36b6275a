"""The registered model on SageMaker: an endpoint from a model package, and invoking it.

``deploy`` follows the three calls SageMaker hosting needs (``CreateModel`` from the model
package, ``CreateEndpointConfig``, ``CreateEndpoint``) and waits for ``InService``. A package
that is not Approved is refused unless ``allow_unapproved``. The model's container keeps the
package's Environment (``SAGEMAKER_PROGRAM``, ...) and adds ``COSTPIPE_MODEL_PACKAGE``, so every
response names the package it came from.

``invoke_rows`` sends a table as ``text/csv`` requests without a header, in the artifact's
column order (read from ``decision.json`` inside the package's ``model.tar.gz`` on S3), each body
at most the handlers' 6 MiB, and joins the JSON responses back into one row per input row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tarfile
import time
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from pipeline.errors import InputError
from steps.artifact import DECISION_FILE
from steps.decision import DECISION_PREFIX, SCORE_PREFIX
from steps.inference import MAX_REQUEST_BYTES
from steps.model_package import MODEL_PACKAGE_ENV

APPROVED = "Approved"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
VARIANT = "AllTraffic"
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+/\d+$")


def resolve_package_arn(sm: Any, name: str) -> str:
    """A model package ARN as given, or ``GROUP/VERSION`` looked up."""
    if _PACKAGE_ARN.match(name):
        return name
    group, separator, version = name.partition("/")
    if not separator or not version.isdigit():
        raise InputError(
            f"'{name}' is neither a model package ARN nor GROUP/VERSION: e.g. breast-cancer/3"
        )
    from pipeline.aws.sagemaker import package_arn

    return package_arn(sm, group, int(version))


def endpoint_name_for(package: dict[str, Any]) -> str:
    """``<group>-v<version>``: at most 63 letters, digits and hyphens."""
    base = f"{package['ModelPackageGroupName']}-v{package['ModelPackageVersion']}"
    return re.sub(r"[^a-zA-Z0-9-]", "-", base)[:63].strip("-")


def approved_package(
    sm: Any, package_arn: str, allow_unapproved: bool
) -> tuple[dict[str, Any], str | None]:
    """The package and its approval status; refused unless Approved (or ``allow_unapproved``)."""
    package = sm.describe_model_package(ModelPackageName=package_arn)
    status = package.get("ModelApprovalStatus")
    if status != APPROVED and not allow_unapproved:
        raise InputError(
            f"model package {package_arn} is {status}, not Approved: approve it (costpipe "
            "registry approve --target sagemaker) or pass --allow-unapproved"
        )
    return package, status


def create_model(sm: Any, package_arn: str, role_arn: str, name: str) -> None:
    """A SageMaker Model of the package (its image, artifact and Environment), naming the
    package to the handlers so that every answer says which version made it."""
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=role_arn,
        Containers=[
            {"ModelPackageName": package_arn, "Environment": {MODEL_PACKAGE_ENV: package_arn}}
        ],
    )


def deploy(
    sm: Any,
    package_arn: str,
    role_arn: str,
    endpoint_name: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    allow_unapproved: bool = False,
    wait: bool = True,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 3600.0,
) -> dict[str, Any]:
    """Create the model, endpoint config and endpoint; return their names and the status."""
    package, status = approved_package(sm, package_arn, allow_unapproved)
    name = endpoint_name or endpoint_name_for(package)
    create_model(sm, package_arn, role_arn, name)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": VARIANT,
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": instance_type,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    endpoint = sm.describe_endpoint(EndpointName=name)
    deadline = time.monotonic() + timeout_seconds
    while wait and endpoint["EndpointStatus"] in ("Creating", "Updating"):
        if time.monotonic() > deadline:
            raise InputError(f"endpoint {name} is still {endpoint['EndpointStatus']}: wait longer")
        time.sleep(poll_seconds)
        endpoint = sm.describe_endpoint(EndpointName=name)
    if wait and endpoint["EndpointStatus"] != "InService":
        reason = endpoint.get("FailureReason", "no reason given")
        raise InputError(f"endpoint {name} is {endpoint['EndpointStatus']}: {reason}")
    return {
        "endpoint_name": name,
        "model_name": name,
        "endpoint_config_name": name,
        "model_package_arn": package_arn,
        "approval_status": status,
        "status": endpoint["EndpointStatus"],
        "endpoint_arn": endpoint.get("EndpointArn"),
    }


def endpoint_decision(sm: Any, s3: Any, endpoint_name: str) -> dict[str, Any]:
    """``decision.json`` of the model an endpoint serves (from its package's model.tar.gz)."""
    endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    container = containers[0]
    url = container.get("ModelDataUrl")
    if not url and container.get("ModelPackageName"):
        package = sm.describe_model_package(ModelPackageName=container["ModelPackageName"])
        url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    if not url or not url.startswith("s3://"):
        raise InputError(f"endpoint {endpoint_name} names no model on S3: deploy it with costpipe")
    bucket, _, key = url[len("s3://") :].partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        try:
            member = tar.extractfile(DECISION_FILE)
        except KeyError:
            member = None
        if member is None:
            raise InputError(
                f"the model of endpoint {endpoint_name} ({url}) is not a decision artifact: "
                "deploy a model package costpipe registered"
            )
        return json.loads(member.read().decode("utf-8"))


def csv_bodies(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """CSV bodies without a header, each under MAX_REQUEST_BYTES, rows in order."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise InputError(f"column '{missing[0]}' is missing: the model needs {', '.join(columns)}")
    bodies, lines, size = [], [], 0
    for values in frame[columns].itertuples(index=False):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(
            ["" if _missing(v) else repr(v) if isinstance(v, float) else v for v in values]
        )
        line = out.getvalue()
        length = len(line.encode("utf-8"))
        if length > MAX_REQUEST_BYTES:
            raise InputError("a single row is over the 6 MiB request limit: shorten its text")
        if size + length > MAX_REQUEST_BYTES:
            bodies.append("".join(lines))
            lines, size = [], 0
        lines.append(line)
        size += length
    if lines:
        bodies.append("".join(lines))
    return bodies


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def invoke_rows(
    runtime: Any, endpoint_name: str, frame: pd.DataFrame, decision: dict[str, Any]
) -> pd.DataFrame:
    """One output row per input row: ``row``, ``score:<label>``, ``decision:<label>``."""
    labels = decision["labels"]
    rows: list[dict[str, Any]] = []
    for body in csv_bodies(frame, decision["input_schema"]["columns"]):
        reply = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Accept="application/json", Body=body
        )
        document = json.loads(reply["Body"].read())
        predictions = document.get("predictions") if isinstance(document, dict) else None
        expected = body.count("\n")
        if not isinstance(predictions, list) or len(predictions) != expected:
            raise InputError(
                f"endpoint {endpoint_name} answered {len(predictions or [])} predictions for "
                f"{expected} rows: is it serving a costpipe model?"
            )
        for prediction in predictions:
            row: dict[str, Any] = {"row": len(rows)}
            for label in labels:
                row[SCORE_PREFIX + label] = prediction["scores"][label]
                row[DECISION_PREFIX + label] = prediction["decisions"][label]
            rows.append(row)
    return pd.DataFrame(rows)


#: Batch input content types by file suffix: what steps/inference.py's input_fn reads in batch
#: (CSV without a header in the training column order, or one JSON record per line).
BATCH_CONTENT_TYPES = {".csv": "text/csv", ".jsonl": "application/jsonlines"}
BATCH_ACCEPT = "application/jsonlines"


def batch_content_type(input_uri: str) -> str:
    """The content type of a batch input, from its name; one clear error otherwise."""
    if not input_uri.startswith("s3://"):
        raise InputError(f"batch input '{input_uri}' is not an s3:// URI: upload the rows first")
    suffix = PurePosixPath(input_uri.removeprefix("s3://")).suffix.lower()
    if suffix not in BATCH_CONTENT_TYPES:
        raise InputError(
            f"batch input '{input_uri}' must end in .csv (no header, the training column order) "
            "or .jsonl (one JSON record per line): rename or convert it"
        )
    return BATCH_CONTENT_TYPES[suffix]


def batch_transform(
    sm: Any,
    package_arn: str,
    role_arn: str,
    input_uri: str,
    output_uri: str,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    allow_unapproved: bool = False,
    job_name: str | None = None,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 3 * 3600.0,
) -> dict[str, Any]:
    """Score an S3 file with a model package in a batch transform job, line by line (each
    line is one request to the same handlers an endpoint runs); wait for it to end."""
    content_type = batch_content_type(input_uri)
    if not output_uri.startswith("s3://"):
        raise InputError(f"--out '{output_uri}' is not an s3:// prefix: batch output goes to S3")
    package, status = approved_package(sm, package_arn, allow_unapproved)
    name = job_name or f"{endpoint_name_for(package)}-{int(time.time())}"
    create_model(sm, package_arn, role_arn, name)
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=name,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": content_type,
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": output_uri,
            "Accept": BATCH_ACCEPT,
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": instance_type, "InstanceCount": 1},
        # One line a request: the handlers answer each with one JSON line, in input order.
        BatchStrategy="SingleRecord",
    )
    job = sm.describe_transform_job(TransformJobName=name)
    deadline = time.monotonic() + timeout_seconds
    while job["TransformJobStatus"] in ("InProgress", "Stopping"):
        if time.monotonic() > deadline:
            raise InputError(f"transform job {name} is still {job['TransformJobStatus']}")
        time.sleep(poll_seconds)
        job = sm.describe_transform_job(TransformJobName=name)
    if job["TransformJobStatus"] != "Completed":
        reason = job.get("FailureReason") or "no reason given"
        raise InputError(f"transform job {name} is {job['TransformJobStatus']}: {reason}")
    file_name = input_uri.rstrip("/").rsplit("/", 1)[-1]
    return {
        "transform_job_name": name,
        "model_package_arn": package_arn,
        "approval_status": status,
        "status": job["TransformJobStatus"],
        "input": input_uri,
        "content_type": content_type,
        # SageMaker writes <output prefix>/<input file name>.out.
        "output": f"{output_uri.rstrip('/')}/{file_name}.out",
    }
