"""`ecr-lab serve` and `ecr-lab env`."""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import sys
from pathlib import Path

from lab.server.config import (
    DEFAULT_ACCOUNT,
    DEFAULT_PORT,
    DEFAULT_REGION,
    LabConfig,
    endpoint_from_env,
)


def default_state_dir() -> Path:
    return Path(os.environ.get("ECR_LAB_STATE_DIR", ".ecr-lab"))


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the lab in the foreground: ECR, STS, IAM and the registry on one port",
        description="Serve the ECR API, STS, IAM and the Docker Registry v2 API on one local "
        "port, enforcing repository and identity policies as AWS does.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where everything is kept (default $ECR_LAB_STATE_DIR or ./.ecr-lab)",
    )
    serve.add_argument(
        "--upstream",
        default="embedded",
        help="where IAM lives: 'embedded' (moto in process) or a URL such as LocalStack's",
    )
    serve.add_argument("--account", default=DEFAULT_ACCOUNT, help="the lab's account id")
    serve.add_argument("--region", default=DEFAULT_REGION, help="the lab's region")
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
    serve.set_defaults(func=run_serve)

    env = subparsers.add_parser(
        "env",
        help="print shell exports for a principal of a running lab",
        description="Print `export` lines (credentials, region, AWS_ENDPOINT_URL, ECR_REGISTRY) "
        "for PRINCIPAL: 'admin', an instance of the loaded scenario, or a role ARN. "
        'Use as: eval "$(ecr-lab env instance1)"',
    )
    env.add_argument("principal")
    env.add_argument(
        "--endpoint",
        default=endpoint_from_env(),
        help="the lab's URL (default $ECR_LAB_ENDPOINT or http://127.0.0.1:4577)",
    )
    env.set_defaults(func=run_env)


def run_serve(args: argparse.Namespace) -> int:
    """Serve; a state directory another lab holds, or a full disk, is one line and status 1."""
    from lab.server.state_lock import StateDirectoryInUse

    try:
        return _serve(args)
    except StateDirectoryInUse as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if error.errno not in _DISK_FULL:
            raise
        print(
            f"ecr-lab: cannot write to {error.filename or args.state_dir}: {error.strerror}",
            file=sys.stderr,
        )
        return 1


# No room to write: the disk or the user's quota is full, or the file size limit is reached.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _serve(args: argparse.Namespace) -> int:
    from lab.server.run import open_lab, serve_forever

    config = LabConfig(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        upstream=args.upstream,
        account=args.account,
        region=args.region,
        lifecycle_interval=args.lifecycle_interval,
    )
    if args.scenario:
        from lab.scenario.serve import serve_scenario  # the scenario layer sits above the server

        return serve_scenario(config, args.scenario)
    lab, sock = open_lab(config)
    print(
        f"ecr-lab listening on {lab.endpoint_url} (registry {lab.registry_host}, "
        f"account {config.account}, region {config.region}, state {config.state_dir})",
        flush=True,
    )
    serve_forever(config, lab, sock)
    return 0


def session_environment(answer: dict) -> dict[str, str | None]:
    """The environment a principal's session answer sets (None: the variable is unset)."""
    return {
        "AWS_ACCESS_KEY_ID": answer["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": answer["secretAccessKey"],
        "AWS_SESSION_TOKEN": answer.get("sessionToken"),
        "AWS_DEFAULT_REGION": answer["region"],
        "AWS_ENDPOINT_URL": answer["endpointUrl"],
        "ECR_REGISTRY": answer["registry"],
    }


def export_lines(answer: dict) -> list[str]:
    """Shell lines that put a principal's credentials and the lab's address in the environment."""
    return [
        f"export {name}={shlex.quote(value)}" if value else f"unset {name}"
        for name, value in session_environment(answer).items()
    ]


def run_env(args: argparse.Namespace) -> int:
    from lab.server.client import health, session

    try:
        region = health(args.endpoint)["region"]
        answer = session(args.endpoint, args.principal, region)
    except OSError as error:
        print(f"ecr-lab: no lab answers at {args.endpoint}: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"ecr-lab: {error}", file=sys.stderr)
        return 2
    print("\n".join(export_lines(answer)))
    return 0
