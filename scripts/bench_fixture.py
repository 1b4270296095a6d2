"""Per-test cost of the pytest plugin's fixtures beside plain moto `mock_aws`, in one run.

Each mode runs N copies of the same trivial test (one new ECR client, one CreateRepository)
in its own pytest subprocess; a small plugin there records each test's setup + call +
teardown time. The first test pays the imports and the first lab's start (shown apart); the
per-test cost is the median of the others.

    .venv/bin/python scripts/bench_fixture.py [-n 50] [--target-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

KEYS = "aws_access_key_id='testing', aws_secret_access_key='testing', region_name='us-east-1'"
# Each mode: (fixture parameters, test body); `i` is the test's number.
MODES = {
    "no fixture (pytest only)": ("", "pass"),
    "moto mock_aws": (
        "",
        f"with mock_aws():\n"
        f"    boto3.client('ecr', {KEYS}).create_repository(repositoryName=f'r{{i}}')",
    ),
    "ecr_lab (fresh lab)": (
        ", ecr_lab",
        "ecr_lab.client('ecr').create_repository(repositoryName=f'r{i}')",
    ),
    "ecr_lab_shared (reset)": (
        ", ecr_lab_shared",
        "ecr_lab_shared.client('ecr').create_repository(repositoryName=f'r{i}')",
    ),
}

RECORDER = """
import json, os
from collections import defaultdict

_times = defaultdict(float)


def pytest_runtest_logreport(report):
    _times[report.nodeid] += report.duration


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump(list(_times.values()), out)
"""


def test_file(parameters: str, body: str, count: int) -> str:
    """The generated test module: `count` copies of one test."""
    return (
        "import boto3\nimport pytest\nfrom moto import mock_aws\n\n\n"
        f"@pytest.mark.parametrize('i', range({count}))\n"
        f"def test_trivial(i{parameters}):\n" + textwrap.indent(body, "    ") + "\n"
    )


def run_mode(parameters: str, body: str, count: int) -> list[float]:
    """Seconds per test, in order, for `count` copies of one trivial test."""
    with tempfile.TemporaryDirectory(prefix="bench-fixture-") as folder:
        root = Path(folder)
        (root / "conftest.py").write_text(RECORDER)
        (root / "test_bench.py").write_text(test_file(parameters, body, count))
        out = root / "times.json"
        # The user's AWS settings must not reach moto's or the lab's clients.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["BENCH_OUT"] = str(out)
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="tests per mode (default 50)")
    parser.add_argument("--target-ms", type=float, default=50.0, help="goal for the shared lab")
    args = parser.parse_args()
    print(f"{'mode':<26} {'first test':>11} {'per test (median)':>18} {'p90':>8}")
    results = {}
    for name, (parameters, body) in MODES.items():
        times = run_mode(parameters, body, args.n)
        rest = sorted(times[1:])
        results[name] = statistics.median(rest)
        p90 = rest[int(0.9 * (len(rest) - 1))]
        print(
            f"{name:<26} {times[0] * 1000:>9.0f}ms {results[name] * 1000:>16.1f}ms "
            f"{p90 * 1000:>6.1f}ms"
        )
    shared = results["ecr_lab_shared (reset)"] * 1000
    verdict = "meets" if shared <= args.target_ms else "misses"
    print(f"shared lab: {shared:.1f} ms per test {verdict} the {args.target_ms:.0f} ms target")
    return 0 if shared <= args.target_ms else 1


if __name__ == "__main__":
    sys.exit(main())
