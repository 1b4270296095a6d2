"""IamDirectory: roles, users and their policies read from embedded moto, cached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.errors import AwsError
from lab.identity.credentials import Identity, root_identity
from lab.identity.directory import IamDirectory, name_from_arn
from lab.policy.model import PolicySet
from lab.upstream.embedded import EmbeddedMoto
from tests.tutorial import EC2_TRUST

ACCOUNT = "123456789012"
# Spacing kept on purpose: the directory must hand back IAM's text, not a re-serialisation.
ECR_FULL = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"


def _allow(action: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
        }
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedMoto, IamDirectory]]:
    upstream = EmbeddedMoto(tmp_path_factory.mktemp("directory"), "ap-northeast-1")
    iam = upstream.client("iam")
    boundary = iam.create_policy(PolicyName="edge", PolicyDocument=_allow("ecr:*"))["Policy"]["Arn"]
    mine = iam.create_policy(PolicyName="mine", PolicyDocument=_allow("s3:GetObject"))["Policy"]
    iam.create_policy_version(
        PolicyArn=mine["Arn"], PolicyDocument=_allow("s3:*"), SetAsDefault=True
    )
    iam.create_role(
        RoleName="instance",
        Path="/lab/",
        AssumeRolePolicyDocument=EC2_TRUST,
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    iam.attach_role_policy(RoleName="instance", PolicyArn=ECR_FULL)
    iam.attach_role_policy(RoleName="instance", PolicyArn=mine["Arn"])
    iam.put_role_policy(RoleName="instance", PolicyName="inline", PolicyDocument=_allow("sqs:*"))
    iam.create_user(UserName="bob", Path="/people/")
    iam.put_user_policy(UserName="bob", PolicyName="own", PolicyDocument=_allow("sns:*"))
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="bob")
    iam.put_group_policy(GroupName="devs", PolicyName="team", PolicyDocument=_allow("ssm:*"))
    iam.attach_group_policy(GroupName="devs", PolicyArn=ECR_FULL)
    yield upstream, IamDirectory(upstream)
    upstream.close()


def test_role_by_name_and_by_exact_arn(world: tuple[EmbeddedMoto, IamDirectory]) -> None:
    _, directory = world
    role = directory.role("instance")
    assert role is not None
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/lab/instance"
    assert (role.name, role.path, role.max_session_duration) == ("instance", "/lab/", 7200)
    assert role.role_id.startswith("AROA")
    assert role.tags == {"team": "blue"}
    assert directory.role(role.arn) == role
    assert directory.role(f"arn:aws:iam::{ACCOUNT}:role/instance") is None  # path missing
    assert directory.role("arn:aws:iam::999999999999:role/lab/instance") is None
    assert directory.role(f"arn:aws:iam::{ACCOUNT}:user/lab/instance") is None
    assert directory.role("nobody") is None


def test_role_documents_are_iams_text(world: tuple[EmbeddedMoto, IamDirectory]) -> None:
    _, directory = world
    role = directory.role("instance")
    assert role is not None
    assert role.trust_policy == EC2_TRUST
    assert role.boundary_policy == _allow("ecr:*")
    names = [name for name, _ in role.policies]
    assert names == ["AmazonEC2ContainerRegistryFullAccess", "mine", "inline"]
    documents = dict(role.policies)
    assert documents["mine"] == _allow("s3:*")  # the default version, not v1
    assert documents["inline"] == _allow("sqs:*")
    assert '"ecr:*"' in documents["AmazonEC2ContainerRegistryFullAccess"]


def test_user_includes_its_groups_policies(world: tuple[EmbeddedMoto, IamDirectory]) -> None:
    _, directory = world
    user = directory.user(f"arn:aws:iam::{ACCOUNT}:user/people/bob")
    assert user is not None
    assert (user.name, user.path, user.boundary_policy) == ("bob", "/people/", None)
    assert [name for name, _ in user.policies] == [
        "own",
        "AmazonEC2ContainerRegistryFullAccess",
        "team",
    ]
    assert directory.user("alice") is None


def test_cache_holds_until_invalidate(world: tuple[EmbeddedMoto, IamDirectory]) -> None:
    upstream, directory = world
    iam = upstream.client("iam")
    assert directory.role("later") is None
    iam.create_role(RoleName="later", AssumeRolePolicyDocument=EC2_TRUST)
    assert directory.role("later") is None  # cached miss
    directory.invalidate()
    assert directory.role("later") is not None


def test_identity_policies_of_a_role_session(world: tuple[EmbeddedMoto, IamDirectory]) -> None:
    _, directory = world
    role = directory.role("instance")
    assert role is not None
    session = Identity(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/instance/i-0abc",
        account=ACCOUNT,
        user_id=f"{role.role_id}:i-0abc",
        role_arn=role.arn,
        session_name="i-0abc",
        session_policy=_allow("ecr:BatchGetImage"),
    )
    policies = directory.identity_policies(session)
    assert [p.name for p in policies.identity] == [
        "AmazonEC2ContainerRegistryFullAccess",
        "mine",
        "inline",
    ]
    assert policies.boundary is not None and policies.boundary.statements[0].action == ("ecr:*",)
    assert policies.session is not None
    assert policies.session.statements[0].action == ("ecr:BatchGetImage",)
    assert policies.resource is None


def test_identity_policies_of_root_user_and_the_departed(
    world: tuple[EmbeddedMoto, IamDirectory],
) -> None:
    _, directory = world
    assert directory.identity_policies(root_identity(ACCOUNT)) == PolicySet()
    bob = Identity(f"arn:aws:iam::{ACCOUNT}:user/people/bob", ACCOUNT, "AIDAEXAMPLE")
    assert [p.name for p in directory.identity_policies(bob).identity] == [
        "own",
        "AmazonEC2ContainerRegistryFullAccess",
        "team",
    ]
    gone = Identity(f"arn:aws:iam::{ACCOUNT}:user/ghost", ACCOUNT, "AIDAGHOST")
    with pytest.raises(AwsError) as raised:
        directory.identity_policies(gone)
    assert raised.value.code == "InvalidClientTokenId"


def test_name_from_arn() -> None:
    assert name_from_arn("arn:aws:iam::1:role/a/b/name", "role") == "name"
    assert name_from_arn("name", "role") == "name"
    assert name_from_arn("arn:aws:sts::1:assumed-role/r/s", "role") == ""


def test_directory_survives_an_upstream_restart(tmp_path: Path) -> None:
    other = "210987654321"  # another account: the module's world stays untouched
    first = EmbeddedMoto(tmp_path, "ap-northeast-1", account=other)
    first.client("iam").create_role(RoleName="durable", AssumeRolePolicyDocument=EC2_TRUST)
    before = IamDirectory(first).role("durable")
    first.close()
    after = IamDirectory(EmbeddedMoto(tmp_path, "ap-northeast-1", account=other)).role("durable")
    assert before is not None and after is not None
    assert after.arn == f"arn:aws:iam::{other}:role/durable"
    assert (after.arn, after.role_id, after.trust_policy) == (
        before.arn,
        before.role_id,
        before.trust_policy,
    )
