"""Scheduler, kubelet (on the in-memory node runtime) and endpoints, driven through the store."""

from __future__ import annotations

import ipaddress
from typing import Any

from conformance.sim.api.store import Obj
from conformance.sim.controllers.kubelet import go_duration, normalize_image, set_node_ready
from conformance.sim.runtimes.base import EXEC_UNSUPPORTED, STDERR
from conformance.sim.runtimes.memory import InMemoryRuntime
from tests.sim.test_volumes import (
    ENDPOINTS,
    NODE,
    POD,
    PV,
    PVC,
    SC,
    SERVICE,
    Sim,
    _pod,
    claim,
    run,
    static_pv,
    storage_class,
)

ALL = ("binder", "provisioner", "scheduler", "kubelet", "endpoints")


def plain_pod(name: str, **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "plain"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
    }
    body["spec"].update(spec)
    return body


def node_of(sim: Sim, name: str) -> str | None:
    pod = sim.get(POD, name)
    return None if pod is None else (pod.get("spec") or {}).get("nodeName")


def running(sim: Sim, *names: str) -> bool:
    return all(sim.phase(POD, name) == "Running" for name in names)


# --- nodes ----------------------------------------------------------------------------


def test_registered_nodes_look_like_kubelet_registrations() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=()) as sim:
            node = sim.get(NODE, "node-2")
            assert node is not None
            status = node["status"]
            assert status["addresses"] == [
                {"type": "InternalIP", "address": "10.251.0.3"},
                {"type": "Hostname", "address": "node-2"},
            ]
            assert node["spec"]["podCIDR"] == "10.244.2.0/24"
            labels = node["metadata"]["labels"]
            assert labels["kubernetes.io/hostname"] == "node-2"
            assert labels["kubernetes.io/os"] == "linux"
            assert not any(key.startswith("node-role.kubernetes.io/") for key in labels)
            assert status["nodeInfo"]["kubeletVersion"] == "v1.32.0"
            assert status["nodeInfo"]["containerRuntimeVersion"] == "sim-memory://0.1.0"
            ready = {c["type"]: c for c in status["conditions"]}["Ready"]
            assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
            assert status["allocatable"]["pods"] == "110"

    run(main())


# --- scheduling -----------------------------------------------------------------------------


def test_pods_spread_over_nodes_fewest_first_ties_by_name() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            names = [f"p{i}" for i in range(6)]
            for name in names:
                sim.store.create(POD, plain_pod(name))
            await sim.wait_for(lambda: running(sim, *names), what="all Running")
            placement = {name: node_of(sim, name) for name in names}
            assert placement["p0"] == "node-1"
            assert placement["p1"] == "node-2"
            assert placement["p2"] == "node-3"
            counts = {n: list(placement.values()).count(n) for n in sim.node_names}
            assert counts == {"node-1": 2, "node-2": 2, "node-3": 2}
            # the image was pulled once per node; later pods found it there
            pulled = [msg for reason, msg in sim.events("p3") if reason == "Pulled"]
            assert pulled == ['Container image "busybox:1.36" already present on machine']
            assert ("Pulling", 'Pulling image "busybox:1.36"') in sim.events("p0")

    run(main())


def test_node_selector_affinity_and_unschedulable_pods() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            sim.store.create(
                POD, plain_pod("pinned", nodeSelector={"kubernetes.io/hostname": "node-2"})
            )
            not_in = {
                "key": "kubernetes.io/hostname",
                "operator": "NotIn",
                "values": ["node-1", "node-2"],
            }
            affinity = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [not_in]}]
                    }
                }
            }
            sim.store.create(POD, plain_pod("affine", affinity=affinity))
            sim.store.create(POD, plain_pod("picky", nodeSelector={"disk": "ssd"}))
            await sim.wait_for(lambda: running(sim, "pinned", "affine"))
            assert node_of(sim, "pinned") == "node-2"
            assert node_of(sim, "affine") == "node-3"
            await sim.wait_for(lambda: sim.events("picky"))
            assert sim.events("picky") == [
                (
                    "FailedScheduling",
                    "0/3 nodes are available: 3 node(s) didn't match Pod's node "
                    "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is "
                    "not helpful for scheduling.",
                )
            ]
            picky = sim.get(POD, "picky")
            assert picky is not None
            scheduled = {c["type"]: c for c in picky["status"]["conditions"]}["PodScheduled"]
            assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")

            def label(node: Obj) -> None:
                node["metadata"]["labels"]["disk"] = "ssd"

            sim.store.mutate(NODE, None, "node-1", label)
            await sim.wait_for(lambda: running(sim, "picky"))
            assert node_of(sim, "picky") == "node-1"

    run(main())


def test_not_ready_nodes_get_no_pods() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            set_node_ready(sim.store, "node-1", False)
            sim.store.create(POD, plain_pod("a"))
            sim.store.create(POD, plain_pod("b", nodeSelector={"kubernetes.io/hostname": "node-1"}))
            await sim.wait_for(lambda: running(sim, "a") and sim.events("b"))
            assert node_of(sim, "a") == "node-2"
            assert (
                "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
                in (sim.events("b")[0][1])
            )
            set_node_ready(sim.store, "node-1", True)
            await sim.wait_for(lambda: running(sim, "b"))
            assert node_of(sim, "b") == "node-1"

    run(main())


def test_bound_volume_node_affinity_decides_the_node() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            term = {
                "matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-3"]}
                ]
            }
            sim.store.create(
                SC, storage_class("local", "kubernetes.io/no-provisioner", reclaimPolicy="Retain")
            )
            affinity = {"required": {"nodeSelectorTerms": [term]}}
            sim.store.create(PV, static_pv("local-pv", "1Gi", cls="local", nodeAffinity=affinity))
            sim.store.create(PVC, claim("data", cls="local"))
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound")
            sim.store.create(POD, _pod("user", "data"))
            await sim.wait_for(lambda: running(sim, "user"))
            assert node_of(sim, "user") == "node-3"

    run(main())


def test_unbound_immediate_claim_holds_the_pod_until_bound() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            sim.store.create(PVC, claim("data", cls="manual"))
            sim.store.create(POD, _pod("user", "data"))
            await sim.wait_for(lambda: sim.events("user"))
            assert sim.events("user")[0] == (
                "FailedScheduling",
                "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
                "scheduling.",
            )
            assert node_of(sim, "user") is None
            sim.store.create(PV, static_pv("pv-1", "1Gi"))
            await sim.wait_for(lambda: running(sim, "user"))

    run(main())


def test_wait_for_first_consumer_selects_the_pods_node() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("late", volumeBindingMode="WaitForFirstConsumer"))
            sim.store.create(PVC, claim("data", cls="late"))
            await sim.wait_for(lambda: sim.events("data"))
            sim.store.create(
                POD, _pod("user", "data", nodeSelector={"kubernetes.io/hostname": "node-2"})
            )
            await sim.wait_for(lambda: running(sim, "user"), what="Running")
            pvc = sim.get(PVC, "data")
            assert pvc is not None
            assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "node-2"
            assert node_of(sim, "user") == "node-2"
            assert [r for r, _ in sim.events("data")] == [
                "WaitForFirstConsumer",
                "ExternalProvisioning",
                "Provisioning",
                "ProvisioningSucceeded",
            ]
            assert sim.runtime.attachments[pvc["spec"]["volumeName"]] == {"node-2"}

    run(main())


# --- kubelet --------------------------------------------------------------------------------


def test_pod_lifecycle_status_and_events_in_order() -> None:
    async def main() -> None:
        async with Sim(nodes=3, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, claim("data", cls="fast"))
            await sim.wait_for(lambda: sim.phase(PVC, "data") == "Bound")
            sim.store.create(POD, _pod("web-0", "data"))
            pod = await sim.wait_for(lambda: running(sim, "web-0") and sim.get(POD, "web-0"))
            node = pod["spec"]["nodeName"]
            pv_name = sim.get(PVC, "data")["spec"]["volumeName"]  # type: ignore[index]
            events = sim.events("web-0")
            assert [reason for reason, _ in events] == [
                "Scheduled",
                "SuccessfulAttachVolume",
                "Pulling",
                "Pulled",
                "Created",
                "Started",
            ]
            assert events[0][1] == f"Successfully assigned default/web-0 to {node}"
            assert events[1][1] == f'AttachVolume.Attach succeeded for volume "{pv_name}" '
            assert events[2][1] == 'Pulling image "nginx:1.27"'
            assert events[3][1].startswith(
                'Successfully pulled image "nginx:1.27" in 0s (0s including waiting). Image size: '
            )
            assert events[4:] == [
                ("Created", "Created container: web"),
                ("Started", "Started container web"),
            ]
            # the pod passed through ContainerCreating before Running
            waiting = [
                cs["state"]["waiting"]["reason"]
                for event in sim.seen
                if event.kind == POD and event.object["metadata"]["name"] == "web-0"
                for cs in (event.object.get("status") or {}).get("containerStatuses") or []
                if "waiting" in cs["state"]
            ]
            assert waiting
            assert set(waiting) == {"ContainerCreating"}
            status = pod["status"]
            conditions = [(c["type"], c["status"]) for c in status["conditions"]]
            assert conditions == [
                ("PodReadyToStartContainers", "True"),
                ("Initialized", "True"),
                ("Ready", "True"),
                ("ContainersReady", "True"),
                ("PodScheduled", "True"),
            ]
            (container,) = status["containerStatuses"]
            assert container["ready"] is True
            assert container["started"] is True
            assert container["restartCount"] == 0
            assert container["containerID"].startswith("sim://")
            assert container["image"] == "docker.io/library/nginx:1.27"
            assert container["imageID"].startswith("docker.io/library/nginx@sha256:")
            assert container["state"]["running"]["startedAt"]
            number = int(node.rsplit("-", 1)[1])
            assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(
                f"10.244.{number}.0/24"
            )
            assert status["podIPs"] == [{"ip": status["podIP"]}]
            assert status["hostIP"] == f"10.251.0.{number + 1}"
            assert status["hostIPs"] == [{"ip": status["hostIP"]}]
            assert sim.runtime.nodes[node].address == status["hostIP"]
            assert status["startTime"]
            assert status["qosClass"] == "BestEffort"
            assert sim.runtime.attachments[pv_name] == {node}
            logs = await sim.runtime.logs(node, pod, "web")
            assert "container web of pod default/web-0 started" in logs

    run(main())


def test_termination_stops_detaches_and_removes_the_pod() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, claim("data", cls="fast"))
            sim.store.create(POD, _pod("web-0", "data", terminationGracePeriodSeconds=7))
            pod = await sim.wait_for(lambda: running(sim, "web-0") and sim.get(POD, "web-0"))
            node = pod["spec"]["nodeName"]
            pv_name = sim.get(PVC, "data")["spec"]["volumeName"]  # type: ignore[index]
            sim.runtime.volumes[pv_name]["/index.html"] = b"kept"
            sim.store.delete(POD, "default", "web-0")
            await sim.wait_for(lambda: sim.get(POD, "web-0") is None, what="pod removed")
            assert sim.events("web-0")[-1] == ("Killing", "Stopping container web")
            assert sim.runtime.stopped == [(pod["metadata"]["uid"], node, 7.0)]
            assert pv_name not in sim.runtime.attachments
            # watchers saw the containers terminated before the pod went away
            last = [e for e in sim.seen if e.kind == POD][-2:]
            assert [e.type for e in last] == ["MODIFIED", "DELETED"]
            assert last[0].object["status"]["phase"] == "Succeeded"
            (terminated,) = last[0].object["status"]["containerStatuses"]
            assert terminated["state"]["terminated"]["reason"] == "Completed"
            assert sim.phase(PVC, "data") == "Bound"  # the claim outlives the pod

            # the same claim on another node: detached there, attached here, data intact
            other = next(n for n in sim.node_names if n != node)
            sim.store.create(POD, _pod("web-0", "data", nodeName=other))
            await sim.wait_for(lambda: running(sim, "web-0"))
            assert sim.runtime.attachments[pv_name] == {other}
            assert sim.runtime.volumes[pv_name] == {"/index.html": b"kept"}

    run(main())


def test_multi_attach_waits_for_the_other_node_to_let_go() -> None:
    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("fast"))
            sim.store.create(PVC, claim("data", cls="fast"))
            sim.store.create(POD, _pod("first", "data", nodeName="node-1"))
            await sim.wait_for(lambda: running(sim, "first"))
            sim.store.create(POD, _pod("second", "data", nodeName="node-2"))
            await sim.wait_for(lambda: sim.events("second"))
            reason, message = sim.events("second")[0]
            assert reason == "FailedAttachVolume"
            assert message.startswith("Multi-Attach error for volume")
            assert message.endswith("Volume is already used by pod(s) first")
            sim.store.delete(POD, "default", "first")
            await sim.wait_for(lambda: running(sim, "second"))
            pv_name = sim.get(PVC, "data")["spec"]["volumeName"]  # type: ignore[index]
            assert sim.runtime.attachments[pv_name] == {"node-2"}

    run(main())


def test_a_share_is_mounted_on_two_nodes_without_attaching() -> None:
    """A share's driver needs no attach: no VolumeAttachment events, no Multi-Attach wait."""

    async def main() -> None:
        async with Sim(nodes=2, controllers=ALL) as sim:
            parameters = {"csi.storage.k8s.io/fstype": "fuse.sshfs"}
            sim.store.create(
                SC, storage_class("share", "sshfs.sim.conformance.io", parameters=parameters)
            )
            sim.store.create(PVC, claim("data", cls="share", accessModes=["ReadWriteMany"]))
            sim.store.create(POD, _pod("first", "data", nodeName="node-1"))
            sim.store.create(POD, _pod("second", "data", nodeName="node-2"))
            await sim.wait_for(lambda: running(sim, "first", "second"))
            for name in ("first", "second"):
                reasons = [reason for reason, _ in sim.events(name)]
                assert "SuccessfulAttachVolume" not in reasons
                assert "FailedAttachVolume" not in reasons
            assert sim.runtime.attachments == {}

    run(main())


def test_a_claim_mounted_against_its_volume_mode_is_a_failed_mount() -> None:
    async def main() -> None:
        async with Sim(nodes=1, controllers=ALL) as sim:
            sim.store.create(SC, storage_class("disk"))
            sim.store.create(PVC, claim("raw", cls="disk", volumeMode="Block"))
            sim.store.create(POD, _pod("wrong", "raw"))
            await sim.wait_for(
                lambda: any(reason == "FailedMount" for reason, _ in sim.events("wrong"))
            )
            message = next(m for reason, m in sim.events("wrong") if reason == "FailedMount")
            assert message.endswith(
                "volume data has volumeMode Block, but is specified in volumeMounts"
            )
            assert sim.phase(POD, "wrong") == "Pending"

    run(main())


def test_exec_on_the_in_memory_runtime_is_an_honest_126() -> None:
    async def main() -> None:
        runtime = InMemoryRuntime()
        await runtime.add_node("node-1", address="10.251.0.2", pod_cidr="10.244.1.0/24")
        pod = plain_pod("p")
        pod["metadata"]["uid"] = "u-1"
        started = await runtime.start_pod("node-1", pod, [])
        assert started.pod_ip == "10.244.1.2"
        session = await runtime.exec("node-1", pod, "main", ["ls"], stdin=False, tty=False)
        chunks = []
        while (chunk := await session.read()) is not None:
            chunks.append(chunk)
        assert chunks == [(STDERR, EXEC_UNSUPPORTED)]
        assert await session.wait() == 126
        await runtime.stop_pod("node-1", pod, 0)
        again = await runtime.start_pod(
            "node-1", {**pod, "metadata": {**pod["metadata"], "uid": "u-2"}}, []
        )
        assert again.pod_ip == "10.244.1.2"  # the address was given back

    run(main())


def test_helpers_format_like_upstream() -> None:
    assert go_duration(0) == "0s"
    assert go_duration(0.5124) == "512ms"
    assert go_duration(8.916) == "8.916s"
    assert go_duration(2.0) == "2s"
    assert go_duration(300) == "5m0s"
    assert go_duration(61.5) == "1m1.5s"
    assert go_duration(3600) == "1h0m0s"
    assert normalize_image("nginx") == "docker.io/library/nginx:latest"
    assert normalize_image("gcr.io/google_containers/nginx-slim:0.8") == (
        "gcr.io/google_containers/nginx-slim:0.8"
    )
    assert normalize_image("bitnami/redis:7") == "docker.io/bitnami/redis:7"


# --- endpoints ------------------------------------------------------------------------------


def test_endpoints_follow_ready_pods_with_hostnames() -> None:
    async def main() -> None:
        async with Sim(controllers=("endpoints",)) as sim:
            sim.store.create(
                SERVICE,
                {
                    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                    "spec": {
                        "clusterIP": "None",
                        "selector": {"app": "web"},
                        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                    },
                },
            )

            def make(name: str, ip: str | None, ready: bool, app: str = "web") -> None:
                pod = plain_pod(name, hostname=name, subdomain="web")
                pod["metadata"]["labels"] = {"app": app}
                pod["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
                created = sim.store.create(POD, pod)
                status: Obj = {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                }
                if ip:
                    status["podIP"] = ip
                created["status"] = status
                sim.store.update(POD, created, subresource="status")

            make("web-0", "10.244.1.5", True)
            make("web-1", "10.244.2.5", False)
            make("web-2", None, False)
            make("other", "10.244.3.5", True, app="db")

            def endpoints() -> Obj | None:
                found = sim.get(ENDPOINTS, "web")
                subsets = (found or {}).get("subsets") or []
                return found if subsets and "notReadyAddresses" in subsets[0] else None

            found = await sim.wait_for(endpoints)
            assert found["metadata"]["labels"] == {
                "app": "web",
                "service.kubernetes.io/headless": "",
            }
            (subset,) = found["subsets"]
            (address,) = subset["addresses"]
            assert address["ip"] == "10.244.1.5"
            assert address["hostname"] == "web-0"
            assert address["targetRef"]["kind"] == "Pod"
            assert address["targetRef"]["name"] == "web-0"
            assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.244.2.5"]
            assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

            def ready(pod: Obj) -> None:
                pod["status"]["conditions"][0]["status"] = "True"

            sim.store.mutate(POD, "default", "web-1", ready, subresource="status")

            def both_ready() -> bool:
                subsets = (sim.get(ENDPOINTS, "web") or {}).get("subsets") or [{}]
                return [a["ip"] for a in subsets[0].get("addresses", [])] == [
                    "10.244.1.5",
                    "10.244.2.5",
                ] and "notReadyAddresses" not in subsets[0]

            await sim.wait_for(both_ready)
            sim.store.delete(SERVICE, "default", "web")
            await sim.wait_for(lambda: sim.get(ENDPOINTS, "web") is None)

    run(main())
