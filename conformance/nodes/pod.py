"""The pod transport: upstream e2e's HostExec, a privileged pod per node, no SSH needed.

The pod runs on the node (``nodeName``) with ``hostPID``, ``hostNetwork`` and the node's
``/`` mounted at ``/rootfs``; a command runs as
``nsenter --mount=/rootfs/proc/1/ns/mnt -- sh -c CMD`` through the API's exec, so it
sees the node's mounts and devices. The pod is created on the first command and
deleted by ``close()``.

The cluster calls are passed in (:class:`PodOps`), so this module does not depend on
``conformance.cluster``: ``create_pod(namespace, manifest)`` must return once the pod
runs, ``delete_pod(namespace, name)`` may return before it is gone, and
``exec_in_pod(namespace, pod, argv, timeout)`` returns a :class:`CommandResult` (or
raises :class:`NodeCommandTimeout`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.inventory import PodAccess
from conformance.nodes.base import CommandResult, NodeAccessError, NodeShell, ShellRequest

ROOTFS = "/rootfs"
CONTAINER = "hostexec"
ROLE_LABEL = "conformance.io/role"

ExecInPod = Callable[[str, str, Sequence[str], float], CommandResult]
CreatePod = Callable[[str, dict[str, Any]], None]
DeletePod = Callable[[str, str], None]


@dataclass(frozen=True)
class PodOps:
    """The cluster operations the pod transport needs (conformance.cluster provides them)."""

    exec_in_pod: ExecInPod
    create_pod: CreatePod
    delete_pod: DeletePod
    namespace: str | None = None  # used when nodes.pod.namespace is not set
    labels: Mapping[str, str] = field(default_factory=dict)  # e.g. the run/worker labels


def connect(request: ShellRequest) -> PodShell:
    """The registry's entry: a HostExec shell for ``request.node_name``."""
    if request.pod_ops is None:
        raise NodeAccessError(
            request.node_name,
            "nodes.access: pod needs the cluster (exec and pod create/delete) but none was given",
            fix="open node shells through the harness's fixtures, or use nodes.access: ssh",
        )
    settings = request.nodes.pod or PodAccess()
    namespace = settings.namespace or request.pod_ops.namespace
    if not namespace:
        raise NodeAccessError(
            request.node_name,
            "no namespace for the node shell pod",
            fix="nodes.pod.namespace",
        )
    return PodShell(
        request.node_name,
        ops=request.pod_ops,
        namespace=namespace,
        image=settings.image,
        command_timeout=request.timeouts.command,
    )


def host_exec_pod(
    node_name: str, name: str, image: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The manifest of a HostExec pod pinned to ``node_name``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {**(labels or {}), ROLE_LABEL: "node-shell"},
        },
        "spec": {
            "nodeName": node_name,
            "hostPID": True,
            "hostNetwork": True,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    # an idle PID 1 that exits on SIGTERM at once
                    "command": [
                        "sh",
                        "-c",
                        "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
                    ],
                    "securityContext": {"privileged": True},
                    "volumeMounts": [{"name": "rootfs", "mountPath": ROOTFS}],
                }
            ],
            "volumes": [{"name": "rootfs", "hostPath": {"path": "/"}}],
        },
    }


def nsenter_argv(text: str) -> list[str]:
    """What runs in the pod: the command in the node's (PID 1's) mount namespace."""
    return ["nsenter", f"--mount={ROOTFS}/proc/1/ns/mnt", "--", "sh", "-c", text]


class PodShell(NodeShell):
    """Commands on a node through a privileged HostExec pod."""

    def __init__(
        self,
        name: str,
        *,
        ops: PodOps,
        namespace: str,
        image: str = "busybox:1.36",
        command_timeout: float = 60.0,
    ) -> None:
        super().__init__(name, command_timeout=command_timeout)
        self.ops = ops
        self.namespace = namespace
        self.image = image
        self.pod: str | None = None

    def __repr__(self) -> str:
        return f"PodShell({self.name}: pod {self.namespace}/{self.pod or '(not created)'})"

    def _ensure_pod(self) -> str:
        if self.pod is None:
            name = f"node-shell-{self.name}"[:52].rstrip("-.") + "-" + secrets.token_hex(3)
            manifest = host_exec_pod(self.name, name, self.image, self.ops.labels)
            self.ops.create_pod(self.namespace, manifest)
            self.pod = name
        return self.pod

    def _exec(self, text: str, *, sudo: bool | None, timeout: float) -> tuple[str, str, int]:
        got = self.ops.exec_in_pod(self.namespace, self._ensure_pod(), nsenter_argv(text), timeout)
        if got.exit_code == -1 and got.duration >= timeout:  # the exec was cut off
            raise self._timed_out(text, timeout, got.stdout, got.stderr)
        return got.stdout, got.stderr, got.exit_code

    def close(self) -> None:
        if self.pod is not None:
            pod, self.pod = self.pod, None
            self.ops.delete_pod(self.namespace, pod)


__all__ = ["PodOps", "PodShell", "connect", "host_exec_pod", "nsenter_argv"]
