"""Lab.reset(): a used lab back to a new one's state, fast enough to run before every test."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lab.ecr.push import push_layer
from lab.errors import AwsError
from lab.pytest_plugin import EcrLab
from lab.server.app import Lab
from lab.server.config import LabConfig
from lab.upstream.embedded import JOURNAL_FILE, EmbeddedMoto
from tests.tutorial import EC2_TRUST

FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if not path.is_dir()]


def test_reset_forgets_what_the_test_made(ecr_lab_shared: EcrLab) -> None:
    lab = ecr_lab_shared.lab
    iam = ecr_lab_shared.client("iam")
    role = iam.create_role(RoleName="builder", AssumeRolePolicyDocument=EC2_TRUST)["Role"]
    iam.attach_role_policy(RoleName="builder", PolicyArn=FULL_ACCESS)
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    builder = ecr_lab_shared.session(role["Arn"])
    builder.client("ecr").create_repository(repositoryName="app")
    push_layer(builder.client("ecr"), "app", b"layer")

    lab.reset()

    assert iam.list_roles()["Roles"] == [] and iam.list_users()["Users"] == []
    assert ecr_lab_shared.client("ecr").describe_repositories()["repositories"] == []
    assert files_under(lab.ecr.state_dir) == []
    assert (lab.config.state_dir / "iam" / JOURNAL_FILE).read_bytes() == b""
    assert lab.credentials.lookup(key["AccessKeyId"]) is None
    with pytest.raises(ClientError, match="UnrecognizedClientException"):
        builder.client("ecr").describe_repositories()
    managed = lab.upstream.client("iam").get_policy(PolicyArn=FULL_ACCESS)["Policy"]
    assert managed["AttachmentCount"] == 0
    # The same names can be made again: nothing of the old ones is left behind.
    iam.create_role(RoleName="builder", AssumeRolePolicyDocument=EC2_TRUST)
    iam.attach_role_policy(RoleName="builder", PolicyArn=FULL_ACCESS)
    ecr_lab_shared.client("ecr").create_repository(repositoryName="app")


def test_reset_forgets_a_deployed_scenario(ecr_lab_shared: EcrLab) -> None:
    ecr_lab_shared.deploy("fa-085")

    ecr_lab_shared.lab.reset()

    assert ecr_lab_shared.lab.instances == {}
    with pytest.raises(AwsError, match="Unknown principal 'instance1'"):
        ecr_lab_shared.session("instance1")
    ecr_lab_shared.deploy("fa-085")  # and it deploys again as into a new lab
    assert "InstanceRole1" in ecr_lab_shared.client("sts", "instance1").get_caller_identity()["Arn"]


def test_reset_drops_the_accounts_a_test_added(ecr_lab_shared: EcrLab) -> None:
    lab = ecr_lab_shared.lab
    added = lab.add_account("111111111111")
    added.upstream.client("iam").create_role(RoleName="theirs", AssumeRolePolicyDocument=EC2_TRUST)

    lab.reset()

    assert list(lab.accounts) == [lab.config.account]
    assert lab.credentials.lookup("111111111111") is None
    assert lab.credentials.lookup(lab.config.admin_access_key) is not None
    again = lab.add_account("111111111111")  # a new one, with nothing of the old one
    assert again.upstream.client("iam").list_roles()["Roles"] == []


def test_reset_reloads_managed_policies_that_moto_let_a_client_change(
    ecr_lab_shared: EcrLab,
) -> None:
    # AWS refuses to tag or version an AWS managed policy; moto accepts both.
    upstream_iam = ecr_lab_shared.lab.upstream.client("iam")
    upstream_iam.tag_policy(PolicyArn=FULL_ACCESS, Tags=[{"Key": "touched", "Value": "yes"}])

    ecr_lab_shared.lab.reset()

    assert upstream_iam.list_policy_tags(PolicyArn=FULL_ACCESS)["Tags"] == []


def test_a_reset_upstream_replays_nothing_after_a_restart(tmp_path: Path) -> None:
    account = "111122223333"  # not the shared labs' account: moto's state is per account
    first = EmbeddedMoto(tmp_path, "us-east-1", account=account)
    first.client("iam").create_role(RoleName="gone", AssumeRolePolicyDocument=EC2_TRUST)
    first.reset()
    first.close()

    again = EmbeddedMoto(tmp_path, "us-east-1", account=account)

    assert again.client("iam").list_roles()["Roles"] == []
    again.close()


def test_a_lab_on_a_remote_upstream_cannot_be_reset(tmp_path: Path) -> None:
    config = LabConfig(state_dir=tmp_path, upstream="http://127.0.0.1:9")
    lab = Lab(config, registry_host="127.0.0.1:9")

    with pytest.raises(ValueError, match="cannot be reset"):
        lab.reset()
