"""The in-memory NodeRuntime: nodes without a kernel, for an API-only cluster without root."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timezone

from conformance.sim.runtimes.base import (
    EXEC_UNSUPPORTED,
    FAILED_MOUNT,
    STDERR,
    ExecSession,
    Obj,
    PodStarted,
    PodVolume,
    RuntimeFailure,
    is_share,
)

SHARE_SERVER = "10.251.0.250"  # where the kernel runtime's server would be, by shape


class MemoryExecSession:
    """An exec that cannot run anything: its output is fixed, then it exits."""

    def __init__(self, output: list[tuple[int, bytes]], exit_code: int) -> None:
        self._output: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        for chunk in output:
            self._output.put_nowait(chunk)
        self._output.put_nowait(None)
        self._exit_code = exit_code

    async def read(self) -> tuple[int, bytes] | None:
        if self._output.empty():
            return None
        return await self._output.get()

    async def write_stdin(self, data: bytes) -> None:
        return None

    async def close_stdin(self) -> None:
        return None

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        return self._exit_code

    async def kill(self) -> None:
        return None


@dataclass
class _MemoryNode:
    address: str
    network: ipaddress.IPv4Network
    used: set[int] = field(default_factory=set)


@dataclass
class _MemoryPod:
    node: str
    namespace: str
    name: str
    ip: str
    containers: dict[str, str]  # name -> image
    started_at: str


class InMemoryRuntime:
    """Nodes without a kernel: volumes are dicts of files, pods are records with an IP.

    Pod IPs come from the node's pod CIDR (10.244.<node number>.0/24): they are
    strings only, nothing is ever sent to them. Nothing runs, so exec answers 126.
    """

    runtime_version = "sim-memory://0.1.0"

    def __init__(self) -> None:
        self.nodes: dict[str, _MemoryNode] = {}
        self.volumes: dict[str, dict[str, bytes]] = {}  # PV name -> path -> content
        self.attachments: dict[str, set[str]] = {}  # PV name -> nodes
        self.pods: dict[str, _MemoryPod] = {}  # pod uid -> record
        self.stopped: list[tuple[str, str, float]] = []  # (pod uid, node, grace) as asked
        self.sizes: dict[str, int] = {}  # PV name -> size in bytes it was expanded to
        self.expanded: list[tuple[str, str, str]] = []  # (pod uid, node, PV) grown on a node

    async def add_node(self, name: str, *, address: str, pod_cidr: str) -> None:
        self.nodes.setdefault(name, _MemoryNode(address, ipaddress.IPv4Network(pod_cidr)))

    def _node(self, name: str) -> _MemoryNode:
        node = self.nodes.get(name)
        if node is None:
            raise RuntimeFailure(f'node "{name}" is not known to the node runtime')
        return node

    async def provision(self, pv: Obj, storage_class: Obj) -> None:
        self.volumes.setdefault(_name(pv), {})
        if is_share(pv):  # a nominal server: nothing serves it, nothing is sent to it
            pv["spec"]["csi"]["volumeAttributes"].setdefault("server", SHARE_SERVER)

    async def delete_volume(self, pv: Obj) -> None:
        name = _name(pv)
        if self.attachments.get(name):
            nodes = ", ".join(sorted(self.attachments[name]))
            raise RuntimeFailure(f"volume {name} is still attached to {nodes}")
        self.volumes.pop(name, None)

    async def attach(self, node: str, pv: Obj) -> None:
        self._node(node)
        name = _name(pv)
        self.volumes.setdefault(name, {})  # a static PV's disk exists before its first use
        self.attachments.setdefault(name, set()).add(node)

    async def detach(self, node: str, pv: Obj) -> None:
        nodes = self.attachments.get(_name(pv))
        if nodes is not None:
            nodes.discard(node)
            if not nodes:
                del self.attachments[_name(pv)]

    async def expand_volume(self, pv: Obj, size_bytes: int) -> None:
        self.sizes[_name(pv)] = max(size_bytes, self.sizes.get(_name(pv), 0))

    async def expand_filesystem(self, node: str, pod: Obj, pv: Obj) -> None:
        self._node(node)
        self.expanded.append((pod["metadata"]["uid"], node, _name(pv)))

    async def mount_volumes(self, node: str, pod: Obj, volumes: list[PodVolume]) -> None:
        self._node(node)
        for volume in volumes:
            if is_share(volume.pv):
                continue  # mounted from its server, never attached
            if node not in self.attachments.get(volume.pv_name, set()):
                raise RuntimeFailure(
                    f'MountVolume.WaitForAttach failed for volume "{volume.pv_name}" : '
                    f"volume is not attached to node {node}",
                    reason=FAILED_MOUNT,
                    volume=volume.name,
                )

    async def start_pod(self, node: str, pod: Obj, volumes: list[PodVolume]) -> PodStarted:
        state = self._node(node)
        for volume in volumes:
            if is_share(volume.pv):
                continue  # mounted, never attached
            if node not in self.attachments.get(volume.pv_name, set()):
                raise RuntimeFailure(f"volume {volume.pv_name} is not attached to node {node}")
        m = pod["metadata"]
        uid = m["uid"]
        if uid in self.pods:
            record = self.pods[uid]
        else:
            host = next(n for n in range(2, state.network.num_addresses - 1) if n not in state.used)
            state.used.add(host)
            spec = pod.get("spec") or {}
            containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
            record = _MemoryPod(
                node,
                m.get("namespace", ""),
                m["name"],
                str(state.network.network_address + host),
                {c["name"]: c.get("image", "") for c in containers},
                datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            )
            self.pods[uid] = record
        ids = {
            name: "sim://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()
            for name in record.containers
        }
        return PodStarted(record.ip, ids)

    async def wait_pod(self, node: str, pod: Obj) -> int:
        """Nothing runs, so nothing ends: waits until the caller gives up (cancels)."""
        if pod["metadata"]["uid"] not in self.pods:
            raise RuntimeFailure(f'pod "{pod["metadata"]["name"]}" is not running on "{node}"')
        never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        return await never

    async def stop_pod(self, node: str, pod: Obj, grace_seconds: float) -> None:
        uid = pod["metadata"]["uid"]
        self.stopped.append((uid, node, grace_seconds))
        record = self.pods.pop(uid, None)
        if record is not None and record.node in self.nodes:
            host = int(ipaddress.IPv4Address(record.ip)) - int(
                self.nodes[record.node].network.network_address
            )
            self.nodes[record.node].used.discard(host)

    def _pod(self, node: str, pod: Obj, container: str) -> _MemoryPod:
        m = pod["metadata"]
        record = self.pods.get(m.get("uid", ""))
        if record is None or record.node != node:
            raise RuntimeFailure(f'pod "{m.get("name")}" is not running on node "{node}"')
        if container not in record.containers:
            raise RuntimeFailure(f'container "{container}" not found in pod "{m.get("name")}"')
        return record

    async def exec(
        self,
        node: str,
        pod: Obj,
        container: str,
        command: list[str],
        *,
        stdin: bool,
        tty: bool,
    ) -> ExecSession:
        self._pod(node, pod, container)
        return MemoryExecSession([(STDERR, EXEC_UNSUPPORTED)], 126)

    async def logs(self, node: str, pod: Obj, container: str) -> str:
        record = self._pod(node, pod, container)
        return (
            f"{record.started_at} container {container} of pod {record.namespace}/"
            f"{record.name} started on node {node} (image {record.containers[container]}); "
            "the in-memory node runtime runs no processes\n"
        )


def _name(pv: Obj) -> str:
    name: str = pv["metadata"]["name"]
    return name


__all__ = ["InMemoryRuntime", "MemoryExecSession"]
