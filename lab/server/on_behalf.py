"""Repositories ECR creates on the caller's behalf, authorized as AWS authorizes them.

Pull through cache (ECR User Guide, "IAM permissions required to sync an upstream registry
with an Amazon ECR private registry", pull-through-cache-iam.html): the first pull of an image
under a rule's prefix needs ecr:BatchImportUpstreamImage (identity, registry or repository
policy) and, when the repository does not exist yet, ecr:CreateRepository (identity or registry
policy); the registry policy takes part under the scope that covers each action (V1 covers
both). The image is fetched from the upstream the rule names (`serve --upstream-registry`).

CREATE_ON_PUSH (ECR User Guide, "Repository creation templates"): a push to a repository that
does not exist creates it from the registry's CREATE_ON_PUSH template with the longest matching
prefix; the pusher needs ecr:CreateRepository (from an identity policy, or the registry policy
where its scope covers the action). Without a matching template ECR creates nothing and the
push fails as any push to a missing repository does (NAME_UNKNOWN).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lab.ecr.actions import Target
from lab.ecr.errors import SECRET_NOT_FOUND
from lab.ecr.pull_through import upstream_repository
from lab.ecr.service import Ecr
from lab.ecr.upstream_client import UpstreamFailure
from lab.errors import AwsError
from lab.identity.credentials import Identity
from lab.jobs.pull_through import fetch_image
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

    def account_of(self, account: str) -> Any: ...


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
    _require(lab, caller, "ecr:CreateRepository", account, name, client_ip)
    lab.ecr.create_on_behalf(account, region, name, CREATE_ON_PUSH)


def pull_through_cache(
    lab: _Lab, caller: Identity, goal: Route, account: str, region: str, client_ip: str
) -> None:
    """Import the image a manifest GET or HEAD names from its upstream when a pull through
    cache rule covers the repository and the image is not cached yet."""
    name, reference = goal.repository, goal.reference
    if goal.name != "manifest" or goal.method not in ("GET", "HEAD") or not name or not reference:
        return
    rule = lab.ecr.pull_through_rule(account, region, name)
    if rule is None or lab.ecr.holds_image(account, region, name, reference):
        return
    _require(lab, caller, "ecr:BatchImportUpstreamImage", account, name, client_ip)
    if name not in lab.ecr.repository_names(account, region):
        _require(lab, caller, "ecr:CreateRepository", account, name, client_ip)
    url = rule["upstreamRegistryUrl"]
    address = lab.ecr.upstreams.get(url)
    if address is None:
        raise RegistryError("MANIFEST_UNKNOWN", f"The lab maps no address to {url}")
    credentials = _credentials(lab, account, rule.get("credentialArn"))
    try:
        image = fetch_image(address, credentials, upstream_repository(rule, name), reference)
    except (UpstreamFailure, OSError) as failure:
        raise RegistryError("MANIFEST_UNKNOWN", f"Unable to pull from {url}: {failure}") from None
    lab.ecr.import_image(account, region, name, reference, image.manifests, image.blobs)


def _require(
    lab: _Lab, caller: Identity, action: str, account: str, name: str, client_ip: str
) -> None:
    decision = lab.authorizer.decide(lab.repository_call(caller, action, account, name, client_ip))
    if not decision.allowed:
        raise RegistryError("DENIED", decision.message)


def _credentials(lab: _Lab, account: str, arn: str | None) -> tuple[str, str] | None:
    """The upstream user and token the rule's secret holds ({"username", "accessToken"},
    "Storing your upstream repository credentials in a Secrets Manager secret")."""
    if arn is None:
        return None
    secrets = lab.account_of(account).upstream.client("secretsmanager")
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    return str(value["username"]), str(value["accessToken"])


def check_rule_secret(lab: _Lab, account: str, operation: str, params: dict[str, Any]) -> None:
    """A pull through cache rule's credentialArn must name a secret of the registry's account
    (SecretNotFoundException, CreatePullThroughCacheRule and UpdatePullThroughCacheRule)."""
    arn = params.get("credentialArn")
    if not operation.endswith("PullThroughCacheRule") or not isinstance(arn, str):
        return
    secrets = lab.account_of(account).upstream.client("secretsmanager")
    try:
        secrets.describe_secret(SecretId=arn)
    except ClientError:
        raise SECRET_NOT_FOUND(arn=arn) from None


def check_foreign_registry(caller: Identity, goal: Target, registry_id: object) -> None:
    """A registry-wide operation (pull through cache rules) naming another account's registry
    is refused: only identity policies grant these actions, and an identity policy grants
    nothing in another account (IAM User Guide, cross-account policy evaluation). (lab) The
    refusal is worded as AWS's cross-account denial."""
    if goal.repository is not None or goal.lists_repositories:
        return
    if registry_id is None or registry_id == caller.account:
        return
    raise AwsError(
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: {goal.action} on resource: "
        f"{goal.resource} because no resource-based policy allows the {goal.action} action",
    )
