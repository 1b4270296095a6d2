"""Policy variables, from https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html."""

from __future__ import annotations

from lab.policy.matching import LITERAL_QUESTION, LITERAL_STAR, resource_matches
from lab.policy.variables import has_variables, substitute, substitute_pattern

CONTEXT = {
    "aws:username": "David",
    "aws:principaltag/department": "hr",
    "aws:userid": "AIDAEXAMPLE",
    "s3:prefix": "home/a*b",
    "aws:tagkeys": ("team", "cost"),
    "aws:single": ("only",),
}


def test_username_in_resource_as_in_introduction() -> None:
    """Docs, Introduction: `arn:aws:s3:::mybucket/${aws:username}/*`."""
    assert substitute("arn:aws:s3:::mybucket/${aws:username}/*", CONTEXT) == (
        "arn:aws:s3:::mybucket/David/*"
    )


def test_principal_tag_as_in_tags_as_policy_variables() -> None:
    """Docs, Resource element: `arn:aws:s3:::bucket/${aws:PrincipalTag/department}`."""
    assert substitute("arn:aws:s3:::bucket/${aws:PrincipalTag/department}", CONTEXT) == (
        "arn:aws:s3:::bucket/hr"
    )


def test_keys_are_case_insensitive() -> None:
    """Docs: "Key names are case-insensitive. aws:CurrentTime is equivalent to AWS:currenttime"."""
    assert substitute("${AWS:USERNAME}", CONTEXT) == "David"
    assert substitute("${aws:UserName}", CONTEXT) == "David"


def test_any_request_key_is_a_variable() -> None:
    """Docs, Service-specific information: request keys such as s3:prefix."""
    assert substitute("x/${s3:prefix}", CONTEXT) == "x/home/a*b"


def test_several_variables_and_text() -> None:
    assert substitute("${aws:username}-${aws:userid}-queue", CONTEXT) == "David-AIDAEXAMPLE-queue"


def test_missing_variable_without_default_is_unresolved() -> None:
    """Docs: a key that is "not present ... causes the statement to be invalid"."""
    assert substitute("home/${aws:TokenIssueTime}", CONTEXT) is None
    assert substitute_pattern("home/${aws:TokenIssueTime}/*", CONTEXT) is None


def test_default_value_as_in_specifying_default_values() -> None:
    """Docs: `${aws:userid, 'anonymous'}`; the default only applies when the key is absent."""
    assert substitute("arn:aws:s3:::/bucket/${aws:nobody, 'anonymous'}", CONTEXT) == (
        "arn:aws:s3:::/bucket/anonymous"
    )
    assert substitute("${aws:userid, 'anonymous'}", CONTEXT) == "AIDAEXAMPLE"
    assert substitute("${aws:nobody,'x'}", CONTEXT) == "x"
    assert substitute("${aws:nobody, ''}", CONTEXT) == ""


def test_special_characters() -> None:
    """Docs, Special characters: `${*}`, `${?}`, `${$}`."""
    assert substitute("a${*}b${?}c${$}", CONTEXT) == "a*b?c$"


def test_special_characters_are_literal_in_patterns() -> None:
    """A `*` from `${*}` "would be interpreted as a wildcard" if inserted literally: in a
    pattern it must match only an asterisk."""
    pattern = substitute_pattern("arn:aws:s3:::b/${*}/*", CONTEXT)
    assert pattern == f"arn:aws:s3:::b/{LITERAL_STAR}/*"
    assert resource_matches(pattern, "arn:aws:s3:::b/*/anything")
    assert not resource_matches(pattern, "arn:aws:s3:::b/x/anything")
    assert substitute_pattern("${?}", CONTEXT) == LITERAL_QUESTION


def test_substituted_values_are_literal_in_patterns() -> None:
    """A value is data, not a pattern: its `*` matches only `*`."""
    pattern = substitute_pattern("arn:aws:s3:::b/${s3:prefix}", CONTEXT)
    assert resource_matches(pattern, "arn:aws:s3:::b/home/a*b")
    assert not resource_matches(pattern, "arn:aws:s3:::b/home/aXXb")


def test_multivalued_key_cannot_be_a_variable() -> None:
    """Single-valued vs. multivalued context keys: "you can't use multivalued context keys
    as policy variables"."""
    assert substitute("${aws:TagKeys}", CONTEXT) is None
    assert substitute("${aws:TagKeys, 'none'}", CONTEXT) == "none"
    assert substitute("${aws:single}", CONTEXT) == "only"


def test_text_without_variables_returns_as_is() -> None:
    text = "arn:aws:ecr:*:123456789012:repository/*"
    assert substitute(text, CONTEXT) is text
    assert substitute_pattern(text, CONTEXT) is text


def test_unclosed_and_malformed_variables() -> None:
    assert substitute("cost-${aws:username", CONTEXT) == "cost-${aws:username"
    assert substitute("${}", CONTEXT) is None
    assert substitute("$ {aws:username}", CONTEXT) == "$ {aws:username}"


def test_has_variables() -> None:
    assert has_variables("home/${aws:username}/")
    assert has_variables("${*}")
    assert not has_variables("home/*")
    assert not has_variables("cost-${open")
