"""Condition operators, IfExists, Null and the set operators, from AWS's IAM reference.

OPS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
SETS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
SET_EXAMPLES: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from lab.policy.conditions import evaluate_conditions, is_known_operator
from lab.policy.model import ConditionClause, ConditionTrace, ContextValue

ROLE_1 = "arn:aws:iam::123456789012:role/fa-085-role1"
ROLE_2 = "arn:aws:iam::123456789012:role/fa-085-role2"
ROLE_3 = "arn:aws:iam::123456789012:role/fa-085-role3"


def check(operator: str, key: str, values: str | tuple[str, ...], **context: ContextValue) -> bool:
    """One clause; context keyword names use `__` for `:` and are lower-cased."""
    request = {name.replace("__", ":").lower(): value for name, value in context.items()}
    clause = ConditionClause(operator, key, (values,) if isinstance(values, str) else values)
    result, _ = evaluate_conditions((clause,), request)
    return result


BASES = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
]
NEGATED = {b for b in BASES if "Not" in b}


@pytest.mark.parametrize("base", BASES)
def test_every_operator_and_modifier_is_known(base: str) -> None:
    """OPS: every operator, with IfExists and the ForAllValues:/ForAnyValue: prefixes."""
    for prefix in ("", "ForAllValues:", "ForAnyValue:"):
        assert is_known_operator(f"{prefix}{base}")
        assert is_known_operator(f"{prefix}{base}IfExists")


def test_null_takes_no_if_exists() -> None:
    """OPS, IfExists: "any condition operator name except the Null condition"."""
    assert is_known_operator("Null")
    assert not is_known_operator("NullIfExists")


@pytest.mark.parametrize(
    "operator",
    [
        "stringEquals",  # IAM: "Invalid Condition type : stringEquals" (names are case-sensitive)
        "STRINGEQUALS",
        "StringEqualsIfexists",
        "forAnyValue:StringEquals",
        "ForAnyValue:ForAllValues:StringEquals",
        "StringLikeIgnoreCase",
        "BinaryNotEquals",
        "IfExists",
        "ForAnyValue:",
        "",
    ],
)
def test_unknown_operators(operator: str) -> None:
    assert not is_known_operator(operator)


def test_unknown_operator_evaluates_false_without_raising() -> None:
    assert not check("StringEqualz", "aws:username", "a", aws__username="a")


# --- String -----------------------------------------------------------------------------


def test_string_equals_principal_tag_example() -> None:
    """OPS, String: `StringEquals aws:PrincipalTag/job-category = iamuser-admin`; a user
    without the tag does not match."""
    clause = ("StringEquals", "aws:PrincipalTag/job-category", "iamuser-admin")
    assert check(*clause, aws__principaltag_job="x") is False
    assert check(*clause, **{"aws__PrincipalTag/job-category": "iamuser-admin"})
    assert not check(*clause, **{"aws__principaltag/job-category": "IAMUSER-ADMIN"})
    assert not check(*clause)


def test_string_ignore_case() -> None:
    assert check("StringEqualsIgnoreCase", "k", "Admin", k="aDMIN")
    assert not check("StringNotEqualsIgnoreCase", "k", "Admin", k="aDMIN")
    assert check("StringNotEqualsIgnoreCase", "k", "Admin", k="user")


def test_string_like_home_directory_example() -> None:
    """OPS, String: StringLike s3:prefix ["", "home/", "home/${aws:username}/"]."""
    values = ("", "home/", "home/${aws:username}/")
    assert check("StringLike", "s3:prefix", values, s3__prefix="home/David/", aws__username="David")
    assert check("StringLike", "s3:prefix", values, s3__prefix="", aws__username="David")
    assert not check("StringLike", "s3:prefix", values, s3__prefix="home/Ann/", aws__username="D")


def test_string_like_wildcards_are_case_sensitive() -> None:
    assert check(
        "StringLike", "ec2:InstanceType", ("t1.*", "t2.*", "m3.*"), ec2__instancetype="t2.micro"
    )
    assert not check("StringLike", "ec2:InstanceType", "T2.*", ec2__instancetype="t2.micro")
    assert check("StringLike", "k", "a?c", k="abc")
    assert not check("StringEquals", "k", "a?c", k="abc")  # no wildcards in StringEquals


def test_string_not_like_and_not_equals_are_nor_over_values() -> None:
    """Conditions with multiple context keys or values: negated operators NOR the values."""
    assert not check("StringNotEquals", "k", ("a", "b"), k="a")
    assert not check("StringNotEquals", "k", ("a", "b"), k="b")
    assert check("StringNotEquals", "k", ("a", "b"), k="c")
    assert check("StringNotLike", "k", ("a*", "b*"), k="cat")
    assert not check("StringNotLike", "k", ("a*", "b*"), k="bat")


# --- Missing keys, IfExists, Null ------------------------------------------------------


@pytest.mark.parametrize("base", BASES)
def test_missing_key_false_for_positive_true_for_negated(base: str) -> None:
    """OPS (Important): a missing key does not match; for a negated operator such as
    StringNotLike or ArnNotLike the condition is true."""
    assert check(base, "aws:Absent", "x") is (base in NEGATED)


@pytest.mark.parametrize("base", BASES)
def test_if_exists_is_true_when_key_is_absent(base: str) -> None:
    """OPS, IfExists: "If the key is not present, evaluate the condition element as true"."""
    assert check(f"{base}IfExists", "aws:Absent", "x")


def test_if_exists_evaluates_normally_when_present() -> None:
    """OPS, IfExists: StringLikeIfExists ec2:InstanceType ["t1.*", "t2.*", "m3.*"]."""
    values = ("t1.*", "t2.*", "m3.*")
    assert check("StringLikeIfExists", "ec2:InstanceType", values, ec2__instancetype="t2.nano")
    assert not check("StringLikeIfExists", "ec2:InstanceType", values, ec2__instancetype="c5.big")
    assert check("StringLikeIfExists", "ec2:InstanceType", values)


def test_null_operator_example() -> None:
    """OPS, Null: `Null aws:TokenIssueTime true` means the key must be absent."""
    assert check("Null", "aws:TokenIssueTime", "true")
    assert not check("Null", "aws:TokenIssueTime", "true", aws__tokenissuetime="2020-01-01")
    assert check("Null", "aws:TokenIssueTime", "false", aws__tokenissuetime="2020-01-01")
    assert not check("Null", "aws:TokenIssueTime", "false")
    assert check("Null", "aws:TokenIssueTime", "TRUE")
    assert not check("Null", "aws:TokenIssueTime", "maybe")


# --- Numeric, Date, Bool, Binary, IP ---------------------------------------------------


def test_numeric_max_keys_example() -> None:
    """OPS, Numeric: `NumericLessThanEquals s3:max-keys 10`."""
    assert check("NumericLessThanEquals", "s3:max-keys", "10", **{"s3__max-keys": "10"})
    assert check("NumericLessThanEquals", "s3:max-keys", "10", **{"s3__max-keys": "3"})
    assert not check("NumericLessThanEquals", "s3:max-keys", "10", **{"s3__max-keys": "11"})


@pytest.mark.parametrize(
    ("operator", "policy", "request_value", "expected"),
    [
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", "0.5", ".5", True),
        ("NumericEquals", "-3", "-3", True),
        ("NumericNotEquals", "10", "11", True),
        ("NumericNotEquals", "10", "10", False),
        ("NumericLessThan", "10", "9.99", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericGreaterThan", "10", "10.01", True),
        ("NumericGreaterThanEquals", "10", "10", True),
        ("NumericLessThan", "10", "ten", False),  # unparseable: no match, no exception
        ("NumericEquals", "NaN", "NaN", False),
        ("NumericEquals", "1_000", "1000", False),
    ],
)
def test_numeric(operator: str, policy: str, request_value: str, expected: bool) -> None:
    """OPS, Numeric: integers and decimals."""
    assert check(operator, "k", policy, k=request_value) is expected


@pytest.mark.parametrize(
    ("operator", "policy", "request_value", "expected"),
    [
        # OPS, Date: DateGreaterThan aws:TokenIssueTime 2020-01-01T00:00:01Z
        ("DateGreaterThan", "2020-01-01T00:00:01Z", "2020-06-01T00:00:00Z", True),
        ("DateGreaterThan", "2020-01-01T00:00:01Z", "2019-12-31T23:59:59Z", False),
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T09:00:00+09:00", True),
        ("DateEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01", "2020-01-01T00:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00.000Z", "1577836800", True),  # epoch seconds
        ("DateLessThan", "1577836800", "2019-12-31T23:59:59Z", True),
        ("DateLessThanEquals", "2020-01-01T00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", True),
        ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", False),
        ("DateLessThan", "2020-01-01T00:00:00Z", "yesterday", False),
        ("DateLessThan", "2020-01-01T00:00:00Z", "9" * 40, False),  # overflow: no match
    ],
)
def test_dates(operator: str, policy: str, request_value: str, expected: bool) -> None:
    """OPS, Date: W3C ISO 8601 formats or epoch (UNIX) time."""
    assert check(operator, "aws:CurrentTime", policy, aws__currenttime=request_value) is expected


def test_bool_secure_transport_example() -> None:
    """OPS, Boolean: `Bool aws:SecureTransport false` (deny non-TLS)."""
    assert check("Bool", "aws:SecureTransport", "false", aws__securetransport="false")
    assert not check("Bool", "aws:SecureTransport", "false", aws__securetransport="true")
    assert check("Bool", "aws:SecureTransport", "True", aws__securetransport="TRUE")
    assert not check("Bool", "aws:SecureTransport", "false", aws__securetransport="no")


def test_binary_equals_example() -> None:
    """OPS, Binary: compares bytes against the base-64 value in the policy."""
    value = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
    assert check("BinaryEquals", "s3:key", value, s3__key=value)
    assert not check("BinaryEquals", "s3:key", value, s3__key="QmluYXJ5")
    assert not check("BinaryEquals", "s3:key", value, s3__key="not base64!")


@pytest.mark.parametrize(
    ("policy", "address", "expected"),
    [
        ("203.0.113.0/24", "203.0.113.7", True),  # OPS, IP address example
        ("203.0.113.0/24", "203.0.114.7", False),
        ("203.0.113.5", "203.0.113.5", True),  # no prefix means /32
        ("203.0.113.5", "203.0.113.6", False),
        ("2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),  # IPv6 example
        ("2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
        ("2001:DB8:1234:5678::/64", "203.0.113.7", False),
        ("203.0.113.0/24", "not-an-ip", False),
        ("garbage", "203.0.113.7", False),
    ],
)
def test_ip_address(policy: str, address: str, expected: bool) -> None:
    assert check("IpAddress", "aws:SourceIp", policy, aws__sourceip=address) is expected
    assert check("NotIpAddress", "aws:SourceIp", policy, aws__sourceip=address) is not expected


def test_ip_address_mixed_v4_and_v6_list() -> None:
    """OPS, IP address: a list mixing IPv4 and IPv6 ranges."""
    values = ("203.0.113.0/24", "2001:DB8:1234:5678::/64")
    assert check("IpAddress", "aws:SourceIp", values, aws__sourceip="2001:db8:1234:5678::9")
    assert check("IpAddress", "aws:SourceIp", values, aws__sourceip="203.0.113.200")
    assert check("NotIpAddress", "aws:SourceIp", values, aws__sourceip="198.51.100.1")


# --- ARN -------------------------------------------------------------------------------


def test_arn_equals_source_arn_example() -> None:
    """OPS, ARN: `ArnEquals aws:SourceArn arn:aws:sns:REGION:123456789012:TOPIC-ID`."""
    topic = "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"
    assert check("ArnEquals", "aws:SourceArn", topic, aws__sourcearn=topic)
    assert not check("ArnEquals", "aws:SourceArn", topic)


def test_arn_equals_behaves_as_arn_like() -> None:
    """OPS, ARN: "The ArnEquals and ArnLike condition operators behave identically"."""
    pattern = "arn:aws:iam::123456789012:role/fa-085-*"
    for operator in ("ArnEquals", "ArnLike"):
        assert check(operator, "aws:PrincipalArn", pattern, aws__principalarn=ROLE_1)
    for operator in ("ArnNotEquals", "ArnNotLike"):
        assert not check(operator, "aws:PrincipalArn", pattern, aws__principalarn=ROLE_1)


def test_tutorial_policy_conditions() -> None:
    """The fa-085 repository policy: ArnEquals role 1 / role 2, ArnNotEquals [role 1, role 2]."""
    for role, first, second, third in (
        (ROLE_1, True, False, False),
        (ROLE_2, False, True, False),
        (ROLE_3, False, False, True),
    ):
        assert check("ArnEquals", "aws:PrincipalArn", ROLE_1, aws__principalarn=role) is first
        assert check("ArnEquals", "aws:PrincipalArn", ROLE_2, aws__principalarn=role) is second
        not_either = check(
            "ArnNotEquals", "aws:PrincipalArn", (ROLE_1, ROLE_2), aws__principalarn=role
        )
        assert not_either is third


def test_arn_like_with_policy_variable() -> None:
    """Variables page, Condition element: ARN operators take policy variables."""
    pattern = "arn:aws:iam::123456789012:role/${aws:username}"
    assert check(
        "ArnLike",
        "aws:PrincipalArn",
        pattern,
        aws__principalarn=ROLE_1,
        aws__username="fa-085-role1",
    )
    assert not check(
        "ArnLike", "aws:PrincipalArn", pattern, aws__principalarn=ROLE_1, aws__username="x"
    )


# --- Variables in condition values -----------------------------------------------------


def test_variable_in_string_condition_sns_example() -> None:
    """Variables page: StringLike sns:endpoint "https://example.com/${aws:username}/"."""
    value = "https://example.com/${aws:username}/"
    assert check(
        "StringLike",
        "sns:endpoint",
        value,
        sns__endpoint="https://example.com/Ann/",
        aws__username="Ann",
    )
    assert not check(
        "StringLike",
        "sns:endpoint",
        value,
        sns__endpoint="https://example.com/Bo/",
        aws__username="Ann",
    )


def test_a_variable_with_no_value_matches_nothing_so_negations_hold() -> None:
    """IAM User Guide, reference_policies_variables.html, "Policy variables with no value": a
    variable with no value is effectively null, equal to and like nothing; in a condition value
    it does not match, and under a negated operator (StringNotEquals, StringNotLike, ...) the
    condition therefore matches."""
    assert not check("StringEquals", "k", "${aws:username}", k="x")
    assert not check("StringLike", "k", "${aws:username}*", k="x")
    assert not check("ArnEquals", "k", "arn:aws:iam::1:user/${aws:username}", k="x")
    assert check("StringNotEquals", "k", "${aws:username}", k="x")
    assert check("StringNotLike", "k", "${aws:username}*", k="x")
    assert check("StringNotEqualsIgnoreCase", "k", "${aws:username}", k="x")
    assert check("ArnNotEquals", "k", "arn:aws:iam::1:user/${aws:username}", k="x")
    # Other values of the clause still count: the one with no value just matches nothing.
    assert check("StringEquals", "k", ("${aws:username}", "x"), k="x")
    assert not check("StringNotEquals", "k", ("${aws:username}", "x"), k="x")
    assert check("StringEquals", "k", "${aws:username, 'x'}", k="x")  # a default is a value


def test_special_character_variables_are_literal_in_string_like() -> None:
    """Variables page, Special characters: `${*}` is a literal asterisk, not a wildcard."""
    assert check("StringLike", "k", "a${*}", k="a*")
    assert not check("StringLike", "k", "a${*}", k="abc")
    assert check("StringEquals", "k", "a${?}", k="a?")


def test_numeric_and_date_take_no_variables() -> None:
    """OPS: policy variables are not supported by Numeric, Date, Binary, IP operators."""
    assert not check("NumericEquals", "k", "${aws:n}", k="5", aws__n="5")
    assert not check(
        "IpAddress", "aws:SourceIp", "${aws:n}", aws__sourceip="1.2.3.4", aws__n="1.2.3.4"
    )


def test_variables_can_be_disabled_for_old_policy_versions() -> None:
    """Variables page: without Version 2012-10-17, `${aws:username}` is a literal string."""
    clause = ConditionClause("StringEquals", "k", ("${aws:username}",))
    context = {"k": "${aws:username}", "aws:username": "Ann"}
    assert evaluate_conditions((clause,), context, substitute_variables=False)[0]
    assert not evaluate_conditions((clause,), context)[0]


# --- Set operators and multivalued keys ------------------------------------------------


def test_for_all_values_dynamodb_example() -> None:
    """SETS / multi-value page: ForAllValues:StringLike requestedAttributes
    [PostDateTime, Message, Tags]."""
    values = ("PostDateTime", "Message", "Tags")
    op, key = "ForAllValues:StringLike", "dynamodb:requestedAttributes"
    assert check(op, key, values, dynamodb__requestedattributes=("PostDateTime", "Message"))
    assert not check(op, key, values, dynamodb__requestedattributes=("PostDateTime", "UserName"))


def test_for_any_value_dynamodb_example() -> None:
    """Multi-value page: ForAnyValue:StringLike requestedAttributes [ID, PostDateTime]."""
    values = ("ID", "PostDateTime")
    op, key = "ForAnyValue:StringLike", "dynamodb:requestedAttributes"
    attributes = ("UserName", "Message", "PostDateTime")
    assert check(op, key, values, dynamodb__requestedattributes=attributes)
    assert not check(op, key, values, dynamodb__requestedattributes=("UserName",))


def test_for_all_values_true_on_missing_or_empty_set() -> None:
    """SETS: ForAllValues "also returns true if there are no context keys in the request";
    the multi-value page: an empty data set (for example, an empty string) is true."""
    assert check("ForAllValues:StringEquals", "aws:TagKeys", "a")
    assert check("ForAllValues:StringEquals", "aws:TagKeys", "a", aws__tagkeys=())
    assert check("ForAllValues:StringEquals", "aws:TagKeys", "a", aws__tagkeys="")


def test_for_any_value_false_on_missing_or_empty_set() -> None:
    """SETS: ForAnyValue: "if the key does not exist, the condition returns false"."""
    assert not check("ForAnyValue:StringEquals", "aws:TagKeys", "a")
    assert not check("ForAnyValue:StringEquals", "aws:TagKeys", "a", aws__tagkeys=())
    assert not check("ForAnyValue:StringEquals", "aws:TagKeys", "a", aws__tagkeys="")
    assert not check("ForAnyValue:StringNotEquals", "aws:TagKeys", "a")


@pytest.mark.parametrize(
    ("tag_keys", "expected"),
    [
        (("key1:legal",), False),
        (("key1:hr", "key1:personnel"), False),
        (("key2:audit",), True),
        (None, True),
    ],
)
def test_for_all_values_string_not_like_deny_example(
    tag_keys: tuple[str, ...] | None, expected: bool
) -> None:
    """SET_EXAMPLES: Deny with ForAllValues:StringNotLike aws:TagKeys "key1*" - the table of
    request contexts and results, including "No aws:TagKeys in the request context: Match"."""
    context = {} if tag_keys is None else {"aws__tagkeys": tag_keys}
    assert check("ForAllValues:StringNotLike", "aws:TagKeys", "key1*", **context) is expected


def test_for_any_value_negated_is_true_when_some_value_matches_none() -> None:
    """SETS: ForAnyValue with a negated operator: some request value matches no policy value."""
    op = "ForAnyValue:StringNotEquals"
    assert check(op, "aws:TagKeys", ("a", "b"), aws__tagkeys=("a", "c"))
    assert not check(op, "aws:TagKeys", ("a", "b"), aws__tagkeys=("a", "b"))


def test_set_operator_on_single_valued_key_is_a_one_element_set() -> None:
    """SETS: set operators on single-valued keys "can lead to overly permissive policies":
    the value is read as a one-element set."""
    assert check("ForAnyValue:StringEquals", "aws:username", "Ann", aws__username="Ann")
    assert check("ForAllValues:StringEquals", "aws:username", "Ann", aws__username="Ann")
    assert not check("ForAllValues:StringEquals", "aws:username", "Ann", aws__username="Bo")


def test_plain_operator_on_multivalued_key_matches_nothing() -> None:
    """SETS: "Multivalued context keys require a condition set operator". Observed on AWS
    (boogy/iam-policy-validator#161, aws:CalledVia): the bare StringEquals was denied,
    ForAnyValue:StringEquals allowed the same call."""
    services = ("athena.amazonaws.com", "datazone.amazonaws.com")
    assert not check("StringEquals", "aws:CalledVia", services[0], aws__calledvia=services)
    assert not check("StringNotEquals", "aws:CalledVia", "x", aws__calledvia=services)
    assert check("ForAnyValue:StringEquals", "aws:CalledVia", services[0], aws__calledvia=services)
    assert check("StringEquals", "aws:CalledVia", services[0], aws__calledvia=services[:1])


def test_set_operator_if_exists_on_missing_key() -> None:
    assert check("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", "a")


# --- The whole Condition element -------------------------------------------------------


def test_clauses_are_anded_and_traced() -> None:
    """Conditions with multiple keys or values: operators and keys are ANDed."""
    clauses = (
        ConditionClause("StringLike", "sns:endpoint", ("https://example.com/*",)),
        ConditionClause("StringEquals", "sns:Protocol", ("https",)),
        ConditionClause("Null", "aws:TokenIssueTime", ("true",)),
    )
    context: Mapping[str, ContextValue] = {
        "sns:endpoint": "https://example.com/a",
        "sns:protocol": "http",
    }
    result, traces = evaluate_conditions(clauses, context)
    assert result is False
    assert traces == (
        ConditionTrace(
            "StringLike", "sns:endpoint", ("https://example.com/*",), "https://example.com/a", True
        ),
        ConditionTrace("StringEquals", "sns:Protocol", ("https",), "http", False),
        ConditionTrace("Null", "aws:TokenIssueTime", ("true",), None, True),
    )
    assert evaluate_conditions(clauses, {**context, "sns:protocol": "https"})[0] is True


def test_no_clauses_is_true() -> None:
    assert evaluate_conditions((), {}) == (True, ())
