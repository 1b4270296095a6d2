"""The demo: deploy a scenario into a fresh lab, then let every instance log in, push and pull.

Order as in the tutorial's spirit: every instance logs in, then the pushes run (so there is
an image to pull), then the pulls. `ecr:` expectations are answered by the lab's Authorizer,
the decision the front door would enforce for that action on the repository.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from lab.errors import CommandError
from lab.identity.credentials import Identity
from lab.policy.model import Decision
from lab.scenario.clients import (
    Failed,
    ProtocolDriver,
    Refused,
    RegistryDriver,
    Session,
    get_login_password,
    refused_action,
)
from lab.scenario.deploy import deploy, scenario_config
from lab.scenario.explain import action_of, decided_by, explain
from lab.scenario.image import build_image
from lab.scenario.model import Expectation, Scenario, is_replication_check
from lab.scenario.replication import replication_check
from lab.scenario.report import Check, Report
from lab.scenario.upstream import distribution, push
from lab.server.app import Lab
from lab.server.config import LabConfig
from lab.server.run import RunningLab

TAG = "latest"
IMPORT = "ecr:BatchImportUpstreamImage"
Progress = Callable[[str], None]


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A throwaway state directory, in memory (/dev/shm) where the system offers it: the
    journal and the blob store fsync every write (~12 ms each on disk)."""
    memory = Path("/dev/shm")
    return tempfile.TemporaryDirectory(
        prefix=prefix, dir=memory if os.access(memory, os.W_OK) else None
    )


def lab_config(scenario: Scenario, state_dir: Path, upstream: str = "embedded") -> LabConfig:
    """A lab in the scenario's account and region."""
    return scenario_config(LabConfig(state_dir=state_dir, upstream=upstream), scenario)


def choose_driver(client: str, label: str) -> RegistryDriver:
    """`docker`, `protocol`, or `auto` (docker when an engine answers, else the protocol)."""
    if client == "protocol":
        return ProtocolDriver(label)
    from lab.scenario.docker_driver import DockerDriver, engine

    found = engine()
    if found is not None:
        return DockerDriver(found, label)
    if client == "docker":
        raise CommandError("no Docker engine answers (is dockerd running? or --client protocol)")
    return ProtocolDriver(label)


@contextmanager
def upstream_registries(scenario: Scenario, root: Path) -> Iterator[tuple[tuple[str, str], ...]]:
    """A local distribution registry serving the upstream of every pull through cache rule
    that lists `upstream_images` (each pushed as TAG), mapped from the rule's URL; none
    without such a rule."""
    rules = [r for r in scenario.registry.pull_through_cache_rules.values() if r.upstream_images]
    if not rules:
        yield ()
        return
    with distribution(root) as address:
        for image in dict.fromkeys(name for rule in rules for name in rule.upstream_images):
            push(address, image, TAG, build_image(image))
        yield tuple((rule.upstream_registry_url, address) for rule in rules)


class _Instance:
    """One instance during the demo: its session, identity, and login result."""

    def __init__(self, lab: Lab, name: str) -> None:
        self.session = Session.from_answer(lab.session_for(name))
        credential = lab.credentials.lookup(self.session.access_key_id)
        assert credential is not None
        self.identity: Identity = credential.identity
        self.password: str | None = None
        self.login_error: Refused | Failed | None = None


def _phase(expectation: Expectation) -> int:
    return {"login": 0, "push": 1, "pull": 2}.get(expectation.operation, 3)  # replicate: 3


class DemoRun:
    """Runs every expectation of a scenario against a deployed lab."""

    def __init__(self, lab: Lab, scenario: Scenario, driver: RegistryDriver, progress: Progress):
        self.lab, self.scenario, self.driver, self.progress = lab, scenario, driver, progress
        self.instances: dict[str, _Instance] = {}

    def instance(self, name: str) -> _Instance:
        """The instance, logged in on first use (GetAuthorizationToken, then the registry)."""
        if name not in self.instances:
            self.progress(f"{name}: aws ecr get-login-password | docker login")
            found = self.instances[name] = _Instance(self.lab, name)
            try:
                found.password = get_login_password(found.session)
                self.driver.login(found.session, found.password)
            except (Refused, Failed) as error:
                found.login_error = error
        return self.instances[name]

    def run(self) -> tuple[Check, ...]:
        """Every check, in the order logins, pushes, pulls, other actions."""
        ordered = sorted(self.scenario.expectations, key=_phase)
        return tuple(self.check(expectation) for expectation in ordered)

    def check(self, expectation: Expectation) -> Check:
        if is_replication_check(expectation.operation):
            return replication_check(self.lab, expectation, TAG)
        who = self.instance(expectation.principal)
        if expectation.operation.startswith("ecr:"):
            return self.decision_check(expectation, who)
        error = who.login_error
        if error is None and expectation.operation != "login":
            self.progress(f"{expectation.principal}: docker {expectation.operation}")
            error = self.attempt(expectation, who)
        return self.result(expectation, who, error)

    def attempt(self, expectation: Expectation, who: _Instance) -> Refused | Failed | None:
        step = self.driver.push if expectation.operation == "push" else self.driver.pull
        try:
            assert who.password is not None
            step(who.session, who.password, expectation.repository, TAG)
        except (Refused, Failed) as error:
            return error
        return None

    def result(
        self, expectation: Expectation, who: _Instance, error: Refused | Failed | None
    ) -> Check:
        action = action_of(expectation.operation)
        if isinstance(error, Refused):
            action = refused_action(error.message) or action
        elif error is None and self.imported(expectation):
            action = IMPORT  # the pull went through the cache: the import's grant decided
        _, decision = explain(self.lab, who.identity, action, expectation.repository)
        actual = "allowed" if error is None else "denied" if isinstance(error, Refused) else "error"
        return Check(
            expectation.principal,
            expectation.operation,
            expectation.repository,
            expectation.expected,
            actual,
            message=error.message if isinstance(error, Refused) else "",
            shown=str(error) if error is not None else "",
            decided_by=decided_by(decision) + self.template_of(expectation.repository, decision),
        )

    def imported(self, expectation: Expectation) -> bool:
        """Whether a pull of the expectation's repository goes through a pull through cache."""
        account, region = self.lab.config.account, self.lab.config.region
        rule = self.lab.ecr.pull_through_rule(account, region, expectation.repository)
        return expectation.operation == "pull" and rule is not None

    def template_of(self, repository: str, decision: Decision) -> str:
        """` (from creation template 'P')` when the repository policy that decided is the one
        a CREATE_ON_PUSH template gave the repository."""
        if not any(ref.policy == "resource" for ref in decision.matched):
            return ""
        account, region = self.lab.config.account, self.lab.config.region
        template = self.lab.ecr.creation_template(account, region, repository, "CREATE_ON_PUSH")
        policy = self.lab.ecr.repository_policy(account, region, repository)
        if template is None or policy is None or template.get("repositoryPolicy") != policy:
            return ""
        return f" (from creation template '{template['prefix']}')"

    def decision_check(self, expectation: Expectation, who: _Instance) -> Check:
        self.progress(f"{expectation.principal}: may it {expectation.operation}?")
        _, decision = explain(self.lab, who.identity, expectation.operation, expectation.repository)
        return Check(
            expectation.principal,
            expectation.operation,
            expectation.repository,
            expectation.expected,
            "allowed" if decision.allowed else "denied",
            message=decision.message,
            shown=decision.message,
            decided_by=decided_by(decision),
        )


def run_demo(
    scenario: Scenario,
    *,
    client: str = "auto",
    upstream: str = "embedded",
    progress: Progress = lambda _: None,
) -> Report:
    """Start a lab on a temporary state dir, deploy, run every check; the lab stops after."""
    with (
        scratch_dir("ecr-lab-demo-") as state,
        upstream_registries(scenario, Path(state) / "upstream") as mapping,
    ):
        config = lab_config(scenario, Path(state) / "state", upstream)
        config = replace(config, upstream_registries=(*config.upstream_registries, *mapping))
        progress(f"starting a lab ({upstream}) in {config.region}")
        with RunningLab(config) as running:
            progress(f"deploying scenario {scenario.name}")
            deploy(running.lab, scenario)
            driver = choose_driver(client, scenario.name)
            checks = DemoRun(running.lab, scenario, driver, progress).run()
            return Report(scenario.name, driver.name, running.lab.registry_host, checks)
