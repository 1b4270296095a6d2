"""`ecr-lab shell PRINCIPAL`: a subshell that is the principal, as an SSM session on the
instance would be: its credentials in the environment, and its own docker, already logged in.

The shell gets its own DOCKER_CONFIG holding what the instance's
`aws ecr get-login-password | docker login` would have written, so a `docker login` the
user did before (as another principal) does not leak into it.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lab.scenario.clients import Failed, Refused, Session, get_login_password
from lab.server.cli import session_environment
from lab.server.client import principal_session
from lab.store import write_json_atomic


def write_docker_login(config_dir: Path, answer: dict[str, Any]) -> str:
    """Log docker in as the principal in `config_dir` (config.json `auths`, no docker needed);
    returns a line saying what happened."""
    session = Session.from_answer(answer)
    try:
        password = get_login_password(session)
    except (Refused, Failed) as error:
        write_json_atomic(config_dir / "config.json", {"auths": {}})
        return f"docker is not logged in: {error.shown}"
    auth = base64.b64encode(f"AWS:{password}".encode()).decode()
    write_json_atomic(config_dir / "config.json", {"auths": {session.registry: {"auth": auth}}})
    return f"docker is logged in to {session.registry} as {answer['arn']}"


def shell_environment(answer: dict[str, Any], principal: str, docker_config: Path) -> dict:
    """The user's environment with the principal's credentials, docker and prompt."""
    environment = dict(os.environ)
    for name, value in session_environment(answer).items():
        if value:
            environment[name] = value
        else:
            environment.pop(name, None)
    environment["DOCKER_CONFIG"] = str(docker_config)
    session_name = answer["arn"].rsplit("/", 1)[-1]
    environment["PS1"] = f"[{principal} {session_name}]$ "
    return environment


def _ignore(signum: int, frame: object) -> None:
    """Ctrl-C belongs to the subshell; a handler (unlike SIG_IGN) is not inherited."""


def run_shell(endpoint: str, principal: str) -> int:
    answer = principal_session(endpoint, principal)
    shell = os.environ.get("SHELL") or "/bin/sh"
    # bash would replace PS1 from its rc files; an SSM session's shell reads none either
    argv = [shell, "--norc"] if Path(shell).name == "bash" else [shell]
    with tempfile.TemporaryDirectory(prefix="ecr-lab-docker-") as docker_config:
        said = write_docker_login(Path(docker_config), answer)
        environment = shell_environment(answer, principal, Path(docker_config))
        print(f"ecr-lab: {answer['arn']}; {said} (exit to leave)", file=sys.stderr, flush=True)
        previous = signal.signal(signal.SIGINT, _ignore)
        try:
            return subprocess.call(argv, env=environment)
        finally:
            signal.signal(signal.SIGINT, previous)
