"""The front door's invariant, fuzzed through real HTTP: for any request, the action and the
parameters authorized are the ones executed.

Requests are built from parameters drawn from botocore's models (the truth), encoded by
botocore, then perturbed as a hostile caller would: fields moved between the URL and the body,
fields repeated with other values, a second Action, unknown fields, JSON keys repeated at any
depth. The pipeline is instrumented in process: what the authorizer saw, what the IAM upstream
received, what STS and ECR ran with. An ambiguous request is refused and nothing runs; any
other request runs with exactly the drawn parameters, and was authorized for exactly those.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from botocore.model import Shape
from botocore.serialize import QuerySerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.botocore_session import service_model
from lab.ecr.actions import target
from lab.errors import AwsError
from lab.identity.credentials import Identity
from lab.server.authorize import Call
from lab.server.config import LabConfig
from lab.server.protocols import ECR_TARGET_PREFIX
from lab.server.run import RunningLab
from lab.server.targets import iam_resources
from tests.server_support import JSON_1_1, Answer, send, signed_headers

ACCOUNT = "000000000000"
REGION = "us-east-1"
QUERY_OPERATIONS = [
    ("iam", "ListRoles"),
    ("iam", "GetRole"),
    ("iam", "AttachUserPolicy"),
    ("iam", "UpdateAssumeRolePolicy"),
    ("iam", "TagRole"),
    ("iam", "PutUserPolicy"),
    ("iam", "CreateUser"),
    ("iam", "DeleteRole"),
    ("sts", "AssumeRole"),
]
ECR_OPERATIONS = [
    "ListImages",
    "BatchGetImage",
    "DescribeImages",
    "GetRepositoryPolicy",
    "SetRepositoryPolicy",
    "TagResource",
    "UntagResource",
    "DescribeRepositories",
    "CreateRepository",
    "BatchDeleteImage",
    "GetLifecyclePolicy",
    "ListTagsForResource",
    "DeleteRepository",
]
NAMES = ["alpha", "beta/one", "victim"]
# Member names whose values must look real for a call to get past validation to execution.
OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "repositoryName": st.sampled_from(NAMES),
    "registryId": st.sampled_from([ACCOUNT, "111111111111"]),
    "resourceArn": st.sampled_from(
        [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}" for name in NAMES]
    ),
    "RoleName": st.sampled_from(["mine", "victim", "admin-role"]),
    "UserName": st.sampled_from(["me", "victim"]),
    "PolicyArn": st.sampled_from(
        [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ]
    ),
    "RoleArn": st.sampled_from([f"arn:aws:iam::{ACCOUNT}:role/mine"]),
}
# Text that the form and JSON encodings must carry through untouched.
TEXT = st.text(alphabet="ab/-_=&+%.:*?#[] é☃\"'\\", min_size=1, max_size=8)


def from_shape(shape: Shape, name: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of a botocore shape: required members always, optional ones sometimes."""
    if name in OVERRIDES:
        return OVERRIDES[name]
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        members = {
            member: from_shape(sub, member, depth + 1)
            for member, sub in shape.members.items()
            if member in shape.required_members or depth < 3
        }
        required = {k: v for k, v in members.items() if k in shape.required_members}
        optional = {k: v for k, v in members.items() if k not in required}
        if required or not depth or not optional:
            return st.fixed_dictionaries(required, optional=optional)
        # A nested structure with nothing in it is no structure on the wire: give it one member.
        return st.sampled_from(sorted(optional)).flatmap(
            lambda one: st.fixed_dictionaries(
                {one: optional[one]}, optional={k: v for k, v in optional.items() if k != one}
            )
        )
    if kind == "list":
        low, high = min(meta.get("min", 0), 3), min(meta.get("max", 3), 3)
        return st.lists(from_shape(shape.member, name, depth + 1), min_size=low, max_size=high)
    if kind in ("integer", "long"):
        return st.integers(meta.get("min", 0), min(meta.get("max", 10**6), 10**6))
    if kind == "boolean":
        return st.booleans()
    if shape.enum:
        return st.sampled_from(shape.enum)
    return TEXT


@dataclass
class Seen:
    """What the instrumented pipeline saw for one request."""

    calls: list[Call] = field(default_factory=list)
    forwarded: list[bytes] = field(default_factory=list)
    assumed: list[dict] = field(default_factory=list)
    handled: list[tuple[str, dict, str]] = field(default_factory=list)

    def nothing(self) -> bool:
        return not (self.calls or self.forwarded or self.assumed or self.handled)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningLab, Seen]]:
    """A lab whose authorizer, IAM upstream, STS and ECR record what they are given."""
    config = LabConfig(state_dir=tmp_path_factory.mktemp("fuzz") / "state")
    with RunningLab(config) as running:
        seen = Seen()
        lab = running.lab
        home = lab.account_of(ACCOUNT)
        decide, forward = lab.authorizer.decide, home.upstream.forward
        assume_role, handle = home.sts.assume_role, lab.ecr.handle

        def record_decide(call: Call, now: Any = None) -> Any:
            seen.calls.append(call)
            return decide(call, now)

        def record_forward(service: str, form: bytes) -> Any:
            seen.forwarded.append(form)
            return forward(service, form)

        def record_assume_role(caller: Any, params: dict, context: Any) -> Any:
            seen.assumed.append(copy.deepcopy(dict(params)))
            return assume_role(caller, params, context)

        def record_handle(operation: str, params: dict, *, account: str, region: str) -> Any:
            seen.handled.append((operation, copy.deepcopy(params), account))
            return handle(operation, params, account=account, region=region)

        lab.authorizer.decide = record_decide  # type: ignore[method-assign]
        home.upstream.forward = record_forward  # type: ignore[method-assign]
        home.sts.assume_role = record_assume_role  # type: ignore[method-assign]
        lab.ecr.handle = record_handle  # type: ignore[method-assign]
        yield running, seen


def _reset(seen: Seen) -> None:
    seen.calls.clear()
    seen.forwarded.clear()
    seen.assumed.clear()
    seen.handled.clear()


# ---- the query protocol (IAM, STS) ------------------------------------------------------------


@st.composite
def query_requests(draw: st.DrawFn) -> tuple[str, str, dict, list, list]:
    """(service, operation, drawn params, URL pairs, body pairs), perturbed."""
    service, operation = draw(st.sampled_from(QUERY_OPERATIONS))
    op = service_model(service).operation_model(operation)
    params = draw(from_shape(op.input_shape))
    fields = [(k, str(v)) for k, v in _encoded(params, op).items()]
    names = [name for name, _ in fields]
    # Repeats of fields given, and fields no request of this operation has (which it ignores).
    unknown = [n for n in ("RoleName", "UserName") if n not in op.input_shape.members]
    extra = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*unknown, "Junk", "X.member.1", *names]),
                st.sampled_from(["ListRoles", "GetRole", "victim", "mine", ""]),
            ),
            max_size=1,
        )
    )
    pairs = draw(st.permutations(fields + extra))
    in_url = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    url_pairs = [pair for pair, url in zip(pairs, in_url, strict=True) if url]
    body_pairs = [pair for pair, url in zip(pairs, in_url, strict=True) if not url]
    return service, operation, params, url_pairs, body_pairs


def _encoded(params: dict, op: Any) -> dict[str, Any]:
    """botocore's form fields for `params` (Action and Version included)."""
    return QuerySerializer().serialize_to_request(params, op)["body"]


def _query_call(running: RunningLab, service: str, url_pairs: list, body_pairs: list) -> Answer:
    query = urlencode(url_pairs, quote_via=quote)
    path = "/" + (f"?{query}" if query else "")
    body = urlencode(body_pairs).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    signed = signed_headers(running.url, "POST", path, headers, body, service=service)
    return send(running.url, "POST", path, signed, body)


def _iam_resources_now(
    running: RunningLab, service: str, operation: str, params: dict
) -> list[str] | None:
    """The ARNs an IAM call must be authorized on, as IAM's state is before it runs (None
    when its path is one IAM refuses)."""
    if service != "iam":
        return []
    root = Identity(arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT, user_id=ACCOUNT)
    lookup = running.lab.account_of(ACCOUNT).directory.entity_arn
    try:
        return iam_resources(operation, params, root, lookup)
    except AwsError:
        return None


def _error_code(answer: Answer) -> str:
    text = answer.body.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=query_requests())
def test_query_executes_exactly_what_was_authorized(
    lab: tuple[RunningLab, Seen], request: tuple[str, str, dict, list, list]
) -> None:
    running, seen = lab
    _reset(seen)
    service, operation, params, url_pairs, body_pairs = request
    expected_resources = _iam_resources_now(running, service, operation, params)
    answer = _query_call(running, service, url_pairs, body_pairs)
    names = [name for name, _ in url_pairs + body_pairs]
    if len(set(names)) < len(names):  # ambiguous: refused, and nothing authorized or run
        assert (answer.status, _error_code(answer)) == (400, "InvalidQueryParameter")
        assert seen.nothing()
        return
    op = service_model(service).operation_model(operation)
    if service == "sts":
        assert seen.assumed == [params]
        return
    if expected_resources is None:  # a path IAM refuses: nothing authorized or run
        assert (answer.status, _error_code(answer)) == (400, "ValidationError")
        assert seen.nothing()
        return
    assert [(call.action, call.resource) for call in seen.calls] == [
        (f"iam:{operation}", resource) for resource in expected_resources
    ]
    [form] = seen.forwarded
    executed = parse_qsl(form.decode(), keep_blank_values=True)
    expected = _encoded(params, op)
    assert len({name for name, _ in executed}) == len(executed)  # one value per field
    assert dict(executed) == {name: str(value) for name, value in expected.items()}


# ---- the JSON protocol (ECR) ------------------------------------------------------------------


def _json_text(value: Any, repeat: list[tuple[int, str]], counter: list[int]) -> str:
    """JSON for `value`; object number n (in document order) gets `repeat`'s key again."""
    if isinstance(value, dict):
        number = counter[0]
        counter[0] += 1
        members = [f"{json.dumps(k)}:{_json_text(v, repeat, counter)}" for k, v in value.items()]
        members += [
            f"{json.dumps(key)}:{json.dumps('other')}"
            for target_number, key in repeat
            if target_number == number and key
        ]
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item, repeat, counter) for item in value) + "]"
    return json.dumps(value)


def _objects(value: Any) -> list[dict]:
    """Every JSON object in `value`, in document order."""
    if isinstance(value, dict):
        return [value, *(found for item in value.values() for found in _objects(item))]
    if isinstance(value, list):
        return [found for item in value for found in _objects(item)]
    return []


@st.composite
def json_requests(draw: st.DrawFn) -> tuple[str, dict, bytes, bool]:
    """(operation, drawn params, body, whether a key was repeated)."""
    operation = draw(st.sampled_from(ECR_OPERATIONS))
    params = draw(from_shape(service_model("ecr").operation_model(operation).input_shape))
    objects = _objects(params)
    repeat: list[tuple[int, str]] = []
    if draw(st.booleans()):
        number = draw(st.integers(0, len(objects) - 1))
        keys = sorted(objects[number]) or [""]
        repeat = [(number, draw(st.sampled_from(keys)))]
    body = _json_text(params, repeat, [0]).encode()
    return operation, params, body, any(key for _, key in repeat)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=json_requests())
def test_json_executes_exactly_what_was_authorized(
    lab: tuple[RunningLab, Seen], request: tuple[str, dict, bytes, bool]
) -> None:
    running, seen = lab
    _reset(seen)
    operation, params, body, repeated = request
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + operation, "Content-Type": JSON_1_1}
    signed = signed_headers(running.url, "POST", "/", headers, body, service="ecr")
    answer = send(running.url, "POST", "/", signed, body)
    if repeated:
        assert (answer.status, answer.json()["__type"]) == (400, "SerializationException")
        assert seen.nothing()
        return
    if answer.status == 200:
        assert seen.handled
    if not seen.handled:
        return  # refused before it ran (ECR's validation), which the other tests pin
    [(ran, executed, account)] = seen.handled
    goal = target(operation, params, account=ACCOUNT, region=REGION)
    assert (ran, executed) == (operation, params)
    assert account == (goal.repository[0] if goal.repository else ACCOUNT)
    [call] = seen.calls
    assert (call.action, call.resource) == (goal.action, goal.resource)
    if isinstance(params.get("tags"), list):
        assert call.request_tags == {tag["Key"]: tag["Value"] for tag in params["tags"]}
