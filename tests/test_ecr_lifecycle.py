"""Lifecycle policy rules as a pure function, and ECR's previews and validation.

AWS's pages: ECR User Guide "Lifecycle policies" (evaluation rules), "Lifecycle policy
properties", "Examples of lifecycle policies" (the multiple-rules examples A and B), "Archiving
an image"; API reference StartLifecyclePolicyPreview / GetLifecyclePolicyPreview.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.ecr.lifecycle import (
    DAY,
    LifecycleImage,
    LifecyclePolicyInvalid,
    Rule,
    evaluate,
    parse_policy,
)
from tests.ecr_support import ACCOUNT, REGION, REPO, client, error_of, make_ecr, push_image

NOW = 100 * DAY


def image(name: str, days_ago: float, *tags: str, **extra) -> LifecycleImage:
    return LifecycleImage(f"sha256:{name}", tuple(tags), NOW - days_ago * DAY, **extra)


def rule(priority: int, status: str, count_type: str, number: int, **extra) -> Rule:
    return Rule(priority, status, count_type, number, **extra)


def policy(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)})


def raw_rule(priority: int = 1, action: dict | None = None, **selection) -> dict:
    chosen = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1} | selection
    return {
        "rulePriority": priority,
        "selection": {k: v for k, v in chosen.items() if v is not None},
        "action": action or {"type": "expire"},
    }


# ---- the examples of "Examples of lifecycle policies": filtering on multiple rules ----------


def test_example_a_a_lower_rule_skips_images_a_higher_rule_matched() -> None:
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tag_prefixes=("prod",)),
        rule(2, "tagged", "imageCountMoreThan", 1, tag_prefixes=("beta",)),
    ]
    images = [
        image("a", 10, "beta-1", "prod-1"),
        image("b", 9, "beta-2", "prod-2"),
        image("c", 8, "beta-3"),
    ]
    # Rule 2 marks A and B, but B matched rule 1's tags: only A goes.
    assert evaluate(images, rules, NOW).digests("expire") == ["sha256:a"]


def test_example_b_images_marked_by_a_higher_rule_are_not_marked_twice() -> None:
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tag_prefixes=("prod",)),
        rule(2, "tagged", "imageCountMoreThan", 1, tag_prefixes=("beta",)),
    ]
    images = [
        image("a", 10, "beta-1", "prod-1"),
        image("b", 9, "beta-2", "prod-2"),
        image("c", 8, "beta-3", "prod-3"),
    ]
    selections = evaluate(images, rules, NOW).selections
    assert [(s.image.digest, s.rule.priority) for s in selections] == [
        ("sha256:a", 1),
        ("sha256:b", 1),
    ]


def test_since_image_pushed_expires_only_older_images() -> None:
    rules = [rule(1, "tagged", "sinceImagePushed", 14, tag_patterns=("prod*",))]
    images = [image("old", 15, "prod1"), image("new", 13, "prod2"), image("dev", 30, "dev")]
    assert evaluate(images, rules, NOW).digests("expire") == ["sha256:old"]


def test_tag_pattern_wildcards_and_all_patterns_must_match() -> None:
    both = rule(1, "tagged", "sinceImagePushed", 1, tag_patterns=("*prod*", "v?"))
    images = [image("x", 5, "repo-production", "v?"), image("y", 5, "prod-team", "v1")]
    # `?` is literal: only `*` is a wildcard ("Lifecycle policy properties", tagPatternList).
    assert evaluate(images, [both], NOW).digests("expire") == ["sha256:x"]


def test_untagged_and_any() -> None:
    images = [image("t", 5, "v1"), image("u1", 6), image("u2", 4)]
    untagged = rule(1, "untagged", "imageCountMoreThan", 1)
    assert evaluate(images, [untagged], NOW).digests("expire") == ["sha256:u1"]
    anything = rule(1, "any", "imageCountMoreThan", 1)
    assert evaluate(images, [anything], NOW).digests("expire") == ["sha256:u1", "sha256:t"]


def test_transition_then_expire_from_the_archive() -> None:
    """Archive after 30 days without a pull; expire after 90 days in the archive."""
    rules = [
        rule(1, "any", "sinceImagePulled", 30, action="transition"),
        rule(2, "any", "sinceImageTransitioned", 90, storage_class="archive"),
    ]
    images = [
        image("pulled", 60, last_pulled_at=NOW - 2 * DAY),
        image("idle", 60),
        image("cold", 200, status="ARCHIVED", archived_at=NOW - 91 * DAY),
        image("fresh", 200, status="ARCHIVED", archived_at=NOW - 10 * DAY),
    ]
    result = evaluate(images, rules, NOW)
    assert result.digests("transition") == ["sha256:idle"]
    assert result.digests("expire") == ["sha256:cold"]


def test_an_image_a_staying_manifest_list_references_is_not_expired() -> None:
    index = image("index", 1, "multi", manifests=("sha256:child",))
    child = image("child", 50)
    rules = [rule(1, "untagged", "sinceImagePushed", 10)]
    assert evaluate([index, child], rules, NOW).digests("expire") == []


# ---- properties ------------------------------------------------------------------------------

TAGS = st.lists(st.sampled_from(["prod-1", "prod-2", "beta", "v1", "latest"]), max_size=2)
IMAGES = st.lists(
    st.builds(
        lambda n, days, tags: image(f"{n}", days, *dict.fromkeys(tags)),
        st.integers(0, 10_000),
        st.integers(0, 60),
        TAGS,
    ),
    max_size=12,
    unique_by=lambda i: i.digest,
)
SELECTIONS = st.one_of(
    st.just({"tag_status": "untagged"}),
    st.builds(
        lambda p: {"tag_status": "tagged", "tag_prefixes": (p,)},
        st.sampled_from(["prod", "beta", "v"]),
    ),
    st.builds(
        lambda p: {"tag_status": "tagged", "tag_patterns": (p,)},
        st.sampled_from(["*1", "prod*", "*"]),
    ),
)
RULES = st.lists(
    st.builds(
        lambda selection, count, number: selection | {"count_type": count, "count_number": number},
        SELECTIONS,
        st.sampled_from(["imageCountMoreThan", "sinceImagePushed"]),
        st.integers(1, 5),
    ),
    min_size=1,
    max_size=4,
).map(lambda specs: [Rule(priority=i + 1, **spec) for i, spec in enumerate(specs)])


@settings(max_examples=300, deadline=None)
@given(images=IMAGES, rules=RULES)
def test_property_each_rule_selects_only_what_it_allows(images, rules) -> None:
    selections = evaluate(images, rules, NOW).selections
    digests = [s.image.digest for s in selections]
    assert len(digests) == len(set(digests))  # exactly one or zero rules per image
    for current in rules:
        matching = [i for i in images if current.matches(i)]
        mine = [s.image for s in selections if s.rule is current]
        assert all(current.matches(i) for i in mine)
        if current.count_type == "imageCountMoreThan":
            # never more than the count allows: the N newest matching images stay
            assert len(mine) <= max(len(matching) - current.count_number, 0)
            newest = sorted(matching, key=lambda i: (i.pushed_at, i.digest))[
                -current.count_number :
            ]
            assert not set(mine) & set(newest)
        else:
            assert all(i.pushed_at < NOW - current.count_number * DAY for i in mine)
        # a higher-priority rule's tag selection is out of reach of this rule
        for higher in rules:
            if higher.priority < current.priority:
                assert not any(higher.matches(i) for i in mine)


@settings(max_examples=200, deadline=None)
@given(images=IMAGES, rules=RULES)
def test_property_evaluation_is_pure_and_order_free(images, rules) -> None:
    first = evaluate(images, rules, NOW)
    assert evaluate(list(reversed(images)), list(reversed(rules)), NOW) == first


# ---- validation: ECR's InvalidParameterException ---------------------------------------------

SCHEMA = "instance failed to match exactly one schema (matched 0 out of 2)"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "Could not map policyString into LifecyclePolicy."),
        ('{"rules": []}', "Could not map policyString into LifecyclePolicy."),
        # countUnit goes with the since* counts only; null values are refused (cloudposse#132)
        (policy(raw_rule(countUnit="days")), SCHEMA),
        (policy(raw_rule(countType="sinceImagePushed")), SCHEMA),
        (policy(raw_rule(tagStatus="sometimes")), SCHEMA),
        (policy(raw_rule(countNumber=0)), SCHEMA),
        (policy(raw_rule(action={"type": "expire", "targetStorageClass": None})), SCHEMA),
        (policy(raw_rule(action={"type": "transition"})), SCHEMA),
        (
            policy(raw_rule(tagStatus="tagged")),
            "A rule with tagStatus 'tagged' must specify exactly one of tagPrefixList or "
            "tagPatternList",
        ),
        (
            policy(raw_rule(tagStatus="untagged", tagPrefixList=["v"])),
            "tagPrefixList and tagPatternList may only be used with tagStatus 'tagged', not "
            "'untagged'",
        ),
        (
            policy(raw_rule(tagStatus="tagged", tagPatternList=["test*1*2*3*4*5*6"])),
            "A tagPatternList entry may contain at most 4 wildcards",
        ),
        (
            policy(raw_rule(1), raw_rule(1, tagStatus="untagged")),
            "The rulePriority of each rule must be unique",
        ),
        (
            policy(raw_rule(1), raw_rule(2, tagStatus="untagged")),
            "The rule with tagStatus 'any' must have the highest rulePriority",
        ),
        (
            policy(
                raw_rule(
                    storageClass="archive",
                    countType="sinceImageTransitioned",
                    countUnit="days",
                    countNumber=30,
                )
            ),
            "Archived images have a minimum storage duration of 90 days: countNumber must be "
            "at least 90",
        ),
        (
            policy(
                raw_rule(storageClass="archive", countUnit="days", countType="sinceImagePushed")
            ),
            SCHEMA,
        ),
    ],
)
def test_invalid_policies_are_refused_with_ecrs_message(state_dir, text: str, reason: str) -> None:
    text = text.ljust(100)  # the model's minimum length; JSON allows the trailing blanks
    with pytest.raises(LifecyclePolicyInvalid) as invalid:
        parse_policy(text)
    assert str(invalid.value) == reason
    ecr = client(make_ecr(state_dir))
    ecr.create_repository(repositoryName=REPO)
    for call, extra in (
        (ecr.put_lifecycle_policy, {}),
        (ecr.start_lifecycle_policy_preview, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(repositoryName=REPO, lifecyclePolicyText=text, **extra)
        assert error_of(excinfo) == (
            "InvalidParameterException",
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
            f"'Lifecycle policy validation failure: {reason}'",
        )
    with pytest.raises(ClientError) as excinfo:
        ecr.get_lifecycle_policy(repositoryName=REPO)
    assert error_of(excinfo)[0] == "LifecyclePolicyNotFoundException"  # nothing was stored


def test_the_documented_template_values_parse() -> None:
    text = policy(
        raw_rule(
            1,
            tagStatus="tagged",
            tagPatternList=["prod*"],
            countType="sinceImagePushed",
            countUnit="days",
            countNumber=14,
        ),
        raw_rule(2, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1),
        raw_rule(
            3,
            action={"type": "transition", "targetStorageClass": "archive"},
            tagStatus="tagged",
            tagPrefixList=["old"],
            countType="sinceImagePulled",
            countUnit="days",
            countNumber=30,
        ),
        raw_rule(
            4,
            storageClass="archive",
            countType="sinceImageTransitioned",
            countUnit="days",
            countNumber=90,
        ),
        raw_rule(5, countType="imageCountMoreThan", countNumber=100),
    )
    assert [r.priority for r in parse_policy(text)] == [1, 2, 3, 4, 5]


# ---- previews through the API (in process) ---------------------------------------------------

KEEP_TWO = policy(raw_rule(1, tagStatus="tagged", tagPrefixList=["v"], countNumber=2))


@pytest.fixture
def clocked(state_dir):
    now = [1_000_000.0]
    service = make_ecr(state_dir, clock=lambda: now[0])
    api = client(service)
    api.create_repository(repositoryName=REPO)
    for n in range(4):
        push_image(api, REPO, f"v{n}", seed=b"layer-%d" % n)
        now[0] += 60
    return service, api, now


def test_preview_runs_once_at_a_time_and_reports_what_would_expire(clocked) -> None:
    _, api, _ = clocked
    with pytest.raises(ClientError) as excinfo:
        api.get_lifecycle_policy_preview(repositoryName=REPO)
    assert error_of(excinfo) == (
        "LifecyclePolicyPreviewNotFoundException",
        f"Lifecycle policy preview does not exist for the repository with name '{REPO}' in "
        "the registry with id '123456789012'",
    )
    with pytest.raises(ClientError) as excinfo:  # no text and no policy on the repository
        api.start_lifecycle_policy_preview(repositoryName=REPO)
    assert error_of(excinfo)[0] == "LifecyclePolicyNotFoundException"
    started = api.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO)
    assert started["status"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as excinfo:
        api.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO)
    assert error_of(excinfo)[0] == "LifecyclePolicyPreviewInProgressException"
    preview = api.get_lifecycle_policy_preview(repositoryName=REPO)
    assert preview["status"] == "COMPLETE"
    assert [
        (r["imageTags"], r["appliedRulePriority"], r["action"]) for r in preview["previewResults"]
    ] == [
        (["v0"], 1, {"type": "EXPIRE"}),
        (["v1"], 1, {"type": "EXPIRE"}),
    ]
    assert preview["summary"]["expiringImageTotalCount"] == 2
    paged = api.get_lifecycle_policy_preview(repositoryName=REPO, maxResults=1)
    assert len(paged["previewResults"]) == 1 and paged["nextToken"]
    # a preview deletes nothing
    assert len(api.describe_images(repositoryName=REPO)["imageDetails"]) == 4
    # once complete, a new preview may start: of the repository's own policy
    api.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO)
    assert (
        api.start_lifecycle_policy_preview(repositoryName=REPO)["lifecyclePolicyText"] == KEEP_TWO
    )


def test_applying_expires_and_stamps_last_evaluated_at(clocked) -> None:
    service, api, now = clocked
    api.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO)
    assert "lastEvaluatedAt" not in api.get_lifecycle_policy(repositoryName=REPO)
    report = service.apply_lifecycle_policies()
    assert [len(entry["expired"]) for entry in report] == [2]
    tags = sorted(
        t for d in api.describe_images(repositoryName=REPO)["imageDetails"] for t in d["imageTags"]
    )
    assert tags == ["v2", "v3"]
    evaluated = api.get_lifecycle_policy(repositoryName=REPO)["lastEvaluatedAt"]
    assert evaluated.timestamp() == now[0]
    # a new policy has not been evaluated yet
    api.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO)
    assert "lastEvaluatedAt" not in api.get_lifecycle_policy(repositoryName=REPO)


def test_transition_archives_images_as_describe_images_shows_them(clocked) -> None:
    service, api, now = clocked
    archive = policy(
        raw_rule(
            1,
            action={"type": "transition", "targetStorageClass": "archive"},
            tagStatus="tagged",
            tagPrefixList=["v0"],
            countType="sinceImagePushed",
            countUnit="days",
            countNumber=1,
        )
    )
    api.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=archive)
    now[0] += 2 * DAY
    api.start_lifecycle_policy_preview(repositoryName=REPO)
    preview = api.get_lifecycle_policy_preview(repositoryName=REPO)
    assert preview["previewResults"][0]["action"] == {
        "type": "TRANSITION",
        "targetStorageClass": "ARCHIVE",
    }
    assert preview["summary"]["transitioningImageTotalCounts"] == [
        {"targetStorageClass": "ARCHIVE", "imageTotalCount": 1}
    ]
    service.apply_lifecycle_policies()
    # Only ACTIVE images are listed unless the filter asks (API reference, DescribeImagesFilter)
    assert "v0" not in {
        d["imageTags"][0] for d in api.describe_images(repositoryName=REPO)["imageDetails"]
    }
    listed = api.describe_images(repositoryName=REPO, filter={"imageStatus": "ANY"})
    details = {d["imageTags"][0]: d for d in listed["imageDetails"]}
    assert details["v0"]["imageStatus"] == "ARCHIVED"
    assert details["v0"]["lastArchivedAt"].timestamp() == now[0]
    assert details["v1"]["imageStatus"] == "ACTIVE"


def test_pulls_are_recorded_daily_and_rules_on_them_archive_then_expire(clocked) -> None:
    """sinceImagePulled archives what nobody pulled; sinceImageTransitioned expires it after
    90 days in the archive ("Archiving an image"); lastRecordedPullTime refreshes at most
    daily (API reference, ImageDetail)."""
    service, api, now = clocked
    rules = policy(
        raw_rule(
            1,
            action={"type": "transition", "targetStorageClass": "archive"},
            countType="sinceImagePulled",
            countUnit="days",
            countNumber=30,
        ),
        raw_rule(
            2,
            storageClass="archive",
            countType="sinceImageTransitioned",
            countUnit="days",
            countNumber=90,
        ),
    )
    api.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=rules)
    now[0] += 40 * DAY
    pulled_at = now[0]
    service.get_manifest(ACCOUNT, REGION, REPO, "v0", pull=True)
    now[0] += 3600
    service.get_manifest(ACCOUNT, REGION, REPO, "v0", pull=True)  # within a day: not recorded
    service.get_manifest(ACCOUNT, REGION, REPO, "v1")  # a HEAD: not a pull
    details = {
        d["imageTags"][0]: d for d in api.describe_images(repositoryName=REPO)["imageDetails"]
    }
    assert details["v0"]["lastRecordedPullTime"].timestamp() == pulled_at
    assert "lastRecordedPullTime" not in details["v1"]
    report = service.apply_lifecycle_policies()
    assert len(report[0]["archived"]) == 3 and report[0]["expired"] == []
    statuses = {
        d["imageTags"][0]: d["imageStatus"]
        for d in api.describe_images(repositoryName=REPO, filter={"imageStatus": "ANY"})[
            "imageDetails"
        ]
    }
    assert statuses == {"v0": "ACTIVE", "v1": "ARCHIVED", "v2": "ARCHIVED", "v3": "ARCHIVED"}
    now[0] += 89 * DAY
    assert service.apply_lifecycle_policies()[0]["expired"] == []
    now[0] += 2 * DAY
    report = service.apply_lifecycle_policies()
    assert len(report[0]["expired"]) == 3
    remaining = api.describe_images(repositoryName=REPO, filter={"imageStatus": "ANY"})
    assert [d["imageTags"] for d in remaining["imageDetails"]] == [["v0"]]
