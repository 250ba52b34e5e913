"""The pods/eviction subresource: ``kubectl drain`` and the harness evict pods through it.

As kube-apiserver's eviction REST (pkg/registry/core/pod/storage/eviction.go): the
body is a policy/v1 (or v1beta1) Eviction whose name must be the pod's; the pod is
deleted with the Eviction's deleteOptions (its grace period, preconditions) and the
answer is a Status ``Success`` with code 201. A pod already terminating, or terminal,
is deleted without further ado.

Where it differs: the simulator serves no PodDisruptionBudgets, so no eviction is
refused with ``429 TooManyRequests`` (``Cannot evict pod as it would violate the pod's
disruption budget.``) as the real server refuses one a budget does not allow.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind

EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def _delete_options(body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("deleteOptions") or {}
    options: dict[str, Any] = {}
    grace = given.get("gracePeriodSeconds")
    if grace is not None:
        try:
            options["grace_period"] = int(grace)
        except (TypeError, ValueError):
            raise errors.bad_request("gracePeriodSeconds must be an integer") from None
    pre = given.get("preconditions") or {}
    options["preconditions"] = {k: pre[k] for k in ("uid", "resourceVersion") if pre.get(k)}
    return options


def install(api: Any) -> None:
    """Serve POST pods/{name}/eviction on ``api`` (an ApiServer)."""

    async def evict(request: web.Request, kind: Kind, namespace: str, name: str) -> web.Response:
        if request.method != "POST":
            raise errors.method_not_allowed()
        body = await api._body(request)
        if not isinstance(body, dict) or body.get("apiVersion") not in (None, *EVICTION_VERSIONS):
            raise errors.bad_request("the request body must be a policy/v1 Eviction")
        evicted = (body.get("metadata") or {}).get("name")
        if evicted != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        api.store.delete(kind, namespace, name, **_delete_options(body))
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }
        return web.json_response(status, status=201)

    api.subresources[("Pod", "eviction")] = evict


__all__ = ["install"]
