"""Real registry clients (skopeo, docker) against a running lab: push, pull, and ECR's refusals."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import boto3
import docker
import pytest

from lab.server.config import LabConfig
from lab.server.run import RunningLab

_BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench_registry.py"
_spec = importlib.util.spec_from_file_location("bench_registry", _BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # reuse its OCI layout builder


@pytest.fixture
def lab(tmp_path):
    running = RunningLab(LabConfig(state_dir=tmp_path / "state")).start()
    yield running
    running.stop()


def admin_ecr(lab):
    return boto3.client(
        "ecr",
        endpoint_url=lab.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def password(lab) -> str:
    token = admin_ecr(lab).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1]


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["skopeo", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_skopeo_copy_push_and_pull_round_trip(lab, tmp_path):
    admin_ecr(lab).create_repository(repositoryName="fa-085")
    bench.make_oci_image(tmp_path / "image", 2)
    host = lab.url.removeprefix("http://")
    creds = f"AWS:{password(lab)}"
    pushed = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        f"oci:{tmp_path / 'image'}:bench",
        f"docker://{host}/fa-085:v1",
    )
    assert pushed.returncode == 0, pushed.stderr
    pulled = skopeo(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        f"docker://{host}/fa-085:v1",
        f"dir:{tmp_path / 'out'}",
    )
    assert pulled.returncode == 0, pulled.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    layer = manifest["layers"][0]["digest"].split(":")[1]
    original = tmp_path / "image" / "blobs" / "sha256" / layer
    assert (tmp_path / "out" / layer).read_bytes() == original.read_bytes()
    images = admin_ecr(lab).describe_images(repositoryName="fa-085")["imageDetails"]
    assert [image["imageTags"] for image in images] == [["v1"]]


@pytest.mark.slow
def test_skopeo_without_credentials_is_refused_and_missing_repository_is_name_unknown(
    lab, tmp_path
):
    host = lab.url.removeprefix("http://")
    anonymous = skopeo("inspect", "--tls-verify=false", f"docker://{host}/fa-085:v1")
    assert anonymous.returncode != 0
    missing = skopeo(
        "inspect",
        "--tls-verify=false",
        "--creds",
        f"AWS:{password(lab)}",
        f"docker://{host}/nope:v1",
    )
    assert missing.returncode != 0
    assert "The repository with name 'nope' does not exist" in missing.stderr


def _scratch_context() -> io.BytesIO:
    """A build context: FROM scratch with one small file, built offline."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (
            ("Dockerfile", b"FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", b"hello from ecr-lab\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@pytest.mark.docker
def test_docker_sdk_push_and_pull(lab):
    client = docker.from_env()
    admin_ecr(lab).create_repository(repositoryName="fa-085")
    host = lab.url.removeprefix("http://")
    repository = f"{host}/fa-085"
    client.images.build(fileobj=_scratch_context(), custom_context=True, tag=f"{repository}:v1")
    auth = {"username": "AWS", "password": password(lab)}
    lines = list(client.images.push(repository, "v1", auth_config=auth, stream=True, decode=True))
    # docker SDK 7.x does not raise on a failed push: the last line carries errorDetail (FACTS).
    assert "errorDetail" not in lines[-1], lines[-1]
    client.images.remove(f"{repository}:v1", force=True)
    pulled = client.images.pull(repository, "v1", auth_config=auth)
    assert f"{repository}:v1" in pulled.tags
    client.images.remove(f"{repository}:v1", force=True)


@pytest.mark.docker
def test_docker_cli_login_and_push(lab, tmp_path):
    if shutil.which("docker") is None:
        pytest.fail("the docker CLI is required for this test")
    admin_ecr(lab).create_repository(repositoryName="cli")
    host = lab.url.removeprefix("http://")
    config = ["--config", str(tmp_path / "docker-config")]
    login = subprocess.run(
        ["docker", *config, "login", "--username", "AWS", "--password-stdin", host],
        input=password(lab),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert login.returncode == 0, login.stderr
    docker.from_env().images.build(
        fileobj=_scratch_context(), custom_context=True, tag=f"{host}/cli:v1"
    )
    pushed = subprocess.run(
        ["docker", *config, "push", f"{host}/cli:v1"], capture_output=True, text=True, timeout=120
    )
    assert pushed.returncode == 0, pushed.stderr
