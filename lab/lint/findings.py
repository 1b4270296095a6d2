"""A finding, shaped like IAM Access Analyzer's ValidatePolicyFinding.

API reference: https://docs.aws.amazon.com/access-analyzer/latest/APIReference/
API_ValidatePolicyFinding.html (findingType, issueCode, findingDetails, learnMoreLink,
locations). Issue codes are Access Analyzer's own where it has one ("Access Analyzer policy
check reference"); the lab's own codes for ECR-specific risks are listed in LAB_CODES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lab.lint.positions import Path, Position, json_path

FindingType = Literal["ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION"]
# Most severe first: the order findings are listed in.
SEVERITY: tuple[FindingType, ...] = ("ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION")
# Codes Access Analyzer has no equivalent for; everything else is one of its codes.
LAB_CODES = frozenset(
    {"PUBLIC_ACCESS", "ALLOW_WITH_NOT_ACTION", "LOCKOUT_RISK", "YAML_SYNTAX_ERROR"}
)

_REFERENCE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
)
_ECR_POLICIES = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html"


@dataclass(frozen=True)
class Finding:
    """One finding: its type, issue code, details and where in the policy it is."""

    finding_type: FindingType
    issue_code: str
    details: str
    path: Path = ()
    position: Position | None = None

    @property
    def location(self) -> str:
        """`Statement[0].Action[2]` and, when known, `(line 5, column 9)`."""
        where = json_path(self.path) or "(policy)"
        if self.position is not None:
            where += f" (line {self.position.line}, column {self.position.column})"
        return where

    @property
    def learn_more_link(self) -> str:
        if self.issue_code in LAB_CODES:
            return _ECR_POLICIES
        return f"{_REFERENCE}#access-analyzer-reference-policy-checks-{self.issue_code.lower()}"

    def to_json(self) -> dict[str, Any]:
        """Access Analyzer's JSON shape (path elements as `key`/`index`), plus `jsonPath`."""
        location: dict[str, Any] = {
            "path": [{"index": p} if isinstance(p, int) else {"key": p} for p in self.path],
            "jsonPath": json_path(self.path),
        }
        if self.position is not None:
            start = self.position
            location["span"] = {
                "start": {"line": start.line, "column": start.column, "offset": start.offset}
            }
        return {
            "findingType": self.finding_type,
            "issueCode": self.issue_code,
            "findingDetails": self.details,
            "learnMoreLink": self.learn_more_link,
            "locations": [location],
        }


def ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then in document order; duplicates (same code and place) once."""
    unique = {(f.issue_code, f.path): f for f in reversed(findings)}
    return sorted(
        unique.values(),
        key=lambda f: (SEVERITY.index(f.finding_type), f.position.offset if f.position else -1),
    )


def render_text(findings: list[Finding], source: str) -> str:
    """One line per finding, `file:line:column: TYPE CODE path: details`, then a summary."""
    lines = []
    for finding in findings:
        place = source
        if finding.position is not None:
            place += f":{finding.position.line}:{finding.position.column}"
        lines.append(
            f"{place}: {finding.finding_type} {finding.issue_code} "
            f"{json_path(finding.path) or '(policy)'}: {finding.details}"
        )
    counts = {t: sum(f.finding_type == t for f in findings) for t in SEVERITY}
    summary = ", ".join(
        f"{n} {t.lower().replace('_', ' ')}{'s' if n > 1 else ''}" for t, n in counts.items() if n
    )
    lines.append(f"{source}: {summary or 'no findings'}")
    return "\n".join(lines) + "\n"
