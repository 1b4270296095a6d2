"""AWS Organizations through the lab's front door, as the aws CLI would call it: the calls are
authorized as their IAM actions, forwarded to the IAM home (moto), and the SCPs and RCPs set up
this way are the ones the lab enforces, also after a restart.

Pages: Organizations User Guide ("SCP evaluation", "Enabling a policy type", "Resource control
policies"), Organizations API Reference (CreatePolicy: MalformedPolicyDocumentException).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.server_support import boto_client

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

DENY_CREATE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "ecr:CreateRepository", "Resource": "*"}],
}


def client(running: RunningLab, service: str, key: str = "test", secret: str = "test") -> Any:
    region = "us-east-1" if service == "organizations" else running.lab.config.region
    return boto_client(running, service, key, secret, region=region)


def organization_with_a_member(running: RunningLab) -> tuple[Any, str, str]:
    """The lab's account creates an organization, enables SCPs, and puts a new account into
    the Workloads OU. Returns (client, member account id, OU id)."""
    org = client(running, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    ou = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]
    status = org.create_account(Email="member@example.com", AccountName="member")
    member = status["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou["Id"])
    return org, member, ou["Id"]


def attach_deny(org: Any, target: str) -> str:
    policy = org.create_policy(
        Content=json.dumps(DENY_CREATE),
        Description="no new repositories",
        Name="NoNewRepositories",
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy, TargetId=target)
    return policy


def create_repository(running: RunningLab, account_key: str, name: str) -> str | None:
    try:
        client(running, "ecr", account_key).create_repository(repositoryName=name)
    except ClientError as error:
        return error.response["Error"]["Message"]
    return None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    with RunningLab(LabConfig(tmp_path / "state")) as running:
        yield running


def test_an_scp_attached_with_the_api_denies_in_the_member_account(lab: RunningLab) -> None:
    org, member, ou = organization_with_a_member(lab)
    assert create_repository(lab, member, "before") is None  # FullAWSAccess everywhere
    policy = attach_deny(org, ou)
    message = create_repository(lab, member, "after")
    assert message == (
        f"User: arn:aws:iam::{member}:root is not authorized to perform: ecr:CreateRepository "
        f"on resource: arn:aws:ecr:us-east-1:{member}:repository/after with an explicit deny "
        "in a service control policy"
    )
    # SCPs never apply to the management account (Organizations, "SCP evaluation").
    assert create_repository(lab, "test", "managed") is None
    listed = org.list_policies_for_target(TargetId=ou, Filter="SERVICE_CONTROL_POLICY")
    assert {p["Id"] for p in listed["Policies"]} == {"p-FullAWSAccess", policy}
    org.detach_policy(PolicyId=policy, TargetId=ou)
    assert create_repository(lab, member, "after") is None


def test_removing_full_aws_access_from_a_level_denies_by_default(lab: RunningLab) -> None:
    # "SCP evaluation": an Allow must exist at every level; without one, access is denied.
    org, member, ou = organization_with_a_member(lab)
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    message = create_repository(lab, member, "xx")
    assert message is not None
    assert message.endswith(
        "because no service control policy allows the ecr:CreateRepository action"
    )


def test_scps_apply_only_once_the_policy_type_is_enabled(lab: RunningLab) -> None:
    org = client(lab, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    member = org.create_account(Email="member@example.com", AccountName="m")["CreateAccountStatus"][
        "AccountId"
    ]
    policy = org.create_policy(
        Content=json.dumps(DENY_CREATE), Description="d", Name="n", Type="SERVICE_CONTROL_POLICY"
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy, TargetId=member)
    assert create_repository(lab, member, "aa") is None  # the type is not enabled yet
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    assert create_repository(lab, member, "bb") is not None


def test_guardrails_set_with_the_api_survive_a_restart(tmp_path: Path) -> None:
    config = LabConfig(tmp_path / "state")
    with RunningLab(config) as running:
        org, member, ou = organization_with_a_member(running)
        attach_deny(org, ou)
    with RunningLab(config) as running:
        message = create_repository(running, member, "after-restart")
        assert message is not None and message.endswith("in a service control policy")


def test_a_malformed_scp_is_refused_and_nothing_is_stored(lab: RunningLab) -> None:
    org = client(lab, "organizations")
    org.create_organization(FeatureSet="ALL")
    for content in ("{not json", json.dumps({"Statement": [{"Effect": "Deny"}]})):
        with pytest.raises(ClientError) as refused:
            org.create_policy(
                Content=content, Description="d", Name="bad", Type="SERVICE_CONTROL_POLICY"
            )
        assert refused.value.response["Error"] == {
            "Code": "MalformedPolicyDocumentException",
            "Message": "The provided policy document does not meet the requirements of the "
            "specified policy type.",
        }
    policies = org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert [p["Name"] for p in policies] == ["FullAWSAccess"]


def test_organizations_calls_are_authorized_as_their_iam_actions(lab: RunningLab) -> None:
    iam = client(lab, "iam")
    iam.create_user(UserName="dev")
    keys = iam.create_access_key(UserName="dev")["AccessKey"]
    org = client(lab, "organizations", keys["AccessKeyId"], keys["SecretAccessKey"])
    with pytest.raises(ClientError) as refused:
        org.create_organization(FeatureSet="ALL")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:iam::{lab.lab.config.account}:user/dev is not authorized to perform: "
        "organizations:CreateOrganization on resource: * because no identity-based policy "
        "allows the organizations:CreateOrganization action"
    )
    with pytest.raises(ClientError):
        client(lab, "organizations").describe_organization()  # nothing was created


def test_an_rcp_attached_with_the_api_limits_the_members_repositories(lab: RunningLab) -> None:
    # "Resource control policies": ECR is on the list; RCPFullAWSAccess stays attached.
    org, member, ou = organization_with_a_member(lab)
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "ecr:CreateRepository", "Resource": "*"}
        ],
    }
    policy = org.create_policy(
        Content=json.dumps(deny), Description="d", Name="n", Type="RESOURCE_CONTROL_POLICY"
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy, TargetId=ou)
    message = create_repository(lab, member, "blocked")
    assert message is not None
    assert message.endswith("with an explicit deny in a resource control policy")
    assert create_repository(lab, "test", "management-is-exempt") is None


def test_a_policy_the_lab_cannot_read_denies_everything(lab: RunningLab) -> None:
    # Fail closed: a guardrail stored some other way (here straight into the IAM home) that
    # does not parse is read as denying everything, never as absent.
    _, member, ou = organization_with_a_member(lab)
    home = lab.lab.upstream.client("organizations")
    policy = home.create_policy(
        Content='{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}',
        Description="d",
        Name="Garbled",
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    home.attach_policy(PolicyId=policy, TargetId=ou)
    lab.lab.read_organization(lab.lab.config.account)
    message = create_repository(lab, member, "anything")
    assert message is not None
    assert message.endswith("with an explicit deny in a service control policy")


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "ecr:*",
            "Resource": "*",
        },
        {"Effect": "Deny", "Principal": "*", "NotAction": "ecr:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},
    ],
)
def test_rcp_syntax_is_organizations(lab: RunningLab, statement: dict) -> None:
    # orgs_manage_policies_rcps_syntax.html: only RCPFullAWSAccess allows; Principal "*";
    # no NotAction; Action not "*".
    org = client(lab, "organizations")
    org.create_organization(FeatureSet="ALL")
    document = {"Version": "2012-10-17", "Statement": [statement]}
    with pytest.raises(ClientError) as refused:
        org.create_policy(
            Content=json.dumps(document),
            Description="d",
            Name="n",
            Type="RESOURCE_CONTROL_POLICY",
        )
    assert refused.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"


def test_another_accounts_organization_leaves_the_first_ones_guardrails(lab: RunningLab) -> None:
    # Hostile: an account outside the organization creates its own; the member's SCPs hold.
    org, member, ou = organization_with_a_member(lab)
    attach_deny(org, ou)
    lab.lab.add_account("444455556666")
    client(lab, "organizations", "444455556666").create_organization(FeatureSet="ALL")
    message = create_repository(lab, member, "still-denied")
    assert message is not None and message.endswith("in a service control policy")
    # A member's own writes (here one its IAM home refuses) change nothing either.
    with pytest.raises(ClientError):
        client(lab, "organizations", member).create_organization(FeatureSet="ALL")
    assert create_repository(lab, member, "still-denied") is not None


def test_an_scp_denies_assume_role_to_the_members_users(lab: RunningLab) -> None:
    # SCPs limit every IAM principal of a member account, STS calls included.
    org, member, ou = organization_with_a_member(lab)
    iam = client(lab, "iam", member)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": member}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="target", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_user(UserName="dev")
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="dev", PolicyName="assume", PolicyDocument=json.dumps(allow))
    keys = iam.create_access_key(UserName="dev")["AccessKey"]
    sts = client(lab, "sts", keys["AccessKeyId"], keys["SecretAccessKey"])
    role = f"arn:aws:iam::{member}:role/target"
    assert sts.assume_role(RoleArn=role, RoleSessionName="before")["Credentials"]
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}],
    }
    policy = org.create_policy(
        Content=json.dumps(deny), Description="d", Name="NoAssume", Type="SERVICE_CONTROL_POLICY"
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy, TargetId=ou)
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=role, RoleSessionName="after")
    assert refused.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{member}:user/dev is not authorized to perform: sts:AssumeRole "
        f"on resource: {role}"
    )
