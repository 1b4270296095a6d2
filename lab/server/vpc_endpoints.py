"""EC2's VPC endpoint calls for the lab's own ECR endpoints: DescribeVpcEndpoints and
ModifyVpcEndpoint (PolicyDocument, ResetPolicy), so an endpoint policy can be changed with
`aws ec2 modify-vpc-endpoint` as on AWS. The lab is the home of these endpoints (a scenario
declares them; moto would give them other ids), so it serves the calls itself.

Shapes from botocore's EC2 model; wire format of EC2's query API: `<XResponse>` with
`requestId`, lists as `<item>`, errors as `<Response><Errors><Error>` (EC2 API Reference,
"Error codes"): InvalidVpcEndpointId.NotFound, InvalidPolicyDocument, UnauthorizedOperation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from xml.sax.saxutils import escape

from lab.errors import AwsError
from lab.http import HttpResponse
from lab.policy.document import PolicyError
from lab.server.guardrails import FULL_ENDPOINT_DOCUMENT, VpcEndpoint, rcp

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
OPERATIONS = ("DescribeVpcEndpoints", "ModifyVpcEndpoint")


def endpoint_arn(region: str, account: str, endpoint_id: str) -> str:
    """The endpoint's ARN (Service Authorization Reference, EC2's vpc-endpoint resource)."""
    return f"arn:aws:ec2:{region}:{account}:vpc-endpoint/{endpoint_id}"


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
        raise AwsError("InvalidPolicyDocument", "The Policy Document is not valid.") from None
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
        f"<serviceName>com.amazonaws.{region}.{e.service}.api</serviceName>"
        f"<state>available</state><policyDocument>{escape(e.document)}</policyDocument>"
        f"<ownerId>{account}</ownerId>"
        "</item>"
        for e in endpoints
    )
    return _response("DescribeVpcEndpoints", f"<vpcEndpointSet>{items}</vpcEndpointSet>", rid)


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
