"""EC2's VPC endpoint calls. A scenario's ECR endpoints are the lab's own (moto would give them
other ids): DescribeVpcEndpoints and ModifyVpcEndpoint (PolicyDocument, ResetPolicy) on them are
served here. Every other call of FORWARDED (CreateVpc, CreateVpcEndpoint, ...) goes to the IAM
home's EC2, and the endpoints it holds are read back from there (`read_endpoints`).

Shapes from botocore's EC2 model; wire format of EC2's query API: `<XResponse>` with
`requestId`, lists as `<item>`, errors as `<Response><Errors><Error>` (EC2 API Reference,
"Error codes"): InvalidVpcEndpointId.NotFound, InvalidPolicyDocument, UnauthorizedOperation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from xml.sax.saxutils import escape

from lab.errors import AwsError
from lab.http import HttpResponse
from lab.policy.document import PolicyError
from lab.server.guardrails import DENY_ALL, FULL_ENDPOINT_DOCUMENT, VpcEndpoint, rcp

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
OPERATIONS = ("DescribeVpcEndpoints", "ModifyVpcEndpoint")
# Forwarded to the IAM home's EC2: what setting up an ECR endpoint with the aws CLI takes.
FORWARDED = frozenset(
    {
        "CreateVpc", "DeleteVpc", "DescribeVpcs",
        "CreateSubnet", "DeleteSubnet", "DescribeSubnets",
        "CreateVpcEndpoint", "ModifyVpcEndpoint", "DeleteVpcEndpoints", "DescribeVpcEndpoints",
    }
)  # fmt: skip
# The services whose endpoints carry a session's ECR requests (ECR User Guide, vpc-endpoints).
ECR_SERVICES = ("ecr.api", "ecr.dkr")
_INVALID_POLICY = "The Policy Document is not valid."


def endpoint_arn(region: str, account: str, endpoint_id: str) -> str:
    """The endpoint's ARN (Service Authorization Reference, EC2's vpc-endpoint resource)."""
    return f"arn:aws:ec2:{region}:{account}:vpc-endpoint/{endpoint_id}"


# Each forwarded call's resources: (parameter naming them, resource type) in the Service
# Authorization Reference's terms (list_amazonec2.html); no parameter: the new one, "TYPE/*".
_RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "CreateVpc": (("", "vpc"),),
    "DeleteVpc": (("VpcId", "vpc"),),
    "CreateSubnet": (("", "subnet"), ("VpcId", "vpc")),
    "DeleteSubnet": (("SubnetId", "subnet"),),
    "CreateVpcEndpoint": (
        ("", "vpc-endpoint"),
        ("VpcId", "vpc"),
        ("SubnetIds", "subnet"),
        ("SecurityGroupIds", "security-group"),
    ),
    "ModifyVpcEndpoint": (("VpcEndpointId", "vpc-endpoint"),),
    "DeleteVpcEndpoints": (("VpcEndpointIds", "vpc-endpoint"),),
}


def resources(action: str, params: Mapping[str, Any], region: str, account: str) -> list[str]:
    """The ARNs a forwarded EC2 call is authorized on ("*" for Describe calls, which EC2 does
    not scope to resources)."""
    found: list[str] = []
    for param, kind in _RESOURCES.get(action, ()):
        value = params.get(param, []) if param else ["*"]
        for name in value if isinstance(value, list) else [value]:
            found.append(f"arn:aws:ec2:{region}:{account}:{kind}/{name}")
    return found or ["*"]


def checked(action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters to forward: a policy document that is no endpoint policy is refused
    before anything changes, and ResetPolicy becomes AWS's default document (moto 5.2 ignores
    ResetPolicy)."""
    out = dict(params)
    if action == "ModifyVpcEndpoint" and out.pop("ResetPolicy", False):
        out["PolicyDocument"] = json.dumps(FULL_ENDPOINT_DOCUMENT)
    if "PolicyDocument" in out:
        try:
            rcp(out["PolicyDocument"])
        except (PolicyError, ValueError, TypeError):
            raise AwsError("InvalidPolicyDocument", _INVALID_POLICY) from None
    return out


def read_endpoints(client: Any) -> dict[str, VpcEndpoint]:
    """The available ECR endpoints an EC2 endpoint (a botocore client of the IAM home) holds.
    A policy that no longer parses is read as denying everything (fail closed)."""
    found: dict[str, VpcEndpoint] = {}
    for page in client.get_paginator("describe_vpc_endpoints").paginate():
        for item in page["VpcEndpoints"]:
            service = item.get("ServiceName", "").rsplit(".", 2)
            if ".".join(service[-2:]) not in ECR_SERVICES or item.get("State") != "available":
                continue  # only an available endpoint carries requests (a deleted one is listed)
            endpoint_id = item["VpcEndpointId"]
            document = item.get("PolicyDocument") or json.dumps(FULL_ENDPOINT_DOCUMENT)
            try:
                policy = rcp(document, endpoint_id)
            except (PolicyError, ValueError, TypeError):
                policy = rcp(DENY_ALL, f"{endpoint_id} (unreadable: denies everything)")
            found[endpoint_id] = VpcEndpoint(
                endpoint_id, item["VpcId"], ".".join(service[-2:]), policy, document
            )
    return found


def not_found(endpoint_id: str) -> AwsError:
    return AwsError(
        "InvalidVpcEndpointId.NotFound", f"The Vpc Endpoint Id '{endpoint_id}' does not exist"
    )


def requested_ids(fields: Mapping[str, str]) -> list[str]:
    """DescribeVpcEndpoints' `VpcEndpointId.N`, in order."""
    numbered = [
        (k.split(".", 1)[1], v) for k, v in fields.items() if k.startswith("VpcEndpointId.")
    ]
    return [v for _, v in sorted(numbered, key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)]


def modified(endpoint: VpcEndpoint, fields: Mapping[str, str]) -> VpcEndpoint:
    """The endpoint with ModifyVpcEndpoint's policy change; InvalidPolicyDocument when the new
    document is not an endpoint policy (it is checked before anything changes)."""
    if fields.get("ResetPolicy", "").lower() == "true":
        return replace(endpoint, policy=rcp(FULL_ENDPOINT_DOCUMENT, endpoint.endpoint_id))
    text = fields.get("PolicyDocument")
    if text is None:
        return endpoint
    try:
        policy = rcp(text, endpoint.endpoint_id)
    except (PolicyError, ValueError, TypeError):
        raise AwsError("InvalidPolicyDocument", _INVALID_POLICY) from None
    return replace(endpoint, policy=policy, document=text)


def modify_response(rid: str) -> HttpResponse:
    return _response("ModifyVpcEndpoint", "<return>true</return>", rid)


def describe_response(
    endpoints: list[VpcEndpoint], region: str, account: str, rid: str
) -> HttpResponse:
    items = "".join(
        "<item>"
        f"<vpcEndpointId>{e.endpoint_id}</vpcEndpointId><vpcEndpointType>Interface"
        f"</vpcEndpointType><vpcId>{e.vpc_id}</vpcId>"
        f"<serviceName>com.amazonaws.{region}.{_service(e.service)}</serviceName>"
        f"<state>available</state><policyDocument>{escape(e.document)}</policyDocument>"
        f"<ownerId>{account}</ownerId>"
        "</item>"
        for e in endpoints
    )
    return _response("DescribeVpcEndpoints", f"<vpcEndpointSet>{items}</vpcEndpointSet>", rid)


def _service(service: str) -> str:
    """A scenario's "ecr" endpoint is shown as ecr.api (it carries both ECR services)."""
    return service if "." in service else f"{service}.api"


def _response(operation: str, inner: str, rid: str) -> HttpResponse:
    body = (
        f'<{operation}Response xmlns="{NAMESPACE}"><requestId>{rid}</requestId>{inner}'
        f"</{operation}Response>"
    ).encode()
    headers = [("content-type", "text/xml"), ("content-length", str(len(body)))]
    return HttpResponse(200, headers, body)


def error_response(error: AwsError, rid: str) -> HttpResponse:
    """EC2's error body (not the IAM/STS `ErrorResponse`)."""
    body = (
        f"<Response><Errors><Error><Code>{escape(error.code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error></Errors>"
        f"<RequestID>{rid}</RequestID></Response>"
    ).encode()
    headers = [("content-type", "text/xml"), ("content-length", str(len(body)))]
    return HttpResponse(error.status, headers, body)
