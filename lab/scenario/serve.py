"""`ecr-lab serve`: serve a lab (with a scenario deployed, if asked) until interrupted.

The state directory records what was set up in it (lab/server/statedir.py): a restart
without flags comes back with the same account, region, upstream, scenario and instances.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from lab.errors import AwsError, CommandError
from lab.invocation import command_name
from lab.server.cli import add_state_dir_option
from lab.server.config import (
    DEFAULT_ACCOUNT,
    DEFAULT_PORT,
    DEFAULT_REGION,
    LabConfig,
    endpoint_from_env,
)
from lab.server.state_lock import StateDirectoryInUse
from lab.server.statedir import check_usable, read_record, write_record

if TYPE_CHECKING:  # the lab's machinery loads when a command runs: `--help` stays fast
    from lab.scenario.model import Scenario
    from lab.server.app import Lab

EMBEDDED = "embedded"  # lab.upstream's name for moto in process


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the lab in the foreground: ECR, STS, IAM and the registry on one port",
        description="Serve the ECR API, STS, IAM and the Docker Registry v2 API on one local "
        "port, enforcing repository and identity policies as AWS does. The state directory "
        "remembers the account, region, upstream and scenario: a restart needs no flags.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; any other address is reachable from the "
        "network with the admin key test/test: a warning says so)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    add_state_dir_option(serve, "where everything is kept")
    serve.add_argument(
        "--upstream",
        help="where IAM lives: 'embedded' (moto in process, the default) or a URL such as "
        "LocalStack's http://127.0.0.1:4566",
    )
    serve.add_argument("--account", help=f"the lab's account id (default {DEFAULT_ACCOUNT})")
    serve.add_argument("--region", help=f"the lab's region (default {DEFAULT_REGION})")
    serve.add_argument(
        "--scenario",
        help="deploy this scenario (NAME or FILE) at start; its region (and account) win",
    )
    serve.add_argument(
        "--lifecycle-interval",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="evaluate lifecycle policies every SECONDS (default 3600; 0: only on demand)",
    )
    serve.add_argument(
        "--upstream-registry",
        action="append",
        default=[],
        type=upstream_registry,
        metavar="URL=ADDRESS",
        help="pull through cache: serve the upstream registry URL a rule names (such as "
        "registry-1.docker.io) from a registry on the loopback (such as http://127.0.0.1:5000); "
        "repeatable",
    )
    serve.set_defaults(func=run_serve)


def upstream_registry(spec: str) -> tuple[str, str]:
    """`URL=ADDRESS` as a pair; the address must be an http(s) URL on the loopback."""
    from urllib.parse import urlsplit

    url, _, address = spec.partition("=")
    where = urlsplit(address)
    if not url or where.scheme not in ("http", "https") or exposure_warning(where.hostname or ""):
        raise argparse.ArgumentTypeError(
            f"expected URL=http://127.0.0.1:PORT (a registry on the loopback), not {spec!r}"
        )
    return url, address.rstrip("/")


def check_upstream(spec: str) -> None:
    """An upstream is 'embedded' or the URL of an IAM endpoint that answers; else one line."""
    if spec == EMBEDDED:
        return
    from urllib.parse import urlsplit

    from lab.server.client import reachable

    where = urlsplit(spec)
    if where.scheme not in ("http", "https") or not where.hostname:
        raise CommandError(
            f"--upstream must be {EMBEDDED!r} or a URL such as http://127.0.0.1:4566, not {spec!r}",
            2,
        )
    problem = reachable(spec)
    if problem:
        raise CommandError(f"the IAM upstream {spec} does not answer ({problem})")


def exposure_warning(host: str) -> str | None:
    """A warning when the bind address is reachable from other machines."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it resolves to a network interface
        loopback = False
    if loopback:
        return None
    return (
        f"warning: --host {host} serves the lab to the network: anyone who reaches this "
        "machine can sign in as the admin (access key test, secret test) and change "
        "everything; bind 127.0.0.1 unless you mean it"
    )


def env_hint(endpoint: str, principal: str) -> str:
    """The command that gives a shell `principal`'s credentials, as this user can paste it."""
    where = "" if endpoint == endpoint_from_env() else f" --endpoint {endpoint}"
    return f'eval "$({command_name()} env {principal}{where})"'


def lab_settings(args: argparse.Namespace, record: dict) -> LabConfig:
    """Flags first, then what the state directory recorded, then the defaults."""

    def setting(name: str, default: str) -> str:
        return getattr(args, name) or record.get(name) or default

    return LabConfig(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        upstream=setting("upstream", EMBEDDED),
        account=setting("account", DEFAULT_ACCOUNT),
        region=setting("region", DEFAULT_REGION),
        lifecycle_interval=args.lifecycle_interval,
        upstream_registries=tuple(getattr(args, "upstream_registry", None) or ()),
    )


def load_scenario(name_or_file: str) -> Scenario:
    from lab.scenario.locate import load
    from lab.scenario.parse import ScenarioError

    try:
        return load(name_or_file)
    except ScenarioError as error:
        raise CommandError(str(error), 2) from None


def run_serve(args: argparse.Namespace) -> int:
    from lab.scenario.deploy import scenario_config

    check_usable(args.state_dir)
    record = read_record(args.state_dir)
    config = lab_settings(args, record)
    scenario = load_scenario(args.scenario) if args.scenario else None
    if scenario is not None:
        config = scenario_config(config, scenario)
    check_upstream(config.upstream)
    warning = exposure_warning(config.host)
    if warning:
        print(f"ecr-lab: {warning}", file=sys.stderr, flush=True)
    try:  # the lab takes the state directory's lock first: one lab per directory
        return serve(config, scenario, record)
    except StateDirectoryInUse as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        if error.errno not in _DISK_FULL:
            raise
        where = error.filename or config.state_dir
        raise CommandError(f"cannot write to {where}: {error.strerror}") from None


# The address is taken, not ours to bind, or not on this machine.
_CANNOT_BIND = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})
# No room to write: the disk or the user's quota is full, or the file size limit is reached.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def serve(config: LabConfig, scenario: Scenario | None, record: dict) -> int:
    """Start the lab, bring back what the state recorded, deploy the scenario (idempotent on a
    kept state dir), record it, and serve until SIGINT or SIGTERM."""
    from botocore.exceptions import ClientError

    from lab.scenario.deploy import deploy
    from lab.server.run import RunningLab
    from lab.server.state import Instance

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        running = RunningLab(config)
    except OSError as error:
        if error.errno not in _CANNOT_BIND:
            raise  # e.g. a full disk while the lab opens its state
        raise CommandError(
            f"cannot listen on {config.host}:{config.port}: {error.strerror} "
            "(another lab? choose another --port)"
        ) from None
    lab = running.lab
    lab.ready = scenario is None  # health says "starting" until the scenario is deployed
    lab.scenario = scenario.name if scenario else record.get("scenario")
    recorded = record.get("instances") or {}
    lab.instances.update({name: Instance(**known) for name, known in recorded.items()})
    with running:
        if scenario is not None:
            try:
                deploy(lab, scenario)
            except (ValueError, ClientError, AwsError) as error:  # e.g. a remote IAM refuses
                raise CommandError(f"deploying scenario {scenario.name} failed: {error}") from None
        write_record(
            config.state_dir,
            {
                "account": config.account,
                "region": config.region,
                "upstream": config.upstream,
                "scenario": lab.scenario,
                "instances": {name: vars(known) for name, known in lab.instances.items()},
            },
        )
        lab.ready = True
        print(startup_lines(lab), flush=True)
        stop.wait()
    return 0


def startup_lines(lab: Lab) -> str:
    """What `serve` prints once ready: the address it bound, and how to become a principal."""
    config, url = lab.config, lab.endpoint_url
    port = lab.registry_host.rpartition(":")[2]
    bound = f"http://{config.host}:{port}"
    local = "" if bound == url else f"; from this machine {url}"
    lines = [
        f"ecr-lab listening on {bound} (registry {lab.registry_host}{local}, "
        f"account {config.account}, region {config.region}, state {config.state_dir})"
    ]
    if lab.instances:
        names = sorted(lab.instances)
        lines.append(
            f"scenario {lab.scenario or '(none)'}: instances {', '.join(names)} "
            f"(try: {env_hint(url, names[0])})"
        )
    else:
        lines.append(f"no scenario deployed; the admin's credentials: {env_hint(url, 'admin')}")
    return "\n".join(lines)
