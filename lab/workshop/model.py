"""An exercise as plain data: who, which repositories, what the student edits, what to reach."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["allowed", "denied"]
# Written in place of the document the student edits (a repository or an inline policy).
EDIT = "EDIT"


@dataclass(frozen=True)
class Role:
    """An IAM role; its instance-profile session is the caller of the cells."""

    key: str
    name: str
    account: str
    managed_policies: tuple[str, ...] = ()
    inline_policies: Mapping[str, Any] = field(default_factory=dict)  # name -> doc or EDIT
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.name}"

    @property
    def session_arn(self) -> str:
        """The assumed-role ARN of an EC2 instance's session (named after the instance)."""
        instance_id = "i-0" + hashlib.sha256(self.key.encode()).hexdigest()[:16]  # stable per role
        return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{instance_id}"


@dataclass(frozen=True)
class Repository:
    """An ECR repository: its account, tags and policy (a document, EDIT, or none)."""

    name: str
    account: str
    region: str
    policy: Any = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{self.name}"


@dataclass(frozen=True)
class RegistrySetup:
    """An account's ECR registry: its registry policy (a document, or none) and its scope."""

    account: str
    scope: str = "V2"  # REGISTRY_POLICY_SCOPE: V1 or V2
    policy: Any = None


@dataclass(frozen=True)
class Cell:
    """One goal: `principal` (a role key) doing `operation` on `repository`, in a context."""

    principal: str
    operation: str  # login, push, pull, or an ecr: action
    repository: str
    expected: Outcome
    context: Mapping[str, str] = field(default_factory=dict)  # e.g. aws:SourceVpce
    note: str = ""

    @property
    def label(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.principal} {self.operation} {self.repository}" + (
            f" [{where}]" if where else ""
        )


@dataclass(frozen=True)
class Hint:
    """A hint; `when`, a regular expression, marks the mistake it answers in the policy text."""

    text: str
    when: str | None = None

    def answers(self, policy_text: str) -> bool:
        """True when the student's policy shows the mistake this hint is about."""
        return self.when is not None and re.search(self.when, policy_text) is not None


@dataclass(frozen=True)
class Exercise:
    """Everything one exercise folder holds."""

    number: int
    slug: str
    title: str
    goal: str
    edits: str  # what the student edits, in words (e.g. "the repository policy of app")
    lint_kind: Literal["repository", "identity", "guardrails"]
    roles: Mapping[str, Role]
    repositories: Mapping[str, Repository]
    cells: tuple[Cell, ...]
    hints: tuple[Hint, ...]
    starter: str  # policy JSON text
    solution: str
    registries: Mapping[str, RegistrySetup] = field(default_factory=dict)  # by account id
    organization: Any = None  # perimeter.OrganizationFacts for data-perimeter exercises
