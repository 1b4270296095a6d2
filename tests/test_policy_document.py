"""Parsing and validation as AWS does it (IAM's grammar, ECR's repository-policy rules).

Sources: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html, FACTS (ECR's error).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from lab.errors import AwsError
from lab.policy.document import REPOSITORY_POLICY_MESSAGE, PolicyError, parse_policy
from lab.policy.model import ConditionClause

ALLOW_ALL = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
REPO_ALLOW = {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}


def doc(*statements: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements), **top}


def iam_error(document: Any, kind: str = "identity") -> AwsError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document, kind)
    return caught.value.to_aws_error(kind)


def test_parses_json_text_and_normalises_lists_to_tuples() -> None:
    policy = parse_policy(json.dumps(doc(ALLOW_ALL)), "identity", "mine")
    (statement,) = policy.statements
    assert (policy.version, policy.name, statement.action, statement.resource) == (
        "2012-10-17",
        "mine",
        ("ecr:*",),
        ("*",),
    )


def test_single_statement_object_is_accepted() -> None:
    policy = parse_policy({"Version": "2012-10-17", "Statement": ALLOW_ALL}, "identity")
    assert len(policy.statements) == 1


def test_absent_version_means_2008_for_identity_policies() -> None:
    # reference_policies_elements_version.html: no Version -> 2008-10-17, no variables
    assert parse_policy({"Statement": [ALLOW_ALL]}, "identity").version == "2008-10-17"


@pytest.mark.parametrize("version", ["2012-10-18", 20121017, dt.date(2012, 10, 17), None])
def test_version_must_be_one_of_the_two_strings(version: Any) -> None:
    # A YAML date (unquoted 2012-10-17) must not pass as a Version (FACTS).
    with pytest.raises(PolicyError) as caught:
        parse_policy({"Version": version, "Statement": [ALLOW_ALL]}, "identity")
    assert caught.value.element == "Version"


def test_principal_in_identity_policy_is_iams_message() -> None:
    error = iam_error(doc({**ALLOW_ALL, "Principal": "*"}))
    assert error == AwsError(
        "MalformedPolicyDocument", "Policy document should not specify a principal."
    )


def test_identity_statement_needs_resources_and_actions() -> None:
    assert iam_error(doc({"Effect": "Allow", "Action": "ecr:*"})).message == (
        "Policy statement must contain resources."
    )
    assert iam_error(doc({"Effect": "Allow", "Resource": "*"})).message == (
        "Policy statement must contain actions."
    )


def test_trust_policy_has_prohibited_field_resource() -> None:
    trust = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, **ALLOW_ALL})
    assert iam_error(trust, "trust").message == "Has prohibited field Resource"


def test_invalid_json_is_syntax_errors_in_policy() -> None:
    assert iam_error("{not json").message == "Syntax errors in policy."


def test_action_without_vendor_prefix() -> None:
    error = iam_error(doc({**ALLOW_ALL, "Action": "BatchGetImage"}))
    assert error.message.startswith("Actions/Conditions must be prefaced by a vendor")


def test_missing_effect() -> None:
    assert iam_error(doc({"Action": "ecr:*", "Resource": "*"})).message == (
        "Missing required field Effect"
    )


def test_unknown_condition_operator_is_rejected() -> None:
    statement = {**ALLOW_ALL, "Condition": {"StringEqualz": {"aws:username": "a"}}}
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc(statement), "identity")
    assert (caught.value.statement, caught.value.element) == (0, "Condition")


def test_condition_values_become_strings_as_aws_compares_them() -> None:
    statement = {
        **ALLOW_ALL,
        "Condition": {"Bool": {"aws:SecureTransport": True}, "NumericLessThan": {"n": [1, 2.5]}},
    }
    (parsed,) = parse_policy(doc(statement), "identity").statements
    assert parsed.condition == (
        ConditionClause("Bool", "aws:SecureTransport", ("true",)),
        ConditionClause("NumericLessThan", "n", ("1", "2.5")),
    )


@pytest.mark.parametrize(
    "statement",
    [
        {**ALLOW_ALL, "NotAction": "ecr:PutImage"},  # Action with NotAction
        {**ALLOW_ALL, "Extra": 1},  # unknown statement key
        {**ALLOW_ALL, "Action": []},  # empty list
        {**ALLOW_ALL, "Action": "*:PutImage"},  # wildcard vendor
        {**ALLOW_ALL, "Resource": "repository/x"},  # not an ARN
        {**ALLOW_ALL, "Effect": "allow"},  # Effect is case-sensitive
    ],
)
def test_invalid_statements(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_policy(doc(statement), "identity")


def test_unknown_top_level_key() -> None:
    with pytest.raises(PolicyError):
        parse_policy(doc(ALLOW_ALL, Extra="x"), "identity")


def test_duplicate_sids_are_rejected() -> None:
    error = iam_error(doc({**ALLOW_ALL, "Sid": "A"}, {**ALLOW_ALL, "Sid": "A"}))
    assert error.message == "Statement IDs (SID) in a single policy must be unique."


def test_repository_policy_parses_principal_forms() -> None:
    policy = parse_policy(
        doc(
            REPO_ALLOW,
            {
                **REPO_ALLOW,
                "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/p/r"]},
            },
            {**REPO_ALLOW, "Principal": {"Service": "codebuild.amazonaws.com"}},
        ),
        "repository",
    )
    assert [s.principal for s in policy.statements] == [
        {"AWS": ("*",)},
        {"AWS": ("arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/p/r")},
        {"Service": ("codebuild.amazonaws.com",)},
    ]


@pytest.mark.parametrize(
    "document",
    [
        "{bad json",
        doc({"Principal": "*", "Action": "ecr:*"}),  # missing Effect
        doc({**REPO_ALLOW, "NotAction": "ecr:PutImage"}),  # Action with NotAction
        doc({**REPO_ALLOW, "Condition": {"StringEqualz": {"a": "b"}}}),  # unknown operator
        {"Version": "2012-10-18", "Statement": [REPO_ALLOW]},  # bad Version
        doc({**REPO_ALLOW, "Action": "BatchGetImage"}),  # action without a prefix
        doc(REPO_ALLOW, Extra=1),  # unknown top-level key
        doc({**REPO_ALLOW, "Resource": "*"}),  # a Resource element
        doc({"Effect": "Allow", "Action": "ecr:*"}),  # no Principal
        doc({**REPO_ALLOW, "Principal": {"AWS": "arn:aws:iam::111122223333:role/*"}}),  # wildcard
    ],
)
def test_ecr_rejects_invalid_repository_policies_with_one_error(document: Any) -> None:
    """FACTS: ECR's InvalidParameterException for each of these."""
    error = iam_error(document, "repository")
    assert error == AwsError("InvalidParameterException", REPOSITORY_POLICY_MESSAGE)
    assert error.status == 400


def test_repository_policy_size_limit_is_10240_bytes() -> None:
    # botocore's ECR model: RepositoryPolicyText max 10,240
    big = doc(*({**REPO_ALLOW, "Sid": f"S{i}"} for i in range(200)))
    with pytest.raises(PolicyError) as caught:
        parse_policy(json.dumps(big), "repository")
    assert caught.value.limit_exceeded


def test_managed_policy_quota_counts_characters_without_whitespace() -> None:
    # reference_iam-quotas.html: managed policy 6,144 characters, whitespace not counted
    statements = [{**ALLOW_ALL, "Sid": f"S{i}"} for i in range(100)]
    text = json.dumps(doc(*statements), indent=8)
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "identity", quota="managed")
    assert caught.value.iam_message == "Cannot exceed quota for PolicySize: 6144"
    assert parse_policy(text, "identity", quota="inline_role").statements  # within 10,240
    assert parse_policy(text, "identity").statements  # no quota: AWS managed policies


def test_policy_error_names_its_place() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(doc(ALLOW_ALL, {**ALLOW_ALL, "Action": "nope"}), "identity")
    assert (caught.value.statement, caught.value.element) == (1, "Action")
    assert str(caught.value).startswith("statement 2 Action:")  # counted from 1
