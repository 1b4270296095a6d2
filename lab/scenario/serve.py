"""`ecr-lab serve --scenario`: serve a lab with a scenario deployed, until interrupted."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from lab.scenario.deploy import deploy, scenario_config
from lab.scenario.locate import load
from lab.server.config import LabConfig
from lab.server.run import RunningLab


def serve_scenario(config: LabConfig, name_or_file: str) -> int:
    """Start the lab, deploy the scenario (idempotent on a kept state dir), serve until a signal."""
    scenario = load(name_or_file)
    config = scenario_config(config, scenario)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    with RunningLab(config) as running:
        deploy(running.lab, scenario)
        lab = running.lab
        print(
            f"ecr-lab listening on {lab.endpoint_url} (registry {lab.registry_host}, "
            f"account {config.account}, region {config.region}, state {config.state_dir})\n"
            f"scenario {scenario.name} deployed: instances {', '.join(sorted(lab.instances))} "
            f'(try: eval "$(ecr-lab env {next(iter(lab.instances), "admin")})")',
            flush=True,
        )
        stop.wait()
    return 0
