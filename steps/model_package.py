"""What a model package tells the stock XGBoost container so that it serves our handlers.

Kept apart from :mod:`steps.inference` (which imports pandas, scikit-learn and xgboost) because
the pipeline definition reads it when it is built, and building must stay quick.
"""

from __future__ import annotations

#: The handlers' module, as ``SAGEMAKER_PROGRAM``: the container imports it by this name.
INFERENCE_MODULE = "steps.inference"
#: The model package a server answers for: set by ``costpipe serve`` and ``costpipe deploy``
#: (a package cannot name its own version when it is created), echoed in every response.
MODEL_PACKAGE_ENV = "COSTPIPE_MODEL_PACKAGE"
#: logging.INFO, as the container's ``SAGEMAKER_CONTAINER_LOG_LEVEL`` wants it: a number.
LOG_LEVEL_INFO = "20"
JSON = "application/json"


def model_environment(submit_directory: str, region: str) -> dict[str, str]:
    """The model package's Environment: how the stock container finds these handlers.

    ``SAGEMAKER_PROGRAM`` and ``SAGEMAKER_SUBMIT_DIRECTORY`` switch its serving to script mode
    (the job's source bundle, ``sourcedir.tar.gz``, holds the ``steps`` package);
    ``SAGEMAKER_CONTAINER_LOG_LEVEL`` is read by ``_env._Env`` (a number), ``SAGEMAKER_REGION``
    by ``_files.s3_download`` when it fetches the bundle, and
    ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` by ``_worker.Request.accept``.

    Examples
    --------
    >>> environment = model_environment("s3://b/p/code/abc/sourcedir.tar.gz", "eu-west-1")
    >>> environment["SAGEMAKER_PROGRAM"], environment["SAGEMAKER_REGION"]
    ('steps.inference', 'eu-west-1')
    """
    return {
        "SAGEMAKER_PROGRAM": INFERENCE_MODULE,
        "SAGEMAKER_SUBMIT_DIRECTORY": submit_directory,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": LOG_LEVEL_INFO,
        "SAGEMAKER_REGION": region,
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": JSON,
    }
