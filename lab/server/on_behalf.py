"""Repositories ECR creates on the caller's behalf, authorized as AWS authorizes them.

CREATE_ON_PUSH (ECR User Guide, "Repository creation templates"): a push to a repository that
does not exist creates it from the registry's CREATE_ON_PUSH template with the longest matching
prefix; the pusher needs ecr:CreateRepository (from an identity policy, or the registry policy
where its scope covers the action). Without a matching template ECR creates nothing and the
push fails as any push to a missing repository does (NAME_UNKNOWN).
"""

from __future__ import annotations

from typing import Protocol

from lab.ecr.service import Ecr
from lab.identity.credentials import Identity
from lab.registry.errors import RegistryError
from lab.registry.routes import Route
from lab.server.authorize import Authorizer, Call

CREATE_ON_PUSH = "CREATE_ON_PUSH"
# The registry requests that start a push: an upload (or mount), or a manifest put.
_PUSH_STARTS = {("upload_start", "POST"), ("manifest", "PUT")}


class _Lab(Protocol):
    ecr: Ecr
    authorizer: Authorizer

    def repository_call(
        self, caller: Identity, action: str, account: str, name: str, client_ip: str
    ) -> Call: ...


def create_on_push(
    lab: _Lab, caller: Identity, goal: Route, account: str, region: str, client_ip: str
) -> None:
    """Create the repository a push names if it is missing and a CREATE_ON_PUSH template
    matches, once ecr:CreateRepository is allowed (RegistryError DENIED otherwise)."""
    name = goal.repository
    if (goal.name, goal.method) not in _PUSH_STARTS or not name:
        return
    if lab.ecr.creation_template(account, region, name, CREATE_ON_PUSH) is None:
        return  # nothing to create from: the push meets NAME_UNKNOWN
    if name in lab.ecr.repository_names(account, region):
        return
    call = lab.repository_call(caller, "ecr:CreateRepository", account, name, client_ip)
    decision = lab.authorizer.decide(call)
    if not decision.allowed:
        raise RegistryError("DENIED", decision.message)
    lab.ecr.create_on_behalf(account, region, name, CREATE_ON_PUSH)
