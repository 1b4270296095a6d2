"""Lifecycle policies as pure functions: parse and validate a policy, then decide which images
its rules expire or archive. No state and no clock: `evaluate(images, rules, now)`.

The rules are AWS's (ECR User Guide, "Lifecycle policies" -> "Lifecycle policy evaluation
rules"; "Lifecycle policy properties"; "Examples of lifecycle policies"):
- rules apply lowest `rulePriority` first; an image is selected by exactly one or zero rules;
- an image that matches the tag selection of a rule cannot be selected by a lower-priority
  rule, and rules still count images higher rules marked ("as if they haven't been expired");
- `imageCountMoreThan` keeps the N most recently pushed images that match, selects the rest;
  the `since*` counts select images older than N days by push, last recorded pull (push time
  when never pulled), or move to the archive;
- `tagPrefixList`/`tagPatternList`: every entry must match one of the image's tags;
- an image a manifest list references is not expired while that list stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab import json_input

DAY = 86400.0
TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = (
    "imageCountMoreThan",
    "sinceImagePushed",
    "sinceImagePulled",
    "sinceImageTransitioned",
)
STORAGE_CLASSES = ("standard", "archive")
ACTION_TYPES = ("expire", "transition")
# An archived image stays at least 90 days ("Archiving an image": minimum storage duration).
ARCHIVE_MINIMUM_DAYS = 90
MAX_WILDCARDS = 4  # per tagPatternList entry ("Lifecycle policy properties")


class LifecyclePolicyInvalid(ValueError):
    """The policy text is not a lifecycle policy ECR accepts; the message follows ECR's
    `Lifecycle policy validation failure: ...`."""


@dataclass(frozen=True)
class Rule:
    """One rule of a lifecycle policy, as ECR reads it."""

    priority: int
    tag_status: str
    count_type: str
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    storage_class: str = "standard"  # which images it looks at: ACTIVE or ARCHIVED ones
    action: str = "expire"
    description: str | None = None

    def matches(self, image: LifecycleImage) -> bool:
        """Whether the image meets the rule's tag and storage class selection."""
        archived = image.status == "ARCHIVED"
        if archived != (self.storage_class == "archive") or image.status == "ACTIVATING":
            return False
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not image.tags
        return (
            bool(image.tags)
            and all(
                any(tag.startswith(prefix) for tag in image.tags) for prefix in self.tag_prefixes
            )
            and all(
                any(_wildcard(pattern).fullmatch(tag) for tag in image.tags)
                for pattern in self.tag_patterns
            )
        )

    def marks(self, matching: Sequence[LifecycleImage], now: float) -> list[LifecycleImage]:
        """The images among `matching` that the rule's count selects, oldest first."""
        by_age = sorted(matching, key=lambda image: (image.pushed_at, image.digest))
        if self.count_type == "imageCountMoreThan":
            return by_age[: max(len(by_age) - self.count_number, 0)]
        limit = now - self.count_number * DAY
        return [image for image in by_age if _since(image, self.count_type) < limit]


@dataclass(frozen=True)
class LifecycleImage:
    """What the rules look at in an image."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    status: str = "ACTIVE"  # ImageDetail.imageStatus: ACTIVE, ARCHIVED, ACTIVATING
    last_pulled_at: float | None = None
    archived_at: float | None = None
    manifests: tuple[str, ...] = ()  # a manifest list's images


@dataclass(frozen=True)
class Selection:
    """One image a rule selected, and what happens to it."""

    image: LifecycleImage
    rule: Rule

    @property
    def action(self) -> str:
        return self.rule.action


@dataclass(frozen=True)
class Outcome:
    """The result of evaluating a policy: its selections, in rule then age order."""

    selections: tuple[Selection, ...] = field(default_factory=tuple)

    def digests(self, action: str) -> list[str]:
        return [s.image.digest for s in self.selections if s.action == action]


def evaluate(images: Iterable[LifecycleImage], rules: Sequence[Rule], now: float) -> Outcome:
    """Which images the rules expire or archive at `now` (epoch seconds)."""
    every = list(images)
    chosen: dict[str, Selection] = {}
    claimed: set[str] = set()  # images a higher-priority rule's tag selection matched
    for rule in sorted(rules, key=lambda r: r.priority):
        matching = [image for image in every if rule.matches(image)]
        for image in rule.marks(matching, now):
            if image.digest not in chosen and image.digest not in claimed:
                chosen[image.digest] = Selection(image, rule)
        claimed.update(image.digest for image in matching)
    # A manifest list that stays keeps the images it references.
    expiring = {digest for digest, selection in chosen.items() if selection.action == "expire"}
    kept = {d for image in every if image.digest not in expiring for d in image.manifests}
    return Outcome(
        tuple(s for s in chosen.values() if not (s.action == "expire" and s.image.digest in kept))
    )


# ---- parsing and validation ----------------------------------------------------------------


def parse_policy(text: str) -> list[Rule]:
    """The rules of lifecycle policy `text`; LifecyclePolicyInvalid with ECR's reason."""
    try:
        document = json_input.loads(text)
    except ValueError:
        raise LifecyclePolicyInvalid("Could not map policyString into LifecyclePolicy.") from None
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list) or not rules or not all(isinstance(r, dict) for r in rules):
        raise LifecyclePolicyInvalid("Could not map policyString into LifecyclePolicy.")
    parsed = [_rule(rule) for rule in rules]
    _check_together(parsed)
    return parsed


# (AWS) the JSON schema validator's words for a rule of the wrong shape (cloudposse
# terraform-aws-ecr#132 and #158 quote it for a null countUnit and a null targetStorageClass).
_SCHEMA = "instance failed to match exactly one schema (matched 0 out of 2)"
_RULE_KEYS = {"rulePriority", "description", "selection", "action"}
_SELECTION_KEYS = {
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "storageClass",
    "countType",
    "countUnit",
    "countNumber",
}


def _rule(raw: dict[str, Any]) -> Rule:
    selection, action = raw.get("selection"), raw.get("action")
    if (
        set(raw) - _RULE_KEYS
        or not isinstance(selection, dict)
        or not isinstance(action, dict)
        or set(selection) - _SELECTION_KEYS
        or set(action) - {"type", "targetStorageClass"}
    ):
        raise LifecyclePolicyInvalid(_SCHEMA)
    priority, number = raw.get("rulePriority"), selection.get("countNumber")
    tag_status, count_type = selection.get("tagStatus"), selection.get("countType")
    kind, storage = action.get("type"), selection.get("storageClass", "standard")
    description = raw.get("description")
    if not (
        _positive(priority)
        and _positive(number)
        and tag_status in TAG_STATUSES
        and count_type in COUNT_TYPES
        and kind in ACTION_TYPES
        and storage in STORAGE_CLASSES
        and (description is None or isinstance(description, str))
    ):
        raise LifecyclePolicyInvalid(_SCHEMA)
    # countUnit ("days") goes with the since* counts only ("Lifecycle policy properties").
    unit = selection.get("countUnit")
    if (count_type == "imageCountMoreThan") != (unit is None) or unit not in (None, "days"):
        raise LifecyclePolicyInvalid(_SCHEMA)
    if (kind == "transition") != (action.get("targetStorageClass") == "archive") or (
        kind == "expire" and "targetStorageClass" in action
    ):
        raise LifecyclePolicyInvalid(_SCHEMA)
    prefixes = _strings(selection.get("tagPrefixList"))
    patterns = _strings(selection.get("tagPatternList"))
    return _checked(
        Rule(
            priority, tag_status, count_type, number, prefixes, patterns, storage, kind, description
        )
    )


def _checked(rule: Rule) -> Rule:
    """A rule's own constraints, each with ECR's reason (lab wording where AWS's is unknown)."""
    lists = bool(rule.tag_prefixes) + bool(rule.tag_patterns)
    if rule.tag_status == "tagged" and lists != 1:
        raise LifecyclePolicyInvalid(
            "A rule with tagStatus 'tagged' must specify exactly one of tagPrefixList or "
            "tagPatternList"
        )
    if rule.tag_status != "tagged" and lists:
        raise LifecyclePolicyInvalid(
            f"tagPrefixList and tagPatternList may only be used with tagStatus 'tagged', "
            f"not '{rule.tag_status}'"
        )
    if any(pattern.count("*") > MAX_WILDCARDS for pattern in rule.tag_patterns):
        raise LifecyclePolicyInvalid("A tagPatternList entry may contain at most 4 wildcards")
    # The archive has its own count: time since the move (cloudposse terraform-aws-ecr#159).
    if (rule.storage_class == "archive") != (rule.count_type == "sinceImageTransitioned"):
        raise LifecyclePolicyInvalid(_SCHEMA)
    if rule.storage_class == "archive" and rule.action != "expire":
        raise LifecyclePolicyInvalid("Images in the archive storage class can only be expired")
    if rule.storage_class == "archive" and rule.count_number < ARCHIVE_MINIMUM_DAYS:
        raise LifecyclePolicyInvalid(
            "Archived images have a minimum storage duration of 90 days: countNumber must be "
            "at least 90"
        )
    return rule


def _check_together(rules: list[Rule]) -> None:
    priorities = [rule.priority for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise LifecyclePolicyInvalid("The rulePriority of each rule must be unique")
    # Archive rules look at other images (ARCHIVED ones): `any` is last among its own kind.
    top = {
        kind: max(r.priority for r in rules if r.storage_class == kind)
        for kind in {r.storage_class for r in rules}
    }
    if any(rule.tag_status == "any" and rule.priority != top[rule.storage_class] for rule in rules):
        raise LifecyclePolicyInvalid(
            "The rule with tagStatus 'any' must have the highest rulePriority"
        )
    untagged = [r for r in rules if r.tag_status == "untagged" and r.storage_class == "standard"]
    if len(untagged) > 1:  # "Only one rule is allowed to select untagged images."
        raise LifecyclePolicyInvalid("Only one rule is allowed to select untagged images")


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise LifecyclePolicyInvalid(_SCHEMA)
    return tuple(value)


def _wildcard(pattern: str) -> re.Pattern[str]:
    # `*` is the only wildcard; everything else is literal.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _since(image: LifecycleImage, count_type: str) -> float:
    if count_type == "sinceImagePulled":
        return image.last_pulled_at if image.last_pulled_at is not None else image.pushed_at
    if count_type == "sinceImageTransitioned":
        return image.archived_at if image.archived_at is not None else image.pushed_at
    return image.pushed_at
