"""ecr-lab inside your own tests: a pytest plugin, registered when ecr-lab is installed.

Fixtures

- ``ecr_lab``: a new lab for the test: IAM in embedded moto, ECR and STS in the lab, one HTTP
  port on 127.0.0.1, state in memory (``/dev/shm`` where there is one, else the temporary
  directory) and deleted afterwards. No Docker, no credentials, no network. It starts on first
  use, so a test that never touches it pays nothing.
- ``ecr_lab_shared``: one lab for the whole session (per account and region), emptied before
  each test that uses it: IAM, repositories, images, sessions and instances are gone, the
  address and the admin's keys stay. Much faster; tests stay independent.
- ini option ``ecr_lab_shared = true`` (or ``-o ecr_lab_shared=true``) makes ``ecr_lab``
  itself the shared lab, to switch a whole suite with one line.

Marker

- ``@pytest.mark.ecr_lab(region="ap-northeast-1", account="123456789012", scenario="fa-085")``:
  the test's lab runs in that region and account (defaults: us-east-1, 000000000000) and the
  scenario (a built-in name or a YAML file) is deployed before the test starts.

The fixture's value, an ``EcrLab``

- ``session(principal=None) -> boto3.Session``: ``None`` is the account root (the admin); a
  scenario instance name (``"instance1"``) is that instance's instance-profile session; a role
  ARN gives a session of that role as issued to the service its trust policy names: EC2 (an
  instance's session, ``.../i-...``), Lambda (named after the function: the role's name) or
  ECS tasks (named after a task ID); a role no such service may assume gets AWS's
  ``AccessDenied``. Its clients go to the lab by default and never read ``~/.aws`` or
  ``AWS_*`` variables.
- ``client(service, principal=None)``: ``session(principal).client(service)``.
- ``deploy(scenario) -> {role key: role ARN}``: a scenario name, file or ``Scenario``; a lab not
  started yet starts in the scenario's region.
- ``endpoint_url``, ``registry`` (``host:port`` for docker), ``region``, ``account``, ``lab``.

Example::

    def test_only_the_builder_pushes(ecr_lab):
        iam = ecr_lab.client("iam")
        role = iam.create_role(RoleName="builder", AssumeRolePolicyDocument=EC2_TRUST)
        ...
        with pytest.raises(ClientError, match="AccessDeniedException"):
            ecr_lab.client("ecr", role["Role"]["Arn"]).batch_get_image(...)

moto's state is process-wide: do not combine these fixtures with moto's ``mock_aws`` in one
test. Importing this module costs nothing: the lab loads when a test first uses a fixture.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from functools import cache
from os import PathLike
from pathlib import Path
from tempfile import mkdtemp
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import boto3

    from lab.scenario.model import Scenario
    from lab.server.app import Lab
    from lab.server.run import RunningLab

SHARED_INI = "ecr_lab_shared"
# (account, region) -> a lab ready for a new test; None takes the lab's default.
Provider = Callable[[str | None, str | None], "RunningLab"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ini option that makes `ecr_lab` the session's shared lab."""
    parser.addini(
        SHARED_INI,
        "ecr_lab fixture: one lab per session, emptied before each test (faster)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker (so --strict-markers accepts it)."""
    config.addinivalue_line(
        "markers",
        "ecr_lab(region=None, account=None, scenario=None): the test's ecr-lab region and "
        "account, and a scenario to deploy before the test",
    )


class EcrLab:
    """One test's lab: started (fresh) or emptied (shared) when the test first uses it."""

    def __init__(self, provide: Provider, account: str | None, region: str | None) -> None:
        self._provide = provide
        self._account = account
        self._region = region
        self._running: RunningLab | None = None

    @property
    def lab(self) -> Lab:
        """The running `Lab` itself (its state, STS, ECR and IAM directory)."""
        if self._running is None:
            self._running = self._provide(self._account, self._region)
        return self._running.lab

    @property
    def endpoint_url(self) -> str:
        """The lab's one endpoint for ECR, IAM, STS and the registry API."""
        return self.lab.endpoint_url

    @property
    def registry(self) -> str:
        """`host:port` of the registry, as docker clients name it."""
        return self.lab.registry_host

    @property
    def region(self) -> str:
        """The lab's region."""
        return self.lab.config.region

    @property
    def account(self) -> str:
        """The lab's account id."""
        return self.lab.config.account

    def session(self, principal: str | None = None) -> boto3.Session:
        """A boto3 session of `principal` (see the module docstring) whose clients use the lab."""
        return lab_session(self.lab.session_for(principal or "admin"))

    def client(self, service: str, principal: str | None = None) -> Any:
        """A boto3 client of `service` for `principal`, pointed at the lab."""
        return self.session(principal).client(service)

    def deploy(self, scenario: Scenario | str | PathLike[str]) -> dict[str, str]:
        """Deploy a scenario (name, file or `Scenario`); returns role key -> role ARN."""
        from lab.scenario.deploy import deploy
        from lab.scenario.locate import load

        loaded = load(str(scenario)) if isinstance(scenario, str | PathLike) else scenario
        if self._running is None:  # not started yet: start where the scenario lives
            self._account = self._account or loaded.account
            self._region = self._region or loaded.region
        return deploy(self.lab, loaded)


def lab_session(answer: dict[str, Any]) -> boto3.Session:
    """A boto3 session from the lab's session answer (`Lab.session_for`), isolated from the
    user's AWS configuration, whose clients and resources default to the lab's endpoint."""
    from lab.botocore_session import isolated_session, shared_loader

    session = _session_class()(
        answer["endpointUrl"],
        aws_access_key_id=answer["accessKeyId"],
        aws_secret_access_key=answer["secretAccessKey"],
        aws_session_token=answer["sessionToken"],
        region_name=answer["region"],
        botocore_session=isolated_session(),
    )
    # boto3.Session appends its data path to the shared loader each time: keep one of each.
    loader = shared_loader()
    loader.search_paths[:] = dict.fromkeys(loader.search_paths)
    return session


@cache
def _session_class() -> type[boto3.Session]:
    """boto3.Session, with the lab's endpoint as its clients' default (boto3 loads late)."""
    import boto3

    class LabSession(boto3.Session):
        def __init__(self, endpoint_url: str, **settings: Any) -> None:
            super().__init__(**settings)
            self.endpoint_url = endpoint_url

        def client(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
            return super().client(*args, **kwargs)

        def resource(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
            return super().resource(*args, **kwargs)

    return LabSession


def _start(account: str | None, region: str | None) -> RunningLab:
    """A new lab serving on a free port; its state in memory where the system offers it."""
    from lab.server.config import LabConfig
    from lab.server.run import RunningLab

    # A test lab needs no durability, and fsync on a disk costs ~10 ms per state write.
    memory = Path("/dev/shm")
    state = Path(mkdtemp(prefix="ecr-lab-", dir=memory if os.access(memory, os.W_OK) else None))
    given = {"account": account, "region": region}
    settings = {key: value for key, value in given.items() if value is not None}
    return RunningLab(LabConfig(state_dir=state, **settings)).start()


def _stop(running: RunningLab) -> None:
    running.stop()
    running.lab.upstream.close()  # type: ignore[attr-defined] (the embedded upstream's journal)
    shutil.rmtree(running.lab.config.state_dir, ignore_errors=True)


class _SharedLabs:
    """The session's shared labs, one per (account, region): started once, emptied on reuse."""

    def __init__(self) -> None:
        self._labs: dict[tuple[str | None, str | None], RunningLab] = {}

    def provide(self, account: str | None, region: str | None) -> RunningLab:
        running = self._labs.get((account, region))
        if running is None:
            running = self._labs[(account, region)] = _start(account, region)
        else:
            running.lab.reset()
        return running

    def stop(self) -> None:
        for running in self._labs.values():
            _stop(running)


def _marked(request: pytest.FixtureRequest, provide: Provider) -> EcrLab:
    """The test's `EcrLab`, set up as its `ecr_lab` marker says."""
    marker = request.node.get_closest_marker("ecr_lab")
    options = dict(marker.kwargs) if marker else {}
    scenario = options.pop("scenario", None)
    unknown = set(options) - {"account", "region"}
    if unknown:
        raise pytest.UsageError(f"ecr_lab marker: unknown option(s) {sorted(unknown)}")
    handle = EcrLab(provide, options.get("account"), options.get("region"))
    if scenario is not None:
        handle.deploy(scenario)
    return handle


@pytest.fixture(scope="session")
def _ecr_lab_pool() -> Iterator[_SharedLabs]:
    labs = _SharedLabs()
    yield labs
    labs.stop()


@pytest.fixture
def ecr_lab_shared(request: pytest.FixtureRequest, _ecr_lab_pool: _SharedLabs) -> EcrLab:
    """The session's shared lab, emptied before this test uses it."""
    return _marked(request, _ecr_lab_pool.provide)


@pytest.fixture
def ecr_lab(request: pytest.FixtureRequest) -> Iterator[EcrLab]:
    """A new lab for this test (or the shared one, with the `ecr_lab_shared` ini option)."""
    if request.config.getini(SHARED_INI):
        yield request.getfixturevalue("ecr_lab_shared")
        return
    started: list[RunningLab] = []

    def provide(account: str | None, region: str | None) -> RunningLab:
        started.append(_start(account, region))
        return started[-1]

    try:
        yield _marked(request, provide)
    finally:
        for running in started:
            _stop(running)
