"""`ecr-lab lint POLICY_FILE`: Access Analyzer-style findings for an ECR or identity policy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.lint.checks import Syntax

EXIT_CLEAN = 0  # no ERROR finding (warnings and suggestions may remain)
EXIT_ERRORS = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `lint` subcommand."""
    parser = subparsers.add_parser(
        "lint",
        help="check a policy the way IAM Access Analyzer validates one, for ECR",
        description="Findings (ERROR, SECURITY_WARNING, WARNING, SUGGESTION) with Access "
        "Analyzer's issue codes where it has one, each with its JSON path, line and column. "
        f"Exit status {EXIT_ERRORS} when there is an ERROR, {EXIT_USAGE} when the file cannot "
        f"be read, else {EXIT_CLEAN}.",
    )
    parser.add_argument(
        "policy_file",
        type=Path,
        metavar="POLICY_FILE",
        help="a JSON or YAML policy (.yaml/.yml, or text not starting with '{'), or a "
        "CloudFormation template, whose repositories' RepositoryPolicyText are checked; "
        "'-' for stdin",
    )
    parser.add_argument(
        "--kind",
        choices=("repository", "identity"),
        default="repository",
        help="a repository policy (ECR's rules: Principal required, no Resource) or an "
        "identity policy (IAM's) (default: repository)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=run_lint)


def syntax_of(source: str, text: str) -> Syntax:
    """YAML for a .yaml/.yml file, JSON for .json; otherwise JSON when the text starts so."""
    suffix = Path(source).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if suffix == ".json" or text.lstrip().startswith(("{", "[")) else "yaml"


def run_lint(args: argparse.Namespace) -> int:
    from lab.lint.checks import has_errors, lint
    from lab.lint.findings import render_text

    source = str(args.policy_file)
    try:
        text = sys.stdin.read() if source == "-" else args.policy_file.read_text(encoding="utf-8")
    except OSError as error:
        print(f"ecr-lab: {source}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    findings = lint(text, args.kind, syntax_of(source, text))
    if args.format == "json":
        body = {"findings": [f.to_json() for f in findings]}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(findings, source))
    return EXIT_ERRORS if has_errors(findings) else EXIT_CLEAN
