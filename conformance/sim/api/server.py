"""The HTTP face of the simulated cluster: Kubernetes REST over aiohttp.

Routing is table-driven from ``kinds.KINDS``; the verbs map onto ``Store`` calls.
What clients see (content types, Status bodies, Table output, watch framing) follows
what the real kube-apiserver sends and what kubectl 1.32 was measured to need
(shared/reference/kubectl-protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import yaml
from aiohttp import web

from conformance.sim.api import (
    defaulting,
    discovery,
    errors,
    kinds,
    openapi,
    patch,
    protobuf,
    selectors,
    tables,
    validation,
)
from conformance.sim.api.store import Event, Obj, Store, Watcher
from conformance.sim.faults import ActiveFaults

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SubresourceHandler = Callable[[web.Request, kinds.Kind, str, str], Awaitable[web.StreamResponse]]

_FIELD_LABELS = {
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "status.phase",
    "spec.claimRef.name",
    "spec.claimRef.namespace",
    "spec.storageClassName",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "involvedObject.kind",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "type",
    "source",
    "spec.unschedulable",
    "spec.serviceName",
    "status.successful",
}


def _json(body: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers={"Content-Type": content_type},
    )


def _error(exc: errors.ApiError) -> web.Response:
    response = _json(exc.status(), exc.code)
    response.headers.update(exc.headers)
    return response


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ApiServer:
    """Owns routing; controllers and the node runtime plug in through the store and hooks."""

    def __init__(self, store: Store, token: str, faults: ActiveFaults | None = None) -> None:
        self.store = store
        self.token = token
        self.faults = faults or ActiveFaults()
        self.rng = random.Random(0)
        self.subresources: dict[tuple[str, str], SubresourceHandler] = {}
        self.websockets: dict[tuple[str, str], SubresourceHandler] = {}
        self._stopping = asyncio.Event()
        self.app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        self._routes()

    # --- plumbing --------------------------------------------------------------

    def _routes(self) -> None:
        r = self.app.router
        r.add_get("/version", self._version)
        r.add_get("/version/", self._version)
        for path in ("/healthz", "/readyz", "/livez"):
            r.add_get(path, self._ok)
        r.add_get("/api", self._api)
        r.add_get("/api/", self._api)
        r.add_get("/apis", self._apis)
        r.add_get("/apis/", self._apis)
        r.add_get("/openapi/v3", self._openapi_root)
        r.add_get("/openapi/v3/{path:.*}", self._openapi_doc)
        r.add_route("*", "/api/{version}", self._group_version)
        r.add_route("*", "/api/{version}/", self._group_version)
        r.add_route("*", "/api/{version}/{rest:.+}", self._resource)
        r.add_get("/apis/{group}", self._group)
        r.add_get("/apis/{group}/", self._group)
        r.add_route("*", "/apis/{group}/{version}", self._group_version)
        r.add_route("*", "/apis/{group}/{version}/", self._group_version)
        r.add_route("*", "/apis/{group}/{version}/{rest:.+}", self._resource)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.headers.get("Authorization", "") != f"Bearer {self.token}":
                raise errors.unauthorized()
            self._inject_api_fault(request)
            return await handler(request)
        except errors.ApiError as exc:
            return _error(exc)
        except web.HTTPException as exc:
            if exc.status == 404:
                return _error(errors.not_found_path())
            if exc.status == 405:
                return _error(errors.method_not_allowed())
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("internal error on %s %s", request.method, request.path)
            return _error(errors.ApiError(500, "InternalError", f"Internal error occurred: {exc}"))

    def _inject_api_fault(self, request: web.Request) -> None:
        if not request.path.startswith(("/api/", "/apis/")):
            return
        rate_429 = self.faults.value("api-429") or 0.0
        rate_5xx = self.faults.value("api-5xx") or 0.0
        if rate_429 and self.rng.random() < rate_429:
            raise errors.ApiError(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
                details={"retryAfterSeconds": 1},
                headers={"Retry-After": "1"},
            )
        if rate_5xx and self.rng.random() < rate_5xx:
            raise errors.ApiError(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request (injected fault api-5xx)",
            )

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _version(self, request: web.Request) -> web.Response:
        return _json(discovery.version_info())

    async def _api(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return _json(
                discovery.aggregated_discovery(core=True),
                content_type=discovery.AGGREGATED_CONTENT_TYPE,
            )
        return _json(discovery.api_versions())

    async def _apis(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return _json(
                discovery.aggregated_discovery(core=False),
                content_type=discovery.AGGREGATED_CONTENT_TYPE,
            )
        return _json(discovery.api_group_list())

    async def _group(self, request: web.Request) -> web.Response:
        group = request.match_info["group"]
        if group not in {g for g, _ in kinds.group_versions()}:
            raise errors.not_found_path()
        return _json(discovery.api_group(group))

    async def _group_version(self, request: web.Request) -> web.Response:
        group = request.match_info.get("group", "")
        version = request.match_info["version"]
        if (group, version) not in kinds.group_versions():
            raise errors.not_found_path()
        if request.method != "GET":
            raise errors.method_not_allowed()
        return _json(discovery.api_resource_list(group, version))

    async def _openapi_root(self, request: web.Request) -> web.Response:
        return _json(openapi.openapi_v3_root())

    async def _openapi_doc(self, request: web.Request) -> web.Response:
        parts = request.match_info["path"].strip("/").split("/")
        if parts[:1] == ["api"] and len(parts) == 2:
            document = openapi.openapi_v3_document("", parts[1])
        elif parts[:1] == ["apis"] and len(parts) == 3:
            document = openapi.openapi_v3_document(parts[1], parts[2])
        else:
            document = None
        if document is None:
            raise errors.not_found_path()
        return _json(document)

    # --- resource routing ------------------------------------------------------

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        group = request.match_info.get("group", "")
        version = request.match_info["version"]
        if (group, version) not in kinds.group_versions():
            raise errors.not_found_path()
        parts = [p for p in request.match_info["rest"].split("/") if p]
        namespace: str | None = None
        if (
            len(parts) >= 3
            and parts[0] == "namespaces"
            and (kind_ := kinds.lookup(group, version, parts[2])) is not None
            and kind_.namespaced
        ):
            namespace = parts[1]
            parts = parts[2:]
        kind = kinds.lookup(group, version, parts[0])
        if (
            kind is None
            or len(parts) > 3
            or (kind.namespaced and namespace is None and len(parts) > 1)
        ):
            raise errors.not_found_path()
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if name is None:
            return await self._collection(request, kind, namespace)
        if sub is None:
            return await self._item(request, kind, namespace, name)
        return await self._subresource(request, kind, namespace, name, sub)

    async def _collection(
        self, request: web.Request, kind: kinds.Kind, namespace: str | None
    ) -> web.StreamResponse:
        if request.method == "GET":
            if request.query.get("watch") in ("true", "1"):
                return await self._watch(request, kind, namespace)
            return self._list(request, kind, namespace)
        if request.method == "POST":
            body = await self._body(request)
            if kind.namespaced and namespace is None:
                raise errors.method_not_allowed()
            created = self.store.create(kind, body, namespace)
            return self._object_response(request, kind, created, 201)
        if request.method == "DELETE":
            options = await self._delete_options(request)
            matches = self._filter(request, kind)
            deleted = []
            for obj in self.store.list(kind, namespace, matches):
                m = obj["metadata"]
                with contextlib.suppress(errors.ApiError):
                    deleted.append(
                        self.store.delete(kind, m.get("namespace"), m["name"], **options)
                    )
            return _json(self._list_body(kind, deleted))
        raise errors.method_not_allowed()

    async def _item(
        self, request: web.Request, kind: kinds.Kind, namespace: str | None, name: str
    ) -> web.StreamResponse:
        if request.method == "GET":
            return self._object_response(request, kind, self.store.get(kind, namespace, name))
        if request.method == "PUT":
            body = await self._body(request)
            updated = self.store.update(kind, body, namespace=namespace, name=name)
            return self._object_response(request, kind, updated)
        if request.method == "PATCH":
            return await self._patch(request, kind, namespace, name, None)
        if request.method == "DELETE":
            options = await self._delete_options(request)
            result = self.store.delete(kind, namespace, name, **options)
            return self._object_response(request, kind, result)
        raise errors.method_not_allowed()

    async def _subresource(
        self,
        request: web.Request,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        sub: str,
    ) -> web.StreamResponse:
        if sub not in kind.subresources:
            raise errors.not_found_path()
        if sub == "status":
            if request.method == "GET":
                return self._object_response(request, kind, self.store.get(kind, namespace, name))
            if request.method == "PUT":
                body = await self._body(request)
                updated = self.store.update(
                    kind, body, namespace=namespace, name=name, subresource="status"
                )
                return self._object_response(request, kind, updated)
            if request.method == "PATCH":
                return await self._patch(request, kind, namespace, name, "status")
            raise errors.method_not_allowed()
        if sub == "scale":
            return await self._scale(request, kind, namespace or "", name)
        if kind.kind == "Namespace" and sub == "finalize":
            raise errors.method_not_allowed()
        handlers = (
            self.websockets
            if request.headers.get("Upgrade", "").lower() == "websocket"
            else self.subresources
        )
        handler = handlers.get((kind.kind, sub)) or self.subresources.get((kind.kind, sub))
        if handler is None:
            raise errors.method_not_allowed(f"{kind.plural}/{sub} is not served by this cluster")
        self.store.get(kind, namespace, name)  # 404 before any upgrade
        return await handler(request, kind, namespace or "", name)

    # --- verbs -----------------------------------------------------------------

    def _filter(self, request: web.Request, kind: kinds.Kind) -> Callable[[Obj], bool]:
        try:
            labels = selectors.parse_label_selector(request.query.get("labelSelector", ""))
            fields = selectors.parse_field_selector(request.query.get("fieldSelector", ""))
        except selectors.SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        for name in fields.fields():
            if name not in _FIELD_LABELS:
                raise errors.bad_request(f"field label not supported: {name}")

        def matches(obj: Obj) -> bool:
            return labels.matches(
                (obj.get("metadata") or {}).get("labels") or {}
            ) and fields.matches(obj)

        return matches

    def _list_body(self, kind: kinds.Kind, items: list[Obj]) -> dict[str, Any]:
        return {
            "kind": kind.list_kind,
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": self.store.resource_version},
            "items": items,
        }

    def _list(self, request: web.Request, kind: kinds.Kind, namespace: str | None) -> web.Response:
        items = self.store.list(kind, namespace, self._filter(request, kind))
        if _wants_table(request):
            return _json(
                tables.to_table(
                    kind,
                    items,
                    include_object=request.query.get("includeObject", "Metadata"),
                    list_rv=self.store.resource_version,
                    now=_now(),
                )
            )
        return _json(self._list_body(kind, items))

    def _object_response(
        self, request: web.Request, kind: kinds.Kind, obj: Obj, status: int = 200
    ) -> web.Response:
        if _wants_table(request) and obj.get("kind") == kind.kind:
            return _json(
                tables.to_table(
                    kind,
                    [obj],
                    include_object=request.query.get("includeObject", "Metadata"),
                    list_rv=obj["metadata"].get("resourceVersion", ""),
                    now=_now(),
                ),
                status,
            )
        return _json(obj, status)

    async def _body(self, request: web.Request) -> Obj:
        raw = await request.read()
        content_type = request.headers.get("Content-Type", "application/json").split(";")[0]
        try:
            if content_type == "application/vnd.kubernetes.protobuf":
                body: Any = protobuf.decode_object(raw)
            elif content_type in ("application/yaml", "application/apply-patch+yaml"):
                body = yaml.safe_load(raw.decode() or "null")
            elif content_type.endswith("json") or not content_type:
                body = json.loads(raw.decode() or "null")
            else:
                raise errors.unsupported_media_type(content_type)
        except protobuf.ProtobufError as exc:
            raise errors.ApiError(415, "UnsupportedMediaType", str(exc)) from None
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the request body could not be decoded: {exc}") from None
        if not isinstance(body, (dict, list)):
            raise errors.bad_request("the request body must be a JSON object")
        return body  # type: ignore[return-value]

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        raw = await request.read()
        body: dict[str, Any] = {}
        if raw.strip():
            try:
                body = json.loads(raw.decode())
            except ValueError:
                raise errors.bad_request("DeleteOptions could not be decoded") from None
        propagation = request.query.get("propagationPolicy") or body.get("propagationPolicy")
        if body.get("orphanDependents") is True:
            propagation = "Orphan"
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise errors.bad_request(f'unsupported propagationPolicy "{propagation}"')
        options["propagation"] = propagation
        grace = request.query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        if grace is not None:
            try:
                options["grace_period"] = int(grace)
            except (TypeError, ValueError):
                raise errors.bad_request("gracePeriodSeconds must be an integer") from None
        pre = body.get("preconditions") or {}
        options["preconditions"] = {
            k: v
            for k, v in (("uid", pre.get("uid")), ("resourceVersion", pre.get("resourceVersion")))
            if v
        }
        return options

    async def _patch(
        self,
        request: web.Request,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        subresource: str | None,
    ) -> web.Response:
        content_type = request.headers.get("Content-Type", "").split(";")[0]
        body = await self._body(request)
        existing = self.store.find(kind, namespace, name)
        if existing is None:
            if content_type == "application/apply-patch+yaml" and subresource is None:
                created = self.store.create(kind, body, namespace)  # server-side apply creates
                return self._object_response(request, kind, created, 201)
            raise errors.not_found(kind, name)
        try:
            patched = self._apply_patch(kind, existing, body, content_type)
        except patch.PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from None
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        updated = self.store.update(
            kind, patched, namespace=namespace, name=name, subresource=subresource
        )
        return self._object_response(request, kind, updated)

    @staticmethod
    def _apply_patch(kind: kinds.Kind, existing: Obj, body: Any, content_type: str) -> Obj:
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise patch.PatchError("a JSON patch must be a list of operations")
            return patch.apply_json_patch(existing, body)
        if not isinstance(body, dict):
            raise patch.PatchError("a merge patch must be an object")
        if content_type == "application/merge-patch+json":
            return patch.apply_merge_patch(existing, body)
        if content_type in (
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ):
            # Server-side apply is approximated by a strategic merge of the applied fields.
            return patch.apply_strategic_merge_patch(existing, body, kind.kind)
        raise errors.unsupported_media_type(content_type)

    async def _scale(
        self, request: web.Request, kind: kinds.Kind, namespace: str, name: str
    ) -> web.Response:
        def scale_of(obj: Obj) -> dict[str, Any]:
            spec = obj.get("spec") or {}
            selector = spec.get("selector") or {}
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    k: obj["metadata"][k]
                    for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                    if k in obj["metadata"]
                },
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {
                    "replicas": (obj.get("status") or {}).get("replicas", 0),
                    "selector": selectors.to_string(selector),
                },
            }

        current = self.store.get(kind, namespace, name)
        if request.method == "GET":
            return _json(scale_of(current))
        body = await self._body(request)
        if request.method == "PUT":
            scale = body
        elif request.method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0]
            try:
                scale = self._apply_patch(kind, scale_of(current), body, content_type)
            except patch.PatchError as exc:
                raise errors.ApiError(422, "Invalid", str(exc)) from None
        else:
            raise errors.method_not_allowed()
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                kind,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "must be greater than or equal to 0",
                        "field": "spec.replicas",
                    }
                ],
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas}: must be greater than or equal to 0",
            )
        given_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if given_rv and given_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(kind, name)
        current["spec"]["replicas"] = replicas
        updated = self.store.update(kind, current, namespace=namespace, name=name)
        return _json(scale_of(updated))

    # --- watch -----------------------------------------------------------------

    async def _watch(
        self, request: web.Request, kind: kinds.Kind, namespace: str | None
    ) -> web.StreamResponse:
        matches = self._filter(request, kind)
        watcher = self.store.watch(kind, namespace, request.query.get("resourceVersion"), matches)
        timeout = _watch_timeout(request)
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        table = _wants_table(request)
        include = request.query.get("includeObject", "Metadata")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        drop_after = self.faults.value("watch-drop")
        if drop_after:
            deadline = min(deadline, loop.time() + drop_after)
        last_rv = request.query.get("resourceVersion") or self.store.resource_version
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), min(remaining, 5.0))
                except asyncio.TimeoutError:
                    if bookmarks:
                        await self._write_bookmark(response, kind, self.store.resource_version)
                    continue
                if event is None:
                    break
                last_rv = event.object["metadata"]["resourceVersion"]
                await response.write(self._event_line(kind, event, table, include))
            if bookmarks and loop.time() >= deadline:
                await self._write_bookmark(response, kind, last_rv)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.stop_watch(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _event_line(self, kind: kinds.Kind, event: Event, table: bool, include: str) -> bytes:
        obj: Any = event.object
        if table:
            obj = tables.to_table(
                kind,
                [event.object],
                include_object=include,
                list_rv=event.object["metadata"]["resourceVersion"],
                now=_now(),
            )
        return (
            json.dumps({"type": event.type, "object": obj}, separators=(",", ":")).encode() + b"\n"
        )

    @staticmethod
    async def _write_bookmark(response: web.StreamResponse, kind: kinds.Kind, rv: str) -> None:
        line = {
            "type": "BOOKMARK",
            "object": {
                "kind": kind.kind,
                "apiVersion": kind.api_version,
                "metadata": {
                    "resourceVersion": rv,
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            },
        }
        await response.write(json.dumps(line).encode() + b"\n")

    async def stop(self) -> None:
        self.store.close_watches()


def _watch_timeout(request: web.Request) -> float:
    """timeoutSeconds, else the client's `timeout=3s` duration, else 30-60 minutes as upstream."""
    seconds = request.query.get("timeoutSeconds")
    if seconds:
        try:
            return max(float(seconds), 0.0)
        except ValueError:
            raise errors.bad_request("timeoutSeconds must be a number") from None
    duration = request.query.get("timeout")
    if duration:
        return _parse_duration(duration)
    return 1800.0


def _parse_duration(text: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = 0.0
    number = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text[i : i + 2] == "ms" else ch
        if unit not in units or not number:
            raise errors.bad_request(f'invalid duration "{text}"')
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise errors.bad_request(f'invalid duration "{text}": missing unit')
    return total


def install_admission(store: Store) -> None:
    """Defaulting and validation as the real API server's registry strategies run them."""

    allocated = itertools.count(10)

    def cluster_ip() -> str:
        index = next(allocated)
        return f"10.96.{index // 250}.{index % 250 + 1}"

    def admit(kind: kinds.Kind, obj: Obj, old: Obj | None) -> None:
        defaulting.apply_defaults(
            kind, obj, old, allocate_cluster_ip=cluster_ip if old is None else None
        )

    def validate(kind: kinds.Kind, obj: Obj, old: Obj | None) -> None:
        causes = validation.validate(kind, obj, old)
        if causes:
            name = obj.get("metadata", {}).get("name", "")
            raise errors.invalid(
                kind,
                name,
                [dict(cause) for cause in causes],
                validation.invalid_message(kind, name, causes),
            )

    store.admit.append(admit)
    store.validate.append(validate)


__all__ = ["ApiServer", "Watcher", "install_admission"]
