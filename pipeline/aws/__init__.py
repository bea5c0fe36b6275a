"""The AWS side: SageMaker Pipelines and Step Functions, both from the one definition JSON.

* :mod:`pipeline.aws.session`: settings (flags > environment > config), boto3 clients and the
  translation of credential and permission failures into one clear line;
* :mod:`pipeline.aws.uploads`: the code bundle and data to the bucket, content-addressed;
* :mod:`pipeline.aws.sagemaker`: upsert, start, executions and steps, the model registry;
* :mod:`pipeline.aws.asl`: the definition JSON translated to Amazon States Language (pure);
* :mod:`pipeline.aws.stepfunctions`: upsert, start and poll the state machine;
* :mod:`pipeline.aws.waiting`: the polling loop both targets share.
"""
