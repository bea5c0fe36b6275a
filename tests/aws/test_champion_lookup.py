"""The Evaluate job's champion lookup on AWS (steps/champion.py with boto3), against moto.

moto 5 implements ListModelPackages with ModelApprovalStatus, ModelPackageType, SortBy,
SortOrder and MaxResults, DescribeModelPackage, and S3, so no Stubber is needed: the lookup
finds the newest Approved package of moto's registry and the artifact in moto's S3, and the
champion is priced from it exactly as the local run priced it.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from pipeline.home import BUCKET_FOLDER
from pipeline.local.bucket import LocalBucket
from steps.champion import (
    LOCAL_BUCKET_VARIABLE,
    LOCAL_REGISTRY_VARIABLE,
    ChampionPackage,
    find_champion,
    price_champion,
)
from steps.costs import CostMatrix
from steps.data import labels_from_frame
from steps.errors import InputError
from steps.preprocess_io import read_profile, read_split
from steps.pricing import row_costs
from tests.aws.support import BUCKET, REGION

GROUP = "cancer"


def _package(sm, status: str, url: str) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


@pytest.fixture(autouse=True)
def no_local_backend(monkeypatch):
    """On AWS the executor's variables are absent: the lookup must take the boto3 path."""
    monkeypatch.delenv(LOCAL_REGISTRY_VARIABLE, raising=False)
    monkeypatch.delenv(LOCAL_BUCKET_VARIABLE, raising=False)


@mock_aws
def test_the_lookup_finds_the_newest_approved_package():
    sm = boto3.client("sagemaker", region_name=REGION)
    assert find_champion(GROUP) is None  # no such group yet: nothing to beat
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _package(sm, "PendingManualApproval", f"s3://{BUCKET}/v1.tar.gz")
    assert find_champion(GROUP) is None
    _package(sm, "Approved", f"s3://{BUCKET}/v2.tar.gz")
    newest = _package(sm, "Approved", f"s3://{BUCKET}/v3.tar.gz")
    _package(sm, "Rejected", f"s3://{BUCKET}/v4.tar.gz")
    _package(sm, "PendingManualApproval", f"s3://{BUCKET}/v5.tar.gz")
    assert find_champion(GROUP) == ChampionPackage(GROUP, 3, newest, f"s3://{BUCKET}/v3.tar.gz")


def _test_split(home, evaluation):
    """The session run's test split and profile, read from its local bucket."""
    bucket = LocalBucket(home / BUCKET_FOLDER)
    prefix = evaluation["best"]["model_uri"].split("/Evaluate/")[0]
    profile = read_profile(bucket.path(f"{prefix}/Preprocess/profile"))
    frame = read_split(bucket.path(f"{prefix}/Preprocess/test"), "test")
    return frame, labels_from_frame(frame, profile["schema"])


@pytest.mark.slow
def test_the_evaluate_job_prices_an_approved_package_from_s3(first_run):
    """The session's registered artifact, put in moto's S3 and approved in moto's registry,
    is found and priced on the same test rows at the cost the local run recorded."""
    home, run, _ = first_run
    artifact = LocalBucket(home / BUCKET_FOLDER).path(run.result.registered["model_data_url"])
    matrix = CostMatrix.from_mapping(run.evaluation["cost_matrix"])
    frame, Y = _test_split(home, run.evaluation)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="champion/model.tar.gz", Body=artifact.read_bytes())
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        arn = _package(sm, "Approved", f"s3://{BUCKET}/champion/model.tar.gz")
        champion = find_champion(GROUP)
        assert champion is not None and champion.arn == arn
        priced = price_champion(
            champion,
            {"test": (frame, Y)},
            run.evaluation["labels"],
            {"test": [matrix]},
            {"test": row_costs(Y, Y, [matrix])},
        )
        assert priced["test"]["champion"].mean() == pytest.approx(
            run.evaluation["best"]["expected_cost"]
        )
        # An approved package whose artifact is gone fails, naming the version.
        gone = _package(sm, "Approved", f"s3://{BUCKET}/gone/model.tar.gz")
        with pytest.raises(InputError) as raised:
            price_champion(
                find_champion(GROUP), {"test": (frame, Y)}, ["malignant"], {"test": [matrix]}, {}
            )
        assert str(raised.value).startswith(f"approved version 2 ({gone}): its decision artifact")
        assert "cannot be loaded (cannot read s3://" in str(raised.value)
