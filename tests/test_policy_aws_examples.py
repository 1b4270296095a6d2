"""The tutorial (shared/seed, FACTS): ECR repository `fa-085` with three Deny statements; three
instance roles carrying AmazonEC2ContainerRegistryFullAccess. Instance 1 may only push,
instance 2 only pull, instance 3 nothing; `docker login` (GetAuthorizationToken) works for all
because the repository policy never sees an action on "*"."""

from __future__ import annotations

import pytest

from lab.policy.context import derive
from lab.policy.document import parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.explain import render_text
from lab.policy.model import Decision, PolicySet, Request, StatementRef
from tests.tutorial import ECR_FULL_ACCESS, PULL_ACTIONS, PUSH_ACTIONS, repository_policy

ACCT = "123456789012"
REGION = "ap-northeast-1"
REPOSITORY = f"arn:aws:ecr:{REGION}:{ACCT}:repository/fa-085"
ROLES = [f"arn:aws:iam::{ACCT}:role/fa-085-InstanceRole{i}" for i in (1, 2, 3)]
INSTANCES = ["i-0bde1cc6fc498a208", "i-0296e9a1b5f70b522", "i-0d0cc36a5186db23b"]
POLICIES = PolicySet(
    identity=(parse_policy(ECR_FULL_ACCESS, "identity", "AmazonEC2ContainerRegistryFullAccess"),),
    resource=parse_policy(repository_policy(ROLES[0], ROLES[1]), "repository"),
)


def session(instance: int) -> str:
    return (
        f"arn:aws:sts::{ACCT}:assumed-role/{ROLES[instance].split('/')[-1]}/{INSTANCES[instance]}"
    )


def ask(instance: int, action: str, resource: str = REPOSITORY) -> tuple[Request, Decision]:
    principal = session(instance)
    context = derive(principal, {"aws:SourceIp": "10.0.2.38"}, role_arn=ROLES[instance])
    request = Request(principal, action, resource, context)
    return request, evaluate(request, POLICIES)


EXPECTED = {0: set(PUSH_ACTIONS), 1: set(PULL_ACTIONS), 2: set()}


@pytest.mark.parametrize("instance", [0, 1, 2])
@pytest.mark.parametrize("action", PUSH_ACTIONS + PULL_ACTIONS + ["ecr:ListImages"])
def test_repository_actions(instance: int, action: str) -> None:
    _, decision = ask(instance, action)
    expected = "allowed" if action in EXPECTED[instance] else "explicit_deny"
    assert decision.outcome == expected


@pytest.mark.parametrize("instance", [0, 1, 2])
def test_docker_login_works_everywhere(instance: int) -> None:
    _, decision = ask(instance, "ecr:GetAuthorizationToken", "*")
    assert decision.allowed
    assert decision.matched == (
        StatementRef("identity", 0, 0, None, "AmazonEC2ContainerRegistryFullAccess"),
    )


def test_pull_denial_message_is_awss_verbatim() -> None:
    """FACTS: the denial docker prints after `denied: ` for instance 1's pull."""
    _, decision = ask(0, "ecr:BatchGetImage")
    assert decision.message == (
        f"User: arn:aws:sts::{ACCT}:assumed-role/fa-085-InstanceRole1/i-0bde1cc6fc498a208 "
        f"is not authorized to perform: ecr:BatchGetImage on resource: "
        f"arn:aws:ecr:ap-northeast-1:{ACCT}:repository/fa-085 "
        "with an explicit deny in a resource-based policy"
    )
    assert decision.matched == (StatementRef("resource", 0, 0),)


def test_instance_3_is_denied_by_the_third_statement() -> None:
    _, decision = ask(2, "ecr:PutImage")
    assert decision.matched == (StatementRef("resource", 0, 2),)


def test_role_path_in_principal_arn_is_matched_by_arn_equals() -> None:
    """aws:PrincipalArn is the role ARN with its path (FACTS); the policy names it so."""
    role = f"arn:aws:iam::{ACCT}:role/ops/pusher"
    policies = PolicySet(
        POLICIES.identity, parse_policy(repository_policy(role, ROLES[1]), "repository")
    )
    principal = f"arn:aws:sts::{ACCT}:assumed-role/pusher/i-1"
    request = Request(principal, "ecr:PutImage", REPOSITORY, derive(principal, role_arn=role))
    assert evaluate(request, policies).allowed


def test_explanation_shows_the_deciding_statement_and_the_values_it_saw() -> None:
    request, decision = ask(0, "ecr:BatchGetImage")
    text = render_text(request, decision)
    assert "DENIED (explicit deny)" in text
    assert decision.message in text
    assert (
        f"ArnEquals aws:PrincipalArn: policy ['{ROLES[0]}'] vs request '{ROLES[0]}' -> true" in text
    )
    assert "=> resource-based policy, statement 1: Deny, applies" in text
    assert "identity-based policy #1 (AmazonEC2ContainerRegistryFullAccess), statement 1" in text
