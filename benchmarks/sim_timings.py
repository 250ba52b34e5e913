"""Print how long the simulated cluster takes for what the suites do (run as root).

    python3 benchmarks/sim_timings.py [--profile fast|realistic] [--replicas 3] [--runs 3]

Figures: sim up, StatefulSet Ready with Bound claims, one exec round trip, one SSH
command on a node, pod delete-and-return, sim down. Medians over the runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.cluster import Cluster, pod_ready
from conformance.inventory import load
from conformance.nodes import NodeShells
from conformance.sim import lifecycle
from conformance.sim.control_plane import SimConfig
from conformance.workloads import headless_service, labels, statefulset


def one_run(profile: str, replicas: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sim"
        base = load("inventories/sim.yaml", env={})
        started = time.monotonic()
        running = lifecycle.up(
            SimConfig(
                state_dir=str(state),
                profile=profile,
                base_inventory=base.model_dump(
                    mode="json", include={"storage", "workload", "timeouts"}, exclude_none=True
                ),
            )
        )
        figures["sim up"] = time.monotonic() - started
        try:
            inventory = load(running.inventory, env={})
            cluster = Cluster.from_inventory(inventory)
            cluster.call(cluster.core.create_namespace, {"metadata": {"name": "bench"}})
            entry = inventory.storage[0]
            cluster.apply(
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {"name": "bench"},
                    "provisioner": entry.provisioner,
                    "parameters": {**entry.parameters, "fsType": entry.fs_type},
                }
            )
            tags = labels("bench", "w0")
            started = time.monotonic()
            cluster.apply(headless_service("web", "web", tags), "bench")
            cluster.apply(
                statefulset(
                    name="web",
                    service_name="web",
                    storage=entry,
                    class_name="bench",
                    workload=inventory.workload,
                    replicas=replicas,
                    policy=inventory.workload.pod_management_policy[0],
                    labels=tags,
                ),
                "bench",
            )
            cluster.wait_ready("bench", replicas, selector="app=web")
            figures[f"{replicas} pods Ready, claims Bound"] = time.monotonic() - started
            started = time.monotonic()
            cluster.exec("bench", "web-0", ["true"])
            figures["exec round trip"] = time.monotonic() - started
            shells = NodeShells(
                inventory.nodes,
                inventory.timeouts,
                addresses_of=lambda n: cluster.core.read_node(n).status.addresses,
            )
            node = cluster.core.read_namespaced_pod("web-0", "bench").spec.node_name
            shells.run(node, ["true"])  # connect
            started = time.monotonic()
            shells.run(node, ["lsscsi", "-d"]).check()
            figures["ssh command"] = time.monotonic() - started
            shells.close()
            old = cluster.core.read_namespaced_pod("web-0", "bench").metadata.uid
            started = time.monotonic()
            cluster.core.delete_namespaced_pod("web-0", "bench")
            cluster.wait_pods(
                "bench",
                lambda s: bool(
                    s.objects.get("web-0")
                    and s.objects["web-0"].metadata.uid != old
                    and pod_ready(s.objects["web-0"])
                ),
                what="web-0 back",
            )
            figures["pod delete and return"] = time.monotonic() - started
            cluster.close()
        finally:
            started = time.monotonic()
            lifecycle.down(state)
            figures["sim down"] = time.monotonic() - started
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="fast", choices=("fast", "realistic"))
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.profile, args.replicas) for _ in range(args.runs)]
    print(f"profile {args.profile}, {args.runs} runs, medians (min-max) in seconds:")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(
            f"  {key:<32} {statistics.median(values):7.3f}  ({min(values):.3f}-{max(values):.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
