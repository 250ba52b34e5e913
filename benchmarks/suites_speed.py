"""How long the default suites take on the simulator, and what bounds it.

    python3 benchmarks/suites_speed.py [--profiles fast,realistic] [--entries a,b]
        [--suites provisioning,scaling,...] [-- PYTEST ARGS]

``--entries`` and ``--suites`` hold the checks to those of an earlier measurement (the
suites and entries there were then), so figures before and after compare like for like.

For each latency profile it starts a simulator by hand (`conformance sim up`), runs the
suites of the main job against it, and prints one table:

- wall: the run's wall time;
- floor: the longest single module's own time (its tests' setup, call and teardown
  from the JUnit XML), which no amount of concurrency can beat;
- ratio: wall / floor;
- sets, PVs: StatefulSets and PersistentVolumes created during the run, and
  peak: the most StatefulSets that existed at once, all counted by watching the
  simulator's API (so the figures do not depend on the harness's own bookkeeping).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import yaml
from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parent.parent


class Census:
    """Counts StatefulSets and PVs created, and the peak of sets alive, by watching.
    Objects are counted by UID: a watch resumed after a drop may repeat an event, but a
    re-created set (same name) is a new object."""

    def __init__(self, kubeconfig: str) -> None:
        self.api = config.new_client_from_config(kubeconfig)
        self.created: dict[str, dict[str, str]] = {"sets": {}, "pvs": {}}  # uid -> ns/name
        self.repeated = 0  # ADDED events of an object already counted (a resumed watch)
        self.alive: set[str] = set()
        self.peak = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._follow, args=(kind,), daemon=True)
            for kind in ("sets", "pvs")
        ]

    @property
    def sets(self) -> int:
        return len(self.created["sets"])

    @property
    def pvs(self) -> int:
        return len(self.created["pvs"])

    def _follow(self, kind: str) -> None:
        if kind == "sets":
            lister = client.AppsV1Api(self.api).list_stateful_set_for_all_namespaces
        else:
            lister = client.CoreV1Api(self.api).list_persistent_volume
        version = lister().metadata.resource_version
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(
                    lister, resource_version=version, timeout_seconds=2
                ):
                    obj = event["object"]
                    version = obj.metadata.resource_version
                    key = f"{obj.metadata.namespace}/{obj.metadata.name}"
                    if event["type"] == "ADDED":
                        self.repeated += obj.metadata.uid in self.created[kind]
                        self.created[kind][obj.metadata.uid] = key
                        if kind == "sets":
                            self.alive.add(key)
                            self.peak = max(self.peak, len(self.alive))
                    elif event["type"] == "DELETED" and kind == "sets":
                        self.alive.discard(key)
            except Exception:  # a dropped watch: resume from the last version
                continue

    def __enter__(self) -> Census:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def module_times(junit: Path) -> dict[str, float]:
    times: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit).getroot().iter("testcase"):
        times[case.get("classname", "?")] += float(case.get("time", 0))
    return dict(times)


def one_profile(
    profile: str, pytest_args: list[str], entries: list[str], suites: list[str]
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sim"
        up = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance",
                "sim",
                "up",
                "--profile",
                profile,
                "--state-dir",
                str(state),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if up.returncode != 0:
            raise SystemExit(f"sim up failed: {up.stderr}")
        try:
            inventory = state / "inventory.yaml"
            data = yaml.safe_load(inventory.read_text())
            kubeconfig = data["cluster"]["kubeconfig"]
            if entries:  # the same checks as an earlier measurement: only these entries
                data["storage"] = [e for e in data["storage"] if e["name"] in entries]
                inventory = Path(tmp) / "inventory.yaml"
                inventory.write_text(yaml.safe_dump(data))
            junit = Path(tmp) / "junit.xml"
            env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
            with Census(kubeconfig) as census:
                started = time.monotonic()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        *([f"suites/test_{name}.py" for name in suites] or ["suites"]),
                        "-p",
                        "no:cacheprovider",
                        "-q",
                        "--conformance-inventory",
                        str(inventory),
                        f"--junitxml={junit}",
                        *pytest_args,
                    ],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                wall = time.monotonic() - started
            summary = [line for line in done.stdout.splitlines() if " in " in line][-1:]
            times = module_times(junit) if junit.exists() else {}
            floor = max(times.values(), default=0.0)
            return {
                "profile": profile,
                "wall": wall,
                "floor": floor,
                "ratio": wall / floor if floor else 0.0,
                "sets": census.sets,
                "pvs": census.pvs,
                "peak": census.peak,
                "result": summary[0].strip("= ") if summary else f"exit {done.returncode}",
                "slowest": max(times, key=lambda k: times[k], default="-"),
                "set_names": sorted(census.created["sets"].values()),
                "repeated": census.repeated,
            }
        finally:
            subprocess.run(
                [sys.executable, "-m", "conformance", "sim", "down", "--state-dir", str(state)],
                cwd=ROOT,
                capture_output=True,
                check=False,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="fast,realistic")
    parser.add_argument(
        "--entries", default="", help="storage entries to run (default: all of sim.yaml)"
    )
    parser.add_argument(
        "--suites", default="", help="suite modules without test_ (default: all of suites/)"
    )
    parser.add_argument(
        "--list-sets", action="store_true", help="also print each StatefulSet created"
    )
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    entries = [e for e in args.entries.split(",") if e]
    suites = [s for s in args.suites.split(",") if s]
    rows = [one_profile(p, args.pytest_args, entries, suites) for p in args.profiles.split(",")]
    print(
        f"{'profile':<10} {'wall s':>7} {'floor s':>8} {'ratio':>6} {'sets':>5} {'PVs':>5} "
        f"{'peak':>5}  result (slowest module)"
    )
    for r in rows:
        print(
            f"{r['profile']:<10} {r['wall']:>7.1f} {r['floor']:>8.1f} {r['ratio']:>6.2f} "
            f"{r['sets']:>5} {r['pvs']:>5} {r['peak']:>5}  {r['result']} ({r['slowest']})"
        )
        if args.list_sets:
            print("\n".join(f"  {name}" for name in r["set_names"]))  # type: ignore[attr-defined]
            print(f"  (ADDED events repeated by resumed watches, not counted: {r['repeated']})")


if __name__ == "__main__":
    main()
