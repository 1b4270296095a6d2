"""CREATE_ON_PUSH through the registry API: a push to a missing repository creates it from the
matching repository creation template, authorized as AWS authorizes it.

Pages: ECR User Guide "Repository creation templates" (CREATE_ON_PUSH; longest prefix, `ROOT`
for the rest) and "Creating a repository creation template" (ecr:CreateRepository);
"Private registry permissions" / registry-permissions-create.html (the registry policy's V1
scope covers ecr:CreateRepository, as V2 does every ECR action).
"""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from tests.ecr_ops_support import aws, lab_fixture, missing, registry, role_keys
from tests.ecr_support import error_of

lab = lab_fixture("lab")
PUSH = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]
UPLOAD = "/v2/{}/blobs/uploads/"


def _deny_pull_policy(account: str, role: str) -> str:
    """A repository policy that denies `role` the pull (the template's, on what it creates)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "NoPullForThePusher",
                    "Effect": "Deny",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:role/{role}"},
                    "Action": ["ecr:BatchGetImage"],
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def pusher(lab) -> dict[str, str]:
    """A role allowed to push and create repositories (the template's policy names it)."""
    return role_keys(lab, "pusher", [*PUSH, "ecr:CreateRepository"])


@pytest.fixture(scope="module")
def templates(lab, pusher):
    ecr = aws(lab)
    account = lab.lab.config.account
    ecr.create_repository_creation_template(
        prefix="team",
        appliedFor=["CREATE_ON_PUSH"],
        repositoryPolicy=_deny_pull_policy(account, "pusher"),
        resourceTags=[{"Key": "owner", "Value": "team"}],
        imageTagMutability="IMMUTABLE",
    )
    ecr.create_repository_creation_template(prefix="cached", appliedFor=["PULL_THROUGH_CACHE"])
    return ecr


def test_without_a_matching_template_a_push_is_name_unknown(lab, templates):
    account = lab.lab.config.account
    for name in ("elsewhere/app", "cached/app"):  # a PULL_THROUGH_CACHE template is no help
        answer = registry(lab, "POST", UPLOAD.format(name))
        assert answer.status == 404
        error = answer.json()["errors"][0]
        assert error["code"] == "NAME_UNKNOWN"
        message = f"The repository with name '{name}' does not exist in the registry with id"
        assert error["message"] == f"{message} '{account}'"
        assert missing(templates, name)


def test_a_push_creates_the_repository_from_the_template(lab, templates, pusher):
    answer = registry(lab, "POST", UPLOAD.format("team/app"), **pusher)
    assert answer.status == 202
    repository = templates.describe_repositories(repositoryNames=["team/app"])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    tags = templates.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    assert tags == [{"Key": "owner", "Value": "team"}]
    policy = templates.get_repository_policy(repositoryName="team/app")["policyText"]
    assert json.loads(policy)["Statement"][0]["Sid"] == "NoPullForThePusher"


def test_a_pusher_without_create_repository_is_denied_and_nothing_is_created(lab, templates):
    account, region = lab.lab.config.account, lab.lab.config.region
    keys = role_keys(lab, "no-create", PUSH)
    answer = registry(lab, "POST", UPLOAD.format("team/denied"), **keys)
    assert answer.status == 403
    error = answer.json()["errors"][0]
    arn = f"arn:aws:ecr:{region}:{account}:repository/team/denied"
    assert error["code"] == "DENIED"
    assert error["message"] == (
        f"User: arn:aws:sts::{account}:assumed-role/no-create/i-0a1b2c3d4e5f60718 is not "
        f"authorized to perform: ecr:CreateRepository on resource: {arn} because no "
        "identity-based policy allows the ecr:CreateRepository action"
    )
    assert missing(templates, "team/denied")


def test_the_registry_policy_may_grant_create_repository(lab, templates):
    """The registry policy takes part in ecr:CreateRepository under either scope."""
    account = lab.lab.config.account
    keys = role_keys(lab, "registry-granted", PUSH)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/registry-granted"},
                "Action": ["ecr:CreateRepository"],
                "Resource": f"arn:aws:ecr:{lab.lab.config.region}:{account}:repository/team/*",
            }
        ],
    }
    templates.put_registry_policy(policyText=json.dumps(policy))
    try:
        for scope, name in (("V1", "team/v1"), ("V2", "team/v2")):
            templates.put_account_setting(name="REGISTRY_POLICY_SCOPE", value=scope)
            assert registry(lab, "POST", UPLOAD.format(name), **keys).status == 202
            assert not missing(templates, name)
    finally:
        templates.delete_registry_policy()
        templates.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V2")


def test_an_existing_repository_is_left_as_it_is(lab, templates):
    templates.create_repository(repositoryName="team/existing")
    assert registry(lab, "POST", UPLOAD.format("team/existing")).status == 202
    with pytest.raises(ClientError) as caught:
        templates.get_repository_policy(repositoryName="team/existing")
    assert error_of(caught)[0] == "RepositoryPolicyNotFoundException"


@pytest.mark.slow
def test_skopeo_push_creates_and_the_template_policy_governs_the_pull(
    lab, templates, pusher, tmp_path
):
    """A real client pushes to a missing repository; the template's policy then denies the
    pusher's pull with an explicit deny in a resource-based policy."""
    from tests.test_registry_clients import bench

    ecr = aws(lab)
    token = aws(lab, **pusher).get_authorization_token()["authorizationData"][0]
    creds = base64.b64decode(token["authorizationToken"]).decode()
    bench.make_oci_image(tmp_path / "image", 1)
    host = lab.url.removeprefix("http://")
    target = f"docker://{host}/team/built:v1"
    pushed = subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds,
         f"oci:{tmp_path / 'image'}:bench", target],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    images = ecr.describe_images(repositoryName="team/built")["imageDetails"]
    assert [image["imageTags"] for image in images] == [["v1"]]
    pulled = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--creds", creds, target],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pulled.returncode != 0
    assert "ecr:BatchGetImage" in pulled.stderr
    assert "with an explicit deny in a resource-based policy" in pulled.stderr
