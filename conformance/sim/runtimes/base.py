"""The node side of the simulated cluster, behind one interface.

Controllers (kubelet, provisioner) and the API server's exec and log handlers talk to
nodes only through :class:`NodeRuntime`, so the kernel-backed runtime (namespaces,
loop devices, sshd) and the in-memory one (``runtimes.memory``) are interchangeable for them.

Contract, for every implementation:

- ``add_node`` runs once per node (the kubelet calls it for every Node object it
  serves) before anything is placed on it; the address and pod CIDR come from the
  Node object, so the runtime must use them.
- ``provision`` creates the backing store of a dynamically provisioned PV and may
  complete the PV's source, as a CSI driver's CreateVolume returns its volume context
  (a share's ``server``);
  ``attach`` may also be given a static PV that was never provisioned, and then
  creates its backing store (the administrator's pre-existing disk), found again by
  the volume the PV names (its CSI volumeHandle or flexVolume ``options.volumeID``)
  rather than by the PV's name, as a pre-created LUN is.
- ``mount_volumes`` is the kubelet's volume manager: it mounts the pod's PVC-backed
  volumes (each already attached to the node unless it needs no attaching,
  :func:`is_share`) where the kubelet would (MountDevice, then SetUp; a share is
  mounted at SetUp only), maps Block volumes (the container's ``volumeDevices``
  instead of mounts) as the kubelet maps them, and sets up the volumes that need no
  attaching (hostPath) from the pod's spec. It is idempotent: the kubelet calls it
  again after a failure.
- ``expand_volume`` grows a PV's backing store to at least ``size_bytes`` (a CSI
  driver's ControllerExpandVolume), and what every node it is attached to shows of it;
  ``expand_filesystem`` grows the filesystem of a volume mounted for a pod on a node
  (NodeExpandVolume; nothing to do for a Block volume or a share); a runtime that can
  grow it only unmounted raises RuntimeFailure with reason :data:`EXPAND_IN_USE` and
  grows it when ``mount_volumes`` next mounts it.
- ``start_pod`` (the container runtime: sandbox, then the containers) runs after
  ``mount_volumes`` succeeded, with the same volumes; ``stop_pod`` stops the pod and
  unmounts (and unmaps) what ``mount_volumes`` set up, also when the pod never started.
- ``wait_pod`` returns the exit status of the pod's container once it ended on its own,
  so the kubelet can restart it (it never returns for a pod that keeps running).
- Failures the caller should report (as events) and retry raise :class:`RuntimeFailure`,
  whose ``reason`` says which step failed, as the kubelet's event reasons do.
- Every node operation is bounded in time: a stuck one fails the operation with a
  RuntimeFailure naming the command, it never blocks the caller indefinitely.
- Latency from the profile is added by the controllers, not by the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Obj = dict[str, Any]

# Stream numbers as the Kubernetes exec channel protocol numbers them.
STDOUT = 1
STDERR = 2

EXEC_UNSUPPORTED = b"exec needs the kernel-backed node runtime\n"


# RuntimeFailure reasons: the kubelet's event reasons (pkg/kubelet/events) for each step.
FAILED_ATTACH = "FailedAttachVolume"  # the attach-detach controller's attach
FAILED_MOUNT = "FailedMount"  # the volume manager's MountDevice / SetUp
FAILED_MAP = "FailedMapVolume"  # the volume manager's map of a Block volume
FAILED_SANDBOX = "FailedCreatePodSandBox"  # the runtime's RunPodSandbox
FAILED_CONTAINER = "Failed"  # the runtime's CreateContainer / StartContainer
FAILED_KILL = "FailedKillPod"  # the runtime's StopPodSandbox / KillPod
FAILED_UNMOUNT = "FailedUnMount"  # the volume manager's TearDown / UnmountDevice (sic)
# NodeExpandVolume refused while the volume is mounted (CSI FailedPrecondition): the
# filesystem grows offline, when a pod next mounts it
EXPAND_IN_USE = "FailedPrecondition"

# Container waiting reasons the kubelet sets when a container cannot be started.
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"


class RuntimeFailure(Exception):
    """A node-side operation failed; the message is meant for an event.

    ``reason`` is the step that failed, as the kubelet's event reason for it
    (:data:`FAILED_MOUNT` for a volume's set-up, :data:`FAILED_SANDBOX`,
    :data:`FAILED_CONTAINER` when the container cannot start). The message is the
    error itself, formatted as the component that reports it words it (for a mount:
    ``MountVolume.SetUp failed for volume "x" : ...``); the kubelet adds its own
    prefix where upstream's does (``Error: ...``, ``Failed to create pod sandbox: ...``).
    ``waiting`` is the container's waiting reason for a container failure
    (:data:`CREATE_CONTAINER_ERROR` or :data:`RUN_CONTAINER_ERROR`); ``volume`` the
    pod's volume (spec.volumes[].name) a mount failure is about.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str = FAILED_CONTAINER,
        waiting: str = "",
        volume: str = "",
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.waiting = waiting or (CREATE_CONTAINER_ERROR if reason == FAILED_CONTAINER else "")
        self.volume = volume


@dataclass(frozen=True)
class VolumeMount:
    """Where one container mounts a volume (a pod's spec.containers[].volumeMounts[])."""

    container: str
    path: str
    read_only: bool = False
    sub_path: str = ""


@dataclass(frozen=True)
class VolumeDevice:
    """Where one container gets a Block volume (spec.containers[].volumeDevices[])."""

    container: str
    path: str  # devicePath


@dataclass(frozen=True)
class PodVolume:
    """A PVC-backed volume of a pod, resolved to its PV."""

    name: str  # the pod's spec.volumes[].name
    claim_name: str
    pv_name: str
    mounts: tuple[VolumeMount, ...]
    read_only: bool  # spec.volumes[].persistentVolumeClaim.readOnly
    pv: Obj = field(default_factory=dict, compare=False, repr=False)
    devices: tuple[VolumeDevice, ...] = ()

    @property
    def mount_paths(self) -> tuple[str, ...]:
        return tuple(mount.path for mount in self.mounts)

    @property
    def block(self) -> bool:
        """The PV is a raw device (volumeMode Block), mapped rather than mounted."""
        return volume_mode(self.pv) == "Block"


def volume_mode(pv: Obj) -> str:
    return str((pv.get("spec") or {}).get("volumeMode") or "Filesystem")


def is_share(pv: Obj) -> bool:
    """A network file share: its CSI volume context names a server and a share (as
    csi-driver-nfs's does). Such a driver needs no attach; every node mounts it."""
    attributes = ((pv.get("spec") or {}).get("csi") or {}).get("volumeAttributes") or {}
    return "share" in attributes


@dataclass(frozen=True)
class PodStarted:
    pod_ip: str
    # container name (init containers too) -> "<runtime>://<id>", e.g. containerd://<64 hex>
    container_ids: dict[str, str]
    note: str | None = None  # e.g. the image's command was replaced by a long sleep


class ExecSession(Protocol):
    """One exec'd process; the API server's WebSocket handler drives it."""

    async def read(self) -> tuple[int, bytes] | None:
        """The next (STDOUT or STDERR, chunk) of output; None once both streams ended."""
        ...

    async def write_stdin(self, data: bytes) -> None:
        """Feed stdin (ignored when the session was opened without stdin)."""
        ...

    async def close_stdin(self) -> None: ...

    async def resize(self, width: int, height: int) -> None:
        """Terminal size for tty sessions (the resize channel)."""
        ...

    async def wait(self) -> int:
        """The exit code once the process ended."""
        ...

    async def kill(self) -> None:
        """Kill the process if it still runs (the client went away); harmless after exit."""
        ...


class NodeRuntime(Protocol):
    """What the control plane asks of nodes."""

    runtime_version: str  # nodeInfo.containerRuntimeVersion, e.g. "sim-memory://0.1.0"

    async def add_node(self, name: str, *, address: str, pod_cidr: str) -> None: ...

    async def provision(self, pv: Obj, storage_class: Obj) -> None: ...

    async def delete_volume(self, pv: Obj) -> None: ...

    async def attach(self, node: str, pv: Obj) -> None: ...

    async def detach(self, node: str, pv: Obj) -> None: ...

    async def expand_volume(self, pv: Obj, size_bytes: int) -> None: ...

    async def expand_filesystem(self, node: str, pod: Obj, pv: Obj) -> None: ...

    async def mount_volumes(self, node: str, pod: Obj, volumes: list[PodVolume]) -> None: ...

    async def start_pod(self, node: str, pod: Obj, volumes: list[PodVolume]) -> PodStarted: ...

    async def wait_pod(self, node: str, pod: Obj) -> int: ...

    async def stop_pod(self, node: str, pod: Obj, grace_seconds: float) -> None: ...

    async def exec(
        self,
        node: str,
        pod: Obj,
        container: str,
        command: list[str],
        *,
        stdin: bool,
        tty: bool,
    ) -> ExecSession: ...

    async def logs(self, node: str, pod: Obj, container: str) -> str: ...


__all__ = [
    "CREATE_CONTAINER_ERROR",
    "EXEC_UNSUPPORTED",
    "EXPAND_IN_USE",
    "FAILED_ATTACH",
    "FAILED_CONTAINER",
    "FAILED_KILL",
    "FAILED_MAP",
    "FAILED_MOUNT",
    "FAILED_SANDBOX",
    "FAILED_UNMOUNT",
    "RUN_CONTAINER_ERROR",
    "STDERR",
    "STDOUT",
    "ExecSession",
    "NodeRuntime",
    "Obj",
    "PodStarted",
    "PodVolume",
    "RuntimeFailure",
    "VolumeDevice",
    "VolumeMount",
    "is_share",
    "volume_mode",
]
