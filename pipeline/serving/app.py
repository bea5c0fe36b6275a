"""SageMaker's inference HTTP contract as a WSGI app: ``GET /ping``, ``POST /invocations``.

Every request goes through :class:`pipeline.serving.container.ContainerTransformer`, so the
handlers of ``steps/inference.py`` run in the order and with the arguments the stock container
gives them. gunicorn imports ``pipeline.serving.app:application`` in each worker (``costpipe
serve`` starts it); the worker loads the decision artifact extracted at
``$COSTPIPE_SERVE_MODEL_DIR`` once, on its first request, as the container's ``serving.main``
does (so XGBoost is never loaded in gunicorn's master, which forks the workers).

A bad request is a 4xx from the handlers; an unexpected error while scoring is a 500 for that
request only, and the worker keeps serving. Bodies are read up to one byte over the handlers'
limit, so an oversized request is refused (413) without reading all of it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from pipeline.serving.container import ContainerTransformer
from steps.inference import MAX_REQUEST_BYTES
from steps.model_package import INFERENCE_MODULE

MODEL_DIR_ENV = "COSTPIPE_SERVE_MODEL_DIR"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}

StartResponse = Callable[..., Any]


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Error')}"


def _headers(environ: dict) -> dict:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _read_body(environ: dict) -> bytes:
    """At most MAX_REQUEST_BYTES + 1 bytes: enough for the handlers to refuse a larger body."""
    stream = environ["wsgi.input"]
    limit = MAX_REQUEST_BYTES + 1
    length = environ.get("CONTENT_LENGTH") or ""
    if length.strip().isdigit():
        return stream.read(min(int(length), limit))
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class ServingApp:
    """The WSGI callable around one loaded model."""

    def __init__(self, model_dir: str, program: str = INFERENCE_MODULE):
        self.transformer = ContainerTransformer(program, model_dir)
        self.transformer.initialize()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return self._plain(start_response, 405, "use GET /ping")
            return self._send(start_response, 200, "application/json", b"")
        if path == "/invocations":
            if method != "POST":
                return self._plain(start_response, 405, "use POST /invocations")
            reply = self.transformer.invoke(_headers(environ), _read_body(environ))
            return self._send(start_response, reply.status, reply.mimetype, reply.body)
        return self._plain(start_response, 404, f"no route {path}: use /ping or /invocations")

    @staticmethod
    def _send(start_response: StartResponse, code: int, mimetype: str, body: bytes) -> list:
        start_response(
            _status(code), [("Content-Type", mimetype), ("Content-Length", str(len(body)))]
        )
        return [body]

    def _plain(self, start_response: StartResponse, code: int, message: str) -> list:
        body = (json.dumps({"error": message}) + "\n").encode("utf-8")
        return self._send(start_response, code, "application/json", body)


def _application() -> Callable[[dict, StartResponse], Iterable[bytes]]:
    model_dir = os.environ.get(MODEL_DIR_ENV)
    if not model_dir:
        raise RuntimeError(f"{MODEL_DIR_ENV} is not set: start the server with costpipe serve")
    return ServingApp(model_dir)


class _LazyApplication:
    """Loads the model in the worker process on its first request, never in gunicorn's master."""

    def __init__(self) -> None:
        self._app: Any = None

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self._app is None:
            self._app = _application()
        return self._app(environ, start_response)


application = _LazyApplication()
