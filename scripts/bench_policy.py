"""Benchmark `ecr-lab simulate --batch` against the iam-simulate oracle on the same cases.

Usage: .venv/bin/python scripts/bench_policy.py [--cases 20000] [--seed 20261128] [--jobs N]
[--policy-sets 20] [--rss-lines 1000000] [--runs 3]
Needs node and `npm ci --prefix tests/oracle`. Prints evaluations/s end to end, without process
start-up (measured as a run on no cases) and per CPU second (steady on a busy machine), CPU
microseconds per case, the engine/oracle ratios, and each evaluator's peak memory (its
resident set, or the summed PSS of the engine and its worker processes). The engine runs
`--jobs N` worker processes (default: one per CPU); the oracle is single-threaded, so the per
CPU second ratio is the fair one. Each runs `--runs` times in turn with the other, and the
run of median wall time is reported: a shared machine's speed drifts by a quarter from run to
run. `--rss-lines N`
then streams N lines (the generated cases over and over) through the engine alone and prints
its peak memory as the lines go by: it stays flat. Last, the engine's CPU per case by stage, in
this process: reading the line, reading and validating the policies (none cached), evaluating.
The engine's modules are compiled to bytecode first, as pip leaves an installed package; the
first line says whether its hot modules run compiled by mypyc (scripts/setup.sh builds them).
Two workloads: generated cases, nearly every one with its own policies; then "repeated policies",
as a CI batch checks a few policy sets against many requests, where the decisions of both must
also agree (but for the oracle's recorded departures from AWS).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import gc
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the case generator and runners live with the tests

from lab.policy import native  # noqa: E402
from lab.policy.batch import default_jobs  # noqa: E402
from lab.policy.cli import BATCH_GC_THRESHOLD  # noqa: E402
from tests.oracle.cases import generate, generate_repeated  # noqa: E402
from tests.oracle.known_bugs import explain  # noqa: E402
from tests.oracle.processes import (  # noqa: E402
    BatchRun,
    engine_command,
    oracle_command,
    run_batch,
    tree_rss_kib,
)

TARGET_RATIO = 10.0


@dataclass(frozen=True)
class Measure:
    """One evaluator's numbers on the whole case set."""

    name: str
    run: BatchRun
    startup_seconds: float

    @property
    def per_second(self) -> float:
        return len(self.run.answers) / self.run.seconds

    @property
    def per_second_warm(self) -> float:
        return len(self.run.answers) / max(self.run.seconds - self.startup_seconds, 1e-9)

    @property
    def per_cpu_second(self) -> float:
        return len(self.run.answers) / max(self.run.cpu_seconds, 1e-9)

    @property
    def cpu_us_per_case(self) -> float:
        return self.run.cpu_seconds / max(len(self.run.answers), 1) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--policy-sets", type=int, default=20)
    parser.add_argument("--rss-lines", type=int, default=0, help="lines for the memory run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, medians reported")
    args = parser.parse_args(argv)
    # As pip leaves an installed package: where PYTHONDONTWRITEBYTECODE is set, an editable
    # install would otherwise compile every module from source at each start.
    compileall.compile_dir(ROOT / "lab", quiet=1)
    engine_name = f"ecr-lab simulate -j{args.jobs}"
    engine_cmd = [*engine_command(), "--jobs", str(args.jobs)]
    cases = generate(args.cases, args.seed)
    engine, oracle = compare(engine_name, engine_cmd, cases, args.runs)
    print(f"engine modules: {_engine_build()}")
    print(
        f"{len(cases):,} cases, seed {args.seed}, medians of {args.runs} runs, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    report(engine, oracle)
    repeated = generate_repeated(args.cases, args.seed, args.policy_sets)
    engine, oracle = compare(engine_name, engine_cmd, repeated, args.runs)
    print(
        f"\nrepeated policies: {len(repeated):,} cases over {args.policy_sets} distinct policy "
        f"sets, seed {args.seed}, medians of {args.runs} runs, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    report(engine, oracle)
    unexplained = report_agreement(repeated, engine.run, oracle.run)
    if args.rss_lines:
        report_memory(engine_name, engine_cmd, cases, args.rss_lines)
    report_stages(cases)
    return 1 if unexplained else 0


def _engine_build() -> str:
    """Whether the engine runs compiled (python -m lab.policy.build_native) or as Python."""
    now = native.state()
    return "compiled by mypyc" if now == "ready" else f"Python (compiled build {now})"


def compare(
    engine_name: str, engine_cmd: list[str], cases: list[dict], runs: int
) -> tuple[Measure, Measure]:
    """The engine's and the oracle's measures on the same cases: each runs `runs` times, in
    turn with the other (the machine's speed drifts from run to run), and its measure is the
    run of median wall time, with the median start-up (a run on no cases)."""
    commands = {engine_name: engine_cmd, "iam-simulate (node)": oracle_command()}
    starts: dict[str, list[float]] = {name: [] for name in commands}
    full: dict[str, list[BatchRun]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            starts[name].append(run_batch(command, []).seconds)
            full[name].append(run_batch(command, cases))
    engine, oracle = (
        Measure(
            name,
            sorted(full[name], key=lambda run: run.seconds)[runs // 2],
            statistics.median(starts[name]),
        )
        for name in commands
    )
    return engine, oracle


def report(engine: Measure, oracle: Measure) -> None:
    """Print the table, the engine/oracle ratios and the verdict against the target."""
    header = (
        "evaluator",
        "wall s",
        "start s",
        "evals/s",
        "warm/s",
        "cpu s",
        "per cpu s",
        "cpu us/case",
        "peak memory",
    )
    print(f"{header[0]:<26}" + "".join(f"{h:>{max(11, len(h) + 1)}}" for h in header[1:]))
    for m in (engine, oracle):
        print(
            f"{m.name:<26}{m.run.seconds:>11.2f}{m.startup_seconds:>11.2f}"
            f"{m.per_second:>11,.0f}{m.per_second_warm:>11,.0f}"
            f"{m.run.cpu_seconds:>11.2f}{m.per_cpu_second:>11,.0f}"
            f"{m.cpu_us_per_case:>12.1f}{m.run.peak_rss_kib / 1024:>7.0f} MiB"
        )
    ratios = {
        "end to end": engine.per_second / oracle.per_second,
        "without start-up": engine.per_second_warm / oracle.per_second_warm,
        "per CPU second": engine.per_cpu_second / oracle.per_cpu_second,
    }
    print("\nratio engine/oracle: " + ", ".join(f"{r:.1f}x {k}" for k, r in ratios.items()))
    verdict = "meets" if ratios["end to end"] >= TARGET_RATIO else "misses"
    print(f"target {TARGET_RATIO:.0f}x end to end: {verdict}")


def report_memory(name: str, command: list[str], cases: list[dict], total: int) -> None:
    """Stream `total` lines (the cases over and over) through the engine; print its process
    tree's peak memory (summed PSS) at each tenth of the answers, and the CPU time per case."""
    lines = [json.dumps(case, separators=(",", ":")).encode() + b"\n" for case in cases]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin and process.stdout
    peak, marks = [0], []

    def feed() -> None:
        for line in itertools.islice(itertools.cycle(lines), total):
            process.stdin.write(line)
        process.stdin.close()

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss_kib(process.pid))
            time.sleep(0.05)

    threads = [threading.Thread(target=feed), threading.Thread(target=sample)]
    for thread in threads:
        thread.start()
    started, answered, step = time.perf_counter(), 0, max(total // 10, 1)
    for _ in process.stdout:
        answered += 1
        if answered % step == 0:
            marks.append((answered, peak[0]))
    _, _, usage = os.wait4(process.pid, 0)
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"\nmemory: {answered:,} lines through {name} in {seconds:.1f} s, "
        f"{cpu / max(answered, 1) * 1e6:.1f} CPU us/case, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "peak memory (PSS of the engine and its workers) after "
        + ", ".join(f"{count:,}: {kib / 1024:.0f} MiB" for count, kib in marks)
    )


def report_stages(cases: list[dict]) -> None:
    """CPU microseconds per case of each stage of an answer, the best of 3 runs over the
    cases in this process (cold policy cache for the validation stage)."""
    from lab.policy import batch
    from lab.policy.evaluate import evaluate

    lines = [json.dumps(case, separators=(",", ":")).encode() for case in cases]
    decoded = [batch._read_line(line)[0] for line in lines]

    def validate() -> list[tuple[Any, Any]]:
        batch._PARSED.clear()
        read = []
        for case in decoded:
            with contextlib.suppress(batch.CaseError):
                read.append(batch._read_case(case, batch._orjson_key))
        return read

    read = validate()

    def decode() -> None:
        for line in lines:
            batch._read_line(line)

    def decide() -> None:
        for request, policies in read:
            evaluate(request, policies, trace=False, lowered=True)

    def answer() -> None:
        batch._PARSED.clear()
        batch.answer_lines(lines)

    stages = {"read line": decode, "read + validate": validate, "evaluate": decide}
    stages["whole answer"] = answer
    gc.freeze()  # as `simulate --batch` runs: what is loaded now is never scanned
    gc.set_threshold(*BATCH_GC_THRESHOLD)
    costs = {name: _best_cpu(stage) / len(lines) * 1e6 for name, stage in stages.items()}
    print(
        "\nengine CPU us per case, one process: "
        + ", ".join(f"{name} {cost:.1f}" for name, cost in costs.items())
    )


def _best_cpu(stage: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        stage()
        best = min(best, time.process_time() - started)
    return best


def report_agreement(cases: list[dict], engine: BatchRun, oracle: BatchRun) -> int:
    """Print how often the decisions differ and why; returns the unexplained count (must be 0)."""
    differ = [
        (case, mine, theirs)
        for case, mine, theirs in zip(cases, engine.answers, oracle.answers, strict=True)
        if mine["decision"] != theirs["decision"]
    ]
    reasons = Counter(explain(*disagreement) for disagreement in differ)
    unexplained = reasons.pop(None, 0)
    recorded = ", ".join(f"{count} {name}" for name, count in reasons.most_common())
    print(
        f"decisions: {len(cases) - len(differ):,} agree, {len(differ) - unexplained:,} differ by"
        f" recorded oracle bugs ({recorded or 'none'}), {unexplained} unexplained"
    )
    return unexplained


if __name__ == "__main__":
    sys.exit(main())
