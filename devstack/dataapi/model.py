"""Request validation against botocore's own Redshift Data API service model.

The model shipped with botocore is the source of truth for shapes: required members,
types, lengths, ranges, enums and patterns are checked from it, and a failure becomes
a ``ValidationException`` worded the way AWS words it.

That model is the emulator's botocore's, so a client with an older botocore would be
judged by a model newer than its own, which accepts members and operations the
client's real model lacks (``ResultFormat`` came in botocore 1.35.51). So
:func:`check_client` refuses a client whose User-Agent names an older botocore: the
local stack must run from the client's environment, as ``make min-versions`` runs it.

Example::

    >>> validate_request("DescribeStatement", {"Id": "not-a-uuid"})
    Traceback (most recent call last):
    ...
    ApiError: 1 validation error detected: Value 'not-a-uuid' at 'id' failed to satisfy ...
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final, Optional

import botocore
from botocore.loaders import Loader
from botocore.model import (
    ListShape,
    MapShape,
    OperationModel,
    ServiceModel,
    Shape,
    StringShape,
    StructureShape,
)

from .errors import validation

__all__ = [
    "MODEL_BOTOCORE",
    "check_client",
    "client_botocore_version",
    "operation_names",
    "validate_request",
]

_SERVICE = "redshift-data"
#: The botocore whose service model :func:`validate_request` applies: this process's.
MODEL_BOTOCORE: Final = botocore.__version__
# botocore names itself in its User-Agent as "md/Botocore#1.35.51" (the structured
# form of recent versions) and "Botocore/1.35.51" (the legacy form, which recent versions
# still append); the structured token is read first.
_UA_VERSIONS = (
    re.compile(r"(?:^|\s)md/Botocore#(\S+)"),
    re.compile(r"(?:^|\s)Botocore/(\S+)"),
)
_RELEASE = re.compile(r"\d+(?:\.\d+)*")


@functools.lru_cache(maxsize=1)
def _service_model() -> ServiceModel:
    return ServiceModel(Loader().load_service_model(_SERVICE, "service-2"), _SERVICE)


def client_botocore_version(user_agent: Optional[str]) -> Optional[tuple[int, ...]]:
    """The botocore version a User-Agent names, or None for another client.

    >>> client_botocore_version("Boto3/1.35.51 md/Botocore#1.35.51 ua/2.0 Botocore/1.35.51")
    (1, 35, 51)
    >>> client_botocore_version("Boto3/1.28.0 Python/3.11.7 Linux/6.1 Botocore/1.31.0")
    (1, 31, 0)
    >>> client_botocore_version("curl/8.5.0") is None
    True
    """
    for pattern in _UA_VERSIONS:
        match = pattern.search(user_agent or "")
        if match:
            return _release(match.group(1))
    return None


def _release(version: str) -> Optional[tuple[int, ...]]:
    """``"1.35.51"`` (or ``"1.35.51.dev0"``) -> ``(1, 35, 51)``; None if not a version."""
    match = _RELEASE.match(version)
    return tuple(int(part) for part in match.group().split(".")[:3]) if match else None


def check_client(user_agent: Optional[str], *, model_version: str = MODEL_BOTOCORE) -> None:
    """Refuse (``ValidationException``) a client whose botocore is older than the model's.

    A client that does not name its botocore is accepted, and so is a newer one: the
    emulator's older model is then the stricter side.

    Example::

        >>> check_client("Boto3/1.35.50 md/Botocore#1.35.50", model_version="1.35.51")
        Traceback (most recent call last):
        ...
        ApiError: This client's botocore 1.35.50 is older than botocore 1.35.51, ...
    """
    client = client_botocore_version(user_agent)
    model = _release(model_version)
    if client is None or model is None or client >= model:
        return
    shown = ".".join(map(str, client))
    raise validation(
        f"This client's botocore {shown} is older than botocore {model_version}, whose "
        "Redshift Data API model the local emulator validates against: the emulator would "
        "accept members and operations this client's own model lacks. Either start the "
        "local stack from the client's environment (contabyx-local down, then that "
        "environment's contabyx-local up) or upgrade the client's boto3."
    )


def operation_names() -> frozenset[str]:
    """Every operation the service model defines (``ExecuteStatement``, ...)."""
    return frozenset(_service_model().operation_names)


def _operation(name: str) -> OperationModel:
    return _service_model().operation_model(name)


def _path(path: str, member: str) -> str:
    # AWS reports member paths in camelCase: 'sql', 'parameters.1.member.name'.
    head = member[:1].lower() + member[1:]
    return f"{path}.{head}" if path else head


def _shown(value: Any) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def _check_type(shape: Shape, value: Any) -> bool:
    kind = shape.type_name
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("double", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind in ("structure", "map"):
        return isinstance(value, dict)
    if kind == "timestamp":
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    return isinstance(value, str)  # blob: base64 text


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if not _check_type(shape, value):
        errors.append(
            f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
            f"Member must be of type {shape.type_name}"
        )
        return
    meta = shape.metadata
    if shape.type_name == "string":
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum and value not in enum:
            errors.append(
                f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]"
            )
        if "min" in meta and len(value) < meta["min"]:
            errors.append(
                f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {meta['min']}"
            )
        if "max" in meta and len(value) > meta["max"]:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        if "pattern" in meta and re.fullmatch(meta["pattern"], value) is None:
            errors.append(
                f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {meta['pattern']}"
            )
    elif shape.type_name in ("integer", "long"):
        if "min" in meta and value < meta["min"]:
            errors.append(
                f"Value {value} at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {meta['min']}"
            )
        if "max" in meta and value > meta["max"]:
            errors.append(
                f"Value {value} at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {meta['max']}"
            )
    elif isinstance(shape, ListShape):
        if "min" in meta and len(value) < meta["min"]:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {meta['min']}"
            )
        if "max" in meta and len(value) > meta["max"]:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {meta['max']}"
            )
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            _check(shape.value, item, f"{path}.{key}", errors)
    elif isinstance(shape, StructureShape):
        for member in shape.required_members:
            if value.get(member) is None:
                errors.append(
                    f"Value null at '{_path(path, member)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for member, item in value.items():
            # Unknown members are ignored, as AWS ignores them.
            if member in shape.members and item is not None:
                _check(shape.members[member], item, _path(path, member), errors)


def validate_request(operation: str, request: Any) -> None:
    """Raise a ``ValidationException`` unless ``request`` fits the operation's input shape.

    Example::

        >>> validate_request("ExecuteStatement", {"Sql": "SELECT 1", "ResultFormat": "XML"})
        Traceback (most recent call last):
        ...
        ApiError: 1 validation error detected: Value 'XML' at 'resultFormat' ...
    """
    shape = _operation(operation).input_shape
    if shape is None:
        return
    if not isinstance(request, dict):
        raise validation("The request body must be a JSON object.")
    errors: list[str] = []
    _check(shape, request, "", errors)
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise validation(f"{count} validation {noun} detected: " + "; ".join(errors))
