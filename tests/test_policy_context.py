"""The keys AWS derives from the principal (AWS global condition context keys page:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""

from __future__ import annotations

from lab.policy.context import derive

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/app/fa-085-InstanceRole1"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/fa-085-InstanceRole1/i-0bde1cc6fc498a208"


def test_role_session_principal_arn_is_the_role_arn() -> None:
    context = derive(SESSION, role_arn=ROLE, user_id="AROAEXAMPLEID")
    assert context["aws:principalarn"] == ROLE
    assert context["aws:principalaccount"] == ACCT
    assert context["aws:principaltype"] == "AssumedRole"
    assert context["aws:userid"] == "AROAEXAMPLEID:i-0bde1cc6fc498a208"  # role-id:session-name
    assert "aws:username" not in context


def test_role_path_may_be_supplied_as_principal_arn() -> None:
    context = derive(SESSION, {"aws:PrincipalArn": ROLE})
    assert context["aws:principalarn"] == ROLE


def test_without_role_arn_the_pathless_role_arn_is_used() -> None:
    context = derive(SESSION)
    assert context["aws:principalarn"] == f"arn:aws:iam::{ACCT}:role/fa-085-InstanceRole1"
    assert "aws:userid" not in context  # the role's unique id is not known


def test_user_keys() -> None:
    context = derive(f"arn:aws:iam::{ACCT}:user/ops/bob", user_id="AIDAEXAMPLE")
    assert (context["aws:principaltype"], context["aws:username"], context["aws:userid"]) == (
        "User",
        "bob",
        "AIDAEXAMPLE",
    )


def test_root_and_federated_user_ids() -> None:
    assert derive(f"arn:aws:iam::{ACCT}:root")["aws:userid"] == ACCT
    federated = derive(f"arn:aws:sts::{ACCT}:federated-user/carol")
    assert (federated["aws:principaltype"], federated["aws:userid"]) == (
        "FederatedUser",
        f"{ACCT}:carol",
    )


def test_principal_tags_and_supplied_keys_are_lower_cased_and_override() -> None:
    context = derive(
        SESSION,
        {"aws:SourceIp": "10.0.2.38", "aws:CalledVia": ["a", "b"], "aws:PrincipalType": "X"},
        tags={"Team": "a"},
    )
    assert context["aws:principaltag/team"] == "a"
    assert context["aws:sourceip"] == "10.0.2.38"
    assert context["aws:calledvia"] == ("a", "b")
    assert context["aws:principaltype"] == "X"
    assert all(key == key.lower() for key in context)


def test_service_principal() -> None:
    context = derive("ecr.amazonaws.com")
    assert context["aws:principalisawsservice"] == "true"
    assert "aws:principalarn" not in context
