"""The `ecr-lab` command: each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from lab import __version__
from lab.errors import CommandError

# Modules that expose `register(subparsers)`, with the subcommands each adds (parsers that
# carry `func(args) -> int` as their default); tests/test_cli_commands.py checks the names.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "lab.policy.cli": ("simulate",),
    "lab.scenario.serve": ("serve",),  # serve first: the command a newcomer runs first
    "lab.server.cli": ("env", "status", "reset"),
    "lab.server.lifecycle_cli": ("lifecycle",),
    "lab.scenario.cli": ("demo", "explain", "shell"),
    "lab.lint.cli": ("lint",),
    "lab.workshop.cli": ("exercise",),
    "lab.cfn.cli": ("deploy-cfn",),
}
_MODULE_OF = {command: module for module, names in COMMAND_MODULES.items() for command in names}
INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a command ended by Ctrl-C
DEBUG_VARIABLE = "ECR_LAB_DEBUG"  # set: an unexpected error shows its traceback


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with a known `command`, only its module's (a batch run of
    `simulate` then starts without importing the server)."""
    parser = argparse.ArgumentParser(
        prog="ecr-lab",
        description="Amazon ECR repository policies, offline: AWS's APIs, docker push/pull "
        "and AWS's decisions on one local port.",
    )
    parser.add_argument("--version", action="version", version=f"ecr-lab {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    module = _MODULE_OF.get(command or "")
    for name in (module,) if module else COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def fail(message: str, status: int) -> int:
    print(f"ecr-lab: {message}", file=sys.stderr, flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends as one line on stderr and a non-zero status."""
    try:
        given = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(given[0] if given else None).parse_args(given)
        return int(args.func(args) or 0)
    except CommandError as error:
        return fail(str(error), error.status)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the exit
        return fail("interrupted", INTERRUPTED)
    except BrokenPipeError:  # `ecr-lab ... | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # exit flushes nothing
        return 1
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        return fail(
            f"unexpected {type(error).__name__}: {error} "
            f"(run with {DEBUG_VARIABLE}=1 for the traceback)",
            1,
        )


if __name__ == "__main__":
    sys.exit(main())
