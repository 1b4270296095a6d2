"""Bad input at the front door: AWS's error, nothing changed, never a 5xx or a traceback.

The order of checks and the 404 for non-JSON requests are those of AWS's JSON front end as
captured against DynamoDB by mhart/dynalite (index.js): method and content type, then JSON
syntax, then the X-Amz-Target, then the signature, then member types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.server.config import MAX_API_BODY, LabConfig
from lab.server.protocols import ECR_TARGET_PREFIX
from lab.server.run import RunningLab
from tests.conftest import client
from tests.server_support import JSON_1_1, Answer, ecr_call, send, signed_headers

pytestmark = pytest.mark.slow

NOT_FOUND = b"<UnknownOperationException/>\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    with RunningLab(LabConfig(state_dir=tmp_path_factory.mktemp("input") / "state")) as running:
        client(running, "ecr").create_repository(repositoryName="kept")
        yield running


def repositories(lab: RunningLab) -> list[str]:
    listed = client(lab, "ecr").describe_repositories()["repositories"]
    return sorted(r["repositoryName"] for r in listed)


def assert_aws_error(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.json()["__type"] == code
    assert answer.headers["x-amzn-requestid"]


def test_malformed_json_is_serialization_exception(lab: RunningLab) -> None:
    answer = ecr_call(lab, "CreateRepository", b'{"repositoryName": "new"')
    assert_aws_error(answer, 400, "SerializationException")
    assert repositories(lab) == ["kept"]


def test_a_json_array_body_is_serialization_exception(lab: RunningLab) -> None:
    assert_aws_error(ecr_call(lab, "DescribeRepositories", b"[]"), 400, "SerializationException")


def test_unknown_target_is_unknown_operation(lab: RunningLab) -> None:
    assert_aws_error(ecr_call(lab, "MakeCoffee"), 400, "UnknownOperationException")


def test_another_services_target_is_unknown_operation(lab: RunningLab) -> None:
    headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": JSON_1_1}
    signed = signed_headers(lab.url, "POST", "/", headers, b"{}", service="ecr")
    assert_aws_error(send(lab.url, "POST", "/", signed, b"{}"), 400, "UnknownOperationException")


def test_unknown_target_is_refused_before_the_signature_is_checked(lab: RunningLab) -> None:
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + "MakeCoffee", "Content-Type": JSON_1_1}
    answer = send(lab.url, "POST", "/", headers, b"{}")
    assert_aws_error(answer, 400, "UnknownOperationException")


@pytest.mark.parametrize(
    "body",
    [
        {"repositoryName": 123},
        {"repositoryName": ["a"]},
        {"repositoryName": {"nested": True}},
        {"repositoryName": "typed", "imageTagMutability": 1},
        {"repositoryName": "typed", "tags": "not-a-list"},
        {"repositoryName": "typed", "tags": [1, 2]},
        {"repositoryName": "typed", "encryptionConfiguration": []},
    ],
)
def test_wrong_member_types_are_serialization_exceptions(lab: RunningLab, body: dict) -> None:
    answer = ecr_call(lab, "CreateRepository", json.dumps(body).encode())
    assert_aws_error(answer, 400, "SerializationException")
    assert repositories(lab) == ["kept"]


def test_constraint_violations_are_invalid_parameter(lab: RunningLab) -> None:
    answer = ecr_call(lab, "DescribeRepositories", b'{"maxResults": 100000}')
    assert_aws_error(answer, 400, "InvalidParameterException")


def test_an_oversized_body_is_413_and_the_connection_is_answered(lab: RunningLab) -> None:
    body = b'{"repositoryName": "' + b"x" * (MAX_API_BODY + 1) + b'"}'
    answer = ecr_call(lab, "CreateRepository", body)
    assert_aws_error(answer, 413, "RequestEntityTooLargeException")
    assert repositories(lab) == ["kept"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_a_json_content_type_is_404(
    lab: RunningLab, content_type: str | None
) -> None:
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + "CreateRepository"}
    if content_type:
        headers["Content-Type"] = content_type
    body = b'{"repositoryName": "by-text"}'
    signed = signed_headers(lab.url, "POST", "/", headers, body, service="ecr")
    answer = send(lab.url, "POST", "/", signed, body)
    assert (answer.status, answer.body) == (404, NOT_FOUND)
    assert repositories(lab) == ["kept"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_methods_other_than_post_on_the_json_api_are_404(lab: RunningLab, method: str) -> None:
    answer = ecr_call(lab, "DeleteRepository", b'{"repositoryName": "kept"}', method=method)
    assert answer.status == 404
    assert answer.body == (b"" if method == "HEAD" else NOT_FOUND)
    assert repositories(lab) == ["kept"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_methods_other_than_get_and_post_on_the_query_api_change_nothing(
    lab: RunningLab, method: str
) -> None:
    body = b"Action=CreateUser&Version=2010-05-08&UserName=sneaky"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    signed = signed_headers(lab.url, method, "/", headers, body, service="iam")
    answer = send(lab.url, method, "/", signed, body)
    assert 400 <= answer.status < 500
    assert b"<Code>" in answer.body
    assert "sneaky" not in {u["UserName"] for u in client(lab, "iam").list_users()["Users"]}


def test_an_unknown_iam_action_is_invalid_action(lab: RunningLab) -> None:
    body = b"Action=MakeCoffee&Version=2010-05-08"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    signed = signed_headers(lab.url, "POST", "/", headers, body, service="iam")
    answer = send(lab.url, "POST", "/", signed, body)
    assert answer.status == 400
    assert b"<Code>InvalidAction</Code>" in answer.body


# ---- fuzz -------------------------------------------------------------------------------------

# What http.client can put in a header: latin-1 text without control characters.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=60
)
TARGETS = st.one_of(
    st.sampled_from([ECR_TARGET_PREFIX + op for op in ("CreateRepository", "PutImage", "X", "")]),
    HEADER_TEXT.map(lambda t: ECR_TARGET_PREFIX + t),
    HEADER_TEXT,
    st.none(),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=10,
)
ECR_MEMBERS = st.sampled_from(
    ["repositoryName", "registryId", "imageIds", "tags", "maxResults", "nextToken", "policyText"]
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(ECR_MEMBERS, JSON_VALUES).map(lambda v: json.dumps(v).encode()),
)


def assert_well_formed(answer: Answer) -> None:
    assert answer.status < 500, answer.body
    assert b"Traceback" not in answer.body


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE"]),
    target=TARGETS,
    body=BODIES,
    signed=st.booleans(),
    content_type=st.sampled_from([JSON_1_1, "application/json", None]),
)
def test_fuzz_random_requests_never_5xx(
    lab: RunningLab,
    method: str,
    target: str | None,
    body: bytes,
    signed: bool,
    content_type: str | None,
) -> None:
    headers = {"X-Amz-Target": target} if target is not None else {}
    if content_type:
        headers["Content-Type"] = content_type
    if signed:
        headers = signed_headers(lab.url, method, "/", headers, body, service="ecr")
    assert_well_formed(send(lab.url, method, "/", headers, body))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(authorization=HEADER_TEXT, date=HEADER_TEXT, token=HEADER_TEXT)
def test_fuzz_broken_authorization_headers_never_5xx(
    lab: RunningLab, authorization: str, date: str, token: str
) -> None:
    headers = {
        "X-Amz-Target": ECR_TARGET_PREFIX + "DescribeRepositories",
        "Content-Type": JSON_1_1,
        "Authorization": "AWS4-HMAC-SHA256 " + authorization,
        "X-Amz-Date": date,
        "X-Amz-Security-Token": token,
    }
    answer = send(lab.url, "POST", "/", headers, b"{}")
    assert_well_formed(answer)
    assert answer.status in (400, 403)
