"""Running the SageMaker definition on this machine: no Docker, no AWS.

``bucket`` stands in for S3, ``jobs`` runs processing and training jobs as subprocesses with
SageMaker's container conventions, ``executor`` walks the definition's graph, ``store`` records
executions and the step cache, and ``registry`` is a model registry with SageMaker's semantics.
"""
