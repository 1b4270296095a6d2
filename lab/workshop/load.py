"""Exercise folders (`lab/workshop/builtin/NN-slug/`): exercise.yaml, starter.json, solution.json.

exercise.yaml:

    title: ...
    goal: ...
    region: ap-northeast-1
    accounts: {A: "111111111111"}           # names used below
    roles:
      CiRole: {account: A, name: ci, managed_policies: [...], inline_policies: {ci: EDIT},
               tags: {team: red}}
    repositories:
      app: {account: A, policy: EDIT, tags: {team: red}}
    registries:                             # optional: an account's registry policy and scope
      A: {scope: V1, policy: {...}}
    organization: {id: o-a1b2c3d4e5, members: [A], management: M}   # optional
    guardrails: EDIT    # the student writes {"scp", "rcp", "endpoint_policy"} (perimeter.py)
    cells:
      - {principal: CiRole, operation: pull, repository: app, expected: allowed,
         context: {aws:SourceVpce: vpce-1}, note: why this cell matters}
    hints: [text, {text: ..., when: REGEX}, ...]   # `when`: the mistake (in the policy) it answers

Exactly one document is EDIT: the student's file takes its place.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from lab.ecr.registry_policy import SETTINGS, check_registry_policy
from lab.errors import AwsError
from lab.scenario import yamlfile
from lab.workshop.model import EDIT, Cell, Exercise, Hint, RegistrySetup, Repository, Role
from lab.workshop.perimeter import OrganizationFacts

# The exercises that ship with the lab, as package data (also in an installed package).
EXERCISES = Path(str(resources.files("lab.workshop") / "builtin"))


class ExerciseError(ValueError):
    """An exercise folder that does not hold a valid exercise."""


def all_exercises(root: Path = EXERCISES) -> list[Exercise]:
    """Every exercise under `root`, by number."""
    folders = sorted(p for p in root.iterdir() if (p / "exercise.yaml").is_file())
    return [load(folder) for folder in folders]


def find(number: int, root: Path = EXERCISES) -> Exercise:
    """The exercise with `number`; ExerciseError lists the known ones if there is none."""
    exercises = all_exercises(root)
    for exercise in exercises:
        if exercise.number == number:
            return exercise
    known = ", ".join(str(e.number) for e in exercises)
    raise ExerciseError(f"no exercise {number} (known: {known})")


def load(folder: Path) -> Exercise:
    """The exercise in `folder` (named NN-slug)."""
    number, _, slug = folder.name.partition("-")
    raw = yamlfile.load_file(folder / "exercise.yaml")
    if not isinstance(raw, dict) or not number.isdigit():
        raise ExerciseError(f"{folder}: not an exercise folder")
    region = str(raw["region"])
    accounts = {str(k): str(v) for k, v in raw["accounts"].items()}
    roles = {
        str(key): Role(
            key=str(key),
            name=str(spec.get("name", key)),
            account=accounts[spec["account"]],
            managed_policies=tuple(spec.get("managed_policies", ())),
            inline_policies=dict(spec.get("inline_policies", {})),
            tags={str(k): str(v) for k, v in spec.get("tags", {}).items()},
        )
        for key, spec in raw["roles"].items()
    }
    repositories = {
        str(name): Repository(
            name=str(name),
            account=accounts[spec["account"]],
            region=region,
            policy=spec.get("policy"),
            tags={str(k): str(v) for k, v in spec.get("tags", {}).items()},
        )
        for name, spec in raw["repositories"].items()
    }
    cells = tuple(_cell(spec, roles, repositories, folder) for spec in raw["cells"])
    edits = (
        ("the organization's SCP and RCP and the ECR endpoint's policy", "guardrails")
        if raw.get("guardrails") == EDIT
        else _edited(roles, repositories, folder)
    )
    org = raw.get("organization")
    return Exercise(
        number=int(number),
        slug=slug,
        title=str(raw["title"]),
        goal=str(raw["goal"]).strip(),
        edits=edits[0],
        lint_kind=edits[1],
        roles=roles,
        repositories=repositories,
        cells=cells,
        hints=tuple(_hint(spec, folder) for spec in raw.get("hints", ())),
        starter=(folder / "starter.json").read_text(encoding="utf-8"),
        solution=(folder / "solution.json").read_text(encoding="utf-8"),
        registries={
            accounts[key]: _registry(accounts[key], spec, folder)
            for key, spec in raw.get("registries", {}).items()
        },
        organization=None
        if org is None
        else OrganizationFacts(
            str(org["id"]),
            frozenset(accounts[m] for m in org["members"]),
            accounts[org["management"]],
        ),
    )


def _registry(account: str, spec: Any, folder: Path) -> RegistrySetup:
    """An account's registry, its policy checked as PutRegistryPolicy checks it."""
    scope = str(spec.get("scope", "V2"))
    if scope not in SETTINGS["REGISTRY_POLICY_SCOPE"][1]:
        raise ExerciseError(f"{folder}: a registry's scope is V1 or V2, not {scope!r}")
    policy = spec.get("policy")
    if policy is not None:
        try:
            check_registry_policy(json.dumps(policy), scope)
        except AwsError as refused:
            raise ExerciseError(f"{folder}: registry of {account}: {refused.message}") from None
    return RegistrySetup(account, scope, policy)


def _cell(spec: Any, roles: dict, repositories: dict, folder: Path) -> Cell:
    if spec["principal"] not in roles or spec["repository"] not in repositories:
        raise ExerciseError(f"{folder}: cell {dict(spec)} names an unknown role or repository")
    if spec["expected"] not in ("allowed", "denied"):
        raise ExerciseError(f"{folder}: expected must be allowed or denied")
    return Cell(
        principal=str(spec["principal"]),
        operation=str(spec["operation"]),
        repository=str(spec["repository"]),
        expected=spec["expected"],
        context={str(k): str(v) for k, v in spec.get("context", {}).items()},
        note=str(spec.get("note", "")),
    )


def _hint(spec: Any, folder: Path) -> Hint:
    """A hint: its text, or {text, when} with `when` a regular expression on the policy."""
    if isinstance(spec, str):
        return Hint(spec.strip())
    if (
        isinstance(spec, dict)
        and isinstance(spec.get("text"), str)
        and set(spec) <= {"text", "when"}
    ):
        when = spec.get("when")
        return Hint(spec["text"].strip(), None if when is None else str(when))
    raise ExerciseError(f"{folder}: a hint is text or {{text, when}}, not {spec!r} (quote it)")


def _edited(roles: dict, repositories: dict, folder: Path) -> tuple[str, Any]:
    """What EDIT stands for, in words, and the kind of policy it is (for lint)."""
    found = [
        (f"the repository policy of {r.name}", "repository")
        for r in repositories.values()
        if r.policy == EDIT
    ]
    found += [
        (f"the inline policy {name} of {role.key}", "identity")
        for role in roles.values()
        for name, doc in role.inline_policies.items()
        if doc == EDIT
    ]
    names = {text for text, _ in found}
    kinds = {kind for _, kind in found}
    if len(kinds) != 1 or not found:
        raise ExerciseError(f"{folder}: exactly one kind of document must be EDIT")
    return " and ".join(sorted(names)), kinds.pop()
