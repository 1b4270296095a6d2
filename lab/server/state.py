"""The lab's state and identities: its accounts, IAM directories, sessions, ECR and instances.

`lab.server.app.Lab` adds the request pipeline on top of this.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import __version__
from lab.ecr.errors import INVALID_PARAMETER
from lab.ecr.service import Ecr
from lab.errors import AwsError
from lab.identity.credentials import Credential, CredentialStore, Identity
from lab.identity.directory import IamDirectory
from lab.identity.principal_check import PRINCIPAL_NOT_FOUND, missing_principal
from lab.identity.sts import Sts
from lab.identity.tokens import TokenIssuer
from lab.jobs.lifecycle import LifecycleJob
from lab.jobs.replication import ReplicationJob
from lab.policy.document import PolicyError, parse_policy
from lab.policy.model import Policy, PolicySet
from lab.server.authorize import Authorizer, Call, through_endpoint
from lab.server.config import LabConfig
from lab.server.guardrails import Organization, VpcEndpoint, read_organization
from lab.server.state_lock import StateLock
from lab.server.vpc_endpoints import not_found, read_endpoints
from lab.store import remove_leftovers
from lab.upstream import Upstream, make_upstream

# The private address of a session bound to an endpoint when no instance gives one (a
# scenario instance's default, lab.scenario.model.Instance).
_PRIVATE_IP = "10.0.1.10"
# Any account's registry in any region: `ACCT.dkr.ecr.REGION.localhost:PORT`, ECR's own host
# name with `localhost` (RFC 6761: resolves to loopback) for `amazonaws.com`.
_REGISTRY_ALIAS = re.compile(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.localhost(?::\d+)?")


@dataclass
class Instance:
    """An emulated EC2 instance: its id, the role of its instance profile, and the VPC endpoint
    keys its ECR requests carry (empty when it reaches ECR another way, e.g. a NAT gateway)."""

    instance_id: str
    role_arn: str
    network: dict[str, str] = field(default_factory=dict)


@dataclass
class Account:
    """One AWS account of the lab: its IAM directory (own upstream), its STS, its admin's key."""

    upstream: Upstream
    directory: IamDirectory
    sts: Sts
    admin_access_key: str


@dataclass
class LabState:
    """One lab's state and identities, without the pipeline that serves them."""

    config: LabConfig
    registry_host: str  # host:port that docker uses for this lab
    instances: dict[str, Instance] = field(default_factory=dict)
    scenario: str | None = None  # the scenario deployed into it, if any
    ready: bool = True  # False while `serve --scenario` still deploys: health says "starting"
    # Organizations by the account whose home holds them ("scenario" for a scenario's): each
    # account belongs to one, and one organization's change never touches another's.
    organizations: dict[str, Organization] = field(default_factory=dict)
    vpc_endpoints: dict[str, VpcEndpoint] = field(default_factory=dict)  # by endpoint id
    # ECR endpoints created with EC2's API, by account then id, as read from the account's IAM
    # home (on first need, and after every EC2 change made through the lab).
    api_endpoints: dict[str, dict[str, VpcEndpoint]] = field(default_factory=dict)
    clock: dt.datetime | None = None  # a scenario's fixed aws:CurrentTime; None: the real time

    def __post_init__(self) -> None:
        state = self.config.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.state_lock = StateLock(state)  # first: nothing is read or written before it
        try:
            remove_leftovers(state)
            self._open(state)
        except BaseException:
            self.state_lock.release()
            raise

    def _open(self, state: Path) -> None:
        self.upstream = make_upstream(
            self.config.upstream, state / "iam", self.config.region, account=self.config.account
        )
        self.directory = IamDirectory(self.upstream)
        self.credentials = CredentialStore(state / "identity")
        self.admin = Identity(
            arn=f"arn:aws:iam::{self.config.account}:root",
            account=self.config.account,
            user_id=self.config.account,
            role_arn=None,
        )
        self.credentials.add_static(
            self.config.admin_access_key, self.config.admin_secret_key, self.admin
        )
        self.tokens = TokenIssuer.load(state / "identity")
        self.sts = Sts(self.directory, self.credentials, self.config.account, self.sts_guardrails)
        self.ecr = Ecr(state / "ecr", self.registry_address, self.validate_repository_policy)
        self.ecr.upstreams.update(self.config.upstream_registries)
        home = Account(self.upstream, self.directory, self.sts, self.config.admin_access_key)
        self.accounts: dict[str, Account] = {self.config.account: home}
        self.authorizer = Authorizer(self.identity_policies, self.guardrails, self.now)
        holds = getattr(self.upstream, "holds", None)
        if holds is not None and holds("organizations"):  # guardrails survive a restart
            self.read_organization(self.config.account)
        self.lifecycle = LifecycleJob(
            self.ecr, state / "jobs" / "lifecycle.json", self.config.lifecycle_interval
        )
        self.lifecycle.start()
        # `replication_decision` is the pipeline's (Lab's): the one authorization function.
        self.replication = ReplicationJob(
            self.ecr, self.replication_decision, self.config.replication_interval
        )
        self.replication.start()

    def close(self) -> None:
        """Stop the background jobs; let another lab use the state directory."""
        self.lifecycle.stop()
        self.replication.stop()
        self.state_lock.release()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.registry_host}"

    def add_account(
        self, account: str, admin_access_key: str | None = None, admin_secret_key: str = "test"
    ) -> Account:
        """Another AWS account in this lab, with its own IAM and its root's key pair.

        The admin's access key id defaults to the account id (LocalStack's rule: a 12-digit
        key id selects the account). Its ECR registry answers the API with `registryId` and
        docker at `registry_address(account)`.
        """
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"an account id is 12 digits, not {account!r}")
        if account in self.accounts:
            return self.accounts[account]
        upstream = make_upstream(
            self.config.upstream,
            self.config.state_dir / "accounts" / account,
            self.config.region,
            account=account,
        )
        directory = IamDirectory(upstream)
        access_key = admin_access_key or account
        root = Identity(f"arn:aws:iam::{account}:root", account, account, role_arn=None)
        self.credentials.add_static(access_key, admin_secret_key, root)
        sts = Sts(directory, self.credentials, account, self.sts_guardrails)
        added = Account(upstream, directory, sts, access_key)
        self.accounts[account] = added
        return added

    def account_of(self, account: str) -> Account:
        """The lab's account by id; an account the lab does not hold fails closed."""
        found = self.accounts.get(account)
        if found is None:
            raise AwsError("UnrecognizedClientException", f"No account {account} in this lab")
        return found

    def identity_policies(self, identity: Identity) -> PolicySet:
        """The caller's identity policies, read from the IAM of the caller's own account."""
        return self.account_of(identity.account).directory.identity_policies(identity)

    def now(self) -> dt.datetime:
        """The time the lab's policies see (aws:CurrentTime, aws:EpochTime)."""
        return self.clock or dt.datetime.now(dt.UTC)

    def read_organization(self, account: str) -> None:
        """Take the organization from `account`'s IAM home (after an Organizations change), and
        host every account it names, each with its root's key as `add_account` gives it."""
        found = read_organization(self.account_of(account).upstream.client("organizations"))
        if found is None:
            self.organizations.pop(account, None)
            return
        self.organizations[account] = found
        for member in found.paths:
            self.add_account(member)

    def guardrails(self, call: Call) -> dict[str, Any]:
        """The SCPs, RCPs and VPC endpoint policy that join `call` (PolicySet fields).

        A session that came through an endpoint the lab no longer knows is refused (fail
        closed): its requests cannot reach ECR any more.
        """
        identity = call.identity
        found: dict[str, Any] = {}
        owner = call.resource.split(":")[4] if call.resource.count(":") >= 5 else ""
        for organization in () if call.service_linked else self.organizations.values():
            found |= organization.guardrails(identity.account, owner or identity.account)
        endpoint_id = identity.network.get("aws:SourceVpce") if through_endpoint(call) else None
        if endpoint_id is not None:  # a scenario's endpoints carry its instances of any account
            endpoint = self.vpc_endpoints.get(endpoint_id)
            endpoint = endpoint or self.vpc_endpoint(identity.account, endpoint_id)
            found["endpoint"] = endpoint.policy
        return found

    def read_vpc_endpoints(self, account: str) -> dict[str, VpcEndpoint]:
        """Take `account`'s ECR endpoints from its IAM home's EC2 (after an EC2 change)."""
        found = read_endpoints(self.account_of(account).upstream.client("ec2"))
        self.api_endpoints[account] = found
        return found

    def endpoints_of(self, account: str) -> dict[str, VpcEndpoint]:
        """`account`'s ECR endpoints created with EC2's API, read on first need."""
        held = self.api_endpoints.get(account)
        return held if held is not None else self.read_vpc_endpoints(account)

    def vpc_endpoint(self, account: str, endpoint_id: str) -> VpcEndpoint:
        """One of `account`'s ECR endpoints: a scenario's (the lab's account's) or one created
        with EC2's API; AWS's InvalidVpcEndpointId.NotFound when it has none such."""
        if account == self.config.account and endpoint_id in self.vpc_endpoints:
            return self.vpc_endpoints[endpoint_id]
        held = self.endpoints_of(account) if account in self.accounts else {}
        if endpoint_id not in held:
            raise not_found(endpoint_id)
        return held[endpoint_id]

    def sts_guardrails(self, caller: Identity, action: str, resource: str) -> dict[str, Any]:
        """The SCPs and RCPs of an STS call (sts is on AWS's RCP list; no VPC endpoint)."""
        return self.guardrails(Call(caller, action, resource, "", self.config.region))

    def registry_address(self, account: str, region: str | None = None) -> str:
        """host:port of an account's registry in a region (the lab's region by default): the
        lab's own address for its first account in its region, `ACCT.dkr.ecr.REGION.localhost`
        on the same port for every other."""
        region = region or self.config.region
        if (account, region) == (self.config.account, self.config.region):
            return self.registry_host
        port = self.registry_host.rpartition(":")[2]
        return f"{account}.dkr.ecr.{region}.localhost:{port}"

    def registry_of(self, host: str | None) -> tuple[str, str]:
        """Whose registry, in which region, a registry request is for, from its Host header
        (any other host: the lab's first account in its region)."""
        found = _REGISTRY_ALIAS.fullmatch(host or "")
        return (found[1], found[2]) if found else (self.config.account, self.config.region)

    def reset(self) -> None:
        """Back to a new lab's state (IAM, ECR, sessions, instances) on the same address and
        keys. Only the embedded upstream can be emptied: a remote one is not the lab's own."""
        if not hasattr(self.upstream, "reset"):
            raise ValueError(f"a lab on upstream {self.config.upstream} cannot be reset")
        for account in list(self.accounts):
            upstream: Any = self.accounts[account].upstream
            upstream.reset()
            if account != self.config.account:  # added accounts go: a new lab has none
                upstream.close()
                del self.accounts[account]
        self.directory.invalidate()
        self.credentials.reset(keep=self.config.admin_access_key)
        self.tokens.rotate()  # registry tokens issued before the reset stop working
        self.ecr.reset()
        self.lifecycle.forget()
        self.instances.clear()
        self.organizations.clear()
        self.vpc_endpoints.clear()
        self.api_endpoints.clear()
        self.clock = None

    def validate_repository_policy(self, text: str) -> None:
        """ECR's check of a repository policy: valid, and naming no role or user the lab's
        accounts lack."""
        policy = validate_repository_policy(text)
        if self.missing_principal(policy) is not None:
            raise INVALID_PARAMETER(member="PolicyText", constraint=PRINCIPAL_NOT_FOUND)

    def missing_principal(self, policy: Policy) -> str | None:
        """The first role or user the resource policy names that does not exist in one of the
        lab's accounts, or None (for any resource policy ECR stores)."""

        def directory_of(account: str) -> IamDirectory | None:
            held = self.accounts.get(account)
            return held.directory if held else None

        return missing_principal(policy, directory_of)

    def principal_account(self, principal: str) -> str | None:
        """The account of a principal `session_for` knows, or None when it knows none such."""
        if principal == "admin":
            return self.config.account
        if principal in self.instances:
            return self.instances[principal].role_arn.split(":")[4]
        if principal in self.accounts:
            return principal
        if principal.startswith("arn:aws:iam::") and ":role/" in principal:
            return principal.split(":")[4]
        return None

    def credential_for(self, principal: str, network: dict[str, str] | None = None) -> Credential:
        """The one resolver of principal names every command accepts: `admin`, an emulated
        instance by name, another account's admin by account id, or a role ARN. `network`, when
        given, fixes the VPC endpoint a role session's ECR requests come through."""
        credential: Credential | None
        is_role = principal in self.instances or principal.startswith("arn:aws:iam::")
        if network is not None and not is_role:
            raise AwsError("ValidationException", "Only a role session can use a VPC endpoint")
        if principal == "admin":
            credential = self.credentials.lookup(self.config.admin_access_key)
        elif principal in self.instances:
            instance = self.instances[principal]
            path = instance.network if network is None else network
            credential = self.sts.instance_session(instance.role_arn, instance.instance_id, path)
        elif principal in self.accounts:  # another account's admin, by account id
            credential = self.credentials.lookup(self.accounts[principal].admin_access_key)
        elif principal.startswith("arn:aws:iam::") and ":role/" in principal:
            # as issued to the service the role's trust policy names (EC2, Lambda, ECS tasks)
            sts = self.account_of(principal.split(":")[4]).sts
            credential = sts.role_session(principal, network)
        else:
            known = ", ".join(["admin", *sorted(self.instances)])
            raise AwsError(
                "ValidationException",
                f"Unknown principal {principal!r}; known: {known}, an account id or a role ARN",
            )
        assert credential is not None
        return credential

    def session_for(self, principal: str, through: str | None = None) -> dict:
        """Credentials for a principal (see `credential_for`), with the lab's addresses; with
        `through`, a role session bound for good to that VPC endpoint of the principal's own
        account (the lab's stand-in for where the instance sits on the network)."""
        network = None if through is None else self.bound_network(principal, through)
        credential = self.credential_for(principal, network)
        return {
            "principal": principal,
            "arn": credential.identity.arn,
            "accessKeyId": credential.access_key_id,
            "secretAccessKey": credential.secret_access_key,
            "sessionToken": credential.session_token,
            "region": self.config.region,
            "endpointUrl": self.endpoint_url,
            "registry": self.registry_host,
        }

    def bound_network(self, principal: str, endpoint_id: str) -> dict[str, str]:
        """The endpoint keys of a session of `principal` through `endpoint_id`: its instance's
        private address (else the scenario default), the endpoint of the principal's account."""
        endpoint = self.vpc_endpoint(self.principal_account(principal) or "", endpoint_id)
        instance = self.instances.get(principal)
        known = instance.network.get("aws:VpcSourceIp") if instance else None
        return endpoint.context(known or _PRIVATE_IP)

    def health(self) -> dict:
        return {
            "status": "ready" if self.ready else "starting",
            "version": __version__,
            "scenario": self.scenario,
            "stateDir": str(self.config.state_dir.resolve()),
            "account": self.config.account,
            "region": self.config.region,
            "registry": self.registry_host,
            "upstream": self.config.upstream,
            "instances": sorted(self.instances),
            "accounts": sorted(self.accounts),
        }


def validate_repository_policy(text: str) -> Policy:
    """ECR's check of a repository policy: the engine's parser, with ECR's error."""
    try:
        return parse_policy(text, "repository")
    except PolicyError as error:
        raise error.to_aws_error("repository") from None
    except (ValueError, TypeError):
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
            "'Invalid repository policy provided'",
        ) from None
