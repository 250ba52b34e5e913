"""Where fio runs: in the workload container when its image has fio; else in a pod of
``workload.fio_image`` on the same node, using the same claim, deleted afterwards."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from conformance import inventory as inv
from conformance import observe
from conformance.deployments import Case, Deployment
from conformance.nodes.base import CommandResult
from tests.conftest import ROOT

FIO_JSON = (
    Path(ROOT / "tests/data/real/fio/kubestr-3.20-pvc-gtod-reduce.txt")
    .read_text()
    .split("# ---\n")[1]
)


class FakeCluster:
    """The calls a Deployment makes, answered from memory; records what was done."""

    def __init__(self, *, fio_in_workload: bool) -> None:
        self.fio_in_workload = fio_in_workload
        self.applied: list[dict[str, Any]] = []
        self.ran: list[tuple[str, list[str]]] = []
        self.deleted: list[str] = []
        self.timeouts = SimpleNamespace(command=30.0)
        self.core = SimpleNamespace(read_namespaced_pod="read_namespaced_pod")

    def call(self, fn: Any, name: str, namespace: str) -> Any:
        claim = SimpleNamespace(claim_name="data-web-0")
        volume = SimpleNamespace(name="data", persistent_volume_claim=claim)
        return SimpleNamespace(
            metadata=SimpleNamespace(name=name),
            spec=SimpleNamespace(node_name="node-2", volumes=[volume]),
        )

    def exec(self, namespace: str, pod: str, argv: list[str], **_: Any) -> CommandResult:
        self.ran.append((pod, argv))
        if argv[:2] == ["sh", "-c"] and "command -v fio" in argv[2]:
            found = self.fio_in_workload or pod != "web-0"
            return CommandResult(
                " ".join(argv), "/usr/bin/fio\n" if found else "", "", 0 if found else 127, 0.0
            )
        if argv[0] == "fio":
            return CommandResult("fio", FIO_JSON, "", 0, 1.0)
        return CommandResult(" ".join(argv), "", "", 0, 0.0)

    def apply(self, manifest: dict[str, Any], namespace: str) -> None:
        self.applied.append(manifest)

    def wait_pods(self, namespace: str, predicate: Any, **_: Any) -> None:
        return None

    def delete_pod(self, namespace: str, name: str) -> None:
        self.deleted.append(name)


def deployment(cluster: FakeCluster) -> Deployment:
    loaded = inv.load(ROOT / "inventories" / "sim.yaml")
    case = Case(loaded.storage[0], 2, inv.PodManagementPolicy.ORDERED_READY)
    return Deployment(cluster, loaded, case, "ns", "cls", {})  # type: ignore[arg-type]


def test_fio_runs_in_the_workload_container_when_its_image_has_it() -> None:
    cluster = FakeCluster(fio_in_workload=True)
    run = observe.run_fio(deployment(cluster), "web-0")
    assert run.ran_in == "the workload container"
    assert [pod for pod, argv in cluster.ran if argv[0] == "fio"] == ["web-0"]
    assert cluster.applied == []
    assert run.figures


def test_without_fio_in_the_image_a_fio_pod_beside_it_runs_fio_and_goes() -> None:
    cluster = FakeCluster(fio_in_workload=False)
    run = observe.run_fio(deployment(cluster), "web-0")
    (pod,) = cluster.applied
    name = pod["metadata"]["name"]
    assert run.ran_in.startswith(f"pod {name} (ghcr.io/kastenhq/kubestr:latest)")
    assert [p for p, argv in cluster.ran if argv[0] == "fio"] == [name]
    spec = pod["spec"]
    assert spec["containers"][0]["image"] == "ghcr.io/kastenhq/kubestr:latest"
    assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-web-0"
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["node-2"]
    assert cluster.deleted == [name]
    assert run.figures
