"""The front door: every request passes one pipeline, written out here in order.

route -> authenticate -> resolve the principal -> map to (action, resource, context)
-> authorize -> handle -> serialise. AwsError and registry errors become AWS's wire bodies
in one place per face; anything unexpected becomes AWS's internal error, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from dataclasses import replace
from typing import Any

from lab.ecr.actions import action_target, also_asks
from lab.ecr.actions import target as ecr_target
from lab.ecr.regions import is_ecr_region
from lab.errors import AwsError
from lab.http import HttpRequest, HttpResponse
from lab.identity.credentials import Credential, Identity
from lab.identity.sigv4 import AuthFailure, to_aws_error, verify
from lab.identity.tokens import TokenError
from lab.policy.model import Decision
from lab.registry import dispatch as registry_dispatch
from lab.registry.context import RegistryContext
from lab.registry.errors import (
    RegistryError,
    error_response,
    from_aws_error,
    name_unknown,
    unauthorized_response,
)
from lab.registry.routes import match as registry_match
from lab.server import protocols, query_form, secrets_manager, vpc_endpoints
from lab.server.access_keys import follow_access_keys
from lab.server.authorize import Call, pass_role_call, target_call
from lab.server.config import MAX_API_BODY
from lab.server.guardrails import check_policy_content
from lab.server.on_behalf import (
    check_foreign_registry,
    check_rule_secret,
    create_on_push,
    pull_through_cache,
)
from lab.server.routing import Route, route
from lab.server.state import LabState
from lab.server.targets import iam_resources, iam_writes
from lab.upstream.journal import is_write

log = logging.getLogger(__name__)

_INTERNAL = "We encountered an internal error. Please try again."


class Lab(LabState):
    """One running lab: its state (LabState) and the pipeline that serves it."""

    # ---- the pipeline ------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Serve one request; the only place where a request turns into a response."""
        where = route(request)
        if where.face == "registry":
            return await self.handle_registry(request)
        rid = protocols.request_id()
        as_error = (
            protocols.json_error
            if where.face in ("ecr", "lab", "organizations", "secretsmanager")
            else vpc_endpoints.error_response
            if where.service == "ec2"
            else functools.partial(protocols.xml_error, service=where.service)
        )
        try:
            body = await request.read(MAX_API_BODY)
        except ValueError:
            return as_error(AwsError("RequestEntityTooLargeException", "Request too large"), rid)
        try:
            if where.face == "lab":
                return await asyncio.to_thread(self.handle_lab, request, body, rid)
            if where.face == "ecr":
                return await asyncio.to_thread(self.handle_ecr, request, where, body, rid)
            if where.face == "organizations":
                return await asyncio.to_thread(self.handle_organizations, request, where, body, rid)
            if where.face == "secretsmanager":
                return await asyncio.to_thread(
                    secrets_manager.handle, self, request, where, body, rid
                )
            return await asyncio.to_thread(self.handle_query, request, where, body, rid)
        except AwsError as error:
            return as_error(error, rid)
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            code = {
                "ecr": "ServerException",
                "organizations": "ServiceException",
                "secretsmanager": "InternalServiceError",
            }.get(
                where.face, "InternalFailure"
            )
            return as_error(AwsError(code, _INTERNAL), rid)

    def handle_ecr(self, request: HttpRequest, where: Route, body: bytes, rid: str) -> HttpResponse:
        """ECR's JSON 1.1 API: check the envelope, authenticate, map, authorize, handle.

        The envelope goes first, as on AWS's JSON front end (mhart/dynalite, index.js): not a
        JSON POST -> 404, then JSON syntax, then the target, and only then the signature.
        """
        if not protocols.is_json_call(request.method, request.header("content-type"), body):
            return protocols.json_not_found(rid)
        params = protocols.parse_json_body(body)
        if protocols.operation_model("ecr", where.operation) is None:
            raise AwsError("UnknownOperationException", "")
        # Every region ECR has is served, each its own registry; another scope is refused.
        region = where.region if is_ecr_region(where.region) else self.config.region
        credential = self.authenticate(request, body, "json", "ecr", region)
        caller = credential.identity
        goal = ecr_target(where.operation, params, account=caller.account, region=region)
        self.require(self.ecr_call(request, caller, goal, region, params), "AccessDeniedException")
        for action in also_asks(where.operation, params):  # e.g. tags given on creation
            also = replace(goal, action=action)  # the registry policy's scope is the action's
            call = self.ecr_call(request, caller, also, region, params)
            self.require(call, "AccessDeniedException")
        account = goal.repository[0] if goal.repository else caller.account
        for name in goal.named[1:]:  # the first is ecr_call's; every named one must pass
            call = self.repository_call(
                caller, goal.action, account, name, request.client_ip, region
            )
            self.require(call, "AccessDeniedException")
        if isinstance(params.get("customRoleArn"), str):  # ECR will act as it: the caller passes it
            self.require(
                pass_role_call(caller, params["customRoleArn"], request.client_ip, region),
                "AccessDeniedException",
            )
        check_foreign_registry(caller, goal, params.get("registryId"))
        check_rule_secret(self, account, where.operation, params)
        if where.operation == "GetAuthorizationToken":
            result = self.authorization_token(credential, region)
        else:
            visible = None
            if goal.lists_repositories:
                owner = params.get("registryId") or account
                visible = self.may_act_on(caller, goal.action, owner, request.client_ip, region)
            result = self.ecr.handle(
                where.operation,
                params,
                account=account,
                region=region,
                visible=visible,
                principal=caller.principal_arn,
            )
        return protocols.json_response(result, rid)

    def handle_query(
        self, request: HttpRequest, where: Route, body: bytes, rid: str
    ) -> HttpResponse:
        """IAM and STS (query protocol): STS is the lab's own, IAM is forwarded upstream.

        What executes is what was authorized: the form is read once into typed parameters
        (refusing a field given twice), those are authorized, and IAM is sent their one
        canonical encoding, never the request's own bytes.
        """
        fields = query_form.read_form(body, request.query)
        if not where.service:
            raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token")
        if request.method not in ("GET", "POST"):  # the query protocol has only these two
            raise protocols.invalid_action(fields)
        caller = self.authenticate(request, body, "query", where.service).identity
        if where.service == "ec2":
            return self.handle_ec2(caller, fields, request.client_ip, where.region, rid)
        home = self.account_of(caller.account)  # IAM and STS of the caller's own account
        action = fields.get("Action", "")
        op = (
            protocols.operation_model(where.service, action)
            if where.service in ("iam", "sts")
            else None
        )
        if op is None:
            raise protocols.invalid_action(fields)
        params = query_form.read_params(op, fields)
        if where.service == "sts":
            if action == "AssumeRole":
                context = {"aws:SourceIp": request.client_ip}
                return protocols.xml_response(
                    op, home.sts.assume_role(caller, params, context), rid
                )
            if action == "GetCallerIdentity":  # needs no permission on AWS
                return protocols.xml_response(op, home.sts.get_caller_identity(caller), rid)
            raise AwsError("InvalidAction", f"The lab does not emulate sts:{action}")
        # Every resource the call acts on, by its real ARN (path included), must be allowed.
        for resource in iam_resources(action, params, caller, home.directory.entity_arn):
            region = where.region or self.config.region
            call = Call(caller, f"iam:{action}", resource, request.client_ip, region)
            self.require(call, "AccessDenied")
        answer = home.upstream.forward("iam", query_form.encode(op, params))
        if iam_writes(action) and answer.status < 300:
            home.directory.invalidate()
            follow_access_keys(action, params, answer.body, self.credentials, home.directory)
        return HttpResponse(answer.status, list(answer.headers), answer.body)

    def admit_json_call(
        self, request: HttpRequest, where: Route, body: bytes, service: str
    ) -> tuple[Identity, dict[str, Any]] | None:
        """A JSON 1.1 call the lab forwards to the caller's IAM home (Organizations, Secrets
        Manager), checked as the ECR front end checks one: envelope, operation, caller, then
        `service:Operation` on "*". None when the envelope is not JSON 1.1 (answered 404)."""
        if not protocols.is_json_call(request.method, request.header("content-type"), body):
            return None
        params = protocols.parse_json_body(body)
        if protocols.operation_model(service, where.operation) is None:
            raise AwsError("UnknownOperationException", "")
        caller = self.authenticate(request, body, "json", service).identity
        region = where.region or self.config.region
        call = Call(caller, f"{service}:{where.operation}", "*", request.client_ip, region)
        self.require(call, "AccessDeniedException")
        return caller, params

    def handle_organizations(
        self, request: HttpRequest, where: Route, body: bytes, rid: str
    ) -> HttpResponse:
        """AWS Organizations (JSON 1.1), authorized as its IAM action and forwarded to the
        caller's account's IAM home; after a change the lab reads the organization back from
        there, so SCPs and RCPs set up with the aws CLI are the ones it enforces.

        Authorization asks `organizations:Operation` on "*" (the lab does not scope these
        actions to the organization's ARNs). Policy content is checked first, as Organizations
        checks it (MalformedPolicyDocumentException).
        """
        admitted = self.admit_json_call(request, where, body, "organizations")
        if admitted is None:
            return protocols.json_not_found(rid)
        caller, params = admitted
        home = self.account_of(caller.account)
        if where.operation in ("CreatePolicy", "UpdatePolicy") and "Content" in params:
            kind = params.get("Type") or self.policy_type(home, params.get("PolicyId"))
            check_policy_content(kind, params["Content"])
        target = protocols.ORGANIZATIONS_TARGET_PREFIX + where.operation
        answer = home.upstream.forward_json("organizations", target, json.dumps(params).encode())
        if answer.status < 300 and is_write("POST", where.operation):
            self.read_organization(caller.account)
        return HttpResponse(answer.status, list(answer.headers), answer.body)

    def handle_ec2(
        self, caller: Identity, fields: dict[str, str], client_ip: str, region: str, rid: str
    ) -> HttpResponse:
        """EC2's query API, authorized as its IAM actions: calls on a scenario's endpoints are the
        lab's own (vpc_endpoints.py), the rest of FORWARDED goes to the caller's IAM home, whose
        ECR endpoints the lab reads back after a change, as it reads an organization."""
        action = fields.get("Action", "")
        region = region or self.config.region
        known = self.vpc_endpoints if caller.account == self.config.account else {}
        if action == "DescribeVpcEndpoints" and known:
            self.require_ec2(Call(caller, f"ec2:{action}", "*", client_ip, region))
            listed = {**self.endpoints_of(caller.account), **known}
            wanted = vpc_endpoints.requested_ids(fields)
            missing = [endpoint_id for endpoint_id in wanted if endpoint_id not in listed]
            if missing:
                raise vpc_endpoints.not_found(missing[0])
            found = [listed[i] for i in wanted] if wanted else list(listed.values())
            return vpc_endpoints.describe_response(found, region, caller.account, rid)
        endpoint_id = fields.get("VpcEndpointId", "")
        if action == "ModifyVpcEndpoint" and endpoint_id in known:
            arn = vpc_endpoints.endpoint_arn(region, caller.account, endpoint_id)
            self.require_ec2(Call(caller, f"ec2:{action}", arn, client_ip, region))
            self.vpc_endpoints[endpoint_id] = vpc_endpoints.modified(known[endpoint_id], fields)
            return vpc_endpoints.modify_response(rid)
        op = protocols.operation_model("ec2", action) if action in vpc_endpoints.FORWARDED else None
        if op is None:
            raise AwsError(
                "InvalidAction", f"The action {action} is not valid for this web service."
            )
        params = query_form.read_params(op, fields)
        for resource in vpc_endpoints.resources(action, params, region, caller.account):
            self.require_ec2(Call(caller, f"ec2:{action}", resource, client_ip, region))
        params = vpc_endpoints.checked(action, params)
        home = self.account_of(caller.account)
        answer = home.upstream.forward("ec2", query_form.encode(op, params))
        if answer.status < 300 and is_write("POST", action):
            self.read_vpc_endpoints(caller.account)
        return HttpResponse(answer.status, list(answer.headers), answer.body)

    def require_ec2(self, call: Call) -> None:
        """EC2's refusal: UnauthorizedOperation, with the engine's message after EC2's words."""
        decision = self.authorizer.decide(call)
        if not decision.allowed:
            message = f"You are not authorized to perform this operation. {decision.message}"
            raise AwsError("UnauthorizedOperation", message)

    def policy_type(self, home: Any, policy_id: Any) -> str | None:
        """The Type of an existing Organizations policy (None when there is no such policy)."""
        client = home.upstream.client("organizations")
        try:
            return client.describe_policy(PolicyId=str(policy_id))["Policy"]["PolicySummary"][
                "Type"
            ]
        except Exception:  # the forwarded call answers the missing policy in AWS's words
            return None

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
            account, region = self.registry_of(request.header("host"))
            if goal.repository and not is_ecr_region(region):  # a host naming no ECR Region
                raise name_unknown(goal.repository, account)
            if goal.action:  # a pull under a pull through cache rule first imports the image
                await asyncio.to_thread(
                    pull_through_cache, self, caller, goal, account, region, request.client_ip
                )
                call = self.repository_call(
                    caller, goal.action, account, goal.repository or "", request.client_ip, region
                )
                decision = await asyncio.to_thread(self.authorizer.decide, call)
                if not decision.allowed:
                    raise RegistryError("DENIED", decision.message)
                await asyncio.to_thread(
                    create_on_push, self, caller, goal, account, region, request.client_ip
                )
            ctx = self.registry_context(account, region, caller.principal_arn)
            source = goal.query.get("from") if goal.name == "upload_start" else None
            if source and "mount" in goal.query:  # mounting reads the source's layer
                read = self.repository_call(
                    caller, "ecr:GetDownloadUrlForLayer", account, source, request.client_ip, region
                )
                if (await asyncio.to_thread(self.authorizer.decide, read)).allowed:
                    ctx = replace(ctx, mount_from=source)
            return await registry_dispatch(goal, request, ctx)
        except RegistryError as error:
            await request.drain()
            return error_response(error)
        except AwsError as error:  # e.g. the IAM upstream is down: AWS's words, never an allow
            await request.drain()
            return error_response(from_aws_error(error))
        except ConnectionResetError:
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            await request.drain()
            return error_response(RegistryError("UNKNOWN", _INTERNAL))

    def handle_lab(self, request: HttpRequest, body: bytes, rid: str) -> HttpResponse:
        """The lab's own control endpoints: health (open); sessions and lifecycle runs (an
        account root's only)."""
        if request.path == "/_lab/health":  # 503 until `serve --scenario` has deployed it
            answer = protocols.json_response(self.health(), rid)
            return answer if self.ready else HttpResponse(503, answer.headers, answer.body)
        if request.path == "/_lab/session" and request.method == "POST":
            caller = self.authenticate(request, body, "json", "lab").identity
            document = protocols.parse_json_body(body)
            principal = str(document.get("principal", ""))
            through = document.get("vpcEndpoint")  # fixed at issue: the session cannot leave it
            # A root speaks for its own account only; an unknown principal is session_for's error.
            owner = self.principal_account(principal)
            if not caller.is_root or owner not in (None, caller.account):
                raise AwsError("AccessDeniedException", "Only the account root may issue sessions")
            bound = None if through is None else str(through)
            return protocols.json_response(self.session_for(principal, bound), rid)
        if request.path == "/_lab/lifecycle" and request.method == "POST":
            # The lifecycle job, now, on the caller's account: an account root's call only.
            caller = self.authenticate(request, body, "json", "lab").identity
            if not caller.is_root:
                raise AwsError(
                    "AccessDeniedException", "Only the account root may run lifecycle policies"
                )
            return protocols.json_response(self.lifecycle.run(caller.account), rid)
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
        request_tags = None
        if "tags" in params and isinstance(params["tags"], list):
            request_tags = {
                str(t.get("Key")): str(t.get("Value"))
                for t in params["tags"]
                if isinstance(t, dict)
            }
        return target_call(
            caller,
            goal,
            request.client_ip,
            region,
            self.repository_facts,
            request_tags=request_tags,
            registry=self.ecr.registry_policy,
        )

    def repository_call(
        self,
        caller: Identity,
        action: str,
        account: str,
        name: str,
        client_ip: str,
        region: str | None = None,
    ) -> Call:
        """The authorization question for `action` asked of one repository in `region` (the
        lab's by default), on "*" for an action that acts on no repository, as ECR asks it."""
        region = region or self.config.region
        goal = action_target(action, account, region, name)
        return target_call(
            caller,
            goal,
            client_ip,
            region,
            self.repository_facts,
            registry=self.ecr.registry_policy,
        )

    def replication_decision(
        self, source: str, account: str, region: str, name: str, action: str
    ) -> Decision:
        """May ECR's replication for registry `source` do `action` on repository `name` of
        `account`'s registry in `region`? Asked as the source account's root, as the
        destination's registry policy names it (registry-permissions-create-replication.html);
        ECR does the work through its service-linked role, which no SCP or RCP restricts."""
        root = Identity(f"arn:aws:iam::{source}:root", source, source, role_arn=None)
        call = self.repository_call(root, action, account, name, "", region)
        return self.authorizer.decide(replace(call, service_linked=True))

    def repository_facts(self, account: str, region: str, name: str) -> tuple[str | None, dict]:
        """The repository's policy and tags, for the authorization question."""
        policy = self.ecr.repository_policy(account, region, name)
        return policy, self.ecr.repository_tags(account, region, name)

    def may_act_on(
        self, caller: Identity, action: str, account: str, client_ip: str, region: str
    ) -> set[str]:
        """The account's repositories in `region` on which `action` is allowed."""
        return {
            name
            for name in self.ecr.repository_names(account, region)
            if self.authorizer.decide(
                self.repository_call(caller, action, account, name, client_ip, region)
            ).allowed
        }

    def require(self, call: Call, code: str) -> None:
        """Authorize or raise AWS's refusal with the engine's message."""
        decision = self.authorizer.decide(call)
        if not decision.allowed:
            raise AwsError(code, decision.message)

    def authorization_token(self, credential: Credential, region: str) -> dict:
        token, expires_at = self.tokens.issue(
            credential.identity, access_key_id=credential.access_key_id
        )
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": expires_at,
                    "proxyEndpoint": "http://"
                    + self.registry_address(credential.identity.account, region),
                }
            ]
        }

    def registry_context(
        self, account: str, region: str, principal: str | None = None
    ) -> RegistryContext:
        return RegistryContext(self.ecr, account, region, self.registry_host, principal=principal)
