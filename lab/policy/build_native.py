"""Compile the policy engine's hot modules with mypyc (lab/policy/native.py says how they load).

python -m lab.policy.build_native [--if-stale] [--status]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from lab.policy.native import build, home, state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.policy.build_native", description=__doc__)
    parser.add_argument("--if-stale", action="store_true", help="build only if not ready")
    parser.add_argument("--status", action="store_true", help="only say whether it is ready")
    args = parser.parse_args(argv)
    now = state()
    if args.status:
        print(f"compiled policy engine: {now} ({home()})")
        return 0
    if args.if_stale and now in ("ready", "off"):
        return 0
    print(f"compiling the policy engine with mypyc into {home()} (about 20 s)", flush=True)
    try:
        build()
    except subprocess.CalledProcessError as error:
        sys.stderr.write(error.stdout.decode(errors="replace")[-3000:])
        sys.stderr.write(error.stderr.decode(errors="replace")[-3000:])
        print("mypyc failed: the policy engine runs as Python", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot build: {error}; the policy engine runs as Python", file=sys.stderr)
        return 1
    print(f"compiled policy engine: {state()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
