"""Generated `simulate --batch` cases with Organizations guardrails and VPC endpoint policies.

`generate_guardrails(n, seed)` takes `cases.generate(n, seed)` and gives a share of them SCPs by
level (AWS's FullAWSAccess, sometimes with or instead of a generated policy), RCPs by level
(RCPFullAWSAccess, which AWS never detaches, with generated Deny statements: customer RCPs may
only deny) and an endpoint policy (Principal "*"). Principals stay IAM users, roles and roots of
member accounts: the management account and service-linked roles are pinned in
tests/test_policy_guardrails.py, the oracle has no notion of them.
"""

from __future__ import annotations

import random
from typing import Any

from lab.server.guardrails import FULL_AWS_ACCESS_DOCUMENT as FULL_AWS_ACCESS
from lab.server.guardrails import RCP_FULL_AWS_ACCESS_DOCUMENT as RCP_FULL_AWS_ACCESS
from tests.oracle.cases import _condition, _statement, generate


def generate_guardrails(n: int, seed: int, share: float = 0.6) -> list[dict[str, Any]]:
    """`generate(n, seed)` with guardrails added to about `share` of the cases (deterministic)."""
    rng = random.Random(seed ^ 0x5C9)
    cases = generate(n, seed)
    for case in cases:
        if rng.random() >= share:
            continue
        request = {key: case[key] for key in ("principal", "action", "resource")}
        if rng.random() < 0.7:
            case["scps"] = [_scp_level(rng, request) for _ in range(rng.randint(1, 3))]
        if case["resource"] != "*" and rng.random() < 0.6:
            case["rcps"] = [_rcp_level(rng, request) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            case["endpoint_policy"] = _policy(rng, request, "endpoint")
    return cases


def _scp_level(rng: random.Random, request: dict[str, str]) -> list[dict[str, Any]]:
    roll = rng.random()
    if roll < 0.6:
        return [FULL_AWS_ACCESS]
    if roll < 0.9:
        return [FULL_AWS_ACCESS, _policy(rng, request, "scp")]
    return [_policy(rng, request, "scp")]  # FullAWSAccess detached: allows only what it says


def _rcp_level(rng: random.Random, request: dict[str, str]) -> list[dict[str, Any]]:
    if rng.random() < 0.65:
        return [RCP_FULL_AWS_ACCESS]
    return [RCP_FULL_AWS_ACCESS, _policy(rng, request, "rcp")]


def _policy(rng: random.Random, request: dict[str, str], kind: str) -> dict[str, Any]:
    statements = []
    for index in range(rng.choice((1, 1, 2))):
        statement = _statement(rng, request, "identity", index)
        if kind in ("rcp", "endpoint"):
            statement = {"Principal": "*", **statement}
        if kind == "rcp":
            # RCP syntax: customer RCPs only deny, take no NotAction and no bare "*" Action.
            statement["Effect"] = "Deny"
            action = statement.pop("NotAction", None) or statement.pop("Action")
            statement["Action"] = _no_bare_star(action)
            if "Condition" not in statement and rng.random() < 0.6:
                statement["Condition"] = _condition(rng)
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def _no_bare_star(action: Any) -> Any:
    if isinstance(action, list):
        return ["ecr:*" if a == "*" else a for a in action]
    return "ecr:*" if action == "*" else action
