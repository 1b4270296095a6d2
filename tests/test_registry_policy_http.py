"""The registry policy and account settings through real HTTP: boto3, the aws CLI, raw /v2/.

Sources (ECR User Guide and API Reference):
SCOPE    = registry-permissions-create.html: V2 (the default) is enforced on every ECR request;
           V1 only on ecr:ReplicateImage, ecr:BatchImportUpstreamImage, ecr:CreateRepository.
EXAMPLES = registry-permissions-examples.html: Principal, Action, Resource repository/*.
SETTINGS = API_GetAccountSetting.html, API_PutAccountSetting.html: BASIC_SCAN_TYPE_VERSION
           (AWS_NATIVE), REGISTRY_POLICY_SCOPE (V1 or V2), BLOB_MOUNTING (ENABLED or DISABLED).
MOUNTING = blob-mounting.html: opt-in, same registry, identical encryption, and
           ecr:GetDownloadUrlForLayer on the source repository.
CROSS    = IAM User Guide, reference_policies_evaluation-logic-cross-account.html.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab.ecr.manifests import DOCKER_MANIFEST_V2
from lab.ecr.push import docker_manifest, push_layer
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.server_support import (
    AWS_CLI,
    ECR_TARGET_PREFIX,
    JSON_1_1,
    boto_client,
    send,
    signed_headers,
)
from tests.test_cross_account import _registry_get
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.slow

A = "111111111111"  # the registry's account (the lab's first)
B = "222222222222"  # another account
REGION = "ap-northeast-1"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
BAD_POLICY = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
    "'Invalid registry policy provided'"
)


_client = functools.partial(boto_client, region=REGION)


def _admin(running: RunningLab, account: str = A) -> Any:
    return _client(running, "ecr", "test" if account == A else account)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def lab(state: Path) -> Iterator[RunningLab]:
    with RunningLab(LabConfig(state_dir=state, account=A, region=REGION)) as running:
        running.lab.add_account(B)
        admin = _admin(running)
        for name in ("shared", "private"):
            admin.create_repository(repositoryName=name)
        yield running


def _role(running: RunningLab, account: str, name: str, *statements: dict[str, Any]) -> str:
    """A role in `account` with an inline identity policy of `statements`; its ARN."""
    iam = _client(running, "iam", "test" if account == A else account)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return arn


def _session(running: RunningLab, role_arn: str) -> Any:
    answer = running.lab.session_for(role_arn)
    return _client(
        running, "ecr", answer["accessKeyId"], answer["secretAccessKey"], answer["sessionToken"]
    )


def _allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _grant(principal: str, *actions: str, effect: str = "Allow") -> dict[str, Any]:
    return {
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": list(actions),
        "Resource": f"arn:aws:ecr:{REGION}:{A}:repository/*",
    }


def _error(call: Any, **params: Any) -> tuple[str, str]:
    """The error code and message `call(**params)` is refused with."""
    with pytest.raises(ClientError) as refused:
        call(**params)
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def _pull(ecr: Any, name: str = "shared") -> str:
    """'allowed' or AWS's denial message for BatchGetImage on A's repository."""
    try:
        ecr.batch_get_image(registryId=A, repositoryName=name, imageIds=[{"imageTag": "x"}])
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        return error.response["Error"]["Message"]
    return "allowed"


def _raw(running: RunningLab, operation: str, body: dict[str, Any], credentials: Any) -> Any:
    """One ECR call signed as botocore signs it, with a body botocore would not send."""
    data = json.dumps(body).encode()
    headers = {"X-Amz-Target": ECR_TARGET_PREFIX + operation, "Content-Type": JSON_1_1}
    signed = signed_headers(
        running.url,
        "POST",
        "/",
        headers,
        data,
        service="ecr",
        region=REGION,
        credentials=credentials,
    )
    return send(running.url, "POST", "/", signed, data)


# ---- the operations ------------------------------------------------------------------------


def test_registry_policy_round_trip(lab: RunningLab) -> None:
    """API_PutRegistryPolicy / Get / Delete: echo registryId and the text verbatim;
    RegistryPolicyNotFoundException before one is put and after it is deleted."""
    ecr = _admin(lab)
    code, message = _error(ecr.get_registry_policy)
    assert (code, message) == (
        "RegistryPolicyNotFoundException",
        f"Registry policy does not exist in the registry with id '{A}'",
    )
    assert _error(ecr.delete_registry_policy)[0] == "RegistryPolicyNotFoundException"
    text = _policy(_grant(f"arn:aws:iam::{B}:root", "ecr:CreateRepository", "ecr:ReplicateImage"))
    put = ecr.put_registry_policy(policyText=text)
    assert (put["registryId"], put["policyText"]) == (A, text)
    got = ecr.get_registry_policy()
    assert (got["registryId"], got["policyText"]) == (A, text)
    deleted = ecr.delete_registry_policy()
    assert (deleted["registryId"], deleted["policyText"]) == (A, text)
    assert _error(ecr.get_registry_policy)[0] == "RegistryPolicyNotFoundException"


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        _policy({"Effect": "Allow", "Action": "ecr:ReplicateImage"}),  # no Principal
        json.dumps({"Statement": [_grant("*", "ecr:CreateRepository")]}),  # no Version
        _policy(_grant("*", "ReplicateImage")),  # no service prefix
    ],
)
def test_an_invalid_registry_policy_is_refused_and_changes_nothing(
    lab: RunningLab, text: str
) -> None:
    ecr = _admin(lab)
    kept = _policy(_grant(f"arn:aws:iam::{B}:root", "ecr:ReplicateImage"))
    ecr.put_registry_policy(policyText=kept)
    assert _error(ecr.put_registry_policy, policyText=text) == (
        "InvalidParameterException",
        BAD_POLICY,
    )
    assert ecr.get_registry_policy()["policyText"] == kept


def test_v1_accepts_only_policies_of_the_actions_it_enforces(lab: RunningLab) -> None:
    """SCOPE: a V1 registry policy with an action V1 does not enforce is refused; ecr:*
    (which covers the V1 actions) is accepted."""
    ecr = _admin(lab)
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    pull = _policy(_grant(f"arn:aws:iam::{B}:root", *PULL))
    assert _error(ecr.put_registry_policy, policyText=pull) == (
        "InvalidParameterException",
        BAD_POLICY,
    )
    ecr.put_registry_policy(policyText=_policy(_grant(f"arn:aws:iam::{B}:root", "ecr:*")))
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V2")
    ecr.put_registry_policy(policyText=pull)  # V2: every ECR action


def test_account_settings_defaults_values_and_errors(lab: RunningLab) -> None:
    """SETTINGS: each documented name with its default, the values it accepts, and
    InvalidParameterException for another name or value."""
    ecr = _admin(lab)

    def value(name: str) -> str:
        answer = ecr.get_account_setting(name=name)
        assert answer["name"] == name
        return answer["value"]

    assert value("REGISTRY_POLICY_SCOPE") == "V2"  # SCOPE: "V2 ... is the default"
    assert value("BASIC_SCAN_TYPE_VERSION") == "AWS_NATIVE"
    assert value("BLOB_MOUNTING") == "DISABLED"  # MOUNTING: opt-in
    for name, new in [
        ("REGISTRY_POLICY_SCOPE", "V1"),
        ("BLOB_MOUNTING", "ENABLED"),
        ("BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"),
    ]:
        put = ecr.put_account_setting(name=name, value=new)
        assert (put["name"], put["value"]) == (name, new)
        assert value(name) == new
    assert _error(ecr.get_account_setting, name="NO_SUCH_SETTING") == (
        "InvalidParameterException",
        "Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy enum "
        "value set: [BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE, BLOB_MOUNTING]'",
    )
    assert _error(ecr.put_account_setting, name="REGISTRY_POLICY_SCOPE", value="V3") == (
        "InvalidParameterException",
        "Invalid parameter at 'value' failed to satisfy constraint: 'Member must satisfy enum "
        "value set: [V1, V2]'",
    )
    assert _error(ecr.put_account_setting, name="BLOB_MOUNTING", value="enabled")[0] == (
        "InvalidParameterException"
    )
    assert value("REGISTRY_POLICY_SCOPE") == "V1"  # a refused put changed nothing
    # botocore refuses an empty name before sending: the lab's own model check answers it too
    empty = _raw(lab, "GetAccountSetting", {"name": ""}, Credentials("test", "test"))
    assert (empty.status, empty.json()["__type"]) == (400, "InvalidParameterException")


def test_registry_policy_and_settings_survive_a_restart(lab: RunningLab, state: Path) -> None:
    ecr = _admin(lab)
    text = _policy(_grant(f"arn:aws:iam::{B}:root", "ecr:CreateRepository"))
    ecr.put_registry_policy(policyText=text)
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    lab.stop()
    with RunningLab(LabConfig(state_dir=state, account=A, region=REGION)) as again:
        ecr = _admin(again)
        assert ecr.get_registry_policy()["policyText"] == text
        assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED"
        assert ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"


def _aws(running: RunningLab, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [AWS_CLI, "ecr", *args, "--endpoint-url", running.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_aws_cli_registry_policy_and_account_settings(lab: RunningLab) -> None:
    missing = _aws(lab, "get-registry-policy")
    assert missing.returncode != 0
    assert "RegistryPolicyNotFoundException" in missing.stderr
    text = _policy(_grant(f"arn:aws:iam::{B}:root", "ecr:ReplicateImage"))
    put = _aws(lab, "put-registry-policy", "--policy-text", text)
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout) == {"registryId": A, "policyText": text}
    assert json.loads(_aws(lab, "get-registry-policy").stdout)["policyText"] == text
    refused = _aws(lab, "put-registry-policy", "--policy-text", "{}")
    assert refused.returncode != 0
    assert (
        f"(InvalidParameterException) when calling the PutRegistryPolicy operation: "
        f"{BAD_POLICY}" in refused.stderr
    )
    setting = _aws(lab, "get-account-setting", "--name", "REGISTRY_POLICY_SCOPE")
    assert json.loads(setting.stdout) == {"name": "REGISTRY_POLICY_SCOPE", "value": "V2"}
    switched = _aws(lab, "put-account-setting", "--name", "BLOB_MOUNTING", "--value", "ENABLED")
    assert json.loads(switched.stdout) == {"name": "BLOB_MOUNTING", "value": "ENABLED"}
    bad = _aws(lab, "put-account-setting", "--name", "BLOB_MOUNTING", "--value", "ON")
    assert bad.returncode != 0
    assert "(InvalidParameterException) when calling the PutAccountSetting operation" in bad.stderr
    deleted = _aws(lab, "delete-registry-policy")
    assert json.loads(deleted.stdout) == {"registryId": A, "policyText": text}
    assert "RegistryPolicyNotFoundException" in _aws(lab, "delete-registry-policy").stderr


def test_each_operation_is_authorized_on_the_caller_s_identity_policy(lab: RunningLab) -> None:
    """The registry-level operations act on no repository ("*"): identity policies decide, and
    a caller without them gets AWS's message."""
    reader = _role(lab, A, "reader", _allow("ecr:GetRegistryPolicy", "ecr:GetAccountSetting"))
    ecr = _session(lab, reader)
    _admin(lab).put_registry_policy(policyText=_policy(_grant(reader, "ecr:CreateRepository")))
    assert ecr.get_registry_policy()["registryId"] == A
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
    for call, action, params in [
        (
            ecr.put_registry_policy,
            "PutRegistryPolicy",
            {"policyText": _policy(_grant("*", "ecr:*"))},
        ),
        (ecr.delete_registry_policy, "DeleteRegistryPolicy", {}),
        (
            ecr.put_account_setting,
            "PutAccountSetting",
            {"name": "BLOB_MOUNTING", "value": "ENABLED"},
        ),
    ]:
        code, message = _error(call, **params)
        assert code == "AccessDeniedException"
        assert message.startswith(f"User: arn:aws:sts::{A}:assumed-role/reader/")
        assert message.endswith(
            f"is not authorized to perform: ecr:{action} on resource: * because no "
            f"identity-based policy allows the ecr:{action} action"
        )
    assert _admin(lab).get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"


# ---- enforcement ---------------------------------------------------------------------------


def test_v2_registry_policy_grants_a_cross_account_pull(lab: RunningLab) -> None:
    """SCOPE + CROSS: under V2 the registry policy is enforced on every ECR request; with the
    caller's identity allow, a registry-wide grant is the resource-based allow a pull needs."""
    puller = _role(lab, B, "puller", _allow(*PULL, "ecr:GetAuthorizationToken"))
    ecr = _session(lab, puller)
    denied = _pull(ecr)
    assert denied.endswith(
        f"on resource: arn:aws:ecr:{REGION}:{A}:repository/shared because no resource-based "
        "policy allows the ecr:BatchGetImage action"
    )
    status, body = _registry_get(lab, ecr, "127.0.0.1")  # docker's pull: the same question
    assert (status, body["errors"][0]["code"]) == (403, "DENIED")
    _admin(lab).put_registry_policy(policyText=_policy(_grant(puller, *PULL)))
    assert _pull(ecr) == "allowed"
    assert _pull(ecr, "private") == "allowed"  # registry-wide: repository/*
    status, body = _registry_get(lab, ecr, "127.0.0.1")
    assert (status, body["errors"][0]["code"]) == (404, "MANIFEST_UNKNOWN")  # allowed: no image


def test_v2_registry_policy_lets_another_account_list_the_registry(lab: RunningLab) -> None:
    """SCOPE (V2, every ECR request): DescribeRepositories of A's registry from account B is
    asked on repository/* and then per repository, each with A's registry policy."""
    lister = _role(lab, B, "lister", _allow("ecr:DescribeRepositories"))
    ecr = _session(lab, lister)
    code, _ = _error(ecr.describe_repositories, registryId=A)
    assert code == "AccessDeniedException"
    grant = _grant(lister, "ecr:DescribeRepositories")
    _admin(lab).put_registry_policy(policyText=_policy(grant))
    listed = ecr.describe_repositories(registryId=A)["repositories"]
    assert sorted(r["repositoryName"] for r in listed) == ["private", "shared"]


def test_a_registry_deny_denies_what_the_identity_policy_allows(lab: RunningLab) -> None:
    """EVAL: an explicit deny wins; AWS names the registry policy a resource-based policy."""
    builder = _role(lab, A, "builder", _allow("ecr:*"))
    ecr = _session(lab, builder)
    assert _pull(ecr) == "allowed"
    _admin(lab).put_registry_policy(
        policyText=_policy(_grant(builder, "ecr:BatchGetImage", effect="Deny"))
    )
    assert _pull(ecr).endswith(
        f"on resource: arn:aws:ecr:{REGION}:{A}:repository/shared with an explicit deny in a "
        "resource-based policy"
    )


def test_v1_registry_policy_allowing_everything_grants_no_pull(lab: RunningLab) -> None:
    """SCOPE, hostile: under V1 an ecr:* grant reaches only the three V1 actions. The other
    account may create repositories in A's registry, but never pull through the grant."""
    puller = _role(lab, B, "puller", _allow(*PULL, "ecr:CreateRepository"))
    admin = _admin(lab)
    admin.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    admin.put_registry_policy(policyText=_policy(_grant(puller, "ecr:*")))
    ecr = _session(lab, puller)
    assert "because no resource-based policy allows the ecr:BatchGetImage" in _pull(ecr)
    created = ecr.create_repository(registryId=A, repositoryName="from-b")["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:{REGION}:{A}:repository/from-b"
    assert created["registryId"] == A
    admin.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V2")
    assert _pull(ecr) == "allowed"  # the same policy, now enforced on every action


def test_create_repository_in_another_registry_needs_its_registry_policy(lab: RunningLab) -> None:
    """SCOPE: ecr:CreateRepository is governed by the registry policy in V1 and V2."""
    creator = _role(lab, B, "creator", _allow("ecr:CreateRepository"))
    ecr = _session(lab, creator)
    code, message = _error(ecr.create_repository, registryId=A, repositoryName="intruder")
    assert code == "AccessDeniedException"
    assert message.endswith(
        f"on resource: arn:aws:ecr:{REGION}:{A}:repository/intruder because no resource-based "
        "policy allows the ecr:CreateRepository action"
    )
    assert "intruder" not in lab.lab.ecr.repository_names(A, REGION)
    _admin(lab).put_registry_policy(policyText=_policy(_grant(creator, "ecr:CreateRepository")))
    ecr.create_repository(registryId=A, repositoryName="intruder")
    assert "intruder" in lab.lab.ecr.repository_names(A, REGION)


def test_a_registry_grant_cannot_switch_scope_or_rewrite_itself(lab: RunningLab) -> None:
    """Hostile: a role the V2 registry policy grants ecr:* still needs ecr:PutAccountSetting
    and ecr:PutRegistryPolicy in an identity policy (those act on "*", on no repository)."""
    insider = _role(lab, A, "insider")
    admin = _admin(lab)
    admin.put_registry_policy(policyText=_policy(_grant(insider, "ecr:*")))
    ecr = _session(lab, insider)
    code, message = _error(ecr.put_account_setting, name="REGISTRY_POLICY_SCOPE", value="V1")
    assert code == "AccessDeniedException"
    assert "because no identity-based policy allows the ecr:PutAccountSetting action" in message
    code, message = _error(ecr.put_registry_policy, policyText=_policy(_grant("*", "ecr:*")))
    assert "because no identity-based policy allows the ecr:PutRegistryPolicy action" in message
    assert admin.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"


def test_another_account_s_root_cannot_put_your_registry_policy(lab: RunningLab) -> None:
    """Hostile: PutRegistryPolicy has no registryId; account B's root writes B's own registry
    policy and account A's registry is untouched."""
    other_root = _admin(lab, B)
    answer = other_root.put_registry_policy(policyText=_policy(_grant("*", "ecr:*")))
    assert answer["registryId"] == B
    assert _error(_admin(lab).get_registry_policy)[0] == "RegistryPolicyNotFoundException"
    # registryId is no member of PutRegistryPolicy: sent anyway, it names no other registry
    body = {"policyText": _policy(_grant("*", "ecr:*")), "registryId": A}
    sneaked = _raw(lab, "PutRegistryPolicy", body, Credentials(B, "test"))
    assert sneaked.status != 200 or sneaked.json()["registryId"] == B
    assert _error(_admin(lab).get_registry_policy)[0] == "RegistryPolicyNotFoundException"


# ---- blob mounting -------------------------------------------------------------------------


def _push_image(ecr: Any, name: str, data: bytes) -> str:
    """An image of one layer in `name` through the ECR API; the layer's digest."""
    layer = push_layer(ecr, name, data)
    config = push_layer(ecr, name, b"{}" + data[:4])
    manifest = docker_manifest(config, 6, {layer: len(data)})
    ecr.put_image(
        repositoryName=name,
        imageManifest=json.dumps(manifest),
        imageManifestMediaType=DOCKER_MANIFEST_V2,
        imageTag="v1",
    )
    return layer


def _mount(running: RunningLab, ecr: Any, name: str, digest: str, source: str) -> Any:
    """POST /v2/NAME/blobs/uploads/?mount=DIGEST&from=SOURCE with `ecr`'s registry token."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    address, port = running.lab.registry_host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            f"/v2/{name}/blobs/uploads/?mount={digest}&from={source}",
            headers={"Authorization": f"Basic {token}", "Content-Length": "0"},
        )
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_blob_mounting_follows_the_setting_encryption_and_the_caller_s_reads(
    lab: RunningLab,
) -> None:
    """MOUNTING: disabled by default (202, a normal upload); enabled, 201 Created and the
    layer is the target's; never across encryption settings or from a source the caller may
    not read (ecr:GetDownloadUrlForLayer), nor a layer no image references."""
    admin = _admin(lab)
    layer = _push_image(admin, "shared", b"layer-bytes-" * 100)
    admin.create_repository(repositoryName="app")
    admin.create_repository(
        repositoryName="kms-app", encryptionConfiguration={"encryptionType": "KMS"}
    )
    assert _mount(lab, admin, "app", layer, "shared").status == 202  # DISABLED: upload instead
    admin.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")

    pusher = _role(
        lab,
        A,
        "pusher",
        _allow("ecr:GetAuthorizationToken"),
        _allow("ecr:InitiateLayerUpload", resource=f"arn:aws:ecr:{REGION}:{A}:repository/app"),
    )
    refused = _mount(lab, _session(lab, pusher), "app", layer, "shared")
    assert refused.status == 202  # may not read shared: no mount
    assert lab.lab.ecr.layer_size(A, REGION, "app", layer) is None

    assert _mount(lab, admin, "kms-app", layer, "shared").status == 202  # other encryption
    unreferenced = push_layer(admin, "shared", b"never in an image")
    assert _mount(lab, admin, "app", unreferenced, "shared").status == 202

    mounted = _mount(lab, admin, "app", layer, "shared")
    assert mounted.status == 201
    assert mounted.getheader("Location") == f"/v2/app/blobs/{layer}"
    assert mounted.getheader("Docker-Content-Digest") == layer
    assert lab.lab.ecr.layer_size(A, REGION, "app", layer) == len(b"layer-bytes-" * 100)


def test_explain_names_the_registry_policy_that_decided(lab: RunningLab) -> None:
    """`ecr-lab explain` asks the front door's own question: the registry policy is in it."""
    from lab.scenario.explain import explain_text

    _admin(lab).put_registry_policy(
        policyText=_policy(dict(_grant("*", "ecr:BatchGetImage", effect="Deny"), Sid="NoPulls"))
    )
    text = explain_text(lab.lab, lab.lab.admin, "ecr:BatchGetImage", "shared")
    assert "with an explicit deny in a resource-based policy" in text
    assert "=> registry policy (resource-based), statement 1 Sid 'NoPulls': Deny, applies" in text


def test_a_registry_change_that_cannot_be_saved_is_not_applied(
    lab: RunningLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transactional as every ECR change: a full disk answers ServerException and the registry
    policy and settings stay as they were saved."""
    from botocore.config import Config

    from tests.test_state_integrity import DiskFull

    ecr = _client(lab, "ecr", "test", config=Config(retries={"total_max_attempts": 1}))
    kept = _policy(_grant(f"arn:aws:iam::{B}:root", "ecr:ReplicateImage"))
    ecr.put_registry_policy(policyText=kept)
    disk = DiskFull(monkeypatch, lab.lab.config.state_dir / "ecr")
    disk.at("registries")
    for change in (
        lambda: ecr.put_registry_policy(policyText=_policy(_grant("*", "ecr:*"))),
        lambda: ecr.delete_registry_policy(),
        lambda: ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1"),
    ):
        assert _error(change)[0] == "ServerException"
    disk.at(None)
    assert ecr.get_registry_policy()["policyText"] == kept
    assert ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"
