"""Parse and validate a policy document as AWS does, into the model's plain data.

Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
Messages: IAM's `MalformedPolicyDocument` texts as IAM returns them; ECR answers any invalid
repository policy with one `InvalidParameterException` (FACTS).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, TypeGuard

from lab import json_input
from lab.errors import AwsError
from lab.policy import conditions
from lab.policy.entries import PRINCIPAL_TYPES as _PRINCIPAL_TYPES
from lab.policy.entries import STATEMENT_KEYS as _STATEMENT_KEYS
from lab.policy.entries import action_problem as _action_problem
from lab.policy.entries import is_arn_or_star, is_iam_sid
from lab.policy.entries import stored_principal as _stored_principal
from lab.policy.model import ConditionClause, DocumentKind, Policy, Statement, build_from
from lab.policy.wellformed import read_statements

VERSIONS = ("2012-10-17", "2008-10-17")
# Absent Version means the old language: no policy variables (reference_policies_elements_version).
DEFAULT_VERSION = "2008-10-17"

_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_IAM_KINDS = frozenset({"identity", "boundary", "session"})
_PRINCIPAL_KINDS = frozenset({"repository", "trust", "resource", "registry"})
# ECR's own policies: Version required, ECR's size limit and ECR's one error.
_ECR_KINDS = frozenset({"repository", "registry"})

REPOSITORY_POLICY_MESSAGE = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid repository policy provided'"
)
REGISTRY_POLICY_MESSAGE = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid registry policy provided'"
)
SYNTAX_ERROR = "Syntax errors in policy."


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
    "registry": SizeQuota(10240, "bytes", REGISTRY_POLICY_MESSAGE),
}
# Quotas that always hold for a kind; identity policies depend on where they are stored
# (AWS managed policies have none), so the caller names the quota.
_DEFAULT_QUOTA: dict[str, str] = {
    "repository": "repository",
    "trust": "trust",
    "registry": "registry",
}


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
        # statements are counted from 1 in messages, as people read them
        place = "policy" if statement is None else f"statement {statement + 1}"
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
        if kind == "registry":
            return AwsError("InvalidParameterException", REGISTRY_POLICY_MESSAGE)
        if self.limit_exceeded:
            return AwsError("LimitExceeded", self.iam_message)
        return AwsError("MalformedPolicyDocument", self.iam_message)


def parse_policy(
    doc: str | Mapping[str, Any],
    kind: DocumentKind,
    name: str | None = None,
    *,
    quota: str | None = None,
    source: str | bytes | None = None,
) -> Policy:
    """Parse and validate `doc` (JSON text or a decoded object) as a policy of `kind`.

    `quota` names a size limit from QUOTAS ("managed", "inline_role", ...); repository and
    trust policies always get theirs. `source` is a JSON text of a decoded `doc` (str, or UTF-8
    bytes), if known: one too short to exceed the quota spares measuring `doc`. Raises
    PolicyError.
    """
    quota = quota or _DEFAULT_QUOTA.get(kind)
    if isinstance(doc, str):
        if quota is not None:
            _check_size(doc, QUOTAS[quota])
        try:
            doc = _decode(doc)
        except ValueError:
            raise PolicyError("not valid JSON") from None
    elif quota is not None and not _surely_within(source, QUOTAS[quota]):
        _check_size(_compact(doc), QUOTAS[quota])
    if not is_mapping(doc):
        raise PolicyError("a policy is a JSON object")
    if not doc.keys() <= _TOP_KEYS:
        raise PolicyError(f"unknown element {_first_unknown(doc, _TOP_KEYS)}")
    version = _version(doc, kind)
    raw = doc.get("Statement")
    if type(raw) is not list and is_mapping(raw):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise PolicyError("Statement must be an object or a non-empty list of objects")
    rules = _RULES[kind]
    statements = read_statements(raw, rules)
    if statements is None:  # something unusual, maybe invalid: the full reading words it
        statements = tuple([_statement(i, s, rules) for i, s in enumerate(raw)])
        if rules.check_sids:
            _check_sids(statements)
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError("Id must be a string", element="Id")
    return build_from(
        Policy, {"version": version, "statements": statements, "id": policy_id, "name": name}
    )


@dataclass(frozen=True)
class Rules:
    """What a document kind demands of each statement, decided once per kind."""

    kind: DocumentKind
    no_principal: bool  # IAM policies: Principal and NotPrincipal are prohibited
    one_principal: bool  # resource-based policies: exactly one of them is required
    no_resource: bool  # repository and trust policies: Resource and NotResource are prohibited
    needs_resource: bool  # IAM policies: one of them is required
    check_sids: bool  # IAM's Sid rules


_RULES: dict[str, Rules] = {
    kind: Rules(
        kind,
        no_principal=kind in _IAM_KINDS,
        one_principal=kind in _PRINCIPAL_KINDS,
        no_resource=kind in ("repository", "trust"),
        needs_resource=kind in _IAM_KINDS,
        check_sids=kind in _IAM_KINDS,
    )
    for kind in ("identity", "repository", "trust", "boundary", "session", "resource", "registry")
}
_ABSENT: Any = object()  # an element not written at all (JSON null is written, and invalid)
_decode = json_input.loads
_compact = json.JSONEncoder(separators=(",", ":")).encode


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # Decoded JSON is a dict: skip the ABC check, which costs a microsecond each time.
    return type(value) is dict or isinstance(value, Mapping)


def _first_unknown(raw: Mapping[str, Any], known: frozenset[str]) -> str:
    return sorted(set(raw) - known)[0]


# Re-encoded compactly, one character (or UTF-8 byte) of any JSON text of the document becomes
# at most 12: an astral character becomes two \uXXXX escapes; a number (1e15 ->
# 1000000000000000.0) grows less, the rest shrinks.
_MAX_GROWTH = 12


def _surely_within(source: str | bytes | None, quota: SizeQuota) -> bool:
    return source is not None and len(source) * _MAX_GROWTH <= quota.limit


def _check_size(text: str, quota: SizeQuota) -> None:
    # str.split() splits on exactly the characters str.isspace() calls whitespace.
    size = len(text.encode()) if quota.counts == "bytes" else len("".join(text.split()))
    if size > quota.limit:
        raise PolicyError(
            f"{size} {quota.counts} exceeds the limit of {quota.limit}",
            iam_message=quota.message.format(limit=quota.limit),
            limit_exceeded=True,
        )


def _version(doc: Mapping[str, Any], kind: DocumentKind) -> str:
    if "Version" not in doc:
        if kind in _ECR_KINDS:
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


def _statement(index: int, raw: Any, rules: Rules) -> Statement:
    if not is_mapping(raw):
        raise PolicyError("a statement is a JSON object", statement=index)
    if not raw.keys() <= _STATEMENT_KEYS:
        raise PolicyError(
            f"unknown element {_first_unknown(raw, _STATEMENT_KEYS)}", statement=index
        )
    get = raw.get
    sid = get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError("Sid must be a string", statement=index, element="Sid")
    effect = get("Effect")
    if effect != "Allow" and effect != "Deny":
        _bad_effect(index, effect)
    # Checked in this order, so that the first problem found is the one IAM reports.
    principal = not_principal = None
    if rules.one_principal or "Principal" in raw or "NotPrincipal" in raw:
        principal, not_principal = _principals(index, raw, rules)
    action, not_action = _pair(index, get, "Action", "NotAction", _actions)
    if (action is _ABSENT) == (not_action is _ABSENT):
        missing = action is _ABSENT
        raise PolicyError(
            "one of Action or NotAction is required" if missing else "Action with NotAction",
            statement=index,
            element="Action",
            iam_message="Policy statement must contain actions." if missing else SYNTAX_ERROR,
        )
    resource, not_resource = _pair(index, get, "Resource", "NotResource", _resources)
    # One of the two, where the kind allows it, is what the rules ask (the common case).
    if (resource is _ABSENT) == (not_resource is _ABSENT) or rules.no_resource:
        _check_resource_rules(index, rules, resource, not_resource)
    condition = get("Condition")
    return build_from(
        Statement,
        {
            "index": index,
            "effect": effect,
            "sid": sid,
            "principal": principal,
            "not_principal": not_principal,
            "action": None if action is _ABSENT else action,
            "not_action": None if not_action is _ABSENT else not_action,
            "resource": None if resource is _ABSENT else resource,
            "not_resource": None if not_resource is _ABSENT else not_resource,
            "condition": () if condition is None else _conditions(index, condition),
        },
    )


def _bad_effect(index: int, effect: Any) -> NoReturn:
    if effect is None:
        raise PolicyError(
            "Effect is required",
            statement=index,
            element="Effect",
            iam_message="Missing required field Effect",
        )
    raise PolicyError(
        f"Effect must be Allow or Deny, not {effect!r}", statement=index, element="Effect"
    )


def _principals(
    index: int, raw: Mapping[str, Any], rules: Rules
) -> tuple[dict[str, tuple[str, ...]] | None, dict[str, tuple[str, ...]] | None]:
    has_principal = "Principal" in raw
    has_not_principal = "NotPrincipal" in raw
    if rules.no_principal and (has_principal or has_not_principal):
        element = "Principal" if has_principal else "NotPrincipal"
        raise PolicyError(
            f"{element} is not allowed in an {rules.kind} policy",
            statement=index,
            element=element,
            iam_message="Policy document should not specify a principal.",
        )
    if rules.one_principal and has_principal == has_not_principal:
        raise PolicyError(
            "exactly one of Principal or NotPrincipal is required",
            statement=index,
            element="Principal",
            iam_message="Missing required field Principal" if not has_principal else SYNTAX_ERROR,
        )
    principal = _principal_spec(index, raw["Principal"]) if has_principal else None
    not_principal = _principal_spec(index, raw["NotPrincipal"]) if has_not_principal else None
    return principal, not_principal


_ANYONE: dict[str, tuple[str, ...]] = {"AWS": ("*",)}


def _principal_spec(index: int, value: Any) -> dict[str, tuple[str, ...]]:
    """`"*"` or {type: id or [ids]}; account ids become root ARNs as AWS stores them."""
    if value == "*":
        return dict(_ANYONE)
    if not is_mapping(value) or not value:
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
        spec[kind] = tuple([_principal_id(index, kind, v) for v in values])
    return spec


def _principal_id(index: int, kind: str, value: str) -> str:
    stored = _stored_principal(kind, value)
    if stored is None:
        raise PolicyError(
            f"invalid {kind} principal {value!r}",
            statement=index,
            element="Principal",
            iam_message=f'Invalid principal in policy: "{kind}":"{value}"',
        )
    return stored


def _pair(
    index: int,
    get: Callable[[str, Any], Any],
    element: str,
    negated: str,
    check: Callable[[int, str, Any], tuple[str, ...]],
) -> tuple[Any, Any]:
    """An element and its Not form, each checked in that order; _ABSENT when not written."""
    value = get(element, _ABSENT)
    if value is not _ABSENT:
        value = check(index, element, value)
    other = get(negated, _ABSENT)
    return value, other if other is _ABSENT else check(index, negated, other)


def _actions(index: int, element: str, value: Any) -> tuple[str, ...]:
    """The element's actions, checked."""
    actions = (value,) if type(value) is str else _strings(index, element, value)
    for action in actions:
        problem = _action_problem(action)
        if problem is not None:
            reason, iam_message = problem
            raise PolicyError(
                reason.format(action=action),
                statement=index,
                element=element,
                iam_message=iam_message,
            )
    return actions


def _resources(index: int, element: str, value: Any) -> tuple[str, ...]:
    """The element's resources, checked."""
    resources = (value,) if type(value) is str else _strings(index, element, value)
    for resource in resources:
        if not is_arn_or_star(resource):
            raise PolicyError(
                f"resource {resource!r} is not an ARN",
                statement=index,
                element=element,
                iam_message=f'Resource {resource} must be in ARN format or "*".',
            )
    return resources


def _check_resource_rules(index: int, rules: Rules, resource: Any, not_resource: Any) -> None:
    """Resource and NotResource (each _ABSENT when not written) as the kind demands them."""
    present = (
        "Resource"
        if resource is not _ABSENT
        else "NotResource"
        if not_resource is not _ABSENT
        else None
    )
    if resource is not _ABSENT and not_resource is not _ABSENT:
        raise PolicyError("Resource with NotResource", statement=index, element="Resource")
    if rules.no_resource and present:
        # ECR: the repository is the resource (FACTS); IAM: trust policies have none.
        raise PolicyError(
            f"{present} is not allowed in a {rules.kind} policy",
            statement=index,
            element=present,
            iam_message=f"Has prohibited field {present}",
        )
    if rules.needs_resource and present is None:
        raise PolicyError(
            "one of Resource or NotResource is required",
            statement=index,
            element="Resource",
            iam_message="Policy statement must contain resources.",
        )


def _conditions(index: int, raw: Any) -> tuple[ConditionClause, ...]:
    if not is_mapping(raw):
        raise PolicyError("Condition must be an object", statement=index, element="Condition")
    clauses = []
    known = conditions.KNOWN_OPERATORS
    for operator, block in raw.items():
        if operator not in known:
            raise PolicyError(
                f"unknown condition operator {operator}",
                statement=index,
                element="Condition",
                iam_message=f"Invalid Condition type : {operator}",
            )
        if not block or not is_mapping(block):
            raise PolicyError(
                f"{operator} must map condition keys to values",
                statement=index,
                element="Condition",
            )
        for key, values in block.items():
            if not key:
                raise PolicyError("empty condition key", statement=index, element="Condition")
            clauses.append(
                build_from(
                    ConditionClause,
                    {"operator": operator, "key": key, "values": _condition_values(index, values)},
                )
            )
    return tuple(clauses)


def _condition_values(index: int, raw: Any) -> tuple[str, ...]:
    if type(raw) is str:
        return (raw,)
    if type(raw) is list and all([type(item) is str for item in raw]):
        return tuple(raw)
    items = raw if isinstance(raw, list) else [raw]
    return tuple([_condition_value(index, item) for item in items])


def _condition_value(index: int, value: Any) -> str:
    # JSON true is the string "true" to AWS; numbers keep their JSON spelling.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise PolicyError(
        f"condition value {value!r} is not a string, number or boolean",
        statement=index,
        element="Condition",
    )


def _strings(index: int, element: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value:
        items = tuple(value)
        # Decoded JSON strings are exactly str: the isinstance fallback is for subclasses.
        if all([type(i) is str or isinstance(i, str) for i in items]):
            return items
    raise PolicyError(
        f"{element} must be a string or a non-empty list of strings",
        statement=index,
        element=element,
    )


def _check_sids(statements: tuple[Statement, ...]) -> None:
    """IAM's Sid rules; resource policies of other services keep their own (not checked)."""
    seen: set[str] = set()
    for statement in statements:
        sid = statement.sid
        if sid is None:
            continue
        if not is_iam_sid(sid):
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
