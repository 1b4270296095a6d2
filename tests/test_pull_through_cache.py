"""Pull through cache through real HTTP: the rule operations (boto3, aws CLI) and pulls that
import from an upstream registry (distribution's `registry serve` on the loopback).

Pages: ECR User Guide "Sync an upstream registry with an Amazon ECR private registry"
(pull-through-cache.html), "Creating a pull through cache rule" (secret name starts with
`ecr-pullthroughcache/`), "IAM permissions required to sync an upstream registry"
(pull-through-cache-iam.html: ecr:CreatePullThroughCacheRule from an identity policy;
ecr:BatchImportUpstreamImage from identity, registry or repository policy; ecr:CreateRepository
from identity or registry policy); "Private registry permissions" (V1 covers both); API Reference
CreatePullThroughCacheRule (upstreamRegistryUrl per upstream), DescribePullThroughCacheRules,
UpdatePullThroughCacheRule, DeletePullThroughCacheRule, ValidatePullThroughCacheRule.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError

from lab.ecr.blobs import digest_of
from lab.scenario.deploy import deploy, scenario_config
from lab.scenario.image import build_image
from lab.scenario.parse import ScenarioError, parse
from lab.scenario.serve import upstream_registry
from lab.scenario.upstream import distribution, push
from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_ops_support import aws, cli, denial, missing, registry, role_keys, user_keys
from tests.ecr_support import error_of, push_image

pytestmark = pytest.mark.slow  # real servers and subprocesses: seconds per test

PULL = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
IMPORT = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
ETCD = build_image("etcd")
OTHER = "111122223333"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with distribution(tmp_path_factory.mktemp("upstream")) as address:
        push(address, "library/alpine", "3.20", build_image("alpine"))
        push(address, "coreos/etcd", "v3", ETCD)
        yield address


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[RunningLab]:
    mapping = (("registry-1.docker.io", upstream), ("quay.io", upstream))
    config = LabConfig(
        state_dir=tmp_path_factory.mktemp("ptc") / "state", upstream_registries=mapping
    )
    with RunningLab(config) as running:
        yield running


@pytest.fixture(scope="module")
def rules(lab):
    """A quay rule and a Docker Hub rule, whose secret is created through the lab's Secrets
    Manager (forwarded to the account's IAM home, where the lab reads it)."""
    ecr = aws(lab)
    secret = aws(lab, "secretsmanager").create_secret(
        Name="ecr-pullthroughcache/docker-hub",
        SecretString=json.dumps({"username": "lab", "accessToken": "token"}),
    )["ARN"]
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="docker-hub",
        upstreamRegistryUrl="registry-1.docker.io",
        credentialArn=secret,
    )
    return ecr


def test_rules_are_created_described_updated_and_deleted(lab, rules):
    account = lab.lab.config.account
    described = rules.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    by_prefix = {rule["ecrRepositoryPrefix"]: rule for rule in described}
    assert by_prefix["quay"]["upstreamRegistryUrl"] == "quay.io"
    assert by_prefix["quay"]["upstreamRegistry"] == "quay"
    assert by_prefix["docker-hub"]["upstreamRegistry"] == "docker-hub"
    assert by_prefix["quay"]["registryId"] == account
    made = rules.create_pull_through_cache_rule(
        ecrRepositoryPrefix="k8s", upstreamRegistryUrl="registry.k8s.io"
    )
    assert made["upstreamRegistry"] == "k8s"
    with pytest.raises(ClientError) as caught:
        rules.create_pull_through_cache_rule(
            ecrRepositoryPrefix="k8s", upstreamRegistryUrl="registry.k8s.io"
        )
    assert error_of(caught)[0] == "PullThroughCacheRuleAlreadyExistsException"
    deleted = rules.delete_pull_through_cache_rule(ecrRepositoryPrefix="k8s")
    assert deleted["upstreamRegistryUrl"] == "registry.k8s.io"
    for call in (
        lambda: rules.delete_pull_through_cache_rule(ecrRepositoryPrefix="k8s"),
        lambda: rules.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["k8s"]),
        lambda: rules.update_pull_through_cache_rule(ecrRepositoryPrefix="k8s"),
        lambda: rules.validate_pull_through_cache_rule(ecrRepositoryPrefix="k8s"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_of(caught)[0] == "PullThroughCacheRuleNotFoundException"


def _secret_arn(lab, name: str) -> str:
    region, account = lab.lab.config.region, lab.lab.config.account
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"upstreamRegistryUrl": "registry.example.com"}, "UnsupportedUpstreamRegistryException"),
        (
            {"upstreamRegistryUrl": "ghcr.io", "upstreamRegistry": "quay"},
            "UnsupportedUpstreamRegistryException",
        ),
        ({"upstreamRegistryUrl": "registry-1.docker.io"}, "InvalidParameterException"),
        (
            {"upstreamRegistryUrl": "quay.io", "upstreamRegistry": "nope"},
            "InvalidParameterException",
        ),
        (
            {"upstreamRegistryUrl": "123456789012.dkr.ecr.us-west-2.amazonaws.com"},
            "InvalidParameterException",  # an ECR upstream needs a customRoleArn
        ),
    ],
)
def test_bad_rules_are_refused_and_change_nothing(lab, rules, params, code):
    with pytest.raises(ClientError) as caught:
        rules.create_pull_through_cache_rule(ecrRepositoryPrefix="refused", **params)
    assert error_of(caught)[0] == code
    prefixes = [r["ecrRepositoryPrefix"] for r in rules.describe_pull_through_cache_rules()[
        "pullThroughCacheRules"
    ]]  # fmt: skip
    assert "refused" not in prefixes


def test_the_credential_must_be_an_ecr_pullthroughcache_secret_that_exists(lab, rules):
    for arn, code in (
        (_secret_arn(lab, "other-prefix/docker-hub"), "InvalidParameterException"),
        (_secret_arn(lab, "ecr-pullthroughcache/absent"), "SecretNotFoundException"),
    ):
        with pytest.raises(ClientError) as caught:
            rules.create_pull_through_cache_rule(
                ecrRepositoryPrefix="hub2",
                upstreamRegistryUrl="registry-1.docker.io",
                credentialArn=arn,
            )
        assert error_of(caught)[0] == code


def test_creating_a_rule_needs_an_identity_policy(lab, rules):
    keys = user_keys(lab, "rule-reader", ["ecr:DescribePullThroughCacheRules"])
    reader = aws(lab, **keys)
    assert reader.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    with pytest.raises(ClientError) as caught:
        reader.create_pull_through_cache_rule(
            ecrRepositoryPrefix="mine", upstreamRegistryUrl="quay.io"
        )
    action = "ecr:CreatePullThroughCacheRule"
    assert error_of(caught) == ("AccessDeniedException", denial(lab, "rule-reader", action))


def test_validate_reaches_the_mapped_upstream_only(lab, rules):
    valid = rules.validate_pull_through_cache_rule(ecrRepositoryPrefix="quay")
    assert valid["isValid"] is True and "failure" not in valid
    rules.create_pull_through_cache_rule(
        ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="public.ecr.aws"
    )
    unmapped = rules.validate_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")
    assert unmapped["isValid"] is False and "public.ecr.aws" in unmapped["failure"]
    rules.delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")


def test_a_pull_imports_the_image_and_creates_the_repository(lab, rules, upstream):
    rules.create_repository_creation_template(
        prefix="quay",
        appliedFor=["PULL_THROUGH_CACHE"],
        resourceTags=[{"Key": "cache", "Value": "quay"}],
    )
    keys = role_keys(lab, "importer", [*PULL, *IMPORT])
    answer = registry(lab, "GET", "/v2/quay/coreos/etcd/manifests/v3", **keys)
    assert answer.status == 200
    assert answer.headers["docker-content-digest"] == ETCD.digest
    repository = rules.describe_repositories(repositoryNames=["quay/coreos/etcd"])["repositories"]
    tags = rules.list_tags_for_resource(resourceArn=repository[0]["repositoryArn"])["tags"]
    assert tags == [{"Key": "cache", "Value": "quay"}]  # the PULL_THROUGH_CACHE template's
    images = rules.describe_images(repositoryName="quay/coreos/etcd")["imageDetails"]
    assert [image["imageTags"] for image in images] == [["v3"]]
    layer = json.loads(answer.body)["layers"][0]["digest"]
    blob = registry(lab, "GET", f"/v2/quay/coreos/etcd/blobs/{layer}", **keys)
    assert blob.status == 200 and blob.body == ETCD.layers[0].data


def test_a_role_without_batch_import_upstream_image_is_denied(lab, rules):
    account, region = lab.lab.config.account, lab.lab.config.region
    keys = role_keys(lab, "puller-only", [*PULL, "ecr:CreateRepository"])
    answer = registry(lab, "GET", "/v2/docker-hub/library/alpine/manifests/3.20", **keys)
    assert answer.status == 403
    error = answer.json()["errors"][0]
    arn = f"arn:aws:ecr:{region}:{account}:repository/docker-hub/library/alpine"
    assert error["code"] == "DENIED"
    assert error["message"] == (
        f"User: arn:aws:sts::{account}:assumed-role/puller-only/i-0a1b2c3d4e5f60718 is not "
        f"authorized to perform: ecr:BatchImportUpstreamImage on resource: {arn} because no "
        "identity-based policy allows the ecr:BatchImportUpstreamImage action"
    )
    assert missing(rules, "docker-hub/library/alpine")


def test_the_registry_policy_grants_the_import_under_v1(lab, rules):
    account, region = lab.lab.config.account, lab.lab.config.region
    keys = role_keys(lab, "registry-importer", PULL)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/registry-importer"},
                "Action": IMPORT,
                "Resource": f"arn:aws:ecr:{region}:{account}:repository/docker-hub/*",
            }
        ],
    }
    rules.put_registry_policy(policyText=json.dumps(policy))
    rules.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    try:
        answer = registry(lab, "GET", "/v2/docker-hub/library/alpine/manifests/3.20", **keys)
        assert answer.status == 200
        assert not missing(rules, "docker-hub/library/alpine")
    finally:
        rules.delete_registry_policy()
        rules.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V2")


def test_the_repository_policy_grants_the_import_of_a_new_tag(lab, rules, upstream):
    """Once the cached repository exists, its policy may grant ecr:BatchImportUpstreamImage
    (pull-through-cache-iam.html); ecr:CreateRepository is no longer asked."""
    account = lab.lab.config.account
    keys = role_keys(lab, "repo-granted", PULL)
    first = role_keys(lab, "seeder", [*PULL, *IMPORT])
    assert registry(lab, "GET", "/v2/quay/coreos/etcd/manifests/v3", **first).status == 200
    push(upstream, "coreos/etcd", "v4", build_image("etcd v4"))
    denied = registry(lab, "GET", "/v2/quay/coreos/etcd/manifests/v4", **keys)
    assert (
        denied.status == 403
        and "ecr:BatchImportUpstreamImage" in denied.json()["errors"][0]["message"]
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/repo-granted"},
                "Action": "ecr:BatchImportUpstreamImage",
            }
        ],
    }
    rules.set_repository_policy(repositoryName="quay/coreos/etcd", policyText=json.dumps(policy))
    try:
        answer = registry(lab, "GET", "/v2/quay/coreos/etcd/manifests/v4", **keys)
        assert answer.status == 200
        assert answer.headers["docker-content-digest"] == build_image("etcd v4").digest
    finally:
        rules.delete_repository_policy(repositoryName="quay/coreos/etcd")


def test_an_image_the_upstream_lacks_is_manifest_unknown_and_creates_nothing(lab, rules):
    keys = role_keys(lab, "hopeful", [*PULL, *IMPORT])
    answer = registry(lab, "GET", "/v2/quay/nobody/nothing/manifests/latest", **keys)
    assert answer.status == 404
    assert answer.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert missing(rules, "quay/nobody/nothing")


def test_the_cli_manages_rules(lab, rules):
    made = cli(
        lab,
        "create-pull-through-cache-rule",
        "--ecr-repository-prefix",
        "cli-quay",
        "--upstream-registry-url",
        "quay.io",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["upstreamRegistryUrl"] == "quay.io"
    checked = cli(lab, "validate-pull-through-cache-rule", "--ecr-repository-prefix", "cli-quay")
    assert json.loads(checked.stdout)["isValid"] is True
    gone = cli(lab, "delete-pull-through-cache-rule", "--ecr-repository-prefix", "cli-quay")
    assert gone.returncode == 0, gone.stderr


@pytest.mark.slow
def test_skopeo_pulls_through_the_cache(lab, rules, tmp_path):
    keys = role_keys(lab, "skopeo-importer", [*PULL, *IMPORT])
    token = aws(lab, **keys).get_authorization_token()["authorizationData"][0]
    creds = base64.b64decode(token["authorizationToken"]).decode()
    host = lab.url.removeprefix("http://")
    pulled = subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds,
         f"docker://{host}/quay/coreos/etcd:v3", f"dir:{tmp_path / 'out'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    layer = manifest["layers"][0]["digest"].split(":")[1]
    assert (tmp_path / "out" / layer).read_bytes() == ETCD.layers[0].data


class _FakeUpstream(http.server.BaseHTTPRequestHandler):
    """An upstream serving one image as `evil/image:v1`; `tamper` swaps its layer's bytes,
    `token` puts it behind distribution's token protocol (Basic lab:secret at /token)."""

    image = build_image("honest")
    tamper = False
    token: str | None = None

    def do_GET(self) -> None:
        realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        if self.path.startswith("/token"):
            expected = "Basic " + base64.b64encode(b"lab:secret").decode()
            if self.headers.get("Authorization") != expected:
                self._answer(401, b"{}", "application/json")
                return
            self._answer(200, json.dumps({"token": self.token}).encode(), "application/json")
            return
        if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
            challenge = f'Bearer realm="{realm}",service="fake",scope="repository:evil/image:pull"'
            self._answer(401, b"{}", "application/json", {"WWW-Authenticate": challenge})
            return
        image = self.image
        if self.path == "/v2/":
            self._answer(200, b"{}", "application/json")
        elif self.path.endswith("/manifests/v1"):
            self._answer(
                200, image.manifest, "application/vnd.docker.distribution.manifest.v2+json"
            )
        elif self.path.endswith(image.config.digest):
            self._answer(200, image.config.data, "application/octet-stream")
        elif self.path.endswith(image.layers[0].digest):
            layer = b"tampered layer" if self.tamper else image.layers[0].data
            self._answer(200, layer, "application/octet-stream")
        else:
            self._answer(404, b"{}", "application/json")

    def _answer(self, status: int, body: bytes, kind: str, extra: dict | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": kind, **(extra or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@contextmanager
def _lab_over(tmp_path, **behaviour: object) -> Iterator[RunningLab]:
    """A lab whose quay.io and registry-1.docker.io are a _FakeUpstream behaving so."""
    handler = type("Upstream", (_FakeUpstream,), behaviour)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    mapping = (("quay.io", address), ("registry-1.docker.io", address))
    try:
        with RunningLab(
            # another account: moto's Secrets Manager is one per account for the whole process
            LabConfig(state_dir=tmp_path / "state", account=OTHER, upstream_registries=mapping)
        ) as running:
            yield running
    finally:
        server.shutdown()


def test_bytes_that_do_not_match_their_digest_are_not_imported(tmp_path):
    """A hostile upstream cannot plant a layer: every blob is checked against its digest."""
    with _lab_over(tmp_path, tamper=True) as running:
        ecr = aws(running)
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io"
        )
        answer = registry(running, "GET", "/v2/quay/evil/image/manifests/v1")
        assert answer.status == 404
        error = answer.json()["errors"][0]
        assert error["code"] == "MANIFEST_UNKNOWN" and "does not match" in error["message"]
        assert missing(ecr, "quay/evil/image")


@pytest.mark.parametrize(("secret", "imported"), [("secret", True), ("wrong", False)])
def test_the_rules_secret_answers_the_upstreams_token_challenge(tmp_path, secret, imported):
    """Docker Hub's rule carries a secret ({"username", "accessToken"}); the lab sends it to
    the upstream's token realm and pulls with the bearer token it gets."""
    with _lab_over(tmp_path, token="t0k3n") as running:
        arn = aws(running, "secretsmanager").create_secret(
            Name="ecr-pullthroughcache/hub",
            SecretString=json.dumps({"username": "lab", "accessToken": secret}),
        )["ARN"]
        ecr = aws(running)
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io", credentialArn=arn
        )
        answer = registry(running, "GET", "/v2/hub/evil/image/manifests/v1")
        assert (answer.status == 200) is imported
        assert missing(ecr, "hub/evil/image") is not imported


def test_serve_maps_upstream_registries_on_the_loopback_only():
    assert upstream_registry("quay.io=http://127.0.0.1:5000/") == (
        "quay.io",
        "http://127.0.0.1:5000",
    )
    for spec in ("quay.io=http://10.0.0.8:5000", "quay.io", "quay.io=ftp://127.0.0.1:21"):
        with pytest.raises(argparse.ArgumentTypeError):
            upstream_registry(spec)


SCENARIO = """
schema: 1
account: "111122223333"
region: us-east-1
registry:
  pull_through_cache_rules:
    quay:
      upstream_registry_url: quay.io
      upstream_address: {address}
"""


def test_a_scenario_maps_its_rules_upstream_address(tmp_path, upstream):
    scenario = parse(SCENARIO.format(address=upstream))
    config = scenario_config(LabConfig(state_dir=tmp_path / "state"), scenario)
    with RunningLab(config) as running:
        deploy(running.lab, scenario)
        ecr = aws(running)
        assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="quay")["isValid"] is True
        answer = registry(running, "GET", "/v2/quay/coreos/etcd/manifests/v3")
        assert answer.status == 200 and answer.headers["docker-content-digest"] == ETCD.digest


def test_a_scenarios_upstream_address_must_be_on_the_loopback():
    with pytest.raises(ScenarioError, match="upstream_address"):
        parse(SCENARIO.format(address="http://192.0.2.7:5000"))


def test_secrets_manager_calls_are_authorized_as_their_actions(lab, rules):
    keys = user_keys(lab, "secret-reader", ["secretsmanager:ListSecrets"])
    reader = aws(lab, "secretsmanager", **keys)
    names = [secret["Name"] for secret in reader.list_secrets()["SecretList"]]
    assert "ecr-pullthroughcache/docker-hub" in names
    with pytest.raises(ClientError) as caught:
        reader.create_secret(Name="ecr-pullthroughcache/mine", SecretString="{}")
    action = "secretsmanager:CreateSecret"
    assert error_of(caught) == ("AccessDeniedException", denial(lab, "secret-reader", action))


def test_a_rule_cannot_be_created_in_another_accounts_registry(lab, rules):
    """registryId names the registry; an identity policy grants nothing in another account."""
    keys = user_keys(lab, "rule-maker", ["ecr:CreatePullThroughCacheRule"])
    with pytest.raises(ClientError) as caught:
        aws(lab, **keys).create_pull_through_cache_rule(
            ecrRepositoryPrefix="planted", upstreamRegistryUrl="quay.io", registryId=OTHER
        )
    code, message = error_of(caught)
    assert code == "AccessDeniedException"
    assert "because no resource-based policy allows the ecr:CreatePullThroughCacheRule" in message
    mine = aws(lab).describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert "planted" not in [rule["ecrRepositoryPrefix"] for rule in mine]


def test_another_lab_serves_as_the_upstream(tmp_path):
    """An ecr-lab of another account is an upstream like any: its Basic challenge is answered
    with the rule's secret, holding that registry's `AWS` user and authorization token."""
    with RunningLab(LabConfig(state_dir=tmp_path / "up", account=OTHER)) as upstream_lab:
        source = aws(upstream_lab)
        source.create_repository(repositoryName="library/hello")
        manifest = push_image(source, "library/hello", "latest")
        token = source.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, password = base64.b64decode(token).decode().split(":", 1)
        mapping = (("public.ecr.aws", upstream_lab.url),)
        config = LabConfig(
            state_dir=tmp_path / "down", account="222233334444", upstream_registries=mapping
        )
        with RunningLab(config) as running:
            arn = aws(running, "secretsmanager").create_secret(
                Name="ecr-pullthroughcache/upstream-lab",
                SecretString=json.dumps({"username": user, "accessToken": password}),
            )["ARN"]
            ecr = aws(running)
            ecr.create_pull_through_cache_rule(
                ecrRepositoryPrefix="ecr-public",
                upstreamRegistryUrl="public.ecr.aws",
                credentialArn=arn,
            )
            answer = registry(running, "GET", "/v2/ecr-public/library/hello/manifests/latest")
            assert answer.status == 200
            assert answer.headers["docker-content-digest"] == digest_of(manifest.encode())
