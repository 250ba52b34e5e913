"""The endpoints controller: an Endpoints object per Service with a selector.

Pods matching the selector that have an IP are listed: ready ones under
``addresses``, the others under ``notReadyAddresses`` (all under ``addresses`` when
the Service has publishNotReadyAddresses). A pod whose spec.hostname is set and
whose spec.subdomain names the Service gets that hostname, which is what the DNS
records of a StatefulSet's headless Service are made from. Services without a
selector keep whatever Endpoints their owner writes.

Wiring: ``EndpointsController(store)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Event, Obj, kind_named
from conformance.sim.controllers.base import Controller, QueueKey

POD: Kind = kind_named("Pod")
SERVICE: Kind = kind_named("Service")
ENDPOINTS: Kind = kind_named("Endpoints")

HEADLESS_LABEL = "service.kubernetes.io/headless"


def _ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _target_port(port: dict[str, Any], pod: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for container_port in container.get("ports") or []:
            if container_port.get("name") == target and (
                container_port.get("protocol") or "TCP"
            ) == (port.get("protocol") or "TCP"):
                return int(container_port["containerPort"])
    return None


def endpoints_for(service: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    """The subsets of a Service's Endpoints, grouped by port set, sorted as upstream."""
    spec = service.get("spec") or {}
    name = service["metadata"]["name"]
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in pods:
        status = pod.get("status") or {}
        pod_spec = pod.get("spec") or {}
        ip = status.get("podIP")
        if not ip or (pod["metadata"].get("deletionTimestamp") and not publish_all):
            continue
        if status.get("phase") in ("Succeeded", "Failed"):
            continue
        address: dict[str, Any] = {"ip": ip}
        if pod_spec.get("hostname") and pod_spec.get("subdomain") == name:
            address["hostname"] = pod_spec["hostname"]
        if pod_spec.get("nodeName"):
            address["nodeName"] = pod_spec["nodeName"]
        pm = pod["metadata"]
        address["targetRef"] = {
            "kind": "Pod",
            "namespace": pm["namespace"],
            "name": pm["name"],
            "uid": pm["uid"],
        }
        ports: list[tuple[str, int, str]] = []
        for port in spec.get("ports") or []:
            number = _target_port(port, pod)
            if number is not None:
                ports.append((port.get("name") or "", number, port.get("protocol") or "TCP"))
        if spec.get("ports") and not ports:
            continue
        group = groups.setdefault(tuple(sorted(ports)), {"addresses": [], "notReadyAddresses": []})
        ready = publish_all or _ready(pod)
        group["addresses" if ready else "notReadyAddresses"].append(address)
    subsets: list[dict[str, Any]] = []
    for ports_key, group in sorted(groups.items()):
        subset: dict[str, Any] = {}
        for which in ("addresses", "notReadyAddresses"):
            if group[which]:
                subset[which] = sorted(group[which], key=lambda a: _ip_key(a["ip"]))
        if ports_key:
            subset["ports"] = [
                {**({"name": n} if n else {}), "port": p, "protocol": proto}
                for n, p, proto in ports_key
            ]
        subsets.append(subset)
    return subsets


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in ip.split("."))
    except ValueError:
        return (0,)


class EndpointsController(Controller):
    """Keys are Services; pod changes requeue the Services of their namespace."""

    name = "endpoint-controller"

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        m = event.object["metadata"]
        if event.kind in (SERVICE, ENDPOINTS):
            yield (m["namespace"], m["name"])
        elif event.kind == POD:
            for service in self.store.list(SERVICE, m["namespace"]):
                if (service.get("spec") or {}).get("selector"):
                    yield (m["namespace"], service["metadata"]["name"])

    def all_keys(self) -> Iterable[QueueKey]:
        for service in self.store.list(SERVICE):
            yield (service["metadata"]["namespace"], service["metadata"]["name"])

    async def reconcile(self, key: QueueKey) -> None:
        namespace, name = key
        service = self.store.find(SERVICE, namespace, name)
        current = self.store.find(ENDPOINTS, namespace, name)
        if service is None:
            if current is not None:
                with contextlib.suppress(errors.ApiError):
                    self.store.delete(ENDPOINTS, namespace, name)
            return
        selector: dict[str, str] = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return
        pods = self.store.list(
            POD,
            namespace,
            lambda p: all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
            ),
        )
        subsets = endpoints_for(service, pods)
        labels = dict(service["metadata"].get("labels") or {})
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        desired: Obj = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace},
        }
        if labels:
            desired["metadata"]["labels"] = labels
        if subsets:
            desired["subsets"] = subsets
        if current is None:
            self.store.create(ENDPOINTS, desired, namespace)
            return
        if (
            current.get("subsets") == desired.get("subsets")
            and (current["metadata"].get("labels") or {}) == labels
        ):
            return

        def change(obj: Obj) -> None:
            obj["metadata"]["labels"] = labels
            if not labels:
                del obj["metadata"]["labels"]
            if subsets:
                obj["subsets"] = subsets
            else:
                obj.pop("subsets", None)

        self.store.mutate(ENDPOINTS, namespace, name, change)


__all__ = ["EndpointsController", "endpoints_for"]
