"""AWS's evaluation logic, case by case from its documentation, plus properties that always hold.

Sources (AWS IAM User Guide):
EVAL  = https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
CROSS = https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
BOUND = https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
DENY  = https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lab.policy.context import derive
from lab.policy.document import parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.model import Decision, Policy, PolicySet, Request, StatementRef

ACCT = "111122223333"
OTHER = "444455556666"
ROLE = f"arn:aws:iam::{ACCT}:role/path/app"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/i-0abc"
USER = f"arn:aws:iam::{ACCT}:user/carlos"
ROOT = f"arn:aws:iam::{ACCT}:root"
REPO = f"arn:aws:ecr:us-east-1:{ACCT}:repository/fa-085"
OTHER_REPO = f"arn:aws:ecr:us-east-1:{OTHER}:repository/fa-085"
PULL = "ecr:BatchGetImage"


def identity(*statements: dict[str, Any], version: str = "2012-10-17") -> Policy:
    return parse_policy({"Version": version, "Statement": list(statements)}, "identity")


def resource_policy(*statements: dict[str, Any]) -> Policy:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, "repository")


def allow(action: str = PULL, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = PULL, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def grant_to(principal: str, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": {"AWS": principal}, "Action": PULL, **extra}


def decide(
    policies: PolicySet,
    principal: str = SESSION,
    resource: str = REPO,
    action: str = PULL,
    **context: Any,
) -> Decision:
    role_arn = ROLE if principal == SESSION else None
    request = Request(principal, action, resource, derive(principal, context, role_arn=role_arn))
    return evaluate(request, policies)


def message(reason: str, principal: str = SESSION, resource: str = REPO) -> str:
    return (
        f"User: {principal} is not authorized to perform: {PULL} on resource: {resource} {reason}"
    )


# --- explicit deny -------------------------------------------------------------------------


def test_explicit_deny_in_identity_policy_overrides_resource_allow() -> None:
    """EVAL: an explicit deny in any policy overrides any allows; DENY: its message."""
    decision = decide(PolicySet((identity(deny()),), resource_policy(grant_to(SESSION))))
    assert decision.outcome == "explicit_deny"
    assert decision.message == message("with an explicit deny in an identity-based policy")
    assert decision.matched == (StatementRef("identity", 0, 0),)


def test_explicit_deny_in_resource_policy_message() -> None:
    decision = decide(PolicySet((identity(allow()),), resource_policy(grant_to("*", "Deny"))))
    assert decision.message == message("with an explicit deny in a resource-based policy")


def test_explicit_deny_in_permissions_boundary_message() -> None:
    decision = decide(PolicySet((identity(allow()),), boundary=identity(deny())))
    assert decision.message == message("with an explicit deny in a permissions boundary")


def test_explicit_deny_in_session_policy_message() -> None:
    decision = decide(PolicySet((identity(allow()),), session=identity(deny())))
    assert decision.message == message("with an explicit deny in a session policy")


# --- same account --------------------------------------------------------------------------


def test_same_account_identity_allow_alone_suffices() -> None:
    decision = decide(PolicySet((identity(allow()),)))
    assert (decision.outcome, decision.message) == ("allowed", "")
    assert decision.matched == (StatementRef("identity", 0, 0),)


def test_no_policy_allows_is_implicit_deny_naming_identity_policies() -> None:
    decision = decide(PolicySet())
    assert decision.outcome == "implicit_deny"
    assert decision.message == message(f"because no identity-based policy allows the {PULL} action")
    assert decision.matched == ()


def test_same_account_resource_policy_naming_the_user_grants_alone() -> None:
    """EVAL example: the carlossalazar bucket policy grants the user without an IAM allow."""
    decision = decide(PolicySet(resource=resource_policy(grant_to(USER))), principal=USER)
    assert decision.outcome == "allowed"
    assert decision.matched == (StatementRef("resource", 0, 0),)


def test_same_account_resource_policy_naming_the_account_defers_to_iam() -> None:
    policies = PolicySet(resource=resource_policy(grant_to(ACCT)))
    assert decide(policies).outcome == "implicit_deny"
    with_iam = PolicySet((identity(allow()),), resource_policy(grant_to(ACCT)))
    assert decide(with_iam).outcome == "allowed"


def test_same_account_resource_policy_naming_the_role_grants_the_session() -> None:
    assert decide(PolicySet(resource=resource_policy(grant_to(ROLE)))).outcome == "allowed"


# --- permissions boundaries and session policies --------------------------------------------


def test_boundary_limits_identity_grants() -> None:
    """BOUND: Shirley's boundary allows s3/cloudwatch/ec2; iam:CreateUser fails."""
    decision = decide(PolicySet((identity(allow()),), boundary=identity(allow("s3:*"))))
    assert decision.message == message(f"because no permissions boundary allows the {PULL} action")


def test_boundary_does_not_limit_a_grant_to_the_session_or_user() -> None:
    """EVAL table: grants to a role session or an IAM user are not limited by a boundary."""
    boundary = identity(allow("s3:*"))
    assert decide(PolicySet(resource=resource_policy(grant_to(SESSION)), boundary=boundary)).allowed
    user_policies = PolicySet(resource=resource_policy(grant_to(USER)), boundary=boundary)
    assert decide(user_policies, principal=USER).allowed


def test_boundary_limits_a_grant_to_the_role() -> None:
    """EVAL table: grants to a role ARN are limited by an implicit deny in a boundary."""
    policies = PolicySet(resource=resource_policy(grant_to(ROLE)), boundary=identity(allow("s3:*")))
    decision = decide(policies)
    assert decision.message == message(f"because no permissions boundary allows the {PULL} action")


def test_session_policy_intersects_identity_grants() -> None:
    decision = decide(PolicySet((identity(allow()),), session=identity(allow("s3:*"))))
    assert decision.message == message(f"because no session policy allows the {PULL} action")
    assert decide(PolicySet((identity(allow()),), session=identity(allow()))).allowed


def test_session_policy_does_not_limit_a_grant_to_the_session_but_limits_one_to_the_role() -> None:
    """EVAL table: a session ARN grant is not limited by a session policy; a role ARN grant is."""
    session_policy = identity(allow("s3:*"))
    direct = PolicySet(resource=resource_policy(grant_to(SESSION)), session=session_policy)
    assert decide(direct).allowed
    via_role = PolicySet(resource=resource_policy(grant_to(ROLE)), session=session_policy)
    assert decide(via_role).outcome == "implicit_deny"


def test_federated_user_without_session_policy_is_implicitly_denied() -> None:
    """EVAL: a session principal that is not a role session needs a session policy."""
    federated = f"arn:aws:sts::{ACCT}:federated-user/carol"
    assert decide(PolicySet((identity(allow()),)), principal=federated).outcome == "implicit_deny"
    with_session = PolicySet((identity(allow()),), session=identity(allow()))
    assert decide(with_session, principal=federated).allowed


def test_not_principal_deny_always_applies_to_an_entity_with_a_boundary() -> None:
    """BOUND (Important): NotPrincipal with Deny always denies principals with a boundary."""
    statement = {"Effect": "Deny", "NotPrincipal": {"AWS": [SESSION, ROLE, ACCT]}, "Action": PULL}
    policies = PolicySet((identity(allow()),), resource_policy(statement))
    assert decide(policies).allowed
    with_boundary = PolicySet((identity(allow()),), resource_policy(statement), identity(allow()))
    assert decide(with_boundary).outcome == "explicit_deny"


# --- cross account ------------------------------------------------------------------------


def test_cross_account_needs_both_sides() -> None:
    """CROSS: identity policy in the requester's account AND the resource policy must allow."""
    only_identity = decide(PolicySet((identity(allow()),)), resource=OTHER_REPO)
    assert only_identity.message == message(
        f"because no resource-based policy allows the {PULL} action", resource=OTHER_REPO
    )
    only_resource = decide(
        PolicySet(resource=resource_policy(grant_to(SESSION))), resource=OTHER_REPO
    )
    assert only_resource.outcome == "implicit_deny"
    both = PolicySet((identity(allow()),), resource_policy(grant_to(ACCT)))
    assert decide(both, resource=OTHER_REPO).allowed


# --- root user ----------------------------------------------------------------------------


def test_root_user_needs_no_policy_in_its_account_but_a_deny_still_applies() -> None:
    """EVAL: requests are implicitly denied except the account root user's."""
    assert decide(PolicySet(), principal=ROOT).allowed
    denied = decide(PolicySet(resource=resource_policy(grant_to("*", "Deny"))), principal=ROOT)
    assert denied.outcome == "explicit_deny"


def test_root_user_cross_account_needs_the_resource_policy() -> None:
    other_root = f"arn:aws:iam::{OTHER}:root"
    assert decide(PolicySet(), principal=other_root).outcome == "implicit_deny"
    granted = PolicySet(resource=resource_policy(grant_to(OTHER)))
    assert decide(granted, principal=other_root).allowed


# --- elements -----------------------------------------------------------------------------


def test_resource_policy_never_sees_an_action_on_star() -> None:
    """FACTS: GetAuthorizationToken takes Resource "*"; the repository policy does not apply."""
    policies = PolicySet((identity(allow("ecr:*")),), resource_policy(grant_to("*", "Deny")))
    decision = decide(policies, resource="*", action="ecr:GetAuthorizationToken")
    assert decision.allowed
    assert all(trace.ref.policy == "identity" for trace in decision.trace)


def test_not_action_and_not_resource() -> None:
    """reference_policies_elements_notaction.html: deny everything except the listed actions."""
    policies = PolicySet(
        (identity(allow("ecr:*"), {"Effect": "Deny", "NotAction": PULL, "Resource": "*"}),)
    )
    assert decide(policies).allowed
    assert decide(policies, action="ecr:PutImage").outcome == "explicit_deny"
    not_resource = PolicySet(
        (identity({"Effect": "Allow", "Action": PULL, "NotResource": OTHER_REPO}),)
    )
    assert decide(not_resource).allowed


def test_policy_variables_only_from_version_2012() -> None:
    """reference_policies_variables.html: in 2008-10-17 `${...}` is literal text."""
    statement = allow(resource="arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}")
    team_repo = f"arn:aws:ecr:us-east-1:{ACCT}:repository/a"
    tagged = {"aws:PrincipalTag/team": "a"}
    assert decide(PolicySet((identity(statement),)), resource=team_repo, **tagged).allowed
    old = PolicySet((identity(statement, version="2008-10-17"),))
    assert decide(old, resource=team_repo, **tagged).outcome == "implicit_deny"


def test_trace_has_every_statement_with_its_conditions() -> None:
    policies = PolicySet(
        (identity(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/16"}}), deny("s3:*")),)
    )
    decision = decide(policies, **{"aws:SourceIp": "10.0.2.38"})
    assert decision.allowed
    first, second = decision.trace
    assert (first.applies, first.conditions[0].request_values) == (True, "10.0.2.38")
    assert (second.action_matched, second.applies) == (False, False)


# --- properties -------------------------------------------------------------------------

ACTIONS = st.sampled_from(["ecr:BatchGetImage", "ecr:PutImage", "ecr:*", "ecr:Batch*", "s3:*"])
RESOURCES = st.sampled_from(["*", REPO, OTHER_REPO, "arn:aws:ecr:*:*:repository/fa-*"])
PRINCIPALS = st.sampled_from(["*", ACCT, ROLE, SESSION, OTHER])
EFFECTS = st.sampled_from(["Allow", "Deny"])
IDENTITY_STATEMENTS = st.builds(
    lambda effect, action, resource: {"Effect": effect, "Action": action, "Resource": resource},
    EFFECTS,
    ACTIONS,
    RESOURCES,
)
RESOURCE_STATEMENTS = st.builds(
    lambda effect, action, who: {"Effect": effect, "Action": action, "Principal": {"AWS": who}},
    EFFECTS,
    ACTIONS,
    PRINCIPALS,
)


@st.composite
def policy_sets(draw: st.DrawFn) -> PolicySet:
    identities = draw(st.lists(st.lists(IDENTITY_STATEMENTS, min_size=1, max_size=3), max_size=2))
    resource = draw(st.one_of(st.none(), st.lists(RESOURCE_STATEMENTS, min_size=1, max_size=3)))
    boundary = draw(st.one_of(st.none(), st.lists(IDENTITY_STATEMENTS, min_size=1, max_size=2)))
    return PolicySet(
        tuple(identity(*s) for s in identities),
        None if resource is None else resource_policy(*resource),
        None if boundary is None else identity(*boundary),
    )


TARGETS = st.sampled_from([REPO, OTHER_REPO])


@settings(max_examples=60, deadline=None)
@given(policy_sets(), TARGETS)
def test_a_matching_deny_always_wins(policies: PolicySet, target: str) -> None:
    with_deny = PolicySet(
        (*policies.identity, identity(deny())), policies.resource, policies.boundary
    )
    assert decide(with_deny, resource=target).outcome == "explicit_deny"


@settings(max_examples=60, deadline=None)
@given(policy_sets(), TARGETS, IDENTITY_STATEMENTS)
def test_adding_an_allow_never_turns_allowed_into_denied(
    policies: PolicySet, target: str, extra: dict[str, Any]
) -> None:
    extra = {**extra, "Effect": "Allow"}
    before = decide(policies, resource=target)
    more = PolicySet((*policies.identity, identity(extra)), policies.resource, policies.boundary)
    assert not (before.allowed and not decide(more, resource=target).allowed)


@settings(max_examples=60, deadline=None)
@given(policy_sets(), TARGETS)
def test_matched_statements_are_the_deciding_ones(policies: PolicySet, target: str) -> None:
    decision = decide(policies, resource=target)
    applying = {t.ref: t.effect for t in decision.trace if t.applies}
    if decision.outcome == "explicit_deny":
        assert decision.matched and all(applying[r] == "Deny" for r in decision.matched)
    elif decision.outcome == "allowed":
        assert decision.message == "" and all(applying[r] == "Allow" for r in decision.matched)
    else:
        assert decision.matched == () and "because no" in decision.message


def test_aws_managed_policies_are_not_another_accounts_resources() -> None:
    """`arn:aws:iam::aws:policy/...` belongs to AWS, not to another account: the root user
    reads it in its own right, and a role needs only an identity allow (no resource policy
    exists for IAM policies; IAM user guide, "Policy evaluation logic")."""
    resource = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
    root = evaluate(
        Request("arn:aws:iam::111122223333:root", "iam:GetPolicy", resource), PolicySet()
    )
    assert root.outcome == "allowed"
    reader = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:GetPolicy", "Resource": "*"}],
        },
        "identity",
    )
    session = "arn:aws:sts::111122223333:assumed-role/reader/s"
    decision = evaluate(Request(session, "iam:GetPolicy", resource), PolicySet(identity=(reader,)))
    assert decision.outcome == "allowed"


def test_a_deny_on_a_negated_variable_with_no_value_applies_to_a_role_session() -> None:
    """IAM User Guide, reference_policies_variables.html, "Policy variables with no value": a
    role session has no aws:username, so `${aws:username}` is null and matches nothing; under
    StringNotEquals the condition holds and the Deny applies (for a user, whose name resolves,
    it does not)."""
    own_name_only = deny(
        Condition={
            "StringNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/${{aws:username}}"}
        }
    )
    policies = PolicySet((identity(allow(), own_name_only),))
    assert decide(policies, principal=SESSION).outcome == "explicit_deny"
    assert decide(policies, principal=USER).outcome == "allowed"
