"""The demo's results as data: one Check per principal and operation, and the JSON contract.

JSON (README, "The demo's JSON"): {"scenario", "ok", "checks": [push and pull], "logins":
[login checks], "actions": [ecr: checks], "client"}, each check {"principal", "operation",
"expected", "actual", "message", "decided_by"}; `message`
is AWS's message (empty when allowed). `actual` is "error" only when an operation failed for
a reason that is not an authorization decision (the check then fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Actual = Literal["allowed", "denied", "error"]


@dataclass(frozen=True)
class Check:
    """One cell of the matrix: what was expected, what happened, and why."""

    principal: str
    operation: str
    repository: str
    expected: str
    actual: Actual
    message: str = ""  # AWS's message for a refusal
    shown: str = ""  # what the client printed (docker's words), for people
    decided_by: str = ""

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def to_json(self) -> dict[str, str]:
        """The contract's fields, in the contract's order."""
        return {
            "principal": self.principal,
            "operation": self.operation,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
            "decided_by": self.decided_by,
        }


@dataclass(frozen=True)
class Report:
    """Every check of one demo run."""

    scenario: str
    client: str  # "docker" or "protocol": who made the registry calls
    registry: str  # the registry host the clients used
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def group(self, kind: str) -> list[Check]:
        """`registry` (push, pull), `login`, or `actions` (any ecr: action)."""
        if kind == "registry":
            return [c for c in self.checks if c.operation in ("push", "pull")]
        if kind == "login":
            return [c for c in self.checks if c.operation == "login"]
        return [c for c in self.checks if c.operation.startswith("ecr:")]

    def principals(self) -> list[str]:
        return list(dict.fromkeys(check.principal for check in self.checks))

    def operations(self) -> list[str]:
        return list(dict.fromkeys(check.operation for check in self.checks))

    def cell(self, principal: str, operation: str) -> Check | None:
        return next(
            (c for c in self.checks if (c.principal, c.operation) == (principal, operation)),
            None,
        )

    def to_json(self) -> dict[str, Any]:
        """The demo's JSON document."""
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "checks": [check.to_json() for check in self.group("registry")],
            "logins": [check.to_json() for check in self.group("login")],
            "actions": [check.to_json() for check in self.group("actions")],
            "client": self.client,
        }
