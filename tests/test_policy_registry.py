"""ECR's registry policy in the engine: a second resource-based policy on the same request.

Sources:
REGISTRY = https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry-permissions-create.html
  (V2 "includes all ECR permissions" and is enforced on every ECR request; V1 only
  ecr:ReplicateImage, ecr:BatchImportUpstreamImage and ecr:CreateRepository)
EVAL  = https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  (an explicit deny in any policy wins; same account, an Allow in a resource-based policy
  suffices; "a resource-based policy" in the messages)
CROSS = https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
  (across accounts the identity policy and a resource-based policy must both allow)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from lab.ecr.registry_policy import check_registry_policy, governing_policy, governs
from lab.errors import AwsError
from lab.policy import batch
from lab.policy.context import derive
from lab.policy.document import parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.explain import render_text
from lab.policy.model import Policy, PolicySet, Request, StatementRef
from tests.oracle.cases import generate

ACCT = "111122223333"
OTHER = "444455556666"
REPO = f"arn:aws:ecr:us-east-1:{ACCT}:repository/app"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/puller"
OTHER_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/puller/i-0abc"
ROLE = f"arn:aws:iam::{ACCT}:role/builder"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/builder/i-0def"
PULL = "ecr:BatchGetImage"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def registry(*statements: dict[str, Any]) -> Policy:
    return parse_policy(_doc(*statements), "registry")


def repository(*statements: dict[str, Any]) -> Policy:
    return parse_policy(_doc(*statements), "repository")


def identity(*statements: dict[str, Any]) -> Policy:
    return parse_policy(_doc(*statements), "identity")


def allow(principal: str, action: str = PULL, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, **extra}


def deny(principal: str, action: str = PULL, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": {"AWS": principal}, "Action": action, **extra}


IDENTITY_PULL = identity({"Effect": "Allow", "Action": PULL, "Resource": "*"})


def decide(session: str, role: str, policies: PolicySet, action: str = PULL):
    request = Request(session, action, REPO, derive(session, {}, role_arn=role))
    return evaluate(request, policies)


def test_cross_account_identity_and_registry_allow_suffice() -> None:
    """CROSS + REGISTRY (V2): the registry policy is a resource-based policy of the repository's
    registry; with the caller's identity allow, no repository policy is needed."""
    decision = decide(
        OTHER_SESSION,
        OTHER_ROLE,
        PolicySet(identity=(IDENTITY_PULL,), registry=registry(allow(OTHER_ROLE))),
    )
    assert decision.allowed
    assert StatementRef("registry", 0, 0) in decision.matched
    assert batch.answer(decision)["matched"][0] == {
        "policy": "registry",
        "index": 0,
        "statement": 0,
        "sid": None,
    }


def test_cross_account_needs_a_resource_based_allow_from_either_policy() -> None:
    """CROSS: without an allow in the repository or registry policy, AWS's message names the
    missing resource-based policy."""
    decision = decide(
        OTHER_SESSION,
        OTHER_ROLE,
        PolicySet(identity=(IDENTITY_PULL,), registry=registry(allow(ROLE))),
    )
    assert decision.outcome == "implicit_deny"
    assert decision.message.endswith(
        f"on resource: {REPO} because no resource-based policy allows the {PULL} action"
    )
    repository_grant = PolicySet(
        identity=(IDENTITY_PULL,),
        resource=repository(allow(OTHER_ROLE)),
        registry=registry(allow(ROLE)),
    )
    assert decide(OTHER_SESSION, OTHER_ROLE, repository_grant).allowed


def test_cross_account_registry_allow_without_identity_allow_is_denied() -> None:
    """CROSS: both sides must allow; a registry grant alone is not enough across accounts."""
    decision = decide(OTHER_SESSION, OTHER_ROLE, PolicySet(registry=registry(allow(OTHER_ROLE))))
    assert decision.outcome == "implicit_deny"
    assert "because no identity-based policy allows" in decision.message


def test_registry_deny_overrides_every_allow() -> None:
    """EVAL: an explicit deny in any policy wins, whatever the repository policy allows;
    AWS's message calls the registry policy a resource-based policy."""
    policies = PolicySet(
        identity=(IDENTITY_PULL,),
        resource=repository(allow(ROLE)),
        registry=registry(deny("*")),
    )
    decision = decide(SESSION, ROLE, policies)
    assert decision.outcome == "explicit_deny"
    assert decision.message == (
        f"User: {SESSION} is not authorized to perform: {PULL} on resource: {REPO} "
        "with an explicit deny in a resource-based policy"
    )
    assert decision.matched == (StatementRef("registry", 0, 0),)
    explained = render_text(Request(SESSION, PULL, REPO), decision)
    assert "=> registry policy (resource-based), statement 1: Deny, applies" in explained


def test_repository_deny_overrides_a_registry_allow() -> None:
    """EVAL: a Deny in the repository policy still denies what the registry policy allows."""
    policies = PolicySet(
        identity=(IDENTITY_PULL,),
        resource=repository(deny(OTHER_ROLE)),
        registry=registry(allow(OTHER_ROLE)),
    )
    decision = decide(OTHER_SESSION, OTHER_ROLE, policies)
    assert decision.outcome == "explicit_deny"
    assert decision.matched == (StatementRef("resource", 0, 0),)


def test_same_account_registry_grant_to_the_session_stands_alone() -> None:
    """EVAL (same account): an allow in a resource-based policy naming the caller suffices,
    with no identity policy at all."""
    decision = decide(SESSION, ROLE, PolicySet(registry=registry(allow(SESSION))))
    assert decision.allowed
    assert decision.matched == (StatementRef("registry", 0, 0),)


def test_registry_resource_element_limits_the_statement() -> None:
    """registry-permissions-examples.html: a registry policy names repositories in Resource."""
    scoped = registry(allow(OTHER_ROLE, Resource=f"arn:aws:ecr:us-east-1:{ACCT}:repository/prod-*"))
    policies = PolicySet(identity=(IDENTITY_PULL,), registry=scoped)
    assert not decide(OTHER_SESSION, OTHER_ROLE, policies).allowed


def test_registry_policy_never_applies_to_an_action_on_star() -> None:
    """A resource-based policy is attached to a resource: an action on "*" (such as
    GetAuthorizationToken) is decided by identity policies alone."""
    request = Request(SESSION, "ecr:GetAuthorizationToken", "*", derive(SESSION, {}, role_arn=ROLE))
    decision = evaluate(request, PolicySet(registry=registry(allow(SESSION, "ecr:*"))))
    assert decision.outcome == "implicit_deny"


@pytest.mark.parametrize(
    ("scope", "action", "expected"),
    [
        ("V2", "ecr:BatchGetImage", True),
        ("V2", "ecr:CreateRepository", True),
        ("V1", "ecr:BatchGetImage", False),
        ("V1", "ecr:PutImage", False),
        ("V1", "ecr:CreateRepository", True),
        ("V1", "ecr:ReplicateImage", True),
        ("V1", "ecr:BatchImportUpstreamImage", True),
        ("V2", "iam:GetRole", False),
    ],
)
def test_scope_decides_which_actions_the_registry_policy_governs(
    scope: str, action: str, expected: bool
) -> None:
    """REGISTRY: V1 enforces only its three actions; V2 every ECR action."""
    assert governs(scope, action) is expected
    assert (governing_policy("{}", scope, action) is not None) is expected
    assert governing_policy(None, scope, action) is None


def test_v1_registry_policy_allowing_everything_grants_no_pull() -> None:
    """REGISTRY: under V1 a registry policy's ecr:* still covers only the three actions: the
    gatherer leaves it out of a pull's question, so the pull needs a repository policy."""
    text = json.dumps(_doc(allow(OTHER_ROLE, "ecr:*")))
    check_registry_policy(text, "V1")  # ecr:* covers the V1 actions: ECR accepts it
    gathered = governing_policy(text, "V1", PULL)
    policies = PolicySet(
        identity=(IDENTITY_PULL,),
        registry=None if gathered is None else parse_policy(gathered, "registry"),
    )
    assert decide(OTHER_SESSION, OTHER_ROLE, policies).outcome == "implicit_deny"


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        _doc({"Effect": "Allow", "Action": PULL}),  # no Principal
        {"Statement": [allow("*")]},  # no Version
        _doc(allow("*", NotAction=PULL)),  # Action with NotAction
        _doc(allow("*", "BatchGetImage")),  # no service prefix
    ],
)
def test_invalid_registry_policies_get_ecr_s_error(document: Any) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(AwsError) as refused:
        check_registry_policy(text, "V2")
    assert (refused.value.code, refused.value.message) == (
        "InvalidParameterException",
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        "'Invalid registry policy provided'",
    )


def test_v1_refuses_an_action_it_does_not_enforce() -> None:
    """FACTS (re:Post quoting the docs): under V1 a registry policy with another action is
    refused with 'Invalid registry policy provided'."""
    text = json.dumps(_doc(allow(OTHER_ROLE, PULL)))
    check_registry_policy(text, "V2")
    with pytest.raises(AwsError, match="Invalid registry policy provided"):
        check_registry_policy(text, "V1")


def test_batch_registry_policy_field() -> None:
    line = json.dumps(
        {
            "principal": OTHER_SESSION,
            "action": PULL,
            "resource": REPO,
            "identity_policies": [_doc({"Effect": "Allow", "Action": PULL, "Resource": "*"})],
            "resource_policy": None,
            "registry_policy": _doc(allow(OTHER_ROLE)),
            "context": {"aws:PrincipalArn": OTHER_ROLE},
        }
    )
    assert json.loads(batch.answer_line(line)) == {
        "decision": "allowed",
        "message": "",
        "matched": [
            {"policy": "registry", "index": 0, "statement": 0, "sid": None},
            {"policy": "identity", "index": 0, "statement": 0, "sid": None},
        ],
    }
    bad = json.loads(line) | {"registry_policy": {"Statement": []}}
    answer = json.loads(batch.answer_line(json.dumps(bad)))
    assert answer["decision"] == "error"
    assert answer["error"].startswith("registry_policy: ")


def test_existing_batch_lines_answer_byte_for_byte_as_before() -> None:
    """The registry_policy field is optional: 400 generated cases without it answer exactly
    the bytes the engine answered before registry policies existed (digest taken then)."""
    lines = [json.dumps(case) for case in generate(400, 20261130)]
    digest = hashlib.sha256(batch.answer_lines(lines)).hexdigest()
    assert digest == "60872c50baf9b91e34a90c14d2733243d139c70da09afbc135c7d4242ea04104"
