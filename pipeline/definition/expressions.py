"""The definition's expression language: ``Get``, ``Std:Join``, ``Std:JsonGet`` and conditions.

Property paths look like ``Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output``:
dotted names, ``[0]`` indexes and ``['name']`` keys. On a list, a key selects the element whose
``OutputName``/``ChannelName``/``InputName``/``Name`` is that key, as SageMaker's property maps do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.errors import InputError

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_:\-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_LIST_KEY_FIELDS = ("OutputName", "ChannelName", "InputName", "Name", "PropertyFileName")


class ExpressionError(InputError):
    """An expression that cannot be evaluated (a missing property, a bad JSON path)."""


def parse_path(path: str) -> list[str | int]:
    """``a.b[0]['k']`` -> ``['a', 'b', 0, 'k']``; raises on anything left unparsed."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot parse path {path!r} at position {position}")
        name, index, single, double = match.groups()
        if name is not None:
            tokens.append(name)
        elif index is not None:
            tokens.append(int(index))
        else:
            tokens.append(single if single is not None else double)
        position = match.end()
    return tokens


def lookup(value: Any, tokens: list[str | int], path: str) -> Any:
    """Follow ``tokens`` into nested dicts and lists."""
    for token in tokens:
        if (isinstance(value, dict) and isinstance(token, str) and token in value) or (
            isinstance(value, list) and isinstance(token, int) and -len(value) <= token < len(value)
        ):
            value = value[token]
        elif isinstance(value, list) and isinstance(token, str):
            matches = [
                item
                for item in value
                if isinstance(item, dict) and any(item.get(f) == token for f in _LIST_KEY_FIELDS)
            ]
            if not matches:
                raise ExpressionError(f"{path}: no element named {token!r}")
            value = matches[0]
        else:
            raise ExpressionError(f"{path}: nothing at {token!r}")
    return value


def is_expression(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value))
        in (
            "Get",
            "Std:Join",
            "Std:JsonGet",
        )
    )


def references(value: Any) -> Iterator[str]:
    """Every ``Get`` path inside a (possibly nested) definition value."""
    if isinstance(value, dict):
        if "Get" in value and len(value) == 1 and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def referenced_steps(value: Any) -> set[str]:
    """Names of the steps whose properties a value reads."""
    names = set()
    for path in references(value):
        tokens = parse_path(path)
        if tokens[0] == "Steps" and len(tokens) > 1:
            names.add(str(tokens[1]))
    return names


#: Resolves a ``Get`` path to a value.
Getter = Callable[[str], Any]
#: Reads a property file: (step name, property file name) -> parsed JSON.
PropertyFileReader = Callable[[str, str], Any]


def evaluate(value: Any, get: Getter, read_property_file: PropertyFileReader) -> Any:
    """Resolve every expression inside ``value``, leaving plain values as they are."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, body),) = value.items()
            if key == "Get" and isinstance(body, str):
                return get(body)
            if key == "Std:Join":
                parts = [evaluate(item, get, read_property_file) for item in body["Values"]]
                return str(body["On"]).join(_as_text(part) for part in parts)
            if key == "Std:JsonGet":
                return json_get(body, get, read_property_file)
        return {k: evaluate(v, get, read_property_file) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(item, get, read_property_file) for item in value]
    return value


def json_get(body: dict[str, Any], get: Getter, read_property_file: PropertyFileReader) -> Any:
    source = body["PropertyFile"]
    path = source["Get"] if isinstance(source, dict) else str(source)
    tokens = parse_path(path)
    if len(tokens) != 4 or tokens[0] != "Steps" or tokens[2] != "PropertyFiles":
        raise ExpressionError(f"Std:JsonGet needs Steps.<step>.PropertyFiles.<name>, got {path!r}")
    document = read_property_file(str(tokens[1]), str(tokens[3]))
    json_path = str(body["Path"])
    return lookup(document, parse_path(json_path), f"{path} {json_path}")


def _as_text(value: Any) -> str:
    """How Std:Join writes values: JSON-like for booleans, shortest form for numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda left, right: left == right,
    "GreaterThan": lambda left, right: left > right,
    "GreaterThanOrEqualTo": lambda left, right: left >= right,
    "LessThan": lambda left, right: left < right,
    "LessThanOrEqualTo": lambda left, right: left <= right,
}


def condition_holds(
    condition: dict[str, Any], get: Getter, read_property_file: PropertyFileReader
) -> bool:
    """Evaluate one condition of a Condition step."""
    kind = condition["Type"]
    if kind in _COMPARISONS:
        left = evaluate(condition["LeftValue"], get, read_property_file)
        right = evaluate(condition["RightValue"], get, read_property_file)
        try:
            return bool(_COMPARISONS[kind](_comparable(left), _comparable(right)))
        except TypeError:
            raise ExpressionError(
                f"condition {kind} cannot compare {left!r} with {right!r}"
            ) from None
    if kind == "Not":
        return not condition_holds(condition["Expression"], get, read_property_file)
    if kind == "Or":
        return any(condition_holds(c, get, read_property_file) for c in condition["Conditions"])
    if kind == "In":
        query = evaluate(condition["QueryValue"], get, read_property_file)
        values = [evaluate(v, get, read_property_file) for v in condition["Values"]]
        return _comparable(query) in [_comparable(v) for v in values]
    raise ExpressionError(f"unknown condition type {kind!r}")


def _comparable(value: Any) -> Any:
    """Numbers compare as numbers whether they arrive as int, float or numeric text."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
