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

from pipeline.definition.build import build_definition
from pipeline.definition.names import Target

__all__ = ["Target", "build_definition"]
