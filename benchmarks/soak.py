"""Run the main job (the conformance suites on the embedded default) N times in a row and
print, per run, pass or fail, how long it took, and what failed.

    python3 benchmarks/soak.py [--runs 20] [-- PYTEST ARGS...]

Each run is the command `tox -e conformance` runs (pytest on suites/ with the default
inventory), in a fresh interpreter with its own simulator. A flake shows up as one red
run among greens, with the failed tests and the first line of each message; the runs'
JUnit files are kept in reports/soak/ for the rest. Exit status 1 when any run failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def failures(junit: Path) -> list[str]:
    """'test id: first line of the message' for each failed or errored test."""
    if not junit.exists():
        return ["(no JUnit XML written: the run did not get to its tests)"]
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is not None:
                message = (element.get("message") or element.text or "").strip().splitlines()
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                found.append(f"{name} ({kind}): {message[0][:200] if message else ''}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = parser.parse_args()
    out = ROOT / "reports" / "soak"
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "CONFORMANCE_RUN_ID"}
    durations: list[float] = []
    red = 0
    for number in range(1, args.runs + 1):
        junit = out / f"run-{number:02d}.xml"
        junit.unlink(missing_ok=True)
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites",
                "-p",
                "no:cacheprovider",
                "-q",
                f"--junitxml={junit}",
                *args.pytest_args,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - started
        durations.append(took)
        summary = next(
            (line for line in reversed(done.stdout.splitlines()) if " in " in line), ""
        ).strip("= ")
        verdict = "pass" if done.returncode == 0 else f"FAIL (exit {done.returncode})"
        print(f"run {number:2d}/{args.runs}: {verdict:<16} {took:6.1f}s  {summary}", flush=True)
        if done.returncode != 0:
            red += 1
            for line in failures(junit) or [done.stdout.strip().splitlines()[-1:]]:
                print(f"    {line}", flush=True)
    print(
        f"{args.runs - red}/{args.runs} green; median {statistics.median(durations):.1f}s, "
        f"max {max(durations):.1f}s per run"
    )
    return 1 if red else 0


if __name__ == "__main__":
    raise SystemExit(main())
