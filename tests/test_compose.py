"""docker-compose.yml, checked as data (no compose engine here): LocalStack as the IAM home."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, host port, container port) of each short-syntax port mapping."""
    return [tuple(str(port).split(":")) for port in service["ports"]]  # type: ignore[misc]


def test_two_services(services: dict[str, Any]) -> None:
    assert set(services) == {"localstack", "ecr-lab"}


def test_every_port_is_published_on_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for host_ip, _, _ in published(service):
            assert host_ip == "127.0.0.1", name


def test_localstack_is_the_last_free_tag(services: dict[str, Any]) -> None:
    # FACTS: since March 2026 `latest` needs an auth token; 4.14.0 is the last free tag.
    assert services["localstack"]["image"] == "localstack/localstack:4.14.0"
    assert published(services["localstack"]) == [("127.0.0.1", "4566", "4566")]


def test_localstack_environment(services: dict[str, Any]) -> None:
    environment = services["localstack"]["environment"]
    wanted = {"iam", "sts", "ec2", "ssm", "cloudformation", "s3"}
    assert set(environment["SERVICES"].split(",")) == wanted
    assert "PERSISTENCE" in environment
    # Passed through, empty by default: the free image needs no token.
    assert environment["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_localstack_health_check_and_named_volume(services: dict[str, Any]) -> None:
    localstack = services["localstack"]
    assert any("/_localstack/health" in part for part in localstack["healthcheck"]["test"])
    volume, _, mount = localstack["volumes"][0].partition(":")
    assert mount == "/var/lib/localstack"  # LocalStack's volume directory
    assert volume in yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["volumes"]


def test_the_lab_serves_with_localstack_upstream(services: dict[str, Any]) -> None:
    lab = services["ecr-lab"]
    command = lab["command"]
    assert command[0] == "serve"
    assert command[command.index("--upstream") + 1] == "http://localstack:4566"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert published(lab) == [("127.0.0.1", port, port)]
    assert lab["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert 'ENTRYPOINT ["ecr-lab"]' in lab["build"]["dockerfile_inline"]
