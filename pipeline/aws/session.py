"""Where the pipeline runs on AWS, and the boto3 clients that reach it.

Settings resolve flags first, then the environment, then the config file's ``[aws]`` section.
Every failure that means "you are not set up" (no credentials, expired credentials, access
denied) becomes a :class:`~pipeline.errors.UsageError`: one line that names what is missing and
how to provide it. Any other AWS error becomes an :class:`AwsError` (exit 1).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.config import AwsConfig
from pipeline.definition.names import Target
from pipeline.errors import UsageError

#: Environment variables that stand in for flags, by setting.
ENVIRONMENT = {
    "role_arn": "COSTPIPE_ROLE_ARN",
    "bucket": "COSTPIPE_BUCKET",
    "pipeline_name": "COSTPIPE_PIPELINE_NAME",
    "state_machine_role_arn": "COSTPIPE_STATE_MACHINE_ROLE_ARN",
}
REGION_ENVIRONMENT = ("AWS_REGION", "AWS_DEFAULT_REGION")
#: How a user provides each setting, for error messages.
HOW_TO_SET = {
    "role_arn": "the SageMaker execution role: pass --role-arn ARN, set COSTPIPE_ROLE_ARN, or set "
    "role_arn in the config's [aws] section",
    "bucket": "the artifact bucket: pass --bucket NAME, set COSTPIPE_BUCKET, or set bucket in "
    "the config's [aws] section",
    "state_machine_role_arn": "the role Step Functions runs as: pass --state-machine-role-arn "
    "ARN, set COSTPIPE_STATE_MACHINE_ROLE_ARN, or set state_machine_role_arn in the config's "
    "[aws] section",
}
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: ClientError codes that mean the caller's credentials or permissions are at fault.
CREDENTIAL_ERRORS = {
    "ExpiredToken": "your AWS credentials have expired: refresh them (aws sso login, or new "
    "temporary keys) and try again",
    "ExpiredTokenException": "your AWS credentials have expired: refresh them (aws sso login, or "
    "new temporary keys) and try again",
    "RequestExpired": "your AWS credentials have expired: refresh them and try again",
    "InvalidClientTokenId": "AWS does not recognise your access key: check AWS_ACCESS_KEY_ID or "
    "AWS_PROFILE",
    "UnrecognizedClientException": "AWS does not recognise your access key: check "
    "AWS_ACCESS_KEY_ID or AWS_PROFILE",
    "SignatureDoesNotMatch": "AWS rejected your secret key: check AWS_SECRET_ACCESS_KEY or "
    "AWS_PROFILE",
}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}


class AwsError(Exception):
    """An AWS call that failed for a reason other than setup (exit 1)."""


@dataclass(frozen=True)
class AwsSettings:
    """The names a deployment needs; empty text where nothing provided one."""

    region: str
    pipeline_name: str
    role_arn: str = ""
    bucket: str = ""
    state_machine_role_arn: str = ""

    def require(self, *names: str) -> None:
        """Raise one :class:`UsageError` naming every missing or malformed setting.

        Parameters
        ----------
        *names : str
            Settings that must be present: ``role_arn``, ``bucket``, ``state_machine_role_arn``.
        """
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise UsageError("missing " + "; and ".join(HOW_TO_SET[name] for name in missing))
        for name in names:
            value = getattr(self, name)
            if name.endswith("role_arn") and not _ROLE_ARN.match(value):
                raise UsageError(
                    f"'{value}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>): "
                    f"give {HOW_TO_SET[name].split(':')[0]}"
                )
            if name == "bucket" and not _BUCKET.match(value):
                raise UsageError(f"'{value}' is not an S3 bucket name: give the bucket's name only")

    def target(self) -> Target:
        """The names that end up inside the pipeline definition."""
        return Target(
            bucket=self.bucket,
            role_arn=self.role_arn,
            region=self.region,
            pipeline_name=self.pipeline_name,
        )


def resolve_settings(
    flags: Mapping[str, str | None],
    config: AwsConfig,
    environ: Mapping[str, str] | None = None,
) -> AwsSettings:
    """Each setting from the first place that has it: flags, environment, config.

    Parameters
    ----------
    flags : mapping
        ``region``, ``pipeline_name``, ``role_arn``, ``bucket``, ``state_machine_role_arn``
        as given on the command line (None or absent when not given).
    config : AwsConfig
        The config file's ``[aws]`` section (its defaults when there is no file).
    environ : mapping, optional
        The environment (default: ``os.environ``).

    Returns
    -------
    AwsSettings
    """
    environ = os.environ if environ is None else environ

    def first(*candidates: str | None) -> str:
        return next((value for value in candidates if value), "")

    region_env = next((environ[key] for key in REGION_ENVIRONMENT if environ.get(key)), None)
    values = {
        name: first(flags.get(name), environ.get(variable), getattr(config, name))
        for name, variable in ENVIRONMENT.items()
    }
    region = first(flags.get("region"), region_env, config.region)
    return AwsSettings(region=region, **values)


@functools.cache
def _model_loader() -> Any:
    import botocore.loaders

    return botocore.loaders.create_loader()


def client(service: str, region: str) -> Any:
    """A boto3 client for one service in one region (tests replace this function).

    Each client gets a fresh session (credentials are resolved anew), but all share one
    loader of botocore's service models: SageMaker's takes a good part of a second to parse.
    """
    import boto3
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _model_loader())
    return boto3.session.Session(botocore_session=core, region_name=region).client(service)


def account_id(region: str) -> str:
    """The caller's account, which also proves the credentials work before anything changes."""
    with aws_errors("checking your AWS credentials"):
        return str(client("sts", region).get_caller_identity()["Account"])


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn botocore's exceptions into one-line errors that say what was being done.

    Parameters
    ----------
    doing : str
        What the block does, for the message ("creating the pipeline").
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise UsageError(
            f"no AWS credentials found while {doing}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), run 'aws configure' or 'aws sso login', or run where a role "
            "provides them"
        ) from None
    except NoRegionError:
        raise UsageError(
            "no AWS region: pass --region, set AWS_REGION, or set region in the config's [aws] "
            "section"
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        if code in CREDENTIAL_ERRORS:
            raise UsageError(f"{CREDENTIAL_ERRORS[code]} (while {doing})") from None
        if code in ACCESS_DENIED:
            raise UsageError(
                f"AWS denied access while {doing}: {message}; grant that permission to your "
                "credentials' identity, or use credentials that have it"
            ) from None
        raise AwsError(f"AWS refused {doing}: {code}: {message}") from None
    except EndpointConnectionError as error:
        raise AwsError(f"cannot reach AWS while {doing}: {error}") from None
    except BotoCoreError as error:
        raise AwsError(f"AWS call failed while {doing}: {error}") from None


def error_code(error: Exception) -> str:
    """The ``Error.Code`` of a botocore ``ClientError``; empty text for anything else."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
