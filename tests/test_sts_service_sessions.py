"""Sessions AWS services open with a role: trusted service principal, the service's own naming.

Sources: EC2 names the session after the instance (the tutorial's denial message); Lambda after
the function (bluesentry/bucket-antivirus-function#109: assumed-role/${RoleName}/${FunctionName});
ECS after the task ID (aws/amazon-ecs-agent#3498: "the session ID is the task ID").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lab.errors import AwsError
from lab.identity.credentials import CredentialStore
from lab.identity.directory import IamDirectory
from lab.identity.sts import DEFAULT_DURATION, INSTANCE_PROFILE_DURATION, Sts
from lab.upstream.embedded import EmbeddedMoto

ACCOUNT = "123456789012"


def _trust(*services: str) -> str:
    principal = {"Service": list(services)} if services else {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


class World:
    """Roles trusting each service, the directory and STS over them."""

    def __init__(self, state_dir: Path) -> None:
        self.upstream = EmbeddedMoto(state_dir, "us-east-1")
        self.directory = IamDirectory(self.upstream)
        self.sts = Sts(self.directory, CredentialStore(state_dir), ACCOUNT)
        iam = self.upstream.client("iam")
        for name, services in {
            "ec2-role": ("ec2.amazonaws.com",),
            "fn-role": ("lambda.amazonaws.com",),
            "task-role": ("ecs-tasks.amazonaws.com",),
            "both": ("lambda.amazonaws.com", "ec2.amazonaws.com"),
            "people": (),
        }.items():
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(*services))

    def role_id(self, name: str) -> str:
        role = self.directory.role(name)
        assert role is not None
        return role.role_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    created = World(tmp_path_factory.mktemp("service-sessions"))
    yield created
    created.upstream.close()


def _expires_in(credential: object, seconds: int) -> bool:
    expected = datetime.now(UTC) + timedelta(seconds=seconds)
    return abs(credential.expiration - expected) < timedelta(seconds=5)  # type: ignore[attr-defined]


def test_service_session_names_the_session_as_asked(world: World) -> None:
    credential = world.sts.service_session(_arn("fn-role"), "lambda.amazonaws.com", "resize")

    identity = credential.identity
    assert identity.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/resize"
    assert identity.user_id == f"{world.role_id('fn-role')}:resize"
    assert (identity.role_arn, identity.source) == (_arn("fn-role"), "lambda.amazonaws.com")
    assert identity.source_instance is None
    assert _expires_in(credential, DEFAULT_DURATION)


def test_service_session_refused_for_a_service_the_trust_policy_does_not_name(
    world: World,
) -> None:
    with pytest.raises(AwsError) as raised:
        world.sts.service_session(_arn("ec2-role"), "lambda.amazonaws.com", "resize")

    assert raised.value.code == "AccessDenied"
    assert raised.value.message == (
        "User: lambda.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: "
        f"{_arn('ec2-role')}"
    )


def test_instance_session_is_the_ec2_service_session(world: World) -> None:
    credential = world.sts.instance_session(_arn("ec2-role"), "i-0123456789abcdef0")

    assert credential.identity.source == "ec2.amazonaws.com"
    assert credential.identity.source_instance == "i-0123456789abcdef0"
    assert _expires_in(credential, INSTANCE_PROFILE_DURATION)


@pytest.mark.parametrize(
    ("role", "service", "session"),
    [
        ("ec2-role", "ec2.amazonaws.com", r"i-[0-9a-f]{17}"),
        ("fn-role", "lambda.amazonaws.com", r"fn-role"),
        ("task-role", "ecs-tasks.amazonaws.com", r"[0-9a-f]{32}"),
        ("both", "ec2.amazonaws.com", r"i-[0-9a-f]{17}"),  # EC2 first, as the tutorial's roles
    ],
)
def test_role_session_is_issued_to_the_service_the_trust_policy_names(
    world: World, role: str, service: str, session: str
) -> None:
    identity = world.sts.role_session(_arn(role)).identity

    assert identity.source == service
    assert re.fullmatch(rf"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", identity.arn)


def test_role_session_of_a_role_no_service_may_assume_is_refused_as_ec2(world: World) -> None:
    for role in ("people", "missing"):
        with pytest.raises(AwsError) as raised:
            world.sts.role_session(_arn(role))
        assert raised.value.message == (
            "User: ec2.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: "
            f"{_arn(role)}"
        )
