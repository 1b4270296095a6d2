"""Grading: every cell of the goal matrix through the engine, with the student's policy in place.

Each cell asks the questions the front door would ask for the operation's IAM actions
(lab.scenario.explain.OPERATION_STEPS), built by the front door's own functions (action_target
scopes the action, target_call gathers the repository's policy and tags only when the action
acts on it) plus the cell's own keys (aws:SourceVpce, ...); the engine's trace explains every
cell that misses its goal.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from lab.ecr.actions import action_target
from lab.ecr.registry_policy import governing_policy
from lab.identity.credentials import Identity
from lab.lint.checks import lint
from lab.lint.findings import Finding
from lab.policy.document import PolicyError, parse_policy
from lab.policy.explain import render_text
from lab.policy.model import Policy, PolicySet
from lab.scenario.explain import actions_of
from lab.server.authorize import Authorizer, Call, target_call
from lab.workshop import perimeter
from lab.workshop.model import EDIT, Cell, Exercise, Role

CLIENT_IP = "127.0.0.1"
# Organizations' answer to CreatePolicy/UpdatePolicy with a document it cannot take.
_MALFORMED = (
    "MalformedPolicyDocumentException: The provided policy document does not meet the "
    "requirements of the specified policy type."
)


@dataclass(frozen=True)
class CellResult:
    """One cell as graded: what happened, and the engine's explanation when it is wrong."""

    cell: Cell
    actual: str  # allowed | denied
    message: str = ""  # AWS's denial message for the first denied action
    explanation: str = ""  # the engine's trace: of the denied action, else the last one

    @property
    def correct(self) -> bool:
        return self.actual == self.cell.expected


@dataclass(frozen=True)
class Grade:
    """The whole attempt: AWS's refusal of the document if any, every cell, lint findings."""

    refusal: str  # the error the service answers SetRepositoryPolicy/PutRolePolicy with
    cells: tuple[CellResult, ...]
    findings: tuple[Finding, ...]

    @property
    def solved(self) -> bool:
        return not self.refusal and all(c.correct for c in self.cells)


@cache
def managed_policy(arn: str) -> Policy:
    """An AWS managed policy's document, as moto ships it (AWS's current default version)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    name = arn.rsplit("/", 1)[-1]
    document = json.loads(aws_managed_policies_data)[name]["Document"]
    return parse_policy(document, "identity", name)


def grade(exercise: Exercise, text: str, now: dt.datetime | None = None) -> Grade:
    """Grade the student's policy `text` against every cell of `exercise`."""
    moment = now or dt.datetime.now(dt.UTC)
    if exercise.lint_kind == "guardrails":
        try:
            trio = perimeter.read_trio(text)
        except PolicyError as error:
            return Grade(f"{_MALFORMED} ({error})", (), ())
        cells = tuple(_cell(exercise, cell, text, moment, trio) for cell in exercise.cells)
        return Grade("", cells, ())
    findings = tuple(lint(text, exercise.lint_kind))
    try:
        kind = "repository" if exercise.lint_kind == "repository" else "identity"
        parse_policy(text, kind)
    except PolicyError as error:
        refusal = error.to_aws_error(kind)
        return Grade(f"{refusal.code}: {refusal.message} ({error})", (), findings)
    cells = tuple(_cell(exercise, cell, text, moment) for cell in exercise.cells)
    return Grade("", cells, findings)


def _cell(
    exercise: Exercise,
    cell: Cell,
    text: str,
    now: dt.datetime,
    trio: perimeter.Trio | None = None,
) -> CellResult:
    role = exercise.roles[cell.principal]
    repository = exercise.repositories[cell.repository]
    path, context = perimeter.network(cell.context)
    identity = replace(_session(role), network=path)  # through the endpoint: its keys
    identity_policies = PolicySet(identity=_identity_policies(role, text))
    org = exercise.organization

    def guardrails(call: Call) -> dict[str, Any]:
        return {} if trio is None or org is None else perimeter.guardrails(trio, org, call)

    def facts(account: str, region: str, name: str) -> tuple[str | None, Mapping[str, str]]:
        found = exercise.repositories[name]
        return _document(found.policy, text), found.tags

    def registry(account: str, region: str, action: str) -> str | None:
        setup = exercise.registries.get(account)
        if setup is None or setup.policy is None:
            return None
        return governing_policy(json.dumps(setup.policy), setup.scope, action)

    explanation = ""
    for action in actions_of(cell.operation):
        goal = action_target(action, repository.account, repository.region, repository.name)
        client_ip = cell.context.get("aws:SourceIp", CLIENT_IP)
        keys = {**context}
        if org is not None:
            keys |= perimeter.organization_keys(org, identity.account, goal.resource)
        call = target_call(
            identity,
            goal,
            client_ip,
            repository.region,
            facts,
            context=keys,
            registry=registry,
        )
        authorizer = Authorizer(lambda _: identity_policies, guardrails)
        request, decision = authorizer.explain(call, now)
        explanation = render_text(request, decision)
        if not decision.allowed:
            return CellResult(cell, "denied", decision.message, explanation)
    return CellResult(cell, "allowed", "", explanation)  # the trace of the last action allowed


def _document(value: Any, text: str) -> str | None:
    if value is None:
        return None
    return text if value == EDIT else json.dumps(value)


def _identity_policies(role: Role, text: str) -> tuple[Policy, ...]:
    managed = tuple(managed_policy(arn) for arn in role.managed_policies)
    inline = tuple(
        parse_policy(_document(doc, text) or "", "identity", name)
        for name, doc in role.inline_policies.items()
    )
    return managed + inline


def _session(role: Role) -> Identity:
    """The instance-profile session of `role`, as STS would issue it."""
    session = role.session_arn.rsplit("/", 1)[-1]
    return Identity(
        arn=role.session_arn,
        account=role.account,
        user_id=f"AROA{role.key.upper()[:17]}:{session}",
        role_arn=role.arn,
        session_name=session,
        tags=dict(role.tags),
        source="ec2.amazonaws.com",
    )
