"""`ecr-lab simulate`: AWS's decision for one request (flags) or for a JSONL batch."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

from lab.policy import batch
from lab.policy.evaluate import evaluate
from lab.policy.explain import render_text
from lab.policy.workers import WorkerError

EXIT_ALLOWED = 0
EXIT_DENIED = 1
EXIT_ERROR = 2

_EPILOG = f"""\
exit status: {EXIT_ALLOWED} allowed, {EXIT_DENIED} denied (explicit or implicit), {EXIT_ERROR} error
or usage. With --batch the status is {EXIT_ALLOWED} once every line is answered; a case that cannot
be evaluated answers {{"decision": "error", "error": ...}} and the batch goes on.

batch input, one JSON object per line:
  {{"principal": ARN, "action": "ecr:BatchGetImage", "resource": ARN or "*",
   "identity_policies": [DOC, ...], "resource_policy": DOC or null,
   "permissions_boundary": DOC, "session_policy": DOC, "registry_policy": DOC,
   "context": {{"aws:SourceIp": "10.0.2.38"}}}}
batch output, one JSON object per line, in order:
  {{"decision": "allowed" | "explicit_deny" | "implicit_deny", "message": "...",
   "matched": [{{"policy": "identity" | "resource" | "boundary" | "session" | "registry",
                "index": N, "statement": I, "sid": "..." or null}}]}}
"""


def register(subparsers: Any) -> None:
    """Add the `simulate` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="evaluate a request against IAM and ECR policies as AWS does",
        description="AWS's decision (allowed, explicit deny, implicit deny) and its message for "
        "one request, or for every case of a JSONL batch.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--batch", metavar="FILE|-", help="JSONL cases from FILE or stdin")
    parser.add_argument(
        "--jobs",
        metavar="N",
        type=_positive,
        default=batch.default_jobs(),
        help="worker processes for --batch (default: one per CPU, %(default)s here)",
    )
    parser.add_argument("--principal", metavar="ARN", help="the caller, e.g. a role session ARN")
    parser.add_argument("--action", metavar="ACTION", help="e.g. ecr:BatchGetImage")
    parser.add_argument("--resource", metavar="ARN", help='the resource ARN, or "*"')
    parser.add_argument(
        "--identity-policy", metavar="FILE", action="append", default=[], help="repeatable"
    )
    parser.add_argument("--resource-policy", metavar="FILE")
    parser.add_argument("--permissions-boundary", metavar="FILE")
    parser.add_argument("--session-policy", metavar="FILE")
    parser.add_argument(
        "--registry-policy", metavar="FILE", help="ECR's registry policy, where its scope applies"
    )
    parser.add_argument(
        "--context",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a condition key; repeat a key for a multivalued one",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=simulate)


def simulate(args: argparse.Namespace) -> int:
    """Run the batch or the single request; the exit status says allowed, denied or error."""
    if args.batch:
        return _run_batch(args.batch, args.jobs)
    missing = [
        f"--{name}" for name in ("principal", "action", "resource") if not getattr(args, name)
    ]
    if missing:
        print(f"ecr-lab simulate: {', '.join(missing)} required without --batch", file=sys.stderr)
        return EXIT_ERROR
    try:
        case = _case(args)
        request, policies = batch.read_case(case)
    except (OSError, ValueError) as error:
        print(f"ecr-lab simulate: {error}", file=sys.stderr)
        return EXIT_ERROR
    decision = evaluate(request, policies)
    if args.format == "json":
        shown = batch.answer(decision) | {
            "rule": decision.rule,
            "trace": [dataclasses.asdict(trace) for trace in decision.trace],
        }
        print(json.dumps(shown, indent=2))
    else:
        print(render_text(request, decision), end="")
    return EXIT_ALLOWED if decision.allowed else EXIT_DENIED


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


# A case's objects die with it and hold no cycles but a cached error's: collect rarely.
BATCH_GC_THRESHOLD = (100_000, 50, 1000)


def _run_batch(source: str, jobs: int) -> int:
    try:
        fd = sys.stdin.fileno() if source == "-" else os.open(source, os.O_RDONLY)
    except OSError as error:
        print(f"ecr-lab simulate: {error}", file=sys.stderr)
        return EXIT_ERROR
    gc.freeze()  # what is loaded now lives as long as the batch: no collection need scan it
    gc.set_threshold(*BATCH_GC_THRESHOLD)
    try:
        batch.run(fd, sys.stdout.buffer, jobs)
    except WorkerError as error:  # answers stop there: the batch is not complete
        print(f"ecr-lab simulate: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if source != "-":
            os.close(fd)
    return EXIT_ALLOWED


def _case(args: argparse.Namespace) -> dict[str, Any]:
    """The flags as a batch case, so both forms share one reading of cases."""
    context: dict[str, str | list[str]] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--context {item!r} is not KEY=VALUE")
        previous = context.get(key)
        if previous is None:
            context[key] = value
        else:
            context[key] = [*([previous] if isinstance(previous, str) else previous), value]
    return {
        "principal": args.principal,
        "action": args.action,
        "resource": args.resource,
        "identity_policies": [_read(path) for path in args.identity_policy],
        "resource_policy": _read(args.resource_policy),
        "permissions_boundary": _read(args.permissions_boundary),
        "session_policy": _read(args.session_policy),
        "registry_policy": _read(args.registry_policy),
        "context": context,
    }


def _read(path: str | None) -> str | None:
    return None if path is None else Path(path).read_text()
