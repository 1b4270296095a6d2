"""The policy benchmark's "repeated policies" workload: deterministic, its policy sets as stated."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from tests.oracle.cases import generate, generate_repeated, policy_set_key

CASES = generate_repeated(2000, seed=20261128)
FIRST_WORKLOAD_SHA256 = "61e98ac29ff3770f0abd206505ae1c4f38ef6c2f311a8ea0cf6de0e150acd568"


def test_same_seed_gives_same_cases() -> None:
    assert json.dumps(generate_repeated(2000, seed=20261128)) == json.dumps(CASES)
    assert generate_repeated(200, seed=1) != generate_repeated(200, seed=2)


def test_cases_share_exactly_the_stated_number_of_distinct_policy_sets() -> None:
    assert len(CASES) == 2000
    assert len({policy_set_key(case) for case in CASES}) == 20
    assert len({policy_set_key(case) for case in generate_repeated(500, 3, policy_sets=5)}) == 5


def test_every_policy_set_meets_many_requests_and_contexts() -> None:
    per_set = Counter(policy_set_key(case) for case in CASES)
    assert min(per_set.values()) >= 40
    requests = {(c["principal"], c["action"], c["resource"]) for c in CASES}
    contexts = {json.dumps(c.get("context"), sort_keys=True) for c in CASES}
    assert len(requests) > 500
    assert len(contexts) > 1500


def test_requests_are_ones_aws_could_send_under_their_policies() -> None:
    for case in CASES:
        if case["principal"].endswith(":root"):
            assert not case["identity_policies"]
            assert "permissions_boundary" not in case
        if "session_policy" in case:
            assert ":assumed-role/" in case["principal"]
        if case["resource"] == "*":
            assert case["resource_policy"] is None
        root = f"arn:aws:iam::{case['principal'].split(':')[4]}:root"
        for statement in (case["resource_policy"] or {}).get("Statement", []):
            excluded = statement.get("NotPrincipal", {}).get("AWS", [])
            assert root not in excluded or case["principal"] in excluded


def test_the_first_workload_is_unchanged() -> None:
    # Both workloads draw from one generator: adding the second must not move the first.
    text = json.dumps(generate(500, seed=20261128)).encode()
    assert hashlib.sha256(text).hexdigest() == FIRST_WORKLOAD_SHA256
