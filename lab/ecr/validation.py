"""Request validation against botocore's ECR service model, as ECR's front end does it.

ECR answers a constraint violation (required member, length, range, pattern, enum) with
`InvalidParameterException: Invalid parameter at 'X' failed to satisfy constraint: 'Member must
...'` (e.g. trek10inc/ecr-cleaner#8: "'Member must have length less than or equal to 100'"),
except for repositoryName, whose own check reads "'must satisfy regular expression '...''" and
"'must have length greater than or equal to 2'" (jenkins-x/jx#1344, aws/aws-dotnet-deploy#549).
A member of the wrong JSON type fails earlier, in deserialisation: `SerializationException`.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from lab.botocore_session import service_model as botocore_service_model
from lab.ecr.errors import INVALID_PARAMETER, UNKNOWN_OPERATION
from lab.errors import AwsError
from lab.store import is_text

# Members whose check is ECR's own rather than the generic one.
_OWN_WORDING = {"repositoryName"}
# String shapes whose characters the operation checks itself (InvalidTagParameterException).
_OWN_CHARACTERS = {"TagKey", "TagValue"}
# Patterns ECR checks beyond botocore's model, by shape, as ECR words them (the pattern in
# ECR's spelling, then ours). An image tag, wherever it appears: "Invalid parameter at
# 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_.]+''"
# (alexjurkiewicz/ecr-scan-image#40, DescribeImageScanFindings; datawire/forge#99,
# DescribeImages; carvel-dev/kbld's docs, PutImage through the registry).
_OWN_PATTERNS: dict[str, tuple[str, re.Pattern[str]]] = {
    "ImageTag": ("[a-zA-Z0-9-_.]+", re.compile(r"[a-zA-Z0-9_.-]+")),
}


def service_model() -> ServiceModel:
    """botocore's model of the ECR API (loaded once, isolated from the user's AWS config)."""
    return botocore_service_model("ecr")


def operation_model(operation: str) -> OperationModel:
    """The model of one ECR operation; an unknown name is ECR's UnknownOperationException."""
    if operation not in service_model().operation_names:
        raise UNKNOWN_OPERATION()
    return service_model().operation_model(operation)


def validate_input(operation: str, params: dict[str, Any]) -> None:
    """Raise the AwsError ECR would answer `params` with, or return if they are valid."""
    shape = operation_model(operation).input_shape
    if shape is None:
        return
    if not isinstance(params, dict):
        raise _serialization("the request body is not a JSON object")
    _check_structure(shape, params, prefix="")


def decode_blob(value: str) -> bytes:
    """A JSON 1.1 blob member (base64 text) as bytes; undecodable text fails deserialisation."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _serialization("a blob member is not valid base64") from error


def _serialization(reason: str) -> AwsError:
    # Coral's own wording here names Java classes; the lab says what was wrong instead.
    return AwsError("SerializationException", reason)


def _check_structure(shape: Shape, value: dict[str, Any], prefix: str) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            raise INVALID_PARAMETER(member=prefix + name, constraint="Member must not be null")
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _check_value(
                member, value[name], prefix + name, own=not prefix and name in _OWN_WORDING
            )


def _check_value(shape: Shape, value: Any, path: str, *, own: bool = False) -> None:
    kind = shape.type_name
    _check_type(kind, value, path)
    if kind == "structure":
        _check_structure(shape, value, prefix=path + ".")
    elif kind == "list":
        _check_length(shape, len(value), path, own)
        for index, item in enumerate(value, start=1):
            _check_value(shape.member, item, f"{path}.{index}.member")
    elif kind == "map":
        for key, item in value.items():
            _check_value(shape.key, key, f"{path}.key")
            _check_value(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        _check_string(shape, value, path, own)
    elif kind == "blob":
        _check_length(shape, len(decode_blob(value)), path, own)
    elif kind in ("integer", "long"):
        _check_range(shape, value, path)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "map": (dict,),
    "list": (list,),
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
}


def _check_type(kind: str, value: Any, path: str) -> None:
    expected = _JSON_TYPES.get(kind, (object,))
    # bool is an int in Python but not in JSON
    wrong_bool = isinstance(value, bool) and bool not in expected
    if wrong_bool or not isinstance(value, expected):
        raise _serialization(f"member '{path}' is not a JSON {kind}")


def _check_string(shape: Shape, value: str, path: str, own: bool) -> None:
    if shape.name not in _OWN_CHARACTERS and not is_text(value):
        # (lab) a JSON escape of a lone surrogate names no character: undecodable, like bad UTF-8
        raise _serialization(f"member '{path}' is not Unicode text")
    enum = shape.enum
    if enum and value not in enum:
        raise INVALID_PARAMETER(
            member=path, constraint=f"Member must satisfy enum value set: [{', '.join(enum)}]"
        )
    _check_length(shape, len(value), path, own)
    own_pattern = _OWN_PATTERNS.get(shape.name)
    if own_pattern and not own_pattern[1].fullmatch(value):
        raise INVALID_PARAMETER(
            member=path.rpartition(".")[2],  # the member's own name, however deep it sits
            constraint=f"must satisfy regular expression '{own_pattern[0]}'",
        )
    pattern = shape.metadata.get("pattern")
    if pattern and not _compiled(pattern).fullmatch(value):
        if own:
            raise INVALID_PARAMETER(
                member=path, constraint=f"must satisfy regular expression '{pattern}'"
            )
        raise INVALID_PARAMETER(
            member=path, constraint=f"Member must satisfy regular expression pattern: {pattern}"
        )


def _check_length(shape: Shape, length: int, path: str, own: bool) -> None:
    _check_bounds(shape, length, path, ("must" if own else "Member must") + " have length")


def _check_range(shape: Shape, value: int, path: str) -> None:
    _check_bounds(shape, value, path, "Member must have value")


def _check_bounds(shape: Shape, measured: int, path: str, subject: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measured < low:
        raise INVALID_PARAMETER(member=path, constraint=f"{subject} greater than or equal to {low}")
    if high is not None and measured > high:
        raise INVALID_PARAMETER(member=path, constraint=f"{subject} less than or equal to {high}")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
