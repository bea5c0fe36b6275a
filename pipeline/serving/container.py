"""The stock XGBoost container's serving sequence, around any inference module.

Mirrors, call for call, what the 3.0-5 image runs for a model with ``SAGEMAKER_PROGRAM``
(read from aws/sagemaker-xgboost-container ``src/sagemaker_xgboost_container/serving.py`` and
sagemaker-containers 2.8.6.post2 ``_transformer.py``, ``_worker.py``, ``_functions.py``,
``_env.py``; the details are in ``steps/inference.py``'s docstring):

1. ``serving.main``: ``importlib.import_module(module_name)``, the module name being
   ``SAGEMAKER_PROGRAM`` less a trailing ``.py`` (``_env._Env._parse_module_name``);
2. ``serving._user_module_transformer``: ``model_fn``, ``input_fn``, ``predict_fn``,
   ``output_fn`` from the module, a ``transform_fn`` beside them refused;
3. ``Transformer.__init__``: each wrapped by ``_functions.error_wrapper`` (any exception
   re-raised as ``ClientError``);
4. ``Transformer.initialize``: ``model_fn(model_dir)``, once;
5. per request, ``Transformer.transform``: the body as text for exactly ``application/json``
   and ``text/csv`` (``_content_types.UTF8_TYPES``, compared with the whole header), bytes
   otherwise; content type from ``ContentType`` or ``Content-Type`` (default
   ``application/json``); accept from ``Accept`` (missing or ``*/*``:
   ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, default ``application/json``); then
   ``input_fn(body, content_type)``, ``predict_fn(data, model)``, ``output_fn(prediction,
   accept)``; a tuple result is ``(body, mimetype)`` with status 200, a response object keeps
   its status; any exception is Flask's 500.

Standard library only and Python 3.10 syntax: the container-parity interpreter imports it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UTF8_TYPES = ("application/json", "text/csv")
DEFAULT_CONTENT_TYPE = "application/json"
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
HANDLERS = ("model_fn", "input_fn", "predict_fn", "output_fn")
INTERNAL_SERVER_ERROR = 500


class ClientError(Exception):
    """sagemaker_containers._errors.ClientError: what error_wrapper re-raises."""


def module_name(program: str) -> str:
    """``_env._Env._parse_module_name``: a trailing ``.py`` removed, nothing else."""
    return program[:-3] if program.endswith(".py") else program


def _error_wrapper(function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            raise ClientError(error) from error

    return wrapper


@dataclass
class Reply:
    """What the HTTP client receives."""

    status: int
    mimetype: str
    body: bytes


def _as_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return b"".join(part if isinstance(part, bytes) else str(part).encode() for part in payload)


def _reply(result: Any) -> Reply:
    if isinstance(result, tuple):  # Transformer.transform: Response(result[0], mimetype=...)
        return Reply(200, str(result[1]), _as_bytes(result[0]))
    if hasattr(result, "get_data"):  # a Flask response (the container's worker.Response)
        return Reply(int(result.status_code), str(result.mimetype), result.get_data())
    return Reply(int(result.status), str(result.mimetype), _as_bytes(result.response))


class ContainerTransformer:
    """One serving worker of the stock container running the module named ``program``."""

    def __init__(self, program: str, model_dir: str, environ: dict[str, str] | None = None):
        environ = dict(os.environ if environ is None else environ)
        module = importlib.import_module(module_name(program))
        functions = {name: getattr(module, name, None) for name in HANDLERS}
        if getattr(module, "transform_fn", None) and any(functions[name] for name in HANDLERS[1:]):
            raise ClientError(
                "Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"
            )
        missing = [name for name, function in functions.items() if function is None]
        if missing:
            # The XGBoost container's defaults decode to a DMatrix and return raw predictions;
            # this replay is only for modules that bring all four handlers.
            raise ClientError(f"module {module.__name__} lacks {', '.join(missing)}")
        self._model_fn, self._input_fn, self._predict_fn, self._output_fn = (
            _error_wrapper(functions[name]) for name in HANDLERS
        )
        self._model_dir = model_dir
        self._default_accept = environ.get(DEFAULT_ACCEPT_ENV, DEFAULT_CONTENT_TYPE)
        self.model: Any = None

    def initialize(self) -> None:
        self.model = self._model_fn(self._model_dir)

    def request(self, headers: dict[str, str], body: bytes) -> tuple[Any, str, str]:
        """``_worker.Request``: (content, content type, accept) from headers and body."""
        lowered = {key.lower(): value for key, value in headers.items()}
        content_type = (
            lowered.get("contenttype") or lowered.get("content-type") or DEFAULT_CONTENT_TYPE
        )
        accept = lowered.get("accept")
        if not accept or accept == "*/*":
            accept = self._default_accept
        # werkzeug's get_data(as_text=True) decodes UTF-8, replacing bad bytes.
        content = body.decode("utf-8", "replace") if content_type in UTF8_TYPES else body
        return content, content_type, accept

    def invoke(self, headers: dict[str, str], body: bytes) -> Reply:
        """One ``POST /invocations``."""
        content, content_type, accept = self.request(headers, body)
        try:
            data = self._input_fn(content, content_type)
            prediction = self._predict_fn(data, self.model)
            result = self._output_fn(prediction, accept)
        except ClientError as error:
            message = f"{type(error.__cause__).__name__}: {error.__cause__}"
            return Reply(INTERNAL_SERVER_ERROR, "text/plain", message.encode("utf-8"))
        return _reply(result)
