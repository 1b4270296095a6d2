"""Action, Resource and ARN matching, from AWS's IAM JSON policy element reference."""

from __future__ import annotations

import pytest

from lab.policy.matching import (
    LITERAL_QUESTION,
    LITERAL_STAR,
    action_matches,
    arn_matches,
    glob_matches,
    resource_matches,
)

ACTION_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html"
)
RESOURCE_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"
)
REPO = "arn:aws:ecr:ap-northeast-1:123456789012:repository/fa-085"


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("ecr:BatchGetImage", "ecr:BatchGetImage", True),
        ("ECR:batchgetimage", "ecr:BatchGetImage", True),  # case-insensitive
        ("ecr:*", "ecr:PutImage", True),
        ("*", "sts:AssumeRole", True),
        ("ecr:Get*", "ecr:GetDownloadUrlForLayer", True),
        ("ecr:Get*", "ecr:BatchGetImage", False),
        ("iam:*AccessKey*", "iam:CreateAccessKey", True),  # the docs' example
        ("ecr:Put?mage", "ecr:PutImage", True),
        ("ecr:Put?mage", "ecr:PutImmage", False),
        ("ecr:PutImage", "ecr:PutImages", False),  # whole-string match
        ("s3:*", "ecr:PutImage", False),
    ],
)
def test_action_matches_as_in_action_element_doc(pattern: str, action: str, expected: bool) -> None:
    """IAM JSON policy elements: Action (case-insensitive, `*` and `?`)."""
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", REPO, True),
        ("*", "*", True),
        (REPO, REPO, True),
        (REPO.upper(), REPO, False),  # ARNs are case-sensitive
        ("arn:aws:ecr:ap-northeast-1:123456789012:repository/*", REPO, True),
        ("arn:aws:ecr:*:123456789012:repository/fa-085", REPO, True),
        ("arn:aws:ecr:ap-northeast-?:123456789012:repository/fa-085", REPO, True),
        ("arn:aws:ecr:ap-northeast-1:123456789012:repository/fa-08?", REPO, True),
        ("arn:aws:ecr:ap-northeast-1:123456789012:repository/fa", REPO, False),
        ("arn:aws:ecr:ap-northeast-1:999999999999:repository/*", REPO, False),
        # "the IAM user named Bob"; user names are case-sensitive in Resource
        ("arn:aws:iam::111122223333:user/Bob", "arn:aws:iam::111122223333:user/Bob", True),
        ("arn:aws:iam::111122223333:user/Bob", "arn:aws:iam::111122223333:user/bob", False),
        # "all IAM users whose path is /accounting"
        (
            "arn:aws:iam::111122223333:user/accounting/*",
            "arn:aws:iam::111122223333:user/accounting/team/Ann",
            True,
        ),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c.txt", True),
        ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/a/b/test/c", True),
        ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/a/b/prod/c", False),
        # a `*` in the resource part also spans colons inside that part
        ("arn:aws:logs:us-east-1:1:log-group:*", "arn:aws:logs:us-east-1:1:log-group:g:s", True),
    ],
)
def test_resource_matches_as_in_resource_element_doc(
    pattern: str, resource: str, expected: bool
) -> None:
    """IAM JSON policy elements: Resource, "Using wildcards in resource ARNs"."""
    assert resource_matches(pattern, resource) is expected


def test_resource_star_ending_a_segment_expands_past_colons() -> None:
    """RESOURCE_DOC: "If the * wildcard is the last character of a resource ARN segment,
    it can expand to match beyond the colon boundaries"."""
    assert resource_matches("arn:aws:ecr:ap-northeast-1:*", REPO)
    assert resource_matches("arn:aws:ecr:*", REPO)


def test_resource_wildcard_inside_a_segment_stays_in_it() -> None:
    """RESOURCE_DOC: wildcards work within each colon-separated segment."""
    assert not resource_matches("arn:aws:ecr:ap-*-1:123456789012:repository/x", REPO)
    assert not resource_matches("arn:aws:ecr:a?:123456789012:repository/fa-085", REPO)
    assert not resource_matches("arn:aws:ecr:*1", REPO)


def test_resource_literal_wildcards_from_variables_match_only_themselves() -> None:
    """`${*}` / `${?}` produce literal characters (reference_policies_variables, Special
    characters): the matchers read LITERAL_STAR / LITERAL_QUESTION as plain `*` / `?`."""
    pattern = f"arn:aws:s3:::bucket/a{LITERAL_STAR}b{LITERAL_QUESTION}"
    assert resource_matches(pattern, "arn:aws:s3:::bucket/a*b?")
    assert not resource_matches(pattern, "arn:aws:s3:::bucket/axxbc")
    assert resource_matches(f"arn:aws:s3:::b/{LITERAL_STAR}/*", "arn:aws:s3:::b/*/x")
    assert not resource_matches(f"arn:aws:s3:::b/{LITERAL_STAR}/*", "arn:aws:s3:::b/y/x")


def test_resource_pattern_regex_characters_are_literal() -> None:
    assert resource_matches("arn:aws:s3:::a.b/(x)+[y]*", "arn:aws:s3:::a.b/(x)+[y]z")
    assert not resource_matches("arn:aws:s3:::a.b/*", "arn:aws:s3:::aXb/z")


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (
            "arn:aws:sns:us-east-2:123456789012:topic",
            "arn:aws:sns:us-east-2:123456789012:topic",
            True,
        ),
        ("arn:aws:sns:*:123456789012:topic", "arn:aws:sns:us-east-2:123456789012:topic", True),
        ("arn:aws:iam::*:role/*", "arn:aws:iam::123456789012:role/path/r", True),
        # The operators doc's own example: ArnLike fails where StringLike succeeds.
        (
            "arn:aws:someservice:*:111122223333:finance/*",
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/d.txt",
            False,
        ),
        ("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/A", False),  # case-sensitive
        ("*", "arn:aws:iam::1:role/a", False),  # not a six-part ARN
        ("not-an-arn", "not-an-arn", False),
        ("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/a:x", False),
        ("arn:aws:logs:*:1:log-group:*", "arn:aws:logs:eu-west-1:1:log-group:g:stream", True),
    ],
)
def test_arn_matches_part_by_part(pattern: str, value: str, expected: bool) -> None:
    """Condition operators doc, ARN operators: "Each of the six colon-delimited components
    of the ARN is checked separately"."""
    assert arn_matches(pattern, value) is expected


def test_string_like_spans_colons_where_arn_like_does_not() -> None:
    """Condition operators doc: the same pattern matches with StringLike, not ArnLike."""
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/d.txt"
    assert glob_matches(pattern, value)
    assert not arn_matches(pattern, value)


def test_glob_is_case_sensitive_and_whole_string() -> None:
    assert glob_matches("home/*", "home/Ann/")
    assert not glob_matches("HOME/*", "home/Ann/")
    assert glob_matches("", "")
    assert not glob_matches("", "x")
    assert glob_matches("a*", "a\nb")  # `*` spans any character, newlines too
