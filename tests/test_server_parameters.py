"""What executes is exactly what was authorized, through real HTTP against
`ecr-lab serve --scenario fa-085`: a form field given twice, or in both the URL and the body,
is refused (it could be read two ways: the front door once read the last value of the body,
moto the first value and the URL first); JSON with a repeated key is refused likewise; and a
list longer than the model allows is refused in linear time, before any other work.

AWS's error for a query string that does not adhere to the protocol: `InvalidQueryParameter`,
HTTP 400 ("The AWS query string is malformed or does not adhere to AWS standards", IAM and STS
API references, Common Errors: https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab.server.protocols import ECR_TARGET_PREFIX
from tests.server_support import JSON_1_1, Answer, query_call, send, serve, signed_headers

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

REGION = "ap-northeast-1"  # the scenario's
ACCOUNT = "000000000000"
ROLE_2 = "fa-085-EC2Stack-16BBODB5DWYO1-InstanceRole2-1T9FJ5QGMV2EG"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
ROLE_2_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_2}"
VERSION = "Version=2010-05-08"
STS_VERSION = "Version=2011-06-15"


def assume_role_form(extra: str) -> str:
    """An AssumeRole form for instance 2's role with `extra` fields."""
    return f"Action=AssumeRole&RoleArn={ROLE_2_ARN}&RoleSessionName=session&{extra}&{STS_VERSION}"


@dataclass(frozen=True)
class Served:
    url: str
    state: Path

    def client(self, service: str, credentials: Credentials | None = None):
        keys = credentials or Credentials("test", "test")
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
        )

    def query(self, body: str, credentials: Credentials, *, query: str = "", service="iam"):
        return query_call(
            self.url, body, query=query, service=service, region=REGION, credentials=credentials
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = tmp_path_factory.mktemp("parameters") / "state"
    with serve(state, "--scenario", "fa-085") as (_, url):
        yield Served(url, state)


def error(answer: Answer) -> tuple[int, str, str]:
    """(status, code, message) of a query-protocol error."""
    found = {el.tag.rsplit("}", 1)[-1]: el.text or "" for el in ET.fromstring(answer.body).iter()}
    return answer.status, found.get("Code", ""), found.get("Message", "")


def allow(action: str, resource: str = "*") -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def trusting(user_arn: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def new_user(served: Served, name: str, **policies: str) -> Credentials:
    iam = served.client("iam")
    iam.create_user(UserName=name)
    for policy_name, document in policies.items():
        iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def attached(served: Served, user: str) -> list[str]:
    policies = served.client("iam").list_attached_user_policies(UserName=user)
    return [policy["PolicyArn"] for policy in policies["AttachedPolicies"]]


def trust_of(served: Served, role: str) -> dict:
    return served.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]


REFUSED = (400, "InvalidQueryParameter")


def test_a_list_roles_user_cannot_become_administrator_nor_redirect_a_role(
    tmp_path: Path,
) -> None:
    """The whole chain: ListRoles-only user -> administrator -> re-trust instance 2's role ->
    pull fa-085. Each step is refused, nothing changes, and a restart (the IAM journal
    replayed) shows the same state."""
    state = tmp_path / "state"
    with serve(state, "--scenario", "fa-085") as (_, url):
        served = Served(url, state)
        iam = served.client("iam")
        me = new_user(served, "me", lister=allow("iam:ListRoles"))
        arn = iam.get_user(UserName="me")["User"]["Arn"]
        policy_arn = quote(ADMINISTRATOR, safe="")

        # The action it may do works, through the same front door.
        assert served.query(f"Action=ListRoles&{VERSION}", me).status == 200

        # A second Action: once authorized as the last (ListRoles), executed as the first.
        polluted = f"Action=AttachUserPolicy&UserName=me&PolicyArn={policy_arn}&Action=ListRoles"
        answer = served.query(f"{polluted}&{VERSION}", me)
        assert error(answer)[:2] == REFUSED
        # The Action in the URL, ListRoles in the body: once authorized from the body only.
        answer = served.query(
            f"Action=ListRoles&{VERSION}",
            me,
            query=f"Action=AttachUserPolicy&UserName=me&PolicyArn={policy_arn}",
        )
        assert error(answer)[:2] == REFUSED
        assert attached(served, "me") == []

        # One resource parameter twice, or in the URL and the body: the role it may change,
        # "mine", is what was authorized; instance 2's role is what moto changed.
        iam.create_role(RoleName="mine", AssumeRolePolicyDocument=trusting(arn))
        iam.put_user_policy(
            UserName="me",
            PolicyName="own-role",
            PolicyDocument=allow("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/mine"),
        )
        before = trust_of(served, ROLE_2)
        document = quote(trusting(arn), safe="")
        update = f"Action=UpdateAssumeRolePolicy&PolicyDocument={document}&{VERSION}"
        answer = served.query(f"{update}&RoleName={ROLE_2}&RoleName=mine", me)
        assert error(answer)[:2] == REFUSED
        answer = served.query(f"{update}&RoleName=mine", me, query=f"RoleName={ROLE_2}")
        assert error(answer)[:2] == REFUSED
        # A parameter only in the URL is the one authorized (and here denied).
        status, code, message = error(served.query(update, me, query=f"RoleName={ROLE_2}"))
        assert (status, code) == (403, "AccessDenied")
        assert message.startswith(
            f"User: {arn} is not authorized to perform: iam:UpdateAssumeRolePolicy on "
            f"resource: arn:aws:iam::{ACCOUNT}:role/{ROLE_2}"
        )
        assert trust_of(served, ROLE_2) == before
        # The same call, unambiguous, on the role it may change: executed as authorized.
        assert served.query(f"{update}&RoleName=mine", me).status == 200

        # The end of the chain stays out of reach: no session of role 2, no pull of fa-085.
        with pytest.raises(ClientError) as raised:
            served.client("sts", me).assume_role(RoleArn=ROLE_2_ARN, RoleSessionName="x1")
        assert raised.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as raised:
            served.client("ecr", me).batch_get_image(
                repositoryName="fa-085", imageIds=[{"imageTag": "latest"}]
            )
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException"

    with serve(state, "--scenario", "fa-085") as (_, url):  # the journal, replayed
        served = Served(url, state)
        assert attached(served, "me") == []
        assert trust_of(served, ROLE_2) == before


def test_sts_refuses_a_repeated_parameter_and_issues_nothing(served: Served) -> None:
    me = new_user(served, "sts-caller", assume=allow("sts:AssumeRole"))
    answer = served.query(assume_role_form(f"RoleArn={ROLE_2_ARN}"), me, service="sts")
    assert error(answer)[:2] == REFUSED
    answer = served.query(
        f"Action=GetCallerIdentity&{STS_VERSION}",
        me,
        query="Action=AssumeRole",
        service="sts",
    )
    assert error(answer)[:2] == REFUSED


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("", f"Action=GetRole&RoleName=mine&Role%4Eame={ROLE_2}"),  # percent-encoded once
        (f"Role%4Eame={ROLE_2}", "Action=GetRole&RoleName=mine"),
        ("Action=GetRole", "Acti%6Fn=GetRole&RoleName=mine"),  # even with the same value
    ],
)
def test_a_name_spelled_two_ways_is_given_twice(served: Served, query: str, body: str) -> None:
    me = new_user(served, f"speller-{len(query)}-{len(body)}", getter=allow("iam:GetRole"))
    assert error(served.query(f"{body}&{VERSION}", me, query=query))[:2] == REFUSED


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("ListImages", b'{"repositoryName":"fa-085","repositoryName":"other"}'),
        ("ListImages", rb'{"repositoryName":"fa-085","repositor\u0079Name":"other"}'),
        (
            "BatchGetImage",
            b'{"repositoryName":"fa-085","imageIds":[{"imageTag":"a","imageTag":"b"}]}',
        ),
    ],
)
def test_json_with_a_repeated_key_is_refused(served: Served, operation: str, body: bytes) -> None:
    """A repeated key could be read two ways (RFC 8259: names SHOULD be unique, and readers
    differ on which one wins): refused as a body ECR's front end cannot deserialise."""
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + operation, "Content-Type": JSON_1_1}
    signed = signed_headers(served.url, "POST", "/", headers, body, service="ecr", region=REGION)
    answer = send(served.url, "POST", "/", signed, body)
    assert answer.status == 400
    assert answer.json()["__type"] == "SerializationException"
    assert "repeated" in answer.json()["message"]


def _tags(count: int) -> str:
    pairs = (f"Tags.member.{n}.Key=k{n}&Tags.member.{n}.Value=v" for n in range(1, count + 1))
    return "&".join(pairs)


def test_assume_role_with_more_than_50_session_tags_is_a_validation_error(
    served: Served,
) -> None:
    """AssumeRole takes at most 50 session tags (botocore's model: tagListType max 50)."""
    me = new_user(served, "tagger", assume=allow("sts:AssumeRole"))
    status, code, message = error(served.query(assume_role_form(_tags(51)), me, service="sts"))
    assert (status, code) == (400, "ValidationError")
    assert message.startswith("1 validation error detected: Value '[{Key: k1, Value: v}, ")
    assert message.endswith(
        "' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_iam_lists_are_bounded_before_authorization(served: Served) -> None:
    """TagRole takes at most 50 tags: refused as invalid before anything is authorized."""
    me = new_user(served, "role-tagger", lister=allow("iam:ListRoles"))
    body = f"Action=TagRole&RoleName={ROLE_2}&{_tags(60)}&{VERSION}"
    status, code, message = error(served.query(body, me))
    assert (status, code) == (400, "ValidationError")
    assert "at 'tags' failed to satisfy constraint: Member must have length less than or " in (
        message
    )


def test_huge_tag_lists_do_not_starve_an_ordinary_call(served: Served) -> None:
    """Six AssumeRole bodies of 20,000 tags each, then an ordinary call: every one answered
    (the list is read in one pass and refused at its length; reading it once took time
    quadratic in its size, minutes per body, and held every worker)."""
    me = new_user(served, "flooder", assume=allow("sts:AssumeRole"))
    body = assume_role_form(_tags(20_000))
    with ThreadPoolExecutor(6) as pool:
        floods = [pool.submit(served.query, body, me, service="sts") for _ in range(6)]
        ordinary = served.query(f"Action=GetCallerIdentity&{STS_VERSION}", me, service="sts")
        answers = [flood.result() for flood in floods]
    assert ordinary.status == 200
    assert b"<Arn>arn:aws:iam::000000000000:user/flooder</Arn>" in ordinary.body
    assert {error(answer)[:2] for answer in answers} == {(400, "ValidationError")}
