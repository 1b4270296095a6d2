"""The two AWS wire protocols the front door speaks, driven by botocore's service models.

JSON 1.1 (ECR) and query/XML (IAM, STS). botocore only serialises requests and parses
responses (the client's side), so the server's side is written here, walking the same shapes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape

from lab import json_input
from lab.botocore_session import service_model
from lab.errors import AwsError
from lab.http import HttpResponse

ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ORGANIZATIONS_TARGET_PREFIX = "AWSOrganizationsV20161128."
SECRETSMANAGER_TARGET_PREFIX = "secretsmanager."


def operation_model(service: str, operation: str) -> OperationModel | None:
    """The operation's model, or None when the service has no such operation."""
    model = service_model(service)
    return model.operation_model(operation) if operation in model.operation_names else None


def request_id() -> str:
    return str(uuid.uuid4())


# ---- JSON 1.1 ---------------------------------------------------------------------------------


NOT_A_STRUCTURE = "Start of structure or map found where not expected."
JSON_CONTENT_TYPES = (
    "application/x-amz-json-1.1",
    "application/x-amz-json-1.0",
    "application/json",
)


def is_json_call(method: str, content_type: str | None, body: bytes) -> bool:
    """Whether AWS's JSON front end takes the request at all: a POST, whose body (if any) is
    declared JSON (mhart/dynalite, index.js, as captured against DynamoDB)."""
    declared = (content_type or "").split(";")[0].strip().lower()
    return method == "POST" and (not body or declared in JSON_CONTENT_TYPES)


def json_not_found(rid: str) -> HttpResponse:
    """AWS's answer to a request its JSON front end does not take: 404, a bare XML tag."""
    body = b"<UnknownOperationException/>\n"
    return HttpResponse(404, [("content-length", str(len(body))), ("x-amzn-requestid", rid)], body)


def parse_json_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; AWS answers anything else with SerializationException.

    A key repeated in one object is refused: readers differ on which value wins (RFC 8259
    leaves it open), so the object authorized could differ from the one executed.
    """
    try:
        params = json_input.loads(body or b"{}", object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise AwsError("SerializationException", NOT_A_STRUCTURE) from exc
    if not isinstance(params, dict):
        raise AwsError("SerializationException", NOT_A_STRUCTURE)
    return params


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise AwsError("SerializationException", f"The key '{key}' is repeated in an object")
        found[key] = value
    return found


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(result: Mapping[str, Any], rid: str) -> HttpResponse:
    body = json.dumps(result, default=_json_default, separators=(",", ":")).encode()
    return HttpResponse(200, _json_headers(rid, len(body)), body)


def json_error(error: AwsError, rid: str) -> HttpResponse:
    """AWS's JSON 1.1 error: `__type` and `message`, the code also in x-amzn-ErrorType."""
    body = json.dumps({"__type": error.code, "message": error.message, **error.members}).encode()
    headers = [*_json_headers(rid, len(body)), ("x-amzn-errortype", f"{error.code}:")]
    return HttpResponse(error.status, headers, body)


def _json_headers(rid: str, length: int) -> list[tuple[str, str]]:
    return [
        ("content-type", "application/x-amz-json-1.1"),
        ("content-length", str(length)),
        ("x-amzn-requestid", rid),
    ]


# ---- query / XML ------------------------------------------------------------------------------


def invalid_action(fields: Mapping[str, str]) -> AwsError:
    """The query protocol's answer to an action it does not know (or a method it does not take)."""
    action, version = fields.get("Action", ""), fields.get("Version", "")
    return AwsError("InvalidAction", f"Could not find operation {action} for version {version}")


def xml_response(op: OperationModel, result: Mapping[str, Any], rid: str) -> HttpResponse:
    """A query-protocol success: `<OpResponse><OpResult>...</OpResult><ResponseMetadata>`."""
    namespace = op.service_model.metadata.get("xmlNamespace", "")
    inner = _write_members(op.output_shape, result) if op.output_shape is not None else ""
    wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape else None
    result_xml = f"<{wrapper}>{inner}</{wrapper}>" if wrapper else inner
    body = (
        f'<{op.name}Response xmlns="{namespace}">{result_xml}'
        f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{op.name}Response>"
    ).encode()
    return HttpResponse(200, _xml_headers(rid, len(body)), body)


def xml_error(error: AwsError, rid: str, service: str = "iam") -> HttpResponse:
    """A query-protocol error, as IAM and STS send it: in the service's own XML namespace
    (STS: `https://sts.amazonaws.com/doc/2011-06-15/`, cognitect-labs/aws-api#27)."""
    kind = "Sender" if error.sender_fault else "Receiver"
    namespace = service_model(service if service in ("iam", "sts") else "iam").metadata.get(
        "xmlNamespace", ""
    )
    body = (
        f'<ErrorResponse xmlns="{namespace}">'
        f"<Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    ).encode()
    return HttpResponse(error.status, _xml_headers(rid, len(body)), body)


def _xml_headers(rid: str, length: int) -> list[tuple[str, str]]:
    return [
        ("content-type", "text/xml"),
        ("content-length", str(length)),
        ("x-amzn-requestid", rid),
    ]


def _write_members(shape: Shape, value: Mapping[str, Any]) -> str:
    return "".join(
        f"<{name}>{_write_value(member, value[name])}</{name}>"
        for name, member in shape.members.items()
        if value.get(name) is not None
    )


def _write_value(shape: Shape, value: Any) -> str:
    if shape.type_name == "structure":
        return _write_members(shape, value)
    if shape.type_name == "list":
        return "".join(f"<member>{_write_value(shape.member, item)}</member>" for item in value)
    if shape.type_name == "timestamp":
        if isinstance(value, int | float):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))
