"""AWS's managed policies in embedded moto: cached across processes, a stand-in where moto's
dispatch needs only a URL table, and every lab's IAM complete either way."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from lab.upstream.embedded import EmbeddedMoto
from lab.upstream.managed_policies import PARTITION, cache_file
from tests.tutorial import EC2_TRUST

REGION = "ap-northeast-1"
ECR_FULL = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield tmp_path / "cache"


def iam_of(account: str) -> object:
    return dict.get(get_backend("iam")[account], PARTITION)


def started(tmp_path: Path, account: str) -> EmbeddedMoto:
    """A lab's upstream for `account`, its IAM new, that has answered once (backends exist)."""
    get_backend("iam").pop(account, None)  # moto's state is process-wide: other tests' too
    upstream = EmbeddedMoto(tmp_path / account, REGION, account=account)
    upstream.client("iam").list_roles()
    return upstream


def shipped(backend: object) -> list[tuple[str, str, str, str, object, object]]:
    return sorted(
        (p.arn, p.path, p.default_version_id, p.versions[0].document, p.create_date, p.update_date)
        for p in backend.aws_managed_policies  # type: ignore[attr-defined]
    )


def test_the_cache_holds_the_policies_moto_builds_for_any_account(tmp_path: Path) -> None:
    first = started(tmp_path, "111111111111")  # builds them as moto does, then caches them
    assert cache_file().is_file()
    second = started(tmp_path, "222222222222")  # reads the cache
    built, cached = iam_of("111111111111"), iam_of("222222222222")
    assert len(shipped(cached)) > 1000
    assert shipped(cached) == shipped(built)
    assert {p.account_id for p in cached.aws_managed_policies} == {"222222222222"}  # type: ignore[attr-defined]
    assert set(cached.managed_policies) == {p.arn for p in cached.aws_managed_policies}  # type: ignore[attr-defined]
    first.close()
    second.close()


def test_attachments_in_one_account_do_not_reach_the_next(tmp_path: Path) -> None:
    one = started(tmp_path, "333333333333")
    iam = one.client("iam")
    iam.create_role(RoleName="instance", AssumeRolePolicyDocument=EC2_TRUST)
    iam.attach_role_policy(RoleName="instance", PolicyArn=ECR_FULL)
    other = started(tmp_path, "444444444444")
    policy = other.client("iam").get_policy(PolicyArn=ECR_FULL)["Policy"]
    assert policy["AttachmentCount"] == 0
    one.close()
    other.close()


def test_a_torn_cache_is_rebuilt(tmp_path: Path) -> None:
    cache_file().parent.mkdir(parents=True)
    cache_file().write_bytes(b"\x80\x05 torn")
    upstream = started(tmp_path, "555555555555")
    assert len(iam_of("555555555555").aws_managed_policies) > 1000  # type: ignore[attr-defined]
    assert len(pickle.loads(cache_file().read_bytes())) > 1000
    upstream.close()


def test_moto_s_default_account_gets_a_stand_in_until_its_own_lab_starts(tmp_path: Path) -> None:
    """moto's dispatch reads IAM's URL table in account 123456789012: another account's lab
    builds it without managed policies; a lab of that account still has them all."""
    get_backend("iam").pop(DEFAULT_ACCOUNT_ID, None)  # as in a new process
    other = started(tmp_path, "666666666666")
    assert iam_of(DEFAULT_ACCOUNT_ID).aws_managed_policies == []  # type: ignore[attr-defined]
    default = started(tmp_path, DEFAULT_ACCOUNT_ID)
    iam = default.client("iam")
    iam.create_role(RoleName="instance", AssumeRolePolicyDocument=EC2_TRUST)
    iam.attach_role_policy(RoleName="instance", PolicyArn=ECR_FULL)
    assert iam.list_policies(Scope="AWS", MaxItems=100)["IsTruncated"]
    other.client("iam").list_roles()  # the other lab keeps working on the full backend
    other.close()
    default.close()
