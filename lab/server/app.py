"""The front door: every request passes one pipeline, written out here in order.

route -> authenticate -> resolve the principal -> map to (action, resource, context)
-> authorize -> handle -> serialise. AwsError and registry errors become AWS's wire bodies
in one place per face; anything unexpected becomes AWS's internal error, never a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from lab import __version__
from lab.ecr.actions import target as ecr_target
from lab.ecr.service import Ecr
from lab.errors import AwsError
from lab.http import HttpRequest, HttpResponse
from lab.identity.credentials import Credential, CredentialStore, Identity
from lab.identity.directory import IamDirectory
from lab.identity.sigv4 import AuthFailure, to_aws_error, verify
from lab.identity.sts import Sts
from lab.identity.tokens import TokenError, TokenIssuer
from lab.policy.document import PolicyError, parse_policy
from lab.registry import dispatch as registry_dispatch
from lab.registry.context import RegistryContext
from lab.registry.errors import RegistryError, error_response, unauthorized_response
from lab.registry.routes import match as registry_match
from lab.server import protocols
from lab.server.access_keys import follow_access_keys
from lab.server.authorize import Authorizer, Call
from lab.server.config import MAX_API_BODY, LabConfig
from lab.server.routing import Route, route
from lab.server.targets import iam_resource, iam_writes
from lab.upstream import make_upstream

log = logging.getLogger(__name__)

_INTERNAL = "We encountered an internal error. Please try again."


@dataclass
class Instance:
    """An emulated EC2 instance: its id and the role of its instance profile."""

    instance_id: str
    role_arn: str


@dataclass
class Lab:
    """One running lab: its state, its identities, and the pipeline that serves them."""

    config: LabConfig
    registry_host: str  # host:port that docker uses for this lab
    instances: dict[str, Instance] = field(default_factory=dict)

    def __post_init__(self) -> None:
        state = self.config.state_dir
        state.mkdir(parents=True, exist_ok=True)
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
        self.sts = Sts(self.directory, self.credentials, self.config.account)
        self.ecr = Ecr(state / "ecr", self.registry_host, validate_repository_policy)
        self.authorizer = Authorizer(self.directory.identity_policies)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.registry_host}"

    # ---- the pipeline ------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Serve one request; the only place where a request turns into a response."""
        where = route(request)
        if where.face == "registry":
            return await self.handle_registry(request)
        rid = protocols.request_id()
        as_error = protocols.json_error if where.face in ("ecr", "lab") else protocols.xml_error
        try:
            body = await request.read(MAX_API_BODY)
        except ValueError:
            return as_error(AwsError("RequestEntityTooLargeException", "Request too large"), rid)
        try:
            if where.face == "lab":
                return await asyncio.to_thread(self.handle_lab, request, body, rid)
            if where.face == "ecr":
                return await asyncio.to_thread(self.handle_ecr, request, where, body, rid)
            return await asyncio.to_thread(self.handle_query, request, where, body, rid)
        except AwsError as error:
            return as_error(error, rid)
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            code = "InternalFailure" if where.face != "ecr" else "ServerException"
            return as_error(AwsError(code, _INTERNAL), rid)

    def handle_ecr(self, request: HttpRequest, where: Route, body: bytes, rid: str) -> HttpResponse:
        """ECR's JSON 1.1 API: authenticate, map, authorize, handle, serialise."""
        credential = self.authenticate(request, body, "json", "ecr", self.config.region)
        caller = credential.identity
        if protocols.operation_model("ecr", where.operation) is None:
            raise AwsError("UnknownOperationException", "")
        params = protocols.parse_json_body(body)
        region = self.config.region
        goal = ecr_target(where.operation, params, account=caller.account, region=region)
        self.require(self.ecr_call(request, caller, goal, region, params), "AccessDeniedException")
        if where.operation == "GetAuthorizationToken":
            result = self.authorization_token(credential)
        else:
            account = goal.repository[0] if goal.repository else caller.account
            result = self.ecr.handle(where.operation, params, account=account, region=region)
        return protocols.json_response(result, rid)

    def handle_query(
        self, request: HttpRequest, where: Route, body: bytes, rid: str
    ) -> HttpResponse:
        """IAM and STS (query protocol): STS is the lab's own, IAM is forwarded upstream."""
        fields = protocols.parse_query_body(body, request.query)
        if not where.service:
            raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token")
        caller = self.authenticate(request, body, "query", where.service).identity
        action = fields.get("Action", "")
        op = (
            protocols.operation_model(where.service, action)
            if where.service in ("iam", "sts")
            else None
        )
        if op is None:
            raise AwsError(
                "InvalidAction",
                f"Could not find operation {action} for version {fields.get('Version', '')}",
            )
        params = protocols.query_params(op, fields)
        if where.service == "sts":
            if action == "AssumeRole":
                context = {"aws:SourceIp": request.client_ip}
                return protocols.xml_response(
                    op, self.sts.assume_role(caller, params, context), rid
                )
            if action == "GetCallerIdentity":  # needs no permission on AWS
                return protocols.xml_response(op, self.sts.get_caller_identity(caller), rid)
            raise AwsError("InvalidAction", f"The lab does not emulate sts:{action}")
        call = Call(
            caller,
            f"iam:{action}",
            iam_resource(params, caller.account),
            request.client_ip,
            where.region or self.config.region,
        )
        self.require(call, "AccessDenied")
        answer = self.upstream.forward(
            "iam", request.method, request.path, request.query, list(request.headers), body
        )
        if iam_writes(action) and answer.status < 300:
            self.directory.invalidate()
            follow_access_keys(action, params, answer.body, self.credentials, self.directory)
        return HttpResponse(answer.status, list(answer.headers), answer.body)

    async def handle_registry(self, request: HttpRequest) -> HttpResponse:
        """The Docker Registry v2 API: token, route, authorize as the ECR action, handle."""
        realm = f"http://{self.registry_host}/"
        try:
            caller = self.tokens.verify_basic(request.header("authorization"))
        except TokenError as refused:
            await request.drain()
            if refused.reason in ("missing", "not_basic"):  # ECR challenges only these
                return unauthorized_response(realm)
            return error_response(RegistryError("DENIED", refused.message))
        try:
            goal = registry_match(request.method, request.path, request.query)
            account, region = caller.account, self.config.region
            if goal.action:
                name = goal.repository
                call = Call(
                    caller,
                    goal.action,
                    f"arn:aws:ecr:{region}:{account}:repository/{name}",
                    request.client_ip,
                    region,
                    resource_policy=self.ecr.repository_policy(account, region, name),
                    resource_tags=self.ecr.repository_tags(account, region, name),
                )
                decision = await asyncio.to_thread(self.authorizer.decide, call)
                if not decision.allowed:
                    raise RegistryError("DENIED", decision.message)
            return await registry_dispatch(goal, request, self.registry_context(account, region))
        except RegistryError as error:
            await request.drain()
            return error_response(error)
        except ConnectionResetError:
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            await request.drain()
            return error_response(RegistryError("UNKNOWN", _INTERNAL))

    def handle_lab(self, request: HttpRequest, body: bytes, rid: str) -> HttpResponse:
        """The lab's own control endpoints: health (open) and sessions (admin only)."""
        if request.path == "/_lab/health":
            return protocols.json_response(self.health(), rid)
        if request.path == "/_lab/session" and request.method == "POST":
            caller = self.authenticate(request, body, "json", "lab").identity
            if not caller.is_root:
                raise AwsError("AccessDeniedException", "Only the account root may issue sessions")
            principal = protocols.parse_json_body(body).get("principal", "")
            return protocols.json_response(self.session_for(str(principal)), rid)
        raise AwsError("UnknownOperationException", "")

    # ---- the steps -----------------------------------------------------------------------

    def authenticate(
        self,
        request: HttpRequest,
        body: bytes,
        protocol: str,
        service: str,
        region: str | None = None,
    ) -> Credential:
        """SigV4, as AWS checks it; any failure is AWS's authentication error."""
        try:
            return verify(
                request.method,
                request.path,
                request.query,
                list(request.headers),
                hashlib.sha256(body).hexdigest(),
                self.credentials.lookup,
                service=service,
                region=region,
            )
        except AuthFailure as failure:
            raise to_aws_error(failure, protocol) from None  # type: ignore[arg-type]

    def ecr_call(
        self, request: HttpRequest, caller: Identity, goal: Any, region: str, params: dict
    ) -> Call:
        """The authorization question for one ECR API call."""
        policy, tags = None, {}
        if goal.repository:
            account, repo_region, name = goal.repository
            policy = self.ecr.repository_policy(account, repo_region, name)
            tags = self.ecr.repository_tags(account, repo_region, name)
        request_tags = None
        if "tags" in params and isinstance(params["tags"], list):
            request_tags = {
                str(t.get("Key")): str(t.get("Value"))
                for t in params["tags"]
                if isinstance(t, dict)
            }
        return Call(
            caller,
            goal.action,
            goal.resource,
            request.client_ip,
            region,
            resource_policy=policy,
            resource_tags=tags,
            request_tags=request_tags,
        )

    def require(self, call: Call, code: str) -> None:
        """Authorize or raise AWS's refusal with the engine's message."""
        decision = self.authorizer.decide(call)
        if not decision.allowed:
            raise AwsError(code, decision.message)

    def authorization_token(self, credential: Credential) -> dict:
        token, expires_at = self.tokens.issue(
            credential.identity, access_key_id=credential.access_key_id
        )
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": expires_at,
                    "proxyEndpoint": f"http://{self.registry_host}",
                }
            ]
        }

    def registry_context(self, account: str, region: str) -> RegistryContext:
        return RegistryContext(self.ecr, account, region, self.registry_host)

    def session_for(self, principal: str) -> dict:
        """Credentials for `admin`, an emulated instance by name, or a role ARN."""
        if principal == "admin":
            credential = self.credentials.lookup(self.config.admin_access_key)
        elif principal in self.instances:
            instance = self.instances[principal]
            credential = self.sts.instance_session(instance.role_arn, instance.instance_id)
        elif principal.startswith("arn:aws:iam::") and ":role/" in principal:
            instance_id = "i-" + secrets.token_hex(9)[:17]
            credential = self.sts.instance_session(principal, instance_id)
        else:
            known = ", ".join(["admin", *sorted(self.instances)])
            raise AwsError(
                "ValidationException", f"Unknown principal {principal!r}; known: {known}"
            )
        assert credential is not None
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

    def health(self) -> dict:
        return {
            "status": "ready",
            "version": __version__,
            "account": self.config.account,
            "region": self.config.region,
            "registry": self.registry_host,
            "upstream": self.config.upstream,
            "instances": sorted(self.instances),
        }


def validate_repository_policy(text: str) -> None:
    """ECR's check of a repository policy: the engine's parser, with ECR's error."""
    try:
        parse_policy(text, "repository")
    except PolicyError as error:
        raise error.to_aws_error("repository") from None
    except (ValueError, TypeError):
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
            "'Invalid repository policy provided'",
        ) from None
