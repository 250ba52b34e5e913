"""What was certified: the cluster as the run found it at its start.

Users ask to "validate that the CSI driver I'm using is the same one that was tested";
this records the server version, each node's OS, kernel, kubelet and container runtime,
the StorageClasses under test and the CSIDriver objects, and the images (with digests,
from the pods' imageID) of the pods that run those drivers. Whatever cannot be read (no
RBAC to list pods cluster-wide, say) is listed as unreadable, never a failed run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from conformance import evidence
from conformance.cluster import Cluster

FINGERPRINT_FILE = "fingerprint.json"
T = TypeVar("T")


def collect(cluster: Cluster, class_names: Iterable[str], drivers: Iterable[str]) -> dict[str, Any]:
    """The fingerprint; ``class_names`` are the classes under test, ``drivers`` their
    provisioners (CSI driver names)."""
    unreadable: list[str] = []

    def read(what: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except (ApiException, HTTPError, OSError) as exc:
            status = getattr(exc, "status", None)
            unreadable.append(
                f"{what}: {status or type(exc).__name__} {getattr(exc, 'reason', exc)}"
            )
            return None

    version = read("server version", lambda: client.VersionApi(cluster.api).get_code())
    nodes = read("nodes", lambda: cluster.core.list_node().items) or []
    wanted = set(class_names)
    classes = read("StorageClasses", lambda: cluster.storage.list_storage_class().items) or []
    csi = read("CSIDrivers", lambda: cluster.storage.list_csi_driver().items) or []
    names = set(drivers)
    pods = (
        read(
            "pods (to find the drivers' images)",
            lambda: cluster.core.list_pod_for_all_namespaces().items,
        )
        or []
    )
    return {
        "server_version": version.git_version if version is not None else None,
        "platform": version.platform if version is not None else None,
        "nodes": [
            {
                "name": n.metadata.name,
                "os_image": n.status.node_info.os_image,
                "kernel": n.status.node_info.kernel_version,
                "kubelet": n.status.node_info.kubelet_version,
                "container_runtime": n.status.node_info.container_runtime_version,
            }
            for n in nodes
            if n.status is not None and n.status.node_info is not None
        ],
        "storage_classes": [
            {
                "name": c.metadata.name,
                "provisioner": c.provisioner,
                "parameters": _masked(dict(c.parameters or {})),
                "reclaim_policy": c.reclaim_policy,
                "volume_binding_mode": c.volume_binding_mode,
            }
            for c in classes
            if c.metadata.name in wanted
        ],
        "csi_drivers": [
            {
                "name": d.metadata.name,
                "attach_required": d.spec.attach_required,
                "pod_info_on_mount": d.spec.pod_info_on_mount,
                "volume_lifecycle_modes": list(d.spec.volume_lifecycle_modes or []),
                "fs_group_policy": d.spec.fs_group_policy,
            }
            for d in csi
            if d.metadata.name in names
        ],
        "driver_images": _driver_images(pods, names),
        "unreadable": unreadable,
    }


def _driver_images(pods: list[Any], drivers: set[str]) -> list[dict[str, str]]:
    """The images of pods that run one of the drivers: a container whose command, args or
    environment names the driver (a CSI plugin's --drivername, a registrar's socket path)."""
    found: list[dict[str, str]] = []
    for pod in pods:
        spec = pod.spec
        containers = [*(spec.init_containers or []), *(spec.containers or [])]
        text = " ".join(
            " ".join(
                [
                    *(c.command or []),
                    *(c.args or []),
                    *(f"{e.name}={e.value}" for e in (c.env or [])),
                ]
            )
            for c in containers
        )
        driver = next((d for d in drivers if d and d in text), None)
        if driver is None:
            continue
        statuses = {s.name: s for s in (pod.status.container_statuses or [])} if pod.status else {}
        for c in spec.containers or []:
            status = statuses.get(c.name)
            found.append(
                {
                    "driver": driver,
                    "pod": f"{pod.metadata.namespace}/{pod.metadata.name}",
                    "container": c.name,
                    "image": c.image,
                    "image_id": (status.image_id if status is not None else "") or "",
                }
            )
    return found


_SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|key|credential)")


def _masked(parameters: dict[str, str]) -> dict[str, str]:
    """StorageClass parameters with values whose key names a secret masked."""
    return {k: evidence.REDACTED if _SECRET_KEY.search(k) else v for k, v in parameters.items()}


def write(fingerprint: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(evidence.redact(json.dumps(fingerprint, indent=2)) + "\n")


def describe(fingerprint: dict[str, Any]) -> str:
    """A few lines for the evidence and the console."""
    lines = [f"server: {fingerprint.get('server_version') or '(unreadable)'}"]
    for node in fingerprint.get("nodes", []):
        lines.append(
            f"node {node['name']}: {node['os_image']}, kernel {node['kernel']}, "
            f"kubelet {node['kubelet']}, {node['container_runtime']}"
        )
    for sc in fingerprint.get("storage_classes", []):
        lines.append(f"class {sc['name']}: {sc['provisioner']}")
    for image in fingerprint.get("driver_images", []):
        lines.append(
            f"driver {image['driver']}: {image['pod']} {image['image']} {image['image_id']}"
        )
    for what in fingerprint.get("unreadable", []):
        lines.append(f"unreadable: {what}")
    return "\n".join(lines)
