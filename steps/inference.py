"""Inference handlers for the stock SageMaker XGBoost container (script mode) and costpipe serve.

What the container does, read from aws/sagemaker-xgboost-container (HEAD cb8df91, the 3.0-5
image's Dockerfile sets ``SAGEMAKER_SERVING_MODULE=sagemaker_xgboost_container.serving:main``)
and the sagemaker-containers 2.8.6.post2 it pins:

* ``serving.serving_entrypoint`` calls ``sagemaker_containers._server.start``: when
  ``SAGEMAKER_PROGRAM`` is set, ``_modules.import_module(SAGEMAKER_SUBMIT_DIRECTORY, name)``
  downloads the ``s3://`` tar.gz (``_files.download_and_extract``) into ``/opt/ml/code``, writes a
  ``setup.py`` there if it has none and runs ``pip install .``; then gunicorn starts (gevent
  workers, ``--pythonpath`` = ``sys.path`` + ``/opt/ml/code``, ``SAGEMAKER_MODEL_SERVER_WORKERS``
  workers, timeout ``SAGEMAKER_MODEL_SERVER_TIMEOUT``), behind nginx on port 8080.
* The module name: ``_env._Env.module_name`` is ``SAGEMAKER_PROGRAM`` with a trailing ``.py``
  removed (``_parse_module_name``), imported with ``importlib.import_module`` in
  ``serving.main``. So the program must be a dotted module name: ``steps.inference`` imports
  this file from the bundle's ``steps`` package (``steps/inference.py`` would become
  ``steps/inference``, which cannot be imported).
* ``serving.main`` (the WSGI callable), on a worker's first request: ``_user_module_transformer``
  takes ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn`` from the module (a
  ``transform_fn`` beside them is refused), builds ``_transformer.Transformer``, and
  ``initialize()`` calls ``model_fn("/opt/ml/model")`` once (SageMaker has extracted
  ``model.tar.gz`` there). Each ``POST /invocations`` then runs ``Transformer.transform``:
  ``_worker.Request`` gives the body (decoded to ``str`` for ``application/json`` and
  ``text/csv``, the ``UTF8_TYPES``; ``bytes`` otherwise), the content type (header
  ``ContentType`` or ``Content-Type``, default ``application/json``) and the accept type
  (``Accept``; missing or ``*/*`` becomes ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, default
  ``application/json``), and ``_default_transform_fn`` calls, in this order,
  ``input_fn(body, content_type)``, ``predict_fn(data, model)``, ``output_fn(prediction,
  accept)``. A ``tuple`` from output_fn becomes ``Response(result[0], mimetype=result[1])`` with
  status 200; a response object is returned as it is. ``GET /ping`` answers 200.
* Errors: each user function is wrapped by ``_functions.error_wrapper``, which re-raises any
  exception as ``_errors.ClientError``. The transformer's ``except UnsupportedFormatError``
  (415 / 406) therefore never sees a user function's error, and Flask answers every exception
  with **500**. The only way a user module returns a 4xx is an output_fn that returns a response
  with that status.

So these handlers never raise for a bad request: ``input_fn`` and ``predict_fn`` return a
:class:`Rejected` (status and one line), and ``output_fn`` turns it into a JSON response
``{"error": "<one line>"}`` with its status, built with the container's own
``sagemaker_containers.beta.framework.worker.Response`` (what its ``default_output_fn`` uses);
outside the container (``costpipe serve``, tests) the same fields come in an
:class:`InferenceResponse`. Statuses: 400 for an empty or malformed body, a missing or unknown
column, a wrong type or an unknown category level; 413 for a body over
:data:`MAX_REQUEST_BYTES`; 415 for an unsupported content type; 406 for an unsupported accept
type. A failure to score (a server fault) still raises and is the container's 500.

Requests: ``text/csv`` rows without a header, values in the model's input column order
(``decision.json`` ``input_schema.columns``; SageMaker's convention); ``application/json`` as a
list of records with named columns, or ``{"instances": [...]}`` holding records or value lists in
column order; ``application/jsonlines`` (batch transform), one record or value list per line.
Responses: ``application/json`` ``{"model", "model_package", "labels", "thresholds",
"predictions": [{"scores": {label: p}, "decisions": {label: 0|1}}]}``;
``application/jsonlines``, one ``{"scores", "decisions", "thresholds"}`` object per row;
``text/csv``, one line per row without a header: for each label in order its score, decision
and threshold. ``model_package`` is ``COSTPIPE_MODEL_PACKAGE`` when the serving environment sets
it (``costpipe serve`` does) and is left out otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from steps.decision import DecisionModel
from steps.errors import InputError

# Re-exported: the handlers' module also answers for its model package's Environment.
from steps.model_package import INFERENCE_MODULE, MODEL_PACKAGE_ENV, model_environment  # noqa: F401

#: SAGEMAKER_PROGRAM: the module the container imports (a module name, not a path).
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
ANY = "*/*"
REQUEST_TYPES = (CSV, JSON, JSONLINES)
RESPONSE_TYPES = (JSON, CSV, JSONLINES)
#: Largest request body, in bytes: InvokeEndpoint's payload limit (6 MB), also batch
#: transform's default MaxPayloadInMB.
MAX_REQUEST_BYTES = 6 * 1024 * 1024

BAD_REQUEST = 400
NOT_ACCEPTABLE = 406
PAYLOAD_TOO_LARGE = 413
UNSUPPORTED_MEDIA_TYPE = 415


@dataclass
class Rejected:
    """A bad request, carried from input_fn or predict_fn to output_fn (see the module doc)."""

    status: int
    message: str


@dataclass
class ParsedRequest:
    """Rows as sent: ``records`` (dicts with column names) or ``values`` (lists in the model's
    column order), ``where`` naming rows in messages ("CSV line", "record", "line")."""

    records: list[dict[str, Any]] | None = None
    values: list[list[Any]] | None = None
    where: str = "row"


@dataclass
class Prediction:
    model: DecisionModel
    scores: np.ndarray
    #: Each label's per-row costs of the rows, for a model that decides with them.
    costs: dict[str, Any] | None = None


@dataclass
class InferenceResponse:
    """A response outside the container, with the field names of Flask's ``Response``."""

    response: bytes
    status: int
    mimetype: str


def model_fn(model_dir: str) -> DecisionModel:
    """Load the decision artifact SageMaker extracted into ``model_dir``."""
    return DecisionModel.load(model_dir)


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _body_bytes(request_body: str | bytes | bytearray | None) -> bytes:
    if request_body is None:
        return b""
    if isinstance(request_body, str):
        return request_body.encode("utf-8")
    return bytes(request_body)


def input_fn(request_body: str | bytes, content_type: str) -> ParsedRequest | Rejected:
    """Parse the request body; a bad request becomes a :class:`Rejected`, never an exception."""
    media = _media_type(content_type)
    if media not in REQUEST_TYPES:
        return Rejected(
            UNSUPPORTED_MEDIA_TYPE,
            f"content type '{content_type}' is not supported: send {', '.join(REQUEST_TYPES)}",
        )
    body = _body_bytes(request_body)
    if len(body) > MAX_REQUEST_BYTES:
        return Rejected(
            PAYLOAD_TOO_LARGE,
            f"the request body has {len(body):,} bytes, more than the {MAX_REQUEST_BYTES:,} "
            "allowed: send fewer rows per request (or use batch transform)",
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Rejected(BAD_REQUEST, "the request body is not UTF-8 text: send UTF-8")
    if not text.strip():
        return Rejected(BAD_REQUEST, "the request body is empty: send at least one row")
    try:
        if media == CSV:
            return _parse_csv(text)
        if media == JSON:
            return _parse_json(text)
        return _parse_jsonlines(text)
    except InputError as error:
        return Rejected(BAD_REQUEST, str(error))


def _parse_csv(text: str) -> ParsedRequest:
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as error:
        raise InputError(f"the CSV body is malformed ({error}): send plain CSV rows") from None
    return ParsedRequest(values=[list(row) for row in rows], where="CSV line")


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise InputError(f"{what} is not valid JSON ({error})") from None


def _parse_json(text: str) -> ParsedRequest:
    payload = _loads(text, "the JSON body")
    if isinstance(payload, dict):
        if "instances" not in payload:
            raise InputError(
                'the JSON body must be a list of records or {"instances": [...]}: it is an '
                "object without 'instances'"
            )
        payload = payload["instances"]
    if not isinstance(payload, list) or not payload:
        raise InputError("the JSON body holds no rows: send a non-empty list of records")
    return _rows(payload, "record")


def _parse_jsonlines(text: str) -> ParsedRequest:
    items = [
        _loads(line, f"line {number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    return _rows(items, "line")


def _rows(items: list[Any], where: str) -> ParsedRequest:
    """All records (objects) or all value lists (arrays in column order); not a mix."""
    for position, item in enumerate(items):
        if not isinstance(item, (dict, list)):
            raise InputError(
                f"{where} {position + 1} is a {type(item).__name__}, not a record: send objects "
                "with named columns or lists of values in column order"
            )
    if all(isinstance(item, dict) for item in items):
        return ParsedRequest(records=items, where=where)
    if all(isinstance(item, list) for item in items):
        return ParsedRequest(values=items, where=where)
    raise InputError(
        "the rows mix records and value lists: send all of them one way (objects with named "
        "columns, or lists of values in column order)"
    )


def check_values(parsed: ParsedRequest, columns: list[str]) -> None:
    """Value lists: no header row, and as many values as the model has columns."""
    values = parsed.values or []
    if values and [str(value).strip() for value in values[0]] == columns:
        raise InputError(
            "the first row is a header: send rows without one, values in the model's column order"
        )
    for number, row in enumerate(values, start=1):
        if len(row) != len(columns):
            shown = ", ".join(columns[:8]) + (", ..." if len(columns) > 8 else "")
            raise InputError(
                f"{parsed.where} {number} has {len(row)} values but the model takes "
                f"{len(columns)} columns, in this order: {shown}"
            )


def request_frame(parsed: ParsedRequest, columns: list[str]) -> pd.DataFrame:
    """The rows as a table with named columns, values as sent (text for CSV)."""
    if parsed.values is not None:
        check_values(parsed, columns)
        return pd.DataFrame(parsed.values, columns=columns, dtype=object)
    records = parsed.records or []
    names: list[str] = []
    for record in records:
        for key in record:
            if key not in names:
                names.append(key)
    for number, record in enumerate(records, start=1):
        lacking = [name for name in names if name not in record]
        if lacking and lacking[0] in columns:
            raise InputError(
                f"{parsed.where} {number} lacks column '{lacking[0]}': give every record every "
                "column (null for a missing value)"
            )
    return pd.DataFrame.from_records(records, columns=names).astype(object)


def predict_fn(input_data: ParsedRequest | Rejected, model: DecisionModel) -> Prediction | Rejected:
    """Check the rows against the model's input schema and score them."""
    if isinstance(input_data, Rejected):
        return input_data
    columns = model.request_columns_
    try:
        if input_data.values is not None and not model.per_row:
            check_values(input_data, columns)
            return Prediction(model=model, scores=model.predict_proba_values(input_data.values))
        frame = request_frame(input_data, columns)
        scores = model.predict_proba(frame)  # the input columns first, then the cost columns
        # Under per-row costs each row's costs come from its own cost columns.
        return Prediction(model=model, scores=scores, costs=model.row_costs(frame))
    except InputError as error:
        return Rejected(BAD_REQUEST, str(error))


def _response(body: bytes, status: int, mimetype: str) -> Any:
    """The container's response class when it is there (a Flask response), else ours."""
    try:
        from sagemaker_containers.beta.framework import worker
    except ImportError:
        return InferenceResponse(response=body, status=status, mimetype=mimetype)
    return worker.Response(response=body, status=status, mimetype=mimetype)


def _accepted(accept: str | None) -> str | None:
    """The first supported media type of an Accept header (``*/*`` and none: JSON)."""
    if not accept:
        return JSON
    for part in accept.split(","):
        media = _media_type(part)
        if media in (ANY, "application/*"):
            return JSON
        if media in RESPONSE_TYPES:
            return media
        if media == "text/*":
            return CSV
    return None


def _error(status: int, message: str) -> Any:
    body = json.dumps({"error": message}) + "\n"
    return _response(body.encode("utf-8"), status, JSON)


def format_prediction(prediction: Prediction, media: str) -> bytes:
    """The response body of a prediction in ``media`` (one of RESPONSE_TYPES)."""
    model = prediction.model
    scores = prediction.scores
    decisions = model.decisions(scores, prediction.costs)
    labels = model.labels_
    per_row = model.row_thresholds(scores.shape[0], prediction.costs)
    thresholds = {
        label: None if np.isnan(t) else float(t)
        for label, t in zip(labels, model.thresholds_, strict=False)
    }
    if media == CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in range(scores.shape[0]):
            line: list[Any] = []
            for index in range(len(labels)):
                line += [repr(float(scores[row, index])), int(decisions[row, index])]
                line.append(repr(float(per_row[row, index])))
            writer.writerow(line)
        return out.getvalue().encode("utf-8")
    rows = []
    for row in range(scores.shape[0]):
        item: dict[str, Any] = {
            "scores": {label: float(scores[row, i]) for i, label in enumerate(labels)},
            "decisions": {label: int(decisions[row, i]) for i, label in enumerate(labels)},
        }
        if model.per_row:
            # Each row's own threshold: the score at or above which its costs make it positive.
            item["thresholds"] = {label: _number(per_row[row, i]) for i, label in enumerate(labels)}
        rows.append(item)
    package = os.environ.get(MODEL_PACKAGE_ENV)
    if media == JSONLINES:
        extra = {
            **({} if model.per_row else {"thresholds": thresholds}),
            **({"model_package": package} if package else {}),
        }
        return "".join(json.dumps({**row, **extra}) + "\n" for row in rows).encode("utf-8")
    document: dict[str, Any] = {"model": model.name_}
    if package:
        document["model_package"] = package
    document.update({"labels": labels, "thresholds": thresholds, "predictions": rows})
    return (json.dumps(document) + "\n").encode("utf-8")


def _number(value: float) -> float | str:
    """A row's threshold in JSON: a number, or ``"inf"`` for a row no score makes positive
    (JSON has no infinity)."""
    return float(value) if np.isfinite(value) else "inf"


def output_fn(prediction: Prediction | Rejected, accept: str) -> Any:
    """Serialise the prediction for ``accept``; a :class:`Rejected` becomes its 4xx."""
    if isinstance(prediction, Rejected):
        return _error(prediction.status, prediction.message)
    media = _accepted(accept)
    if media is None:
        return _error(
            NOT_ACCEPTABLE,
            f"accept type '{accept}' is not supported: ask for {', '.join(RESPONSE_TYPES)}",
        )
    return _response(format_prediction(prediction, media), 200, media)
