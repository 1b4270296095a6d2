"""Parse and validate a policy document as AWS does, into the model's plain data.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
Messages: IAM's `MalformedPolicyDocument` texts as IAM returns them; ECR answers any invalid
repository policy with one `InvalidParameterException` (FACTS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lab.errors import AwsError
from lab.policy import conditions
from lab.policy.model import ConditionClause, DocumentKind, Policy, Statement

VERSIONS = ("2012-10-17", "2008-10-17")
# Absent Version means the old language: no policy variables (reference_policies_elements_version).
DEFAULT_VERSION = "2008-10-17"

_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_IAM_KINDS = frozenset({"identity", "boundary", "session"})
_PRINCIPAL_KINDS = frozenset({"repository", "trust", "resource"})

_ACCOUNT_ID = re.compile(r"\d{12}")
_IAM_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:[^*?]+")
_SID = re.compile(r"[0-9A-Za-z]*")

REPOSITORY_POLICY_MESSAGE = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid repository policy provided'"
)
SYNTAX_ERROR = "Syntax errors in policy."
_NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."


@dataclass(frozen=True)
class SizeQuota:
    """A size limit AWS puts on a stored document, and how AWS counts and words it."""

    limit: int
    counts: Literal["characters without whitespace", "bytes"]
    message: str  # AWS's LimitExceeded text; `{limit}` is filled in


# IAM and STS quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
# ("IAM doesn't count white space"); ECR's PolicyText is at most 10,240 (botocore's ECR model).
QUOTAS: dict[str, SizeQuota] = {
    "managed": SizeQuota(
        6144, "characters without whitespace", "Cannot exceed quota for PolicySize: {limit}"
    ),
    "inline_role": SizeQuota(
        10240, "characters without whitespace", "Maximum policy size of {limit} bytes exceeded"
    ),
    "inline_user": SizeQuota(
        2048, "characters without whitespace", "Maximum policy size of {limit} bytes exceeded"
    ),
    "inline_group": SizeQuota(
        5120, "characters without whitespace", "Maximum policy size of {limit} bytes exceeded"
    ),
    "trust": SizeQuota(
        2048, "characters without whitespace", "Cannot exceed quota for ACLSizePerRole: {limit}"
    ),
    "session": SizeQuota(
        2048, "characters without whitespace", "Cannot exceed quota for PolicySize: {limit}"
    ),
    "repository": SizeQuota(10240, "bytes", REPOSITORY_POLICY_MESSAGE),
}
# Quotas that always hold for a kind; identity policies depend on where they are stored
# (AWS managed policies have none), so the caller names the quota.
_DEFAULT_QUOTA: dict[str, str] = {"repository": "repository", "trust": "trust"}


class PolicyError(ValueError):
    """An invalid document: where (statement index, element), why, and IAM's own message."""

    def __init__(
        self,
        reason: str,
        *,
        statement: int | None = None,
        element: str | None = None,
        iam_message: str = SYNTAX_ERROR,
        limit_exceeded: bool = False,
    ) -> None:
        place = "policy" if statement is None else f"statement {statement}"
        if element:
            place += f" {element}"
        super().__init__(f"{place}: {reason}")
        self.reason = reason
        self.statement = statement
        self.element = element
        self.iam_message = iam_message
        self.limit_exceeded = limit_exceeded

    def to_aws_error(self, kind: DocumentKind) -> AwsError:
        """The error AWS returns for this document when stored as `kind`."""
        if kind == "repository":
            return AwsError("InvalidParameterException", REPOSITORY_POLICY_MESSAGE)
        if self.limit_exceeded:
            return AwsError("LimitExceeded", self.iam_message)
        return AwsError("MalformedPolicyDocument", self.iam_message)


def parse_policy(
    doc: str | Mapping[str, Any],
    kind: DocumentKind,
    name: str | None = None,
    *,
    quota: str | None = None,
) -> Policy:
    """Parse and validate `doc` (JSON text or a decoded object) as a policy of `kind`.

    `quota` names a size limit from QUOTAS ("managed", "inline_role", ...); repository and
    trust policies always get theirs. Raises PolicyError.
    """
    quota = quota or _DEFAULT_QUOTA.get(kind)
    if isinstance(doc, str):
        if quota is not None:
            _check_size(doc, QUOTAS[quota])
        try:
            doc = json.loads(doc)
        except ValueError:
            raise PolicyError("not valid JSON") from None
    elif quota is not None:
        _check_size(json.dumps(doc, separators=(",", ":")), QUOTAS[quota])
    if not isinstance(doc, Mapping):
        raise PolicyError("a policy is a JSON object")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise PolicyError(f"unknown element {sorted(unknown)[0]}")
    version = _version(doc, kind)
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise PolicyError("Statement must be an object or a non-empty list of objects")
    statements = tuple(_statement(i, s, kind) for i, s in enumerate(raw))
    _check_sids(statements, kind)
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError("Id must be a string", element="Id")
    return Policy(version, statements, policy_id, name)


def _check_size(text: str, quota: SizeQuota) -> None:
    if quota.counts == "bytes":
        size = len(text.encode())
    else:
        size = sum(1 for ch in text if not ch.isspace())
    if size > quota.limit:
        raise PolicyError(
            f"{size} {quota.counts} exceeds the limit of {quota.limit}",
            iam_message=quota.message.format(limit=quota.limit),
            limit_exceeded=True,
        )


def _version(doc: Mapping[str, Any], kind: DocumentKind) -> str:
    if "Version" not in doc:
        if kind == "repository":
            raise PolicyError("Version is required", element="Version")
        return DEFAULT_VERSION
    version = doc["Version"]
    # A YAML date (2012-10-17 unquoted) arrives as a date object: not a valid Version.
    if not isinstance(version, str) or version not in VERSIONS:
        raise PolicyError(
            f"Version must be one of {', '.join(VERSIONS)}, not {version!r}",
            element="Version",
            iam_message="The policy failed legacy parsing",
        )
    return version


def _statement(index: int, raw: Any, kind: DocumentKind) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError("a statement is a JSON object", statement=index)
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"unknown element {sorted(unknown)[0]}", statement=index)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError("Sid must be a string", statement=index, element="Sid")
    effect = raw.get("Effect")
    if effect is None:
        raise PolicyError(
            "Effect is required",
            statement=index,
            element="Effect",
            iam_message="Missing required field Effect",
        )
    if effect not in ("Allow", "Deny"):
        raise PolicyError(
            f"Effect must be Allow or Deny, not {effect!r}", statement=index, element="Effect"
        )
    principal, not_principal = _principals(index, raw, kind)
    action = _actions(index, raw, "Action")
    not_action = _actions(index, raw, "NotAction")
    if (action is None) == (not_action is None):
        missing = action is None
        raise PolicyError(
            "one of Action or NotAction is required" if missing else "Action with NotAction",
            statement=index,
            element="Action",
            iam_message="Policy statement must contain actions." if missing else SYNTAX_ERROR,
        )
    resource = _resources(index, raw, "Resource")
    not_resource = _resources(index, raw, "NotResource")
    _check_resource_rules(index, kind, resource, not_resource)
    return Statement(
        index=index,
        effect=effect,
        sid=sid,
        principal=principal,
        not_principal=not_principal,
        action=action,
        not_action=not_action,
        resource=resource,
        not_resource=not_resource,
        condition=_conditions(index, raw.get("Condition")),
    )


def _principals(
    index: int, raw: Mapping[str, Any], kind: DocumentKind
) -> tuple[dict[str, tuple[str, ...]] | None, dict[str, tuple[str, ...]] | None]:
    present = [key for key in ("Principal", "NotPrincipal") if key in raw]
    if kind in _IAM_KINDS and present:
        raise PolicyError(
            f"{present[0]} is not allowed in an {kind} policy",
            statement=index,
            element=present[0],
            iam_message="Policy document should not specify a principal.",
        )
    if kind in _PRINCIPAL_KINDS and len(present) != 1:
        raise PolicyError(
            "exactly one of Principal or NotPrincipal is required",
            statement=index,
            element="Principal",
            iam_message="Missing required field Principal" if not present else SYNTAX_ERROR,
        )
    principal = _principal_spec(index, raw["Principal"]) if "Principal" in raw else None
    not_principal = _principal_spec(index, raw["NotPrincipal"]) if "NotPrincipal" in raw else None
    return principal, not_principal


def _principal_spec(index: int, value: Any) -> dict[str, tuple[str, ...]]:
    """`"*"` or {type: id or [ids]}; account ids become root ARNs as AWS stores them."""
    if value == "*":
        return {"AWS": ("*",)}
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(
            'Principal must be "*" or an object', statement=index, element="Principal"
        )
    spec: dict[str, tuple[str, ...]] = {}
    for kind, ids in value.items():
        if kind not in _PRINCIPAL_TYPES:
            raise PolicyError(
                f"unknown principal type {kind}", statement=index, element="Principal"
            )
        values = _strings(index, "Principal", ids)
        spec[kind] = tuple(_principal_id(index, kind, v) for v in values)
    return spec


def _principal_id(index: int, kind: str, value: str) -> str:
    # Principal takes no wildcards but the lone "*" (reference_policies_elements_principal).
    if value == "*" and kind == "AWS":
        return value
    invalid = PolicyError(
        f"invalid {kind} principal {value!r}",
        statement=index,
        element="Principal",
        iam_message=f'Invalid principal in policy: "{kind}":"{value}"',
    )
    if not value or "*" in value or "?" in value:
        raise invalid
    if kind == "AWS":
        if _ACCOUNT_ID.fullmatch(value):
            return f"arn:aws:iam::{value}:root"
        if not _IAM_PRINCIPAL_ARN.fullmatch(value):
            raise invalid
    return value


def _actions(index: int, raw: Mapping[str, Any], element: str) -> tuple[str, ...] | None:
    if element not in raw:
        return None
    actions = _strings(index, element, raw[element])
    for action in actions:
        _check_action(index, element, action)
    return actions


def _check_action(index: int, element: str, action: str) -> None:
    if action == "*":
        return
    vendor, colon, name = action.partition(":")
    if not colon or not vendor or not name:
        raise PolicyError(
            f"action {action!r} has no service prefix",
            statement=index,
            element=element,
            iam_message=_NO_VENDOR,
        )
    if ":" in name:
        raise PolicyError(
            f"action {action!r} has more than one colon",
            statement=index,
            element=element,
            iam_message="Actions/Condition can contain only one colon.",
        )
    if "*" in vendor or "?" in vendor:
        raise PolicyError(
            f"action {action!r} has a wildcard in its service prefix",
            statement=index,
            element=element,
            iam_message="Action vendors (e.g., aws, ec2, etc.) must not contain wildcards",
        )


def _resources(index: int, raw: Mapping[str, Any], element: str) -> tuple[str, ...] | None:
    if element not in raw:
        return None
    resources = _strings(index, element, raw[element])
    for resource in resources:
        if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
            raise PolicyError(
                f"resource {resource!r} is not an ARN",
                statement=index,
                element=element,
                iam_message=f'Resource {resource} must be in ARN format or "*".',
            )
    return resources


def _check_resource_rules(
    index: int,
    kind: DocumentKind,
    resource: tuple[str, ...] | None,
    not_resource: tuple[str, ...] | None,
) -> None:
    present = (
        "Resource" if resource is not None else "NotResource" if not_resource is not None else None
    )
    if resource is not None and not_resource is not None:
        raise PolicyError("Resource with NotResource", statement=index, element="Resource")
    if kind in ("repository", "trust") and present:
        # ECR: the repository is the resource (FACTS); IAM: trust policies have none.
        raise PolicyError(
            f"{present} is not allowed in a {kind} policy",
            statement=index,
            element=present,
            iam_message=f"Has prohibited field {present}",
        )
    if kind in _IAM_KINDS and present is None:
        raise PolicyError(
            "one of Resource or NotResource is required",
            statement=index,
            element="Resource",
            iam_message="Policy statement must contain resources.",
        )


def _conditions(index: int, raw: Any) -> tuple[ConditionClause, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise PolicyError("Condition must be an object", statement=index, element="Condition")
    clauses = []
    for operator, block in raw.items():
        if not conditions.is_known_operator(operator):
            raise PolicyError(
                f"unknown condition operator {operator}",
                statement=index,
                element="Condition",
                iam_message=f"Invalid Condition type : {operator}",
            )
        if not isinstance(block, Mapping) or not block:
            raise PolicyError(
                f"{operator} must map condition keys to values",
                statement=index,
                element="Condition",
            )
        for key, values in block.items():
            if not key:
                raise PolicyError("empty condition key", statement=index, element="Condition")
            clauses.append(ConditionClause(operator, key, _condition_values(index, values)))
    return tuple(clauses)


def _condition_values(index: int, raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    return tuple(_condition_value(index, item) for item in items)


def _condition_value(index: int, value: Any) -> str:
    # JSON true is the string "true" to AWS; numbers keep their JSON spelling.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise PolicyError(
        f"condition value {value!r} is not a string, number or boolean",
        statement=index,
        element="Condition",
    )


def _strings(index: int, element: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise PolicyError(
            f"{element} must be a string or a non-empty list of strings",
            statement=index,
            element=element,
        )
    return tuple(items)


def _check_sids(statements: tuple[Statement, ...], kind: DocumentKind) -> None:
    """IAM's Sid rules; resource policies of other services keep their own (not checked)."""
    if kind not in _IAM_KINDS:
        return
    seen: set[str] = set()
    for statement in statements:
        sid = statement.sid
        if sid is None:
            continue
        if not _SID.fullmatch(sid):
            raise PolicyError(
                f"Sid {sid!r} is not alphanumeric",
                statement=statement.index,
                element="Sid",
                iam_message="Statement IDs (SID) must be alpha-numeric. Check that your input "
                "satisfies the regular expression [0-9A-Za-z]*",
            )
        if sid in seen:
            raise PolicyError(
                f"Sid {sid!r} is used twice",
                statement=statement.index,
                element="Sid",
                iam_message="Statement IDs (SID) in a single policy must be unique.",
            )
        seen.add(sid)
