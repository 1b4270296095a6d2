"""The lab's STS: trust policies decide AssumeRole as AWS does, with AWS's messages.

Sources: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html and the
messages quoted in lab/identity/sts.py's docstring.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lab.errors import AwsError
from lab.identity.credentials import CredentialStore, Identity, root_identity
from lab.identity.directory import IamDirectory
from lab.identity.sts import INSTANCE_PROFILE_DURATION, Sts
from lab.upstream.embedded import EmbeddedMoto

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def _trust(principal: dict[str, Any], actions: list[str] | None = None) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": actions or ["sts:AssumeRole"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _allow(action: str, resource: str = "*") -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


class World:
    """Roles and users in embedded moto, the directory and STS over them."""

    def __init__(self, state_dir: Path) -> None:
        self.upstream = EmbeddedMoto(state_dir, "ap-northeast-1")
        self.iam = self.upstream.client("iam")
        self.directory = IamDirectory(self.upstream)
        self.credentials = CredentialStore(state_dir)
        self.sts = Sts(self.directory, self.credentials, ACCOUNT)
        self.role("ec2-role", _trust({"Service": "ec2.amazonaws.com"}))
        self.role("lambda-role", _trust({"Service": "lambda.amazonaws.com"}))
        self.role("account-trust", _trust({"AWS": ROOT}), max_session=7200)
        self.role("tagging", _trust({"AWS": ROOT}, ["sts:AssumeRole", "sts:TagSession"]))
        self.role("source", _trust({"AWS": ROOT}))
        self.iam.put_role_policy(
            RoleName="source", PolicyName="hop", PolicyDocument=_allow("sts:AssumeRole")
        )
        self.role("target-by-role", _trust({"AWS": _arn("source")}), max_session=7200)
        self.user("plain")
        self.user("assumer", _allow("sts:AssumeRole", _arn("*")))
        self.user("tagger", _allow("sts:*"))

    def role(self, name: str, trust: str, max_session: int = 3600) -> None:
        self.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=trust, MaxSessionDuration=max_session
        )

    def user(self, name: str, policy: str | None = None) -> None:
        self.iam.create_user(UserName=name)
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)

    def identity(self, user: str) -> Identity:
        info = self.directory.user(user)
        assert info is not None
        return Identity(info.arn, ACCOUNT, info.user_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    created = World(tmp_path_factory.mktemp("sts"))
    yield created
    created.upstream.close()


def _assume(world: World, caller: Identity, role: str, **params: Any) -> dict[str, Any]:
    return world.sts.assume_role(
        caller, {"RoleArn": _arn(role), "RoleSessionName": "s1", **params}, {}
    )


def _refusal(world: World, caller: Identity, role: str, **params: Any) -> AwsError:
    with pytest.raises(AwsError) as raised:
        _assume(world, caller, role, **params)
    return raised.value


def test_instance_session_when_the_trust_policy_allows_ec2(world: World) -> None:
    now = datetime.now(UTC)
    credential = world.sts.instance_session(_arn("ec2-role"), "i-0123456789abcdef0")
    identity = credential.identity
    role = world.directory.role("ec2-role")
    assert role is not None
    assert identity.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/ec2-role/i-0123456789abcdef0"
    assert identity.user_id == f"{role.role_id}:i-0123456789abcdef0"
    assert (identity.role_arn, identity.source) == (role.arn, "ec2.amazonaws.com")
    assert identity.source_instance == "i-0123456789abcdef0"
    assert credential.access_key_id.startswith("ASIA")
    assert credential.expiration is not None
    expected = now + timedelta(seconds=INSTANCE_PROFILE_DURATION)
    assert abs(credential.expiration - expected) < timedelta(seconds=5)
    assert world.credentials.lookup(credential.access_key_id) == credential


def test_instance_session_refused_when_the_trust_policy_names_another_service(
    world: World,
) -> None:
    with pytest.raises(AwsError) as raised:
        world.sts.instance_session(_arn("lambda-role"), "i-0123456789abcdef0")
    assert raised.value.code == "AccessDenied"
    assert raised.value.message == (
        "User: ec2.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: "
        f"{_arn('lambda-role')}"
    )


def test_account_root_in_trust_needs_an_identity_allow_exact_message(world: World) -> None:
    plain = world.identity("plain")
    refusal = _refusal(world, plain, "account-trust")
    assert (refusal.code, refusal.status) == ("AccessDenied", 403)
    assert refusal.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/plain is not authorized to perform: "
        f"sts:AssumeRole on resource: {_arn('account-trust')}"
    )
    output = _assume(world, world.identity("assumer"), "account-trust")
    assert output["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/account-trust/s1"
    )


def test_the_account_root_may_not_assume_roles(world: World) -> None:
    refusal = _refusal(world, root_identity(ACCOUNT), "account-trust")
    assert (refusal.code, refusal.message) == (
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
    )


def test_an_identity_allow_without_trust_is_refused(world: World) -> None:
    # "assumer" may sts:AssumeRole on role/*, but lambda-role trusts only lambda.amazonaws.com.
    refusal = _refusal(world, world.identity("assumer"), "lambda-role")
    assert refusal.code == "AccessDenied"


def test_assume_role_output_and_stored_session(world: World) -> None:
    output = _assume(world, world.identity("assumer"), "account-trust")
    role = world.directory.role("account-trust")
    assert role is not None
    assert output["AssumedRoleUser"]["AssumedRoleId"] == f"{role.role_id}:s1"
    credentials = output["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["SecretAccessKey"]) == 40
    stored = world.credentials.lookup(credentials["AccessKeyId"])
    assert stored is not None and stored.session_token == credentials["SessionToken"]
    assert stored.identity.role_arn == role.arn


def test_a_trust_naming_the_role_arn_admits_its_sessions(world: World) -> None:
    source = _assume(world, world.identity("assumer"), "source", RoleSessionName="hopper")
    session = world.credentials.lookup(source["Credentials"]["AccessKeyId"])
    assert session is not None
    output = _assume(world, session.identity, "target-by-role")
    assert output["AssumedRoleUser"]["Arn"].endswith(":assumed-role/target-by-role/s1")
    # Role chaining caps the session at one hour, whatever the role's maximum (7200 here).
    refusal = _refusal(world, session.identity, "target-by-role", DurationSeconds=7200)
    assert (refusal.code, refusal.message) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining.",
    )
    # Another role's session is not the role the trust policy names.
    refusal = _refusal(world, world.identity("assumer"), "target-by-role")
    assert refusal.code == "AccessDenied"


def test_a_role_that_does_not_exist_is_access_denied_not_a_404(world: World) -> None:
    refusal = _refusal(world, world.identity("assumer"), "absent")
    assert refusal.code == "AccessDenied"
    assert refusal.message.endswith(f"on resource: {_arn('absent')}")


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        (
            899,
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value greater than or equal to 900",
        ),
        (
            43201,
            "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value less than or equal to 43200",
        ),
        (7201, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."),
    ],
)
def test_duration_bounds(world: World, duration: int, message: str) -> None:
    refusal = _refusal(world, world.identity("assumer"), "account-trust", DurationSeconds=duration)
    assert (refusal.code, refusal.message) == ("ValidationError", message)


def test_duration_default_and_up_to_the_roles_maximum(world: World) -> None:
    now = datetime.now(UTC)
    default = _assume(world, world.identity("assumer"), "account-trust")
    assert abs(default["Credentials"]["Expiration"] - now - timedelta(hours=1)) < timedelta(
        seconds=5
    )
    longest = _assume(world, world.identity("assumer"), "account-trust", DurationSeconds="7200")
    assert abs(longest["Credentials"]["Expiration"] - now - timedelta(hours=2)) < timedelta(
        seconds=5
    )


@pytest.mark.parametrize(
    ("name", "constraint"),
    [
        ("a:b", r"Member must satisfy regular expression pattern: [\w+=,.@-]*"),
        ("PowerUser/x", r"Member must satisfy regular expression pattern: [\w+=,.@-]*"),
        ("a", "Member must have length greater than or equal to 2"),
        ("s" * 65, "Member must have length less than or equal to 64"),
    ],
)
def test_invalid_session_names(world: World, name: str, constraint: str) -> None:
    refusal = _refusal(world, world.identity("assumer"), "account-trust", RoleSessionName=name)
    assert refusal.code == "ValidationError"
    assert refusal.message == (
        f"1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy "
        f"constraint: {constraint}"
    )


def test_valid_session_name_characters(world: World) -> None:
    name = "i-0abc_+=,.@x"
    output = _assume(world, world.identity("assumer"), "account-trust", RoleSessionName=name)
    assert output["AssumedRoleUser"]["Arn"].endswith(f"/account-trust/{name}")


def test_several_violations_are_reported_together(world: World) -> None:
    refusal = _refusal(
        world, world.identity("assumer"), "account-trust", RoleSessionName="a", DurationSeconds=1
    )
    assert refusal.message.startswith(
        "2 validation errors detected: Value 'a' at 'roleSessionName'"
    )
    assert "; Value '1' at 'durationSeconds'" in refusal.message


def test_missing_session_name(world: World) -> None:
    with pytest.raises(AwsError) as raised:
        world.sts.assume_role(world.identity("assumer"), {"RoleArn": _arn("account-trust")}, {})
    assert raised.value.message == (
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_session_policy_is_validated_and_kept(world: World) -> None:
    refusal = _refusal(world, world.identity("assumer"), "account-trust", Policy='{"Statement": 1}')
    assert refusal.code == "MalformedPolicyDocument"
    policy = _allow("ecr:BatchGetImage")
    output = _assume(world, world.identity("assumer"), "account-trust", Policy=policy)
    stored = world.credentials.lookup(output["Credentials"]["AccessKeyId"])
    assert stored is not None and stored.identity.session_policy == policy


def test_session_tags_need_sts_tag_session(world: World) -> None:
    tags = [{"Key": "project", "Value": "fa-085"}]
    refusal = _refusal(world, world.identity("tagger"), "account-trust", Tags=tags)
    assert refusal.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/tagger is not authorized to perform: "
        f"sts:TagSession on resource: {_arn('account-trust')}"
    )
    output = _assume(world, world.identity("tagger"), "tagging", Tags=tags)
    stored = world.credentials.lookup(output["Credentials"]["AccessKeyId"])
    assert stored is not None and stored.identity.tags == {"project": "fa-085"}


def test_get_caller_identity(world: World) -> None:
    bob = world.identity("plain")
    assert world.sts.get_caller_identity(bob) == {
        "UserId": bob.user_id,
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/plain",
    }
