"""The checks: a policy's text in, findings out. Pure functions, one per kind of finding.

Grammar errors come from the engine's own parser (lab.policy.document), so lint and ECR
never disagree on what is valid; the other checks read the raw document and go on past
the first problem, as Access Analyzer does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, Literal

import yaml

from lab import json_input
from lab.lint import catalog
from lab.lint.findings import Finding, ordered
from lab.lint.positions import Path, Position, position_at, positions, yaml_positions
from lab.policy import matching
from lab.policy.document import REPOSITORY_POLICY_MESSAGE, PolicyError, parse_policy

LintKind = Literal["repository", "identity"]
Syntax = Literal["json", "yaml"]
Statement = Mapping[str, Any]
Check = Callable[[Statement, Path, LintKind], Iterator[Finding]]

# Actions whose loss locks the policy itself in place (ECR's permission-management actions).
ADMIN_ACTIONS = ("ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:DeleteRepository")
# Keys that tie a grant to known callers or networks: a public Allow limited by one is not
# open to the world (Access Analyzer's "public" test looks for such keys too).
LIMITING_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
        "aws:userid", "aws:username", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID",
        "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceIp",
        "aws:PrincipalServiceName",
    )
)  # fmt: skip


def lint(text: str, kind: LintKind = "repository", syntax: Syntax = "json") -> list[Finding]:
    """Every finding for the policy `text` (JSON or YAML) read as a `kind` policy, most severe
    first. A CloudFormation template (a document with `Resources`) has each repository's
    RepositoryPolicyText linted, its findings placed in the template."""
    try:
        doc, where = _read(text, syntax)
    except _Unreadable as error:
        return [error.finding]
    found = [
        _under(finding, prefix)
        for policy, prefix, policy_kind in _policies(doc, kind)
        for finding in _findings(policy, policy_kind)
    ]
    return ordered([_placed(f, where) for f in found])


def _findings(doc: Any, kind: LintKind) -> list[Finding]:
    found = [
        finding
        for statement, path in _statements(doc)
        for check in CHECKS
        for finding in check(statement, path, kind)
    ]
    found.extend(_grammar(doc, kind))  # after the checks: theirs is the better wording
    return found


class _Unreadable(ValueError):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def _read(text: str, syntax: Syntax) -> tuple[Any, Mapping[Path, Position]]:
    """The document and where each of its values starts; _Unreadable for a syntax error."""
    if syntax == "yaml":
        try:
            return yaml_positions(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            position = Position(mark.line + 1, mark.column + 1, mark.index) if mark else None
            place = f" at line {position.line}, column {position.column}" if position else ""
            problem = getattr(error, "problem", None) or str(error)
            details = f"Fix the YAML syntax error{place}: {problem}"
            finding = Finding("ERROR", "YAML_SYNTAX_ERROR", details, (), position)
            raise _Unreadable(finding) from None
    try:
        doc = json_input.loads(text)  # first: positions() recurses once per level
        return doc, positions(text)
    except json.JSONDecodeError as error:
        details = f"Fix the JSON syntax error at line {error.lineno}, column {error.colno}: "
        position = position_at(text, error.pos)
        finding = Finding("ERROR", "JSON_SYNTAX_ERROR", details + error.msg, (), position)
        raise _Unreadable(finding) from None


def _policies(doc: Any, kind: LintKind) -> Iterator[tuple[Any, Path, LintKind]]:
    """The policies in `doc`: itself, or a CloudFormation template's repository policies."""
    resources = doc.get("Resources") if isinstance(doc, Mapping) else None
    if not isinstance(resources, Mapping) or "Statement" in doc:
        yield doc, (), kind
        return
    for name, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::ECR::Repository":
            continue
        properties = resource.get("Properties")
        if isinstance(properties, Mapping) and "RepositoryPolicyText" in properties:
            where = ("Resources", name, "Properties", "RepositoryPolicyText")
            yield properties["RepositoryPolicyText"], where, "repository"


def _under(finding: Finding, prefix: Path) -> Finding:
    """The finding with its path inside the enclosing document."""
    return replace(finding, path=(*prefix, *finding.path)) if prefix else finding


def has_errors(findings: list[Finding]) -> bool:
    """True when a finding is an ERROR: AWS would refuse the policy or a part never works."""
    return any(f.finding_type == "ERROR" for f in findings)


def _placed(finding: Finding, where: Mapping[Path, Position]) -> Finding:
    """The finding with the position of its path (or of the nearest enclosing element)."""
    path = finding.path
    while path and path not in where:
        path = path[:-1]
    position = where.get(path)
    return Finding(
        finding.finding_type, finding.issue_code, finding.details, finding.path, position
    )


def _statements(doc: Any) -> Iterator[tuple[Statement, Path]]:
    raw = doc.get("Statement") if isinstance(doc, Mapping) else None
    if isinstance(raw, Mapping):
        yield raw, ("Statement",)
    elif isinstance(raw, list):
        for index, statement in enumerate(raw):
            if isinstance(statement, Mapping):
                yield statement, ("Statement", index)


def _values(statement: Statement, element: str, path: Path) -> list[tuple[Any, Path]]:
    """An element's values with their paths: a lone string, or each item of a list."""
    value = statement.get(element)
    if isinstance(value, list):
        return [(item, (*path, element, i)) for i, item in enumerate(value)]
    return [] if value is None else [(value, (*path, element))]


# ---- grammar: the engine's parser, as the service that stores the policy answers --------------

_GRAMMAR_CODES: tuple[tuple[str | None, str, str], ...] = (
    # (element, words in the parser's reason, Access Analyzer's issue code)
    ("Version", "required", "MISSING_VERSION"),
    ("Version", "", "INVALID_VERSION"),
    ("Effect", "required", "MISSING_EFFECT"),
    ("Effect", "", "INVALID_EFFECT"),
    ("Action", "Action with NotAction", "UNSUPPORTED_ELEMENT_COMBINATION"),
    ("Action", "required", "MISSING_ACTION"),
    ("Action", "", "INVALID_ACTION"),
    ("NotAction", "", "INVALID_ACTION"),
    ("Principal", "required", "MISSING_PRINCIPAL"),
    ("Principal", "not allowed", "UNSUPPORTED_PRINCIPAL"),
    ("NotPrincipal", "not allowed", "UNSUPPORTED_PRINCIPAL"),
    ("Principal", "", "INVALID_PRINCIPAL_FORMAT"),
    ("Resource", "not allowed", "UNSUPPORTED_RESOURCE_ARN_IN_POLICY"),
    ("NotResource", "not allowed", "UNSUPPORTED_RESOURCE_ARN_IN_POLICY"),
    ("Resource", "required", "MISSING_RESOURCE"),
    ("Resource", "", "INVALID_ARN_PREFIX"),
    ("Condition", "unknown condition operator", "INVALID_CONDITION_OPERATOR"),
    ("Sid", "used twice", "UNIQUE_SIDS_REQUIRED"),
    ("Sid", "", "UNSUPPORTED_SID"),
    (None, "Statement", "MISSING_STATEMENT"),
)


def _grammar(doc: Any, kind: LintKind) -> Iterator[Finding]:
    try:
        parse_policy(doc, kind)
    except PolicyError as error:
        code = next(
            (c for element, words, c in _GRAMMAR_CODES
             if element == error.element and words in error.reason),
            "INVALID_POLICY_ELEMENT",
        )  # fmt: skip
        if kind == "repository":
            refusal = f"InvalidParameterException: {REPOSITORY_POLICY_MESSAGE}"
        else:
            refusal = error.to_aws_error("identity").code + f": {error.iam_message}"
        service = "ECR" if kind == "repository" else "IAM"
        yield Finding(
            "ERROR",
            code,
            f"{error}. {service} refuses this policy: {refusal}",
            _path_of(doc, error),
        )


def _path_of(doc: Any, error: PolicyError) -> Path:
    if error.statement is None:
        return (error.element,) if error.element else ()
    single = isinstance(doc, Mapping) and isinstance(doc.get("Statement"), Mapping)
    base: Path = ("Statement",) if single else ("Statement", error.statement)
    return (*base, error.element) if error.element else base


# ---- per-statement checks ----------------------------------------------------------------------


def check_actions(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """Unknown ECR actions (INVALID_ACTION), other services' actions in a repository policy
    (UNSUPPORTED_ACTION_IN_POLICY), and actions a wildcard in the same list already covers
    (REDUNDANT_ACTION)."""
    for element in ("Action", "NotAction"):
        values = [(v, p) for v, p in _values(statement, element, path) if isinstance(v, str)]
        for action, where in values:
            service = action.partition(":")[0].lower()
            if service == "ecr" and not catalog.matching_ecr_actions(action):
                wild = "*" in action or "?" in action
                details = (
                    f"The action pattern {action} matches no action of the service ecr."
                    if wild
                    else f"The action {action} does not exist in the service ecr."
                    + catalog.did_you_mean(action)
                )
                yield Finding("ERROR", "INVALID_ACTION", details, where)
                continue
            if kind == "repository" and action != "*" and service != "ecr":
                yield Finding(
                    "ERROR",
                    "UNSUPPORTED_ACTION_IN_POLICY",
                    f"The action {action} is not an ECR action: a repository policy governs "
                    "only requests to its repository, so this entry never matches.",
                    where,
                )
                continue
            covering = next(
                (other for other, _ in values
                 if other != action and matching.action_matches(other, action)),
                None,
            )  # fmt: skip
            if covering is not None:
                yield Finding(
                    "SUGGESTION",
                    "REDUNDANT_ACTION",
                    f"The action {action} is redundant: {covering} in the same list covers it.",
                    where,
                )


def check_condition_keys(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """Condition keys AWS does not define (global) or ECR requests never carry (service)."""
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return
    for operator, keys in block.items():
        if not isinstance(keys, Mapping):
            continue
        for key in keys:
            where = (*path, "Condition", operator, key)
            service = key.partition(":")[0].lower()
            if service == "aws" and not catalog.is_global_key(key):
                yield Finding(
                    "ERROR",
                    "INVALID_GLOBAL_CONDITION_KEY",
                    f"The condition key {key} does not exist. Use a valid global condition key.",
                    where,
                )
            elif service == "ecr" and not catalog.is_ecr_key(key):
                yield Finding(
                    "ERROR",
                    "INVALID_SERVICE_CONDITION_KEY",
                    f"The condition key {key} does not exist in the service ecr "
                    "(ECR defines only ecr:ResourceTag/${TagKey}).",
                    where,
                )
            elif kind == "repository" and service not in ("aws", "ecr"):
                yield Finding(
                    "ERROR",
                    "INVALID_SERVICE_CONDITION_KEY",
                    f"The condition key {key} belongs to the service {service}; requests to an "
                    "ECR repository never carry it, so this condition never matches.",
                    where,
                )


def check_resource_element(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """A Resource in a repository policy: ECR refuses it (the repository is the resource)."""
    if kind != "repository":
        return
    for element in ("Resource", "NotResource"):
        if element in statement:
            yield Finding(
                "ERROR",
                "UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
                f"A repository policy takes no {element} element: it applies to the repository "
                "it is attached to. ECR refuses it: InvalidParameterException: "
                f"{REPOSITORY_POLICY_MESSAGE}",
                (*path, element),
            )


def check_principal_element(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """A repository policy needs a Principal; an identity policy takes none."""
    present = [e for e in ("Principal", "NotPrincipal") if e in statement]
    if kind == "repository" and not present:
        yield Finding(
            "ERROR",
            "MISSING_PRINCIPAL",
            "Add a Principal element: a repository policy names whom each statement is for.",
            (*path, "Principal"),
        )
    if kind == "identity":
        for element in present:
            yield Finding(
                "ERROR",
                "UNSUPPORTED_PRINCIPAL",
                f"An identity policy takes no {element}: it applies to the identity it is "
                "attached to.",
                (*path, element),
            )


def check_not_elements(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """Allow with NotPrincipal or NotAction grants far more than it names."""
    if statement.get("Effect") != "Allow":
        return
    if "NotPrincipal" in statement:
        yield Finding(
            "SECURITY_WARNING",
            "ALLOW_WITH_NOT_PRINCIPAL",
            "Allow with NotPrincipal grants access to every principal but those listed, "
            "anonymous callers included. Name the principals to allow in Principal instead.",
            (*path, "NotPrincipal"),
        )
    if "NotAction" in statement:
        yield Finding(
            "SECURITY_WARNING",
            "ALLOW_WITH_NOT_ACTION",
            "Allow with NotAction grants every action except those listed, SetRepositoryPolicy "
            "and DeleteRepository included, and any action ECR adds later. List the actions to "
            "allow in Action instead.",
            (*path, "NotAction"),
        )


def check_public_access(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """An Allow for Principal "*" that no condition ties to known callers or networks."""
    if kind != "repository" or statement.get("Effect") != "Allow":
        return
    if not _for_everyone(statement.get("Principal")):
        return
    if _condition_keys(statement) & LIMITING_KEYS:
        return
    yield Finding(
        "SECURITY_WARNING",
        "PUBLIC_ACCESS",
        'This statement allows Principal "*" without a condition on the caller (such as '
        "aws:PrincipalOrgID, aws:PrincipalArn or aws:SourceVpce): any AWS account, and for "
        "some actions anyone, may use the repository.",
        (*path, "Principal"),
    )


def check_lockout(statement: Statement, path: Path, kind: LintKind) -> Iterator[Finding]:
    """A Deny for everyone (but a few) that also covers changing or deleting the policy."""
    if kind != "repository" or statement.get("Effect") != "Deny":
        return
    if not _for_everyone(statement.get("Principal")):
        return
    blocked = [a for a in ADMIN_ACTIONS if _covers(statement, a)]
    if not blocked:
        return
    clauses = _clauses(statement)
    if any(not _negative(operator) for operator, _, _ in clauses):
        return  # a positive condition singles out particular callers: not everyone
    # Name each exemption by its key: the values may be roles, endpoints, networks, accounts.
    exempt = [f"{key} is {' or '.join(values)}" for _, key, values in clauses]
    who = (
        f"every request except those where {'; or '.join(exempt)}" if exempt else "every principal"
    )
    yield Finding(
        "WARNING",
        "LOCKOUT_RISK",
        f'This statement denies {", ".join(blocked)} to {who}. Principal "*" includes the '
        "account's administrators and root user, and an explicit deny overrides every allow "
        "(AdministratorAccess included); CloudFormation changes the repository with the "
        "deploying principal's permissions, so a stack update or delete fails too. Only the "
        "exempted requests can still change or remove this policy. Exempt an administrator "
        'role as well, or deny only the image actions rather than "*".',
        path,
    )


CHECKS: tuple[Check, ...] = (
    check_actions,
    check_condition_keys,
    check_resource_element,
    check_principal_element,
    check_not_elements,
    check_public_access,
    check_lockout,
)


# ---- helpers -----------------------------------------------------------------------------------


def _for_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        ids = principal.get("AWS")
        return ids == "*" or (isinstance(ids, list) and "*" in ids)
    return False


def _clauses(statement: Statement) -> list[tuple[str, str, list[str]]]:
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return []
    found = []
    for operator, keys in block.items():
        for key, values in keys.items() if isinstance(keys, Mapping) else ():
            items = values if isinstance(values, list) else [values]
            found.append((str(operator), str(key), [str(v) for v in items]))
    return found


def _condition_keys(statement: Statement) -> set[str]:
    return {key.lower() for _, key, _ in _clauses(statement)}


def _negative(operator: str) -> bool:
    """`StringNotEquals`, `ArnNotLike`, ...: true for everyone but the listed values."""
    base = operator.rpartition(":")[2].removesuffix("IfExists")
    return "Not" in base


def _covers(statement: Statement, action: str) -> bool:
    def listed(element: str) -> list[str]:
        value = statement.get(element)
        items = value if isinstance(value, list) else [value] if value is not None else []
        return [v for v in items if isinstance(v, str)]

    if "Action" in statement:
        return any(matching.action_matches(p, action) for p in listed("Action"))
    if "NotAction" in statement:
        return not any(matching.action_matches(p, action) for p in listed("NotAction"))
    return False
