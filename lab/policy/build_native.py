"""Compile the policy engine's hot modules with mypyc (lab/policy/native.py says how they load).

python -m lab.policy.build_native [--if-stale] [--status]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import subprocess
import sys
from pathlib import Path

from lab.policy.native import CHECKED, PACKAGE, build, home, state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.policy.build_native", description=__doc__)
    parser.add_argument(
        "--if-stale",
        action="store_true",
        help="build only if not ready, and not if it failed on these sources before",
    )
    parser.add_argument("--status", action="store_true", help="only say whether it is ready")
    args = parser.parse_args(argv)
    return run(home(), status=args.status, if_stale=args.if_stale)


def run(where: Path, *, status: bool = False, if_stale: bool = False) -> int:
    now = state(where)
    if status:
        print(f"compiled policy engine: {now} ({where})")
        return 0
    if if_stale and now in ("ready", "off"):
        return 0
    failed = where.with_name(where.name + ".failed")  # the sources a build failed on
    if if_stale and failed.is_file() and failed.read_text() == _signature():
        print("the policy engine runs as Python: compiling these sources failed before")
        print("(python -m lab.policy.build_native tries again)")
        return 0
    print(f"compiling the policy engine with mypyc into {where} (about 20 s)", flush=True)
    try:
        build(where)
    except (subprocess.CalledProcessError, OSError) as error:
        if isinstance(error, subprocess.CalledProcessError):
            sys.stderr.write(error.stdout.decode(errors="replace")[-3000:])
            sys.stderr.write(error.stderr.decode(errors="replace")[-3000:])
        print(f"compiling failed ({error}): the policy engine runs as Python", file=sys.stderr)
        with contextlib.suppress(OSError):
            failed.parent.mkdir(parents=True, exist_ok=True)
            failed.write_text(_signature())
        return 1
    failed.unlink(missing_ok=True)
    print(f"compiled policy engine: {state(where)}")
    return 0


def _signature() -> str:
    """The sources and interpreter a build would be made from."""
    digest = hashlib.sha256(sys.version.encode())
    for path in CHECKED:
        digest.update((PACKAGE / path).read_bytes())
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
