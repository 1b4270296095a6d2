"""Principal and NotPrincipal matching.

Sources: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
and .../reference_policies_elements_notprincipal.html.
"""

from __future__ import annotations

from lab.policy.principals import ACCOUNT, DIRECT, NO_MATCH, ROLE, caller_from, grant
from lab.policy.principals import not_principal_applies as applies

ACCT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/team/deploy"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/deploy/i-0abc"
USER = f"arn:aws:iam::{ACCT}:user/ops/bob"
ROOT = f"arn:aws:iam::{ACCT}:root"


def test_session_caller_facts_take_the_role_path_from_principal_arn() -> None:
    caller = caller_from(SESSION, ROLE_ARN)
    assert (caller.type, caller.account, caller.role_arn, caller.name) == (
        "AssumedRole",
        ACCT,
        ROLE_ARN,
        "deploy",
    )
    assert caller.identities == (ROOT, ROLE_ARN, SESSION)


def test_session_without_known_path_gets_a_pathless_role_arn() -> None:
    assert caller_from(SESSION).role_arn == f"arn:aws:iam::{ACCT}:role/deploy"


def test_caller_types() -> None:
    kinds = {
        ROOT: "Account",
        USER: "User",
        ROLE_ARN: "Role",
        f"arn:aws:sts::{ACCT}:federated-user/carol": "FederatedUser",
        "ec2.amazonaws.com": "Service",
        "nobody": "Anonymous",
    }
    assert {arn: caller_from(arn).type for arn in kinds} == kinds


def test_everyone() -> None:
    assert grant({"AWS": ("*",)}, caller_from(SESSION)) == DIRECT


def test_account_principal_names_any_principal_of_the_account() -> None:
    assert grant({"AWS": (ROOT,)}, caller_from(SESSION)) == ACCOUNT
    assert grant({"AWS": (ROOT,)}, caller_from(USER)) == ACCOUNT
    assert grant({"AWS": ("arn:aws:iam::444455556666:root",)}, caller_from(USER)) == NO_MATCH


def test_role_arn_names_its_sessions_whatever_the_path() -> None:
    # Role names are unique in an account, so the pathless form names the same role.
    caller = caller_from(SESSION, ROLE_ARN)
    assert grant({"AWS": (ROLE_ARN,)}, caller) == ROLE
    assert grant({"AWS": (f"arn:aws:iam::{ACCT}:role/deploy",)}, caller) == ROLE
    assert grant({"AWS": (f"arn:aws:iam::{ACCT}:role/other",)}, caller) == NO_MATCH


def test_session_arn_and_user_arn_name_the_caller_itself() -> None:
    assert grant({"AWS": (SESSION,)}, caller_from(SESSION, ROLE_ARN)) == DIRECT
    assert grant({"AWS": (USER,)}, caller_from(USER)) == DIRECT
    assert (
        grant({"AWS": (f"arn:aws:sts::{ACCT}:assumed-role/deploy/other",)}, caller_from(SESSION))
        == NO_MATCH
    )


def test_strongest_naming_wins() -> None:
    spec = {"AWS": (ROOT, ROLE_ARN, SESSION)}
    assert grant(spec, caller_from(SESSION, ROLE_ARN)) == DIRECT


def test_service_principal() -> None:
    assert grant({"Service": ("ec2.amazonaws.com",)}, caller_from("ec2.amazonaws.com")) == DIRECT
    assert grant({"Service": ("ec2.amazonaws.com",)}, caller_from(SESSION)) == NO_MATCH


def test_not_principal_exempts_only_when_account_role_and_session_are_listed() -> None:
    """notprincipal.html: list the session, the role and the account to exempt a session."""
    caller = caller_from(SESSION, ROLE_ARN)
    assert not applies({"AWS": (SESSION, ROLE_ARN, ROOT)}, caller)
    assert applies({"AWS": (SESSION, ROLE_ARN)}, caller)
    assert applies({"AWS": (ROLE_ARN, ROOT)}, caller)
    assert applies({"AWS": (f"arn:aws:iam::{ACCT}:user/alice", ROOT)}, caller)


def test_not_principal_user_example_lists_user_and_account() -> None:
    """notprincipal.html example: Bob and Bob's account are exempt together."""
    assert not applies({"AWS": (USER, ROOT)}, caller_from(USER))
    assert applies({"AWS": (USER,)}, caller_from(USER))


def test_not_principal_star_exempts_everyone() -> None:
    assert not applies({"AWS": ("*",)}, caller_from(USER))
