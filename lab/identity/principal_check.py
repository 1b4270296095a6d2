"""Whether the IAM roles and users a resource policy names exist, as ECR checks on storing it.

ECR refuses a repository policy naming a role that does not exist with InvalidParameterException
"... failed to satisfy constraint: 'Principal not found'" (hashicorp/terraform-provider-aws#39064,
ministryofjustice/modernisation-platform#10129). Only principals the lab can know are checked:
roles and users of its own accounts. Account ids, root ARNs, sessions, services and "*" pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lab.identity.directory import IamDirectory, name_from_arn
from lab.policy.model import Policy

# `arn:aws:iam::ACCT:role/PATH/NAME` or `...:user/PATH/NAME`.
_ENTITY_ARN = re.compile(r"arn:aws:iam::(?P<account>\d{12}):(?P<kind>role|user)/.+")

PRINCIPAL_NOT_FOUND = "Principal not found"


def missing_principal(
    policy: Policy, directory_of: Callable[[str], IamDirectory | None]
) -> str | None:
    """The first role or user ARN in `policy`'s Principal or NotPrincipal that does not exist
    in its account's IAM (`directory_of` gives None for an account the lab does not hold)."""
    for arn in _named_entities(policy):
        found = _ENTITY_ARN.fullmatch(arn)
        directory = directory_of(found["account"]) if found else None
        if found is None or directory is None:
            continue
        # IAM's own ARN, path included, must be the one the policy wrote.
        if directory.entity_arn(found["kind"], name_from_arn(arn, found["kind"])) != arn:
            return arn
    return None


def _named_entities(policy: Policy) -> Iterator[str]:
    for statement in policy.statements:
        for spec in (statement.principal, statement.not_principal):
            yield from (spec or {}).get("AWS", ())
