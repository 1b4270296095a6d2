"""Private image replication through real HTTP: configuration, the job, and the destination
registry policy that lets a source account replicate or not.

AWS: ECR User Guide, "Private image replication in Amazon ECR" (replication.html);
"Granting registry permissions for cross account replication"
(registry-permissions-create-replication.html): the destination's registry policy grants
`ecr:ReplicateImage` (and `ecr:CreateRepository` where the repository must be created) to the
source account's root; "you only need to configure the registry policy if you're granting
another account permission to replicate contents to your registry"; API reference
PutReplicationConfiguration, DescribeRegistry, DescribeImageReplicationStatus.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lab.server.config import LabConfig
from lab.server.run import RunningLab
from tests.ecr_ops_support import cli as aws_cli
from tests.ecr_support import push_image
from tests.server_support import registry_get_at
from tests.test_regions import regional_ecr
from tests.tutorial import EC2_TRUST

pytestmark = pytest.mark.slow

SOURCE = "111111111111"
ALLOWED = "222222222222"  # its registry policy lets SOURCE replicate
REFUSED = "333333333333"  # no registry policy: cross-account replication fails
HOME = "us-east-1"
WEST = "us-west-2"


def _ecr(running: RunningLab, account: str = SOURCE, region: str = HOME) -> Any:
    """The account root's ECR client (key: `test` for the first account, else its id)."""
    return regional_ecr(running, region, "test" if account == SOURCE else account)


def _replication_grant(actions: list[str], effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReplicationAccessCrossAccount",
                    "Effect": effect,
                    "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                    "Action": actions,
                    "Resource": f"arn:aws:ecr:{WEST}:{ALLOWED}:repository/*",
                }
            ],
        }
    )


def _rules(*destinations: tuple[str, str], prefix: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "destinations": [{"region": r, "registryId": a} for r, a in destinations]
    }
    if prefix is not None:
        rule["repositoryFilters"] = [{"filter": prefix, "filterType": "PREFIX_MATCH"}]
    return {"rules": [rule]}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[RunningLab]:
    # No timer: each test runs the job when it wants (the background thread has its own test).
    config = LabConfig(
        state_dir=tmp_path / "state", account=SOURCE, region=HOME, replication_interval=0
    )
    with RunningLab(config) as running:
        running.lab.add_account(ALLOWED)
        running.lab.add_account(REFUSED)
        _ecr(running).create_repository(repositoryName="prod/app")
        yield running


def _statuses(running: RunningLab, tag: str = "v1") -> list[dict[str, Any]]:
    answer = _ecr(running).describe_image_replication_status(
        repositoryName="prod/app", imageId={"imageTag": tag}
    )
    return sorted(answer["replicationStatuses"], key=lambda s: (s["registryId"], s["region"]))


def test_configuration_is_shown_by_describe_registry(lab: RunningLab) -> None:
    ecr = _ecr(lab)
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}
    rules = _rules((WEST, SOURCE), (WEST, ALLOWED), prefix="prod")
    answer = ecr.put_replication_configuration(replicationConfiguration=rules)
    assert answer["replicationConfiguration"] == rules
    assert ecr.describe_registry() | {"ResponseMetadata": None} == {
        "registryId": SOURCE,
        "replicationConfiguration": rules,
        "ResponseMetadata": None,
    }
    # Each region has its own configuration.
    assert _ecr(lab, region=WEST).describe_registry()["replicationConfiguration"] == {"rules": []}


def test_aws_cli_puts_and_describes_the_configuration(lab: RunningLab) -> None:
    rules = json.dumps(_rules((WEST, SOURCE)))
    put = aws_cli(lab, "put-replication-configuration", "--replication-configuration", rules)
    assert put.returncode == 0, put.stderr
    described = aws_cli(lab, "describe-registry")
    assert json.loads(described.stdout)["replicationConfiguration"] == json.loads(rules)


@pytest.mark.parametrize(
    ("rules", "constraint"),
    [
        (
            _rules((HOME, SOURCE)),
            "Replication destination cannot be the source registry and region",
        ),
        (_rules(("mars-north-9", SOURCE)), "Invalid region mars-north-9"),
        (
            {"rules": [_rules((WEST, f"{n:012d}"))["rules"][0] for n in range(1, 27)][:25]}
            | {
                "rules": [
                    {
                        "destinations": [
                            {"region": WEST, "registryId": f"{n:012d}"} for n in range(1, 27)
                        ]
                    }
                ]
            },
            "Number of unique destinations must not exceed 25",
        ),
    ],
)
def test_invalid_configurations_are_refused_and_change_nothing(
    lab: RunningLab, rules: dict[str, Any], constraint: str
) -> None:
    ecr = _ecr(lab)
    with pytest.raises(ClientError) as refused:
        ecr.put_replication_configuration(replicationConfiguration=rules)
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": "Invalid parameter at 'replicationConfiguration' failed to satisfy "
        f"constraint: '{constraint}'",
    }
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}


def test_model_limits_are_refused(lab: RunningLab) -> None:
    """ReplicationRuleList has at most 25 rules; a filter follows the model's pattern."""
    too_many = {"rules": [_rules((WEST, SOURCE))["rules"][0]] * 26}
    with pytest.raises(ClientError) as refused:
        _ecr(lab).put_replication_configuration(replicationConfiguration=too_many)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "replicationConfiguration.rules" in refused.value.response["Error"]["Message"]


def test_same_account_cross_region_needs_no_registry_policy(lab: RunningLab) -> None:
    ecr = _ecr(lab)
    ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, SOURCE)))
    manifest = push_image(ecr, "prod/app", "v1")
    assert _statuses(lab) == [{"region": WEST, "registryId": SOURCE, "status": "IN_PROGRESS"}]
    lab.lab.replication.run_pending()
    assert _statuses(lab) == [{"region": WEST, "registryId": SOURCE, "status": "COMPLETE"}]
    west = _ecr(lab, region=WEST)
    image = west.batch_get_image(repositoryName="prod/app", imageIds=[{"imageTag": "v1"}])
    assert image["images"][0]["imageManifest"] == manifest
    token = west.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    host = f"{SOURCE}.dkr.ecr.{WEST}.localhost"
    layer = json.loads(manifest)["layers"][0]["digest"]
    assert (
        registry_get_at(lab.lab.registry_host, host, f"/v2/prod/app/blobs/{layer}", token)[0] == 200
    )
    # The replica is not replicated again (west has no rules, and nothing is pending).
    assert lab.lab.replication.run_pending() == []


def test_destination_registry_policy_decides_cross_account(lab: RunningLab) -> None:
    _ecr(lab, ALLOWED, WEST).put_registry_policy(
        policyText=_replication_grant(["ecr:CreateRepository", "ecr:ReplicateImage"])
    )
    ecr = _ecr(lab)
    rules = _rules((WEST, ALLOWED), (WEST, REFUSED), prefix="prod")
    ecr.put_replication_configuration(replicationConfiguration=rules)
    push_image(ecr, "prod/app", "v1")
    lab.lab.replication.run_pending()
    allowed, refused = _statuses(lab)
    assert allowed == {"region": WEST, "registryId": ALLOWED, "status": "COMPLETE"}
    assert refused["status"] == "FAILED"
    assert refused["failureCode"] == (
        f"User: arn:aws:iam::{SOURCE}:root is not authorized to perform: ecr:CreateRepository "
        f"on resource: arn:aws:ecr:{WEST}:{REFUSED}:repository/prod/app because no "
        "resource-based policy allows the ecr:CreateRepository action"
    )
    replica = _ecr(lab, ALLOWED, WEST).describe_images(repositoryName="prod/app")
    assert [d["imageTags"] for d in replica["imageDetails"]] == [["v1"]]
    with pytest.raises(ClientError) as missing:
        _ecr(lab, REFUSED, WEST).describe_images(repositoryName="prod/app")
    assert missing.value.response["Error"]["Code"] == "RepositoryNotFoundException"


def test_replicate_image_without_create_repository_needs_the_repository(lab: RunningLab) -> None:
    destination = _ecr(lab, ALLOWED, WEST)
    destination.put_registry_policy(policyText=_replication_grant(["ecr:ReplicateImage"]))
    ecr = _ecr(lab)
    ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, ALLOWED)))
    push_image(ecr, "prod/app", "v1")
    lab.lab.replication.run_pending()
    assert _statuses(lab)[0]["status"] == "FAILED"
    assert "ecr:CreateRepository" in _statuses(lab)[0]["failureCode"]
    # Made by hand, the repository takes the next push's replica.
    destination.create_repository(repositoryName="prod/app")
    push_image(ecr, "prod/app", "v2", seed=b"second")
    lab.lab.replication.run_pending()
    assert _statuses(lab, "v2")[0]["status"] == "COMPLETE"


def test_an_explicit_deny_in_the_destination_policy_wins(lab: RunningLab) -> None:
    policy = json.loads(_replication_grant(["ecr:CreateRepository", "ecr:ReplicateImage"]))
    deny = dict(
        policy["Statement"][0], Sid="NoReplicas", Effect="Deny", Action="ecr:ReplicateImage"
    )
    policy["Statement"].append(deny)
    _ecr(lab, ALLOWED, WEST).put_registry_policy(policyText=json.dumps(policy))
    ecr = _ecr(lab)
    ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, ALLOWED)))
    push_image(ecr, "prod/app", "v1")
    lab.lab.replication.run_pending()
    failure = _statuses(lab)[0]["failureCode"]
    assert failure.endswith("with an explicit deny in a resource-based policy"), failure


def test_filters_pick_the_repositories(lab: RunningLab) -> None:
    ecr = _ecr(lab)
    ecr.create_repository(repositoryName="dev/app")
    ecr.put_replication_configuration(
        replicationConfiguration=_rules((WEST, SOURCE), prefix="prod")
    )
    push_image(ecr, "dev/app", "v1")
    status = ecr.describe_image_replication_status(
        repositoryName="dev/app", imageId={"imageTag": "v1"}
    )
    assert status["replicationStatuses"] == []


def test_status_of_a_missing_image_is_image_not_found(lab: RunningLab) -> None:
    with pytest.raises(ClientError) as missing:
        _ecr(lab).describe_image_replication_status(
            repositoryName="prod/app", imageId={"imageTag": "nope"}
        )
    assert missing.value.response["Error"]["Code"] == "ImageNotFoundException"


def test_a_role_without_permission_cannot_configure_replication(lab: RunningLab) -> None:
    iam = boto3.client(
        "iam", endpoint_url=lab.url, region_name=HOME,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    arn = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    session = lab.lab.session_for(arn)
    ecr = boto3.client(
        "ecr", endpoint_url=lab.url, region_name=HOME,
        aws_access_key_id=session["accessKeyId"],
        aws_secret_access_key=session["secretAccessKey"],
        aws_session_token=session["sessionToken"],
    )  # fmt: skip
    with pytest.raises(ClientError) as refused:
        ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, ALLOWED)))
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "ecr:PutReplicationConfiguration on resource: *" in error["Message"]
    assert _ecr(lab).describe_registry()["replicationConfiguration"] == {"rules": []}


def test_pending_copies_survive_a_restart(tmp_path: Path) -> None:
    config = LabConfig(
        state_dir=tmp_path / "state", account=SOURCE, region=HOME, replication_interval=0
    )
    with RunningLab(config) as running:
        ecr = _ecr(running)
        ecr.create_repository(repositoryName="prod/app")
        ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, SOURCE)))
        push_image(ecr, "prod/app", "v1")
    with RunningLab(config) as running:
        assert _statuses(running)[0]["status"] == "IN_PROGRESS"
        running.lab.replication.run_pending()
        assert _statuses(running)[0]["status"] == "COMPLETE"


def test_the_background_job_replicates_after_a_skopeo_push(tmp_path: Path) -> None:
    """skopeo pushes to the source; the job (its own thread) copies; the replica is served
    by the destination region's registry host."""
    config = LabConfig(state_dir=tmp_path / "state", account=SOURCE, region=HOME)
    with RunningLab(config) as running:
        ecr = _ecr(running)
        ecr.create_repository(repositoryName="prod/app")
        ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, SOURCE)))
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        password = __import__("base64").b64decode(token).decode().split(":", 1)[1]
        image = tmp_path / "image"
        made = subprocess.run(
            ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"AWS:{password}",
             f"dir:{_dir_image(image)}", f"docker://{running.lab.registry_host}/prod/app:v1"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        for _ in range(200):  # the job's own pace; no wall-clock assertion
            if _statuses(running)[0]["status"] != "IN_PROGRESS":
                break
            __import__("time").sleep(0.05)
        assert _statuses(running)[0]["status"] == "COMPLETE"
        status, body = registry_get_at(
            running.lab.registry_host,
            f"{SOURCE}.dkr.ecr.{WEST}.localhost",
            "/v2/prod/app/manifests/v1",
            token,
        )
        assert status == 200
        assert json.loads(body)["schemaVersion"] == 2


def _dir_image(path: Path) -> Path:
    """A one-layer image in skopeo's `dir:` layout."""
    import gzip
    import hashlib
    import io
    import tarfile

    path.mkdir()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b"replicated\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {
                "type": "layers",
                "diff_ids": [f"sha256:{hashlib.sha256(raw.getvalue()).hexdigest()}"],
            },
        }
    ).encode()
    digests = {}
    for blob in (layer, config):
        digest = hashlib.sha256(blob).hexdigest()
        (path / digest).write_bytes(blob)
        digests[blob] = digest
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": "sha256:" + digests[config]},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer), "digest": "sha256:" + digests[layer]}],
    }  # fmt: skip
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    return path


def test_a_registry_policy_for_one_source_admits_no_other(lab: RunningLab) -> None:
    """Account REFUSED points its replication at ALLOWED, whose policy names SOURCE only."""
    _ecr(lab, ALLOWED, WEST).put_registry_policy(
        policyText=_replication_grant(["ecr:CreateRepository", "ecr:ReplicateImage"])
    )
    intruder = _ecr(lab, REFUSED)
    intruder.create_repository(repositoryName="prod/app")
    intruder.put_replication_configuration(replicationConfiguration=_rules((WEST, ALLOWED)))
    push_image(intruder, "prod/app", "v1")
    lab.lab.replication.run_pending()
    status = intruder.describe_image_replication_status(
        repositoryName="prod/app", imageId={"imageTag": "v1"}
    )["replicationStatuses"]
    assert [s["status"] for s in status] == ["FAILED"]
    assert status[0]["failureCode"].startswith(f"User: arn:aws:iam::{REFUSED}:root is not")
    assert "prod/app" not in lab.lab.ecr.repository_names(ALLOWED, WEST)


def test_a_replica_repository_takes_the_destinations_replication_template(
    lab: RunningLab,
) -> None:
    """ECR User Guide, "Repository creation templates": a repository ECR creates for
    replication takes the settings of the destination registry's template applied for
    REPLICATION (longest matching prefix); here its tag mutability and tags."""
    west = _ecr(lab, region=WEST)
    west.create_repository_creation_template(
        prefix="prod",
        appliedFor=["REPLICATION"],
        imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "copied-by", "Value": "replication"}],
    )
    ecr = _ecr(lab)
    ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, SOURCE)))
    push_image(ecr, "prod/app", "v1")
    lab.lab.replication.run_pending()
    assert _statuses(lab) == [{"region": WEST, "registryId": SOURCE, "status": "COMPLETE"}]
    [replica] = west.describe_repositories(repositoryNames=["prod/app"])["repositories"]
    assert replica["imageTagMutability"] == "IMMUTABLE"
    tags = west.list_tags_for_resource(resourceArn=replica["repositoryArn"])["tags"]
    assert tags == [{"Key": "copied-by", "Value": "replication"}]


def test_no_scp_or_rcp_restricts_replication(lab: RunningLab) -> None:
    """ECR replicates through its service-linked role (AWSServiceRoleForECRReplication), and
    neither SCPs nor RCPs restrict service-linked roles (Organizations User Guide, "Service
    control policies" and "Resource control policies": tasks and entities not restricted).
    The same SCP still denies the source account's own calls."""
    from lab.policy.document import parse_policy
    from lab.server.guardrails import Level, Organization

    deny_scp = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}],
        },
        "identity",
    )
    deny_rcp = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ecr:*", "Resource": "*"}],
        },
        "resource",
    )
    level = Level("Root", (deny_scp,), (deny_rcp,))
    _ecr(lab, ALLOWED, WEST).put_registry_policy(
        policyText=_replication_grant(["ecr:CreateRepository", "ecr:ReplicateImage"])
    )
    ecr = _ecr(lab)
    ecr.put_replication_configuration(replicationConfiguration=_rules((WEST, ALLOWED)))
    push_image(ecr, "prod/app", "v1")
    # Both accounts join an organization whose SCP and RCP deny every ECR action.
    members = {SOURCE: (level,), ALLOWED: (level,)}
    lab.lab.organizations["test"] = Organization(management_account=REFUSED, paths=members)
    with pytest.raises(ClientError) as denied:
        ecr.describe_repositories()
    assert denied.value.response["Error"]["Message"].endswith(
        "with an explicit deny in a resource control policy"  # RCPs come first in AWS's order
    )
    lab.lab.replication.run_pending()
    lab.lab.organizations.clear()  # to read the outcome as the accounts' roots
    assert _statuses(lab) == [{"region": WEST, "registryId": ALLOWED, "status": "COMPLETE"}]
