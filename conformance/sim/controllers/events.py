"""Events as the real components emit them (kubectl describe shows these)."""

from __future__ import annotations

import contextlib
import secrets

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Obj, Store, kind_named, now_rfc3339


def record(
    store: Store,
    involved: Obj,
    reason: str,
    message: str,
    *,
    component: str,
    type_: str = "Normal",
    host: str | None = None,
) -> None:
    """Write a core/v1 Event about ``involved`` in its namespace (default for cluster objects)."""
    m = involved.get("metadata") or {}
    namespace = m.get("namespace") or "default"
    stamp = now_rfc3339()
    source = {"component": component}
    if host:
        source["host"] = host
    event = {
        "metadata": {
            "name": f"{m.get('name', 'unknown')}.{secrets.token_hex(8)}",
            "namespace": namespace,
        },
        "involvedObject": {
            "kind": involved.get("kind", ""),
            "namespace": m.get("namespace", ""),
            "name": m.get("name", ""),
            "uid": m.get("uid", ""),
            "apiVersion": involved.get("apiVersion", ""),
            "resourceVersion": m.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    # best effort, as upstream: e.g. a terminating namespace refuses new events
    with contextlib.suppress(errors.ApiError):
        store.create(EVENT, event, namespace)


EVENT: Kind = kind_named("Event")
