"""Defaulting and defaulting admission as the real kube-apiserver applies them.

``apply_defaults`` mutates an object the way the v1 defaulting functions
(k8s.io/kubernetes/pkg/apis/{core,apps,storage}/v1/defaults.go), the registry strategies'
PrepareForCreate and the standard admission plugins (ServiceAccount, Priority,
DefaultTolerationSeconds) would, so ``kubectl get -o yaml`` and ``describe`` look real and
the official Python client's pydantic models deserialize every response. One module per
API group, as upstream: :mod:`.core`, :mod:`.apps`, :mod:`.storage`.

Deliberate differences from upstream are marked "divergence".
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.sim.api.defaulting.apps import default_statefulset
from conformance.sim.api.defaulting.core import (
    default_endpoints,
    default_event,
    default_namespace,
    default_node,
    default_pod,
    default_pv,
    default_pvc,
    default_service,
)
from conformance.sim.api.defaulting.storage import default_storage_class
from conformance.sim.api.kinds import Kind
from conformance.sim.api.unstructured import Obj


def apply_defaults(
    kind: Kind,
    obj: Obj,
    old: Obj | None = None,
    *,
    allocate_cluster_ip: Callable[[], str] | None = None,
) -> None:
    """Fill in what the API server fills in, never overwriting what the client gave.

    ``old`` is the stored object on update (None on create): create-only admission
    (ServiceAccount, Priority, DefaultTolerationSeconds, the namespace finalizer) then
    does not run again, and a Service keeps the IPs it was allocated. When a Service has
    no cluster IP and ``allocate_cluster_ip`` is given, its result is recorded as
    ``clusterIP``/``clusterIPs``; pass it on create only (``needs_cluster_ip`` and
    ``set_cluster_ip`` do the same for a server that allocates elsewhere).
    """
    creating = old is None
    name = kind.kind
    if name == "Pod":
        default_pod(obj, creating)
    elif name == "StatefulSet":
        default_statefulset(obj, old)
    elif name == "Service":
        default_service(obj, old, allocate_cluster_ip)
    elif name == "PersistentVolumeClaim":
        default_pvc(obj)
    elif name == "PersistentVolume":
        default_pv(obj)
    elif name == "StorageClass":
        default_storage_class(obj)
    elif name == "Namespace":
        default_namespace(obj, creating)
    elif name == "Event":
        default_event(obj)
    elif name == "Endpoints":
        default_endpoints(obj)
    elif name == "Node":
        default_node(obj)
    # ConfigMap (SetDefaults_ConfigMap's empty map is omitted on the wire) and
    # ControllerRevision have nothing visible to default.


__all__ = ["apply_defaults"]
