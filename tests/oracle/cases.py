"""A seeded, deterministic generator of `ecr-lab simulate --batch` cases.

Cases follow the batch contract (principal, action, resource, identity_policies, resource_policy,
permissions_boundary, session_policy, context) and are drawn from small pools shared by policies
and request context, so that conditions, patterns and principals match about as often as not and
the three outcomes stay balanced. The generated set avoids the oracle's recorded departures
from AWS (tests/oracle/known_bugs.py) other than those `known_bugs.explain` recognises, and
cases AWS's docs leave open (empty multivalued keys, IfExists with a set operator, a variable
in NotResource, NotPrincipal without the caller's account).
"""

from __future__ import annotations

import json
import random
from typing import Any

from tests.tutorial import ECR_FULL_ACCESS

HOME = "111122223333"
OTHER = "444455556666"
REGIONS = ("us-east-1", "ap-northeast-1")
REPOSITORIES = ("fa-085", "team-a/app", "team-b/app", "team-a/tools")
ROLES = ("instance-role-1", "instance-role-2", "instance-role-3")
USERS = ("alice", "ops/bob")

PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
PUSH = ("ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage")
OTHER_ACTIONS = (
    "ecr:ListImages",
    "ecr:DescribeImages",
    "ecr:BatchDeleteImage",
    "ecr:GetRepositoryPolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepository",
)
REPOSITORY_ACTIONS = PULL + PUSH + OTHER_ACTIONS
# Not repository-scoped: AWS evaluates it against Resource "*" and no resource policy.
GET_AUTHORIZATION_TOKEN = "ecr:GetAuthorizationToken"

# Condition keys by operator family: (request values, policy values). Shared pools make
# conditions match about half the time.
STRING_KEYS = {
    "aws:PrincipalTag/team": (
        ("team-a", "team-b", "Team-A"),
        ("team-a", "team-*", "TEAM-A", "*-b"),
    ),
    "aws:UserAgent": (
        ("docker/20.10.7", "aws-cli/2.15.0"),
        ("docker/20.10.7", "docker/*", "aws-?li/*"),
    ),
    "aws:RequestedRegion": (REGIONS, (*REGIONS, "us-*")),
    "aws:SourceVpce": (("vpce-1a2b3c4d", "vpce-9f8e7d6c"), ("vpce-1a2b3c4d", "vpce-*")),
    "aws:PrincipalAccount": ((), (HOME, OTHER)),
    "aws:PrincipalType": ((), ("AssumedRole", "User", "Account", "assumedrole")),
}
NUMERIC_KEYS = {
    "aws:MultiFactorAuthAge": (("0", "300", "3600", "86400"), ("300", "3600", "3600.0"))
}
# ISO 8601 only: the oracle reads epoch seconds in Date conditions wrongly (a recorded departure).
DATE_KEYS = {
    "aws:CurrentTime": (
        ("2026-11-28T12:00:00Z", "2024-01-01T00:00:00Z"),
        ("2025-01-01T00:00:00Z", "2026-11-28T12:00:00Z", "2026-11-28"),
    ),
    "aws:TokenIssueTime": (
        ("2026-11-28T11:00:00Z",),
        ("2026-11-28T00:00:00Z", "2026-11-28T11:00:00Z"),
    ),
}
BOOL_KEYS = {
    key: (("true", "false"), ("true", "false", "True"))
    for key in ("aws:SecureTransport", "aws:MultiFactorAuthPresent", "aws:ViaAWSService")
}
BINARY_KEYS = {"aws:PrincipalTag/blob": (("YWJj", "ZGVm"), ("YWJj", "ZGVm", "Z2hp"))}
IP_KEYS = {
    "aws:SourceIp": (
        ("10.0.2.38", "10.1.5.7", "192.0.2.10", "2001:db8::5", "2001:db8:ffff::1"),
        (
            "10.0.0.0/16",
            "10.0.2.38/32",
            "10.0.2.38",
            "192.0.2.0/24",
            "2001:db8::/32",
            "2001:db8::/64",
        ),
    )
}
ARN_KEYS = {
    "aws:SourceArn": (
        (
            f"arn:aws:codebuild:us-east-1:{HOME}:project/build-1",
            f"arn:aws:ec2:us-east-1:{HOME}:instance/i-0abc",
        ),
        (
            f"arn:aws:codebuild:*:{HOME}:project/*",
            "arn:aws:ec2:*:*:instance/*",
            f"arn:aws:codebuild:us-east-1:{HOME}:project/build-1",
        ),
    ),
    "aws:PrincipalArn": (
        (),
        (
            f"arn:aws:iam::{HOME}:role/instance-role-1",
            "arn:aws:iam::*:role/instance-role-*",
            f"arn:aws:iam::{HOME}:user/*",
            f"arn:aws:iam::{HOME}:root",
        ),
    ),
}
MULTI_KEYS = {
    "aws:CalledVia": (
        ("cloudformation.amazonaws.com", "athena.amazonaws.com"),
        ("cloudformation.amazonaws.com", "athena.amazonaws.com", "*.amazonaws.com"),
    ),
    "aws:PrincipalServiceNamesList": (
        ("ec2.amazonaws.com", "ecr.amazonaws.com"),
        ("ec2.amazonaws.com", "ecr.amazonaws.com"),
    ),
}
COMPARISONS = (
    "Equals",
    "NotEquals",
    "LessThan",
    "LessThanEquals",
    "GreaterThan",
    "GreaterThanEquals",
)
STRING_MATCHES = (
    "Equals",
    "NotEquals",
    "EqualsIgnoreCase",
    "NotEqualsIgnoreCase",
    "Like",
    "NotLike",
)
KeyPools = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
FAMILIES: dict[str, tuple[KeyPools, tuple[str, ...]]] = {
    "string": ({**STRING_KEYS, **MULTI_KEYS}, tuple(f"String{m}" for m in STRING_MATCHES)),
    "numeric": (NUMERIC_KEYS, tuple(f"Numeric{c}" for c in COMPARISONS)),
    "date": (DATE_KEYS, tuple(f"Date{c}" for c in COMPARISONS)),
    "bool": (BOOL_KEYS, ("Bool",)),
    "binary": (BINARY_KEYS, ("BinaryEquals",)),
    "ip": (IP_KEYS, ("IpAddress", "NotIpAddress")),
    "arn": (ARN_KEYS, ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")),
}
# Keys the engine and the oracle runner derive from the principal: never supplied by the generator.
DERIVED_KEYS = ("aws:PrincipalAccount", "aws:PrincipalType", "aws:PrincipalArn")


def generate(n: int, seed: int) -> list[dict[str, Any]]:
    """Return n contract cases; the same (n, seed) always gives the same cases."""
    rng = random.Random(seed)
    return [_tutorial_case(rng) if rng.random() < 0.1 else _case(rng) for _ in range(n)]


POLICY_KEYS = ("identity_policies", "resource_policy", "permissions_boundary", "session_policy")


def generate_repeated(n: int, seed: int, policy_sets: int = 20) -> list[dict[str, Any]]:
    """Return n contract cases sharing `policy_sets` distinct policy sets, as a CI batch does.

    A policy set (identity policies, resource policy, boundary, session policy) comes from one
    generated case; each case pairs one set with a freshly drawn request and context, redrawn
    until AWS could send that request under that set. The same (n, seed) gives the same cases.
    """
    rng = random.Random(seed)
    sets = _policy_sets(rng, policy_sets)
    cases: list[dict[str, Any]] = []
    while len(cases) < n:
        policies = rng.choice(sets)
        request = _request(rng)
        if not _can_carry(request, policies):
            continue
        case = {**request, **policies}
        if context := _context(rng):
            case["context"] = context
        cases.append(case)
    return cases


def policy_set_key(case: dict[str, Any]) -> str:
    """A case's policy set as one JSON text: equal texts, equal sets."""
    return json.dumps({key: case.get(key) for key in POLICY_KEYS}, sort_keys=True)


def _policy_sets(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """`count` distinct policy sets, drawn as `generate` draws its cases."""
    found: dict[str, dict[str, Any]] = {}
    while len(found) < count:
        case = _tutorial_case(rng) if rng.random() < 0.1 else _case(rng)
        policies = {key: case[key] for key in POLICY_KEYS if key in case}
        found.setdefault(policy_set_key(policies), policies)
    return list(found.values())


def _can_carry(request: dict[str, str], policies: dict[str, Any]) -> bool:
    """Whether AWS could evaluate this request under these policies, as `_case` ensures."""
    principal = request["principal"]
    # The root user carries no identity policies, boundary or session policy.
    if principal.endswith(":root") and (
        policies["identity_policies"]
        or policies.keys() & {"permissions_boundary", "session_policy"}
    ):
        return False
    if "session_policy" in policies and ":assumed-role/" not in principal:
        return False
    if request["resource"] == "*":
        return policies["resource_policy"] is None
    return all(_not_principal_is_complete(s, principal) for s in _statements(policies))


def _statements(policies: dict[str, Any]) -> list[dict[str, Any]]:
    resource_policy = policies["resource_policy"]
    return [] if resource_policy is None else resource_policy["Statement"]


def _not_principal_is_complete(statement: dict[str, Any], principal: str) -> bool:
    """A NotPrincipal naming the caller's account names the caller too (`_not_principal_element`
    keeps to AWS's complete form; the other cases AWS's docs leave open)."""
    excluded = statement.get("NotPrincipal", {}).get("AWS", [])
    return f"arn:aws:iam::{principal.split(':')[4]}:root" not in excluded or principal in excluded


def _case(rng: random.Random) -> dict[str, Any]:
    request = _request(rng)
    principal, resource = request["principal"], request["resource"]
    # The root user carries no identity policies, boundary or session policy (AWS allows none).
    is_root = principal.endswith(":root")
    count = 0 if is_root else rng.choices((0, 1, 2, 3), weights=(15, 50, 25, 10))[0]
    case: dict[str, Any] = {
        **request,
        "identity_policies": [_policy(rng, request, "identity") for _ in range(count)],
        # AWS never consults a resource policy on Resource "*" (GetAuthorizationToken).
        "resource_policy": (
            _policy(rng, request, "resource") if resource != "*" and rng.random() < 0.65 else None
        ),
    }
    if not is_root and rng.random() < 0.15:
        case["permissions_boundary"] = _policy(rng, request, "boundary")
    if ":assumed-role/" in principal and rng.random() < 0.15:
        case["session_policy"] = _policy(rng, request, "session")
    if context := _context(rng):
        case["context"] = context
    return case


def _request(rng: random.Random) -> dict[str, str]:
    """A principal, an action and a resource: a quarter of repositories in the other account."""
    principal, account = _principal(rng)
    action = rng.choice(REPOSITORY_ACTIONS) if rng.random() < 0.95 else GET_AUTHORIZATION_TOKEN
    resource_account = account if rng.random() < 0.75 else (OTHER if account == HOME else HOME)
    resource = (
        "*"
        if action == GET_AUTHORIZATION_TOKEN
        else f"arn:aws:ecr:{rng.choice(REGIONS)}:{resource_account}:repository/"
        f"{rng.choice(REPOSITORIES)}"
    )
    return {"principal": principal, "action": action, "resource": resource}


def _tutorial_case(rng: random.Random) -> dict[str, Any]:
    """The tutorial's shape: FullAccess roles, three Deny statements on the repository."""
    role = rng.choice((*ROLES, "instance-role-4"))
    role_arns = [f"arn:aws:iam::{HOME}:role/{name}" for name in ROLES[:2]]
    deny = {"Effect": "Deny", "Principal": "*"}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                **deny,
                "NotAction": [*PUSH, "ecr:BatchCheckLayerAvailability"],
                "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arns[0]}},
            },
            {
                **deny,
                "NotAction": list(PULL[:2]),
                "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arns[1]}},
            },
            {**deny, "Action": "*", "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role_arns}}},
        ],
    }
    return {
        "principal": f"arn:aws:sts::{HOME}:assumed-role/{role}/i-0{rng.randrange(16**7):07x}",
        "action": rng.choice(PULL + PUSH),
        "resource": f"arn:aws:ecr:ap-northeast-1:{HOME}:repository/fa-085",
        "identity_policies": [ECR_FULL_ACCESS],
        "resource_policy": policy,
    }


def _principal(rng: random.Random) -> tuple[str, str]:
    account = HOME if rng.random() < 0.8 else OTHER
    kind = rng.choices(("role", "user", "root"), weights=(60, 30, 10))[0]
    if kind == "role":
        session = rng.choice(("i-0abc1234", "botocore-session-1", "ci"))
        return f"arn:aws:sts::{account}:assumed-role/{rng.choice(ROLES)}/{session}", account
    if kind == "user":
        return f"arn:aws:iam::{account}:user/{rng.choice(USERS)}", account
    return f"arn:aws:iam::{account}:root", account


def _policy(rng: random.Random, request: dict[str, str], kind: str) -> dict[str, Any]:
    count = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
    return {
        "Version": "2012-10-17",
        "Statement": [_statement(rng, request, kind, index) for index in range(count)],
    }


def _statement(
    rng: random.Random, request: dict[str, str], kind: str, index: int
) -> dict[str, Any]:
    deny_share = 0.3 if kind == "resource" else 0.2
    statement: dict[str, Any] = {"Effect": "Deny" if rng.random() < deny_share else "Allow"}
    if rng.random() < 0.2:
        statement["Sid"] = f"Statement{index}"  # unique within the policy, as IAM requires
    if kind == "resource":
        if statement["Effect"] == "Deny" and rng.random() < 0.1:
            statement["NotPrincipal"] = _not_principal_element(rng, request["principal"])
        else:
            statement["Principal"] = _principal_element(rng, request["principal"])
    action_key = "NotAction" if rng.random() < 0.15 else "Action"
    statement[action_key] = _action_element(rng, request["action"], negated=action_key != "Action")
    if kind != "resource":
        resource_key = "NotResource" if rng.random() < 0.1 else "Resource"
        statement[resource_key] = _resource_element(
            rng, request["resource"], variables=resource_key == "Resource"
        )
    if rng.random() < 0.45:
        statement["Condition"] = _condition(rng)
    return statement


def _one_or_list(rng: random.Random, values: list[Any]) -> Any:
    return values[0] if len(values) == 1 and rng.random() < 0.6 else values


def _action_element(rng: random.Random, action: str, *, negated: bool) -> Any:
    name = action.split(":")[1]
    matching = [
        action,
        action.lower(),
        "ECR:" + name.upper(),
        "ecr:*",
        "*",
        f"ecr:{name[:5]}*",
        f"ecr:*{name[-5:]}",
        f"ecr:{name[:-1]}?",
    ]
    others = [a for a in (*REPOSITORY_ACTIONS, GET_AUTHORIZATION_TOKEN) if a != action]
    missing = [*rng.sample(others, 2), "ecr:Describe*", "s3:GetObject", "ecr:*Policy"]
    # NotAction lists mostly other actions, so that a negated element matches as often.
    match_share = 0.35 if negated else 0.75
    picks = [rng.choice(matching if rng.random() < match_share else missing)]
    if rng.random() < 0.3:
        picks.append(rng.choice(missing))
    rng.shuffle(picks)
    return _one_or_list(rng, picks)


def _resource_element(rng: random.Random, resource: str, *, variables: bool) -> Any:
    arn = f"arn:aws:ecr:us-east-1:{HOME}:repository/fa-085" if resource == "*" else resource
    _, _, _, region, account, name = arn.split(":", 5)
    matching = [
        "*",
        arn,
        f"arn:aws:ecr:*:{account}:repository/*",
        f"arn:aws:ecr:{region}:*:{name}",
        "arn:aws:ecr:*:*:repository/*",
        f"arn:aws:ecr:{region}:{account}:{name[:-1]}?",
    ]
    if variables:
        # In the ARN's last part only: the oracle splits earlier parts wrongly.
        matching.append("arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}/*")
    missing = [
        f"arn:aws:ecr:{region}:{account}:{name.upper()}",
        f"arn:aws:ecr:{region}:{OTHER if account == HOME else HOME}:{name}",
        "arn:aws:ecr:*:*:repository/team-b/*",
        f"arn:aws:s3:::{name}",
    ]
    picks = [rng.choice(matching if rng.random() < 0.75 else missing)]
    if rng.random() < 0.25:
        picks.append(rng.choice(missing))
    return _one_or_list(rng, picks)


def _principal_element(rng: random.Random, principal: str) -> Any:
    account = principal.split(":")[4]
    roles = [f"arn:aws:iam::{HOME}:role/{name}" for name in ROLES]
    pool = [
        "*",
        {"AWS": "*"},
        {"AWS": account},
        {"AWS": f"arn:aws:iam::{account}:root"},
        {"AWS": rng.choice(roles)},
        {"AWS": rng.sample(roles, 2)},
        {"AWS": f"arn:aws:iam::{HOME}:user/{rng.choice(USERS)}"},
        {"AWS": principal},
        {"AWS": [f"arn:aws:iam::{OTHER}:root", principal]},
        {"Service": "ec2.amazonaws.com"},
    ]
    if ":assumed-role/" in principal:
        pool.append({"AWS": f"arn:aws:iam::{account}:role/{principal.split('/')[1]}"})
    return rng.choice(pool)


def _not_principal_element(rng: random.Random, principal: str) -> dict[str, list[str]]:
    """Excludes the caller, or another principal, in the complete form AWS's NotPrincipal page
    asks for (the account, and for a session also its role): the incomplete forms are recorded
    departures."""
    if rng.random() < 0.5:
        account = OTHER if principal.split(":")[4] == HOME else HOME
        principal = f"arn:aws:sts::{account}:assumed-role/{ROLES[0]}/other-session"
    account = principal.split(":")[4]
    excluded = [principal, f"arn:aws:iam::{account}:root"]
    if ":assumed-role/" in principal:
        excluded.append(f"arn:aws:iam::{account}:role/{principal.split('/')[1]}")
    return {"AWS": list(dict.fromkeys(excluded))}


def _condition(rng: random.Random) -> dict[str, dict[str, Any]]:
    """One to three clauses, ANDed: an operator (with its modifiers), a key, values ORed."""
    condition: dict[str, dict[str, Any]] = {}
    for _ in range(rng.choices((1, 2, 3), weights=(60, 30, 10))[0]):
        operator, key, values = _clause(rng)
        condition.setdefault(operator, {})[key] = values
    return condition


def _clause(rng: random.Random) -> tuple[str, str, Any]:
    if rng.random() < 0.1:
        key = rng.choice(_all_keys())
        return "Null", key, rng.choice(("true", "false", True))
    family = rng.choice(tuple(FAMILIES))
    keys, operators = FAMILIES[family]
    key = rng.choice(tuple(keys))
    operator = rng.choice(operators)
    if key in MULTI_KEYS or rng.random() < 0.05:
        operator = f"{rng.choice(('ForAllValues', 'ForAnyValue'))}:{operator}"
    elif rng.random() < 0.2:
        operator += "IfExists"
    pool = keys[key][1]
    values: list[Any] = rng.sample(pool, rng.choices((1, 2), weights=(75, 25))[0])
    if family == "string" and rng.random() < 0.1:
        # A policy variable in a condition value (never in an Arn* operator: an oracle bug).
        kind = rng.choice(("role", "user"))
        key, values = "aws:PrincipalArn", [f"arn:aws:iam::${{aws:PrincipalAccount}}:{kind}/*"]
    if family == "bool" and rng.random() < 0.3:
        values = [values[0].lower() == "true"]
    return operator, key, _one_or_list(rng, values)


def _all_keys() -> tuple[str, ...]:
    return tuple(key for keys, _ in FAMILIES.values() for key in keys)


def _context(rng: random.Random) -> dict[str, str | list[str]]:
    """Each key present about 55% of the time; multivalued keys get non-empty lists."""
    context: dict[str, str | list[str]] = {}
    for key in _all_keys():
        if key in DERIVED_KEYS or rng.random() >= 0.55:
            continue
        pool = _request_values(key)
        if key in MULTI_KEYS:
            context[key] = rng.sample(pool, rng.randrange(1, len(pool) + 1))
        else:
            context[key] = rng.choice(pool)
    return context


def _request_values(key: str) -> tuple[str, ...]:
    for keys, _ in FAMILIES.values():
        if key in keys:
            return keys[key][0]
    raise KeyError(key)
