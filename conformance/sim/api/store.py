"""The object store: the simulated cluster's etcd plus the generic registry logic.

Everything runs in one asyncio event loop, so writes are plain synchronous calls and
ordering is total: one global resourceVersion, a bounded history for resumed watches
(older versions answer 410 Expired as the real server does), and listeners that
controllers use to learn about every change. Listeners must only enqueue work; they
run inline with the write that triggered them.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from conformance.sim.api import errors
from conformance.sim.api.kinds import KINDS, Kind

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# Kinds whose status is only written through the status subresource.
_STATUS_SUBRESOURCE = {k for k in KINDS if "status" in k.subresources}


def now_rfc3339(when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def meta(obj: Obj) -> dict[str, Any]:
    value: dict[str, Any] = obj.setdefault("metadata", {})
    return value


def key_of(obj: Obj) -> Key:
    m = obj.get("metadata") or {}
    return (m.get("namespace") or "", m.get("name") or "")


@dataclass(frozen=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED
    kind: Kind
    object: Obj
    old: Obj | None = None

    @property
    def resource_version(self) -> int:
        return int(self.object["metadata"]["resourceVersion"])


Filter = Callable[[Obj], bool]


@dataclass(eq=False)
class Watcher:
    """One watch stream's queue. ``None`` in the queue means the store closed it."""

    kind: Kind
    namespace: str | None
    matches: Filter
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def offer(self, event: Event) -> None:
        if event.kind != self.kind:
            return
        if self.namespace and event.object["metadata"].get("namespace") != self.namespace:
            return
        now = self.matches(event.object)
        before = event.old is not None and self.matches(event.old)
        if event.type == "MODIFIED" and now != before:
            # objects moving in or out of a selector look like ADDED/DELETED, as upstream
            self.queue.put_nowait(Event("ADDED" if now else "DELETED", event.kind, event.object))
        elif now:
            self.queue.put_nowait(event)


Hook = Callable[[Kind, Obj, Obj | None], None]


class Store:
    """Objects by kind and key, with Kubernetes registry semantics."""

    def __init__(self, *, history: int = 10000) -> None:
        self._objects: dict[Kind, dict[Key, Obj]] = {kind: {} for kind in KINDS}
        self._rv = 1000
        self._history: deque[Event] = deque(maxlen=history)
        self._watchers: set[Watcher] = set()
        self._listeners: list[Callable[[Event], None]] = []
        # mutating admission + defaulting, then validation; may raise ApiError
        self.admit: list[Hook] = []
        self.validate: list[Hook] = []

    # --- bookkeeping -----------------------------------------------------------

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        for watcher in list(self._watchers):
            watcher.offer(event)
        for listener in self._listeners:
            listener(event)

    # --- reads -----------------------------------------------------------------

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        found = self._objects[kind].get((namespace or "", name))
        if found is None:
            raise errors.not_found(kind, name)
        return copy.deepcopy(found)

    def find(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        found = self._objects[kind].get((namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self, kind: Kind, namespace: str | None = None, matches: Filter | None = None
    ) -> list[Obj]:
        items = [
            obj
            for (ns, _), obj in sorted(self._objects[kind].items())
            if (not namespace or ns == namespace) and (matches is None or matches(obj))
        ]
        return copy.deepcopy(items)

    def iter_all(self) -> Iterable[tuple[Kind, Obj]]:
        for kind, objects in self._objects.items():
            for obj in list(objects.values()):
                yield kind, obj

    # --- writes ----------------------------------------------------------------

    def create(self, kind: Kind, obj: Obj, namespace: str | None = None) -> Obj:
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = kind.api_version
        obj["kind"] = kind.kind
        m = meta(obj)
        if kind.namespaced:
            body_ns = m.get("namespace")
            if namespace and body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            namespace = namespace or body_ns or "default"
            m["namespace"] = namespace
            self._check_namespace_open(kind, namespace, m.get("name") or "")
        else:
            m.pop("namespace", None)
            namespace = ""
        if not m.get("name"):
            prefix = m.get("generateName")
            if not prefix:
                raise errors.invalid(
                    kind,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: name or generateName is required",
                            "field": "metadata.name",
                        }
                    ],
                    f'{kind.kind} "" is invalid: metadata.name: Required value: name or '
                    "generateName is required",
                )
            m["name"] = prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
        key = (namespace, m["name"])
        if key in self._objects[kind]:
            raise errors.already_exists(kind, m["name"])
        for hook in self.admit:
            hook(kind, obj, None)
        for hook in self.validate:
            hook(kind, obj, None)
        for volatile in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            m.pop(volatile, None)
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = now_rfc3339()
        m["generation"] = 1
        m["resourceVersion"] = self._next_rv()
        self._objects[kind][key] = obj
        self._emit(Event("ADDED", kind, copy.deepcopy(obj)))
        return copy.deepcopy(obj)

    def _check_namespace_open(self, kind: Kind, namespace: str, name: str) -> None:
        ns_kind = _kind("Namespace")
        ns = self._objects[ns_kind].get(("", namespace))
        if ns is None:
            raise errors.ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            )
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                kind,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    def update(
        self,
        kind: Kind,
        obj: Obj,
        *,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> Obj:
        """PUT semantics: replace, with resourceVersion precondition when the body has one."""
        obj = copy.deepcopy(obj)
        m = meta(obj)
        name = name or m.get("name") or ""
        namespace = (namespace or m.get("namespace") or "") if kind.namespaced else ""
        if m.get("name") and m["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({m['name']}) does not match the name on the URL ({name})"
            )
        key = (namespace, name)
        current = self._objects[kind].get(key)
        if current is None:
            raise errors.not_found(kind, name)
        given_rv = m.get("resourceVersion")
        if given_rv and given_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(kind, name)
        new = self._merge_for_update(kind, current, obj, subresource)
        if subresource is None:
            for hook in self.admit:
                hook(kind, new, current)
            for hook in self.validate:
                hook(kind, new, current)
            if json.dumps(new.get("spec"), sort_keys=True) != json.dumps(
                current.get("spec"), sort_keys=True
            ):
                new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return self._commit(kind, key, current, new)

    def _merge_for_update(self, kind: Kind, current: Obj, obj: Obj, subresource: str | None) -> Obj:
        if subresource == "status":
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            return new
        if subresource == "finalize":  # namespaces: only spec.finalizers changes
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers", [])
            return new
        new = obj
        new["apiVersion"] = kind.api_version
        new["kind"] = kind.kind
        m = meta(new)
        old_meta = current["metadata"]
        for immutable in ("uid", "creationTimestamp", "name", "namespace", "generation"):
            if immutable in old_meta:
                m[immutable] = old_meta[immutable]
            else:
                m.pop(immutable, None)
        for managed in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if managed in old_meta:
                m[managed] = old_meta[managed]
            else:
                m.pop(managed, None)
        if kind in _STATUS_SUBRESOURCE:
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        return new

    def _commit(self, kind: Kind, key: Key, current: Obj, new: Obj) -> Obj:
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return copy.deepcopy(current)  # no-op writes keep the resourceVersion, as upstream
        if _removable(kind, new):
            return self._remove(kind, key)
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[kind][key] = new
        self._emit(Event("MODIFIED", kind, copy.deepcopy(new), copy.deepcopy(current)))
        return copy.deepcopy(new)

    def mutate(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj | None],
        *,
        subresource: str | None = None,
    ) -> Obj:
        """Read-modify-write for controllers and PATCH: ``change`` edits a copy (or returns one)."""
        current = self.get(kind, namespace, name)
        changed = change(current)
        obj = current if changed is None else changed
        return self.update(kind, obj, namespace=namespace, name=name, subresource=subresource)

    def delete(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        grace_period: int | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> Obj:
        """DELETE semantics: finalizers and grace periods defer removal; returns the object."""
        key = ((namespace or "") if kind.namespaced else "", name)
        current = self._objects[kind].get(key)
        if current is None:
            raise errors.not_found(kind, name)
        old_meta = current["metadata"]
        for field_name, value in (preconditions or {}).items():
            if value and old_meta.get(field_name) != value:
                raise errors.conflict(
                    kind,
                    name,
                    f"Precondition failed: {field_name.capitalize()} in precondition: {value}, "
                    f"{field_name.capitalize()} in object meta: {old_meta.get(field_name)}",
                )
        new = copy.deepcopy(current)
        m = new["metadata"]
        finalizers: list[str] = list(m.get("finalizers") or [])
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if kind.kind == "Namespace":
            new.setdefault("status", {})["phase"] = "Terminating"
        graceful = self._grace_period(kind, current, grace_period)
        already = bool(old_meta.get("deletionTimestamp"))
        if not finalizers and not graceful and not _spec_finalizers(kind, new):
            return self._remove(kind, key)
        if finalizers:
            m["finalizers"] = finalizers
        if not already:
            when = datetime.now(timezone.utc) + timedelta(seconds=graceful or 0)
            m["deletionTimestamp"] = now_rfc3339(when)
            m["deletionGracePeriodSeconds"] = graceful or 0
        elif grace_period is not None and (graceful or 0) < int(
            old_meta.get("deletionGracePeriodSeconds", 0)
        ):
            m["deletionGracePeriodSeconds"] = graceful or 0
        if _removable(kind, new):
            return self._remove(kind, key)
        if new == current:
            return copy.deepcopy(current)
        m["resourceVersion"] = self._next_rv()
        self._objects[kind][key] = new
        self._emit(Event("MODIFIED", kind, copy.deepcopy(new), copy.deepcopy(current)))
        return copy.deepcopy(new)

    @staticmethod
    def _grace_period(kind: Kind, current: Obj, requested: int | None) -> int | None:
        """Pods bound to a node terminate gracefully; everything else goes at once."""
        if kind.kind != "Pod" or not (current.get("spec") or {}).get("nodeName"):
            return None
        if current.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return None
        if requested is None:
            requested = int((current.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        return requested if requested > 0 else None

    def _remove(self, kind: Kind, key: Key) -> Obj:
        current = self._objects[kind].pop(key)
        gone = copy.deepcopy(current)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(Event("DELETED", kind, copy.deepcopy(gone), copy.deepcopy(current)))
        return gone

    # --- watch -----------------------------------------------------------------

    def watch(
        self,
        kind: Kind,
        namespace: str | None,
        resource_version: str | None,
        matches: Filter,
    ) -> Watcher:
        """Start a watch. '' or '0' replays current state as ADDED; N resumes after N."""
        watcher = Watcher(kind, namespace or None, matches)
        if not resource_version or resource_version == "0":
            for obj in self.list(kind, namespace, matches):
                watcher.queue.put_nowait(Event("ADDED", kind, obj))
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
            oldest = self._history[0].resource_version if self._history else self._rv + 1
            if since < oldest - 1 and since < self._rv:
                raise errors.gone(f"too old resource version: {since} ({oldest - 1})")
            for event in self._history:
                if event.resource_version > since:
                    watcher.offer(event)
        self._watchers.add(watcher)
        return watcher

    def stop_watch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def close_watches(self) -> None:
        for watcher in list(self._watchers):
            watcher.queue.put_nowait(None)
        self._watchers.clear()


def _spec_finalizers(kind: Kind, obj: Obj) -> bool:
    """Namespaces also wait for spec.finalizers (the namespace controller's "kubernetes")."""
    return kind.kind == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))


def _removable(kind: Kind, obj: Obj) -> bool:
    """A deleting object goes once nothing holds it: finalizers and grace period both done."""
    m = obj["metadata"]
    return (
        bool(m.get("deletionTimestamp"))
        and not m.get("finalizers")
        and not int(m.get("deletionGracePeriodSeconds") or 0)
        and not _spec_finalizers(kind, obj)
    )


def _kind(name: str) -> Kind:
    for kind in KINDS:
        if kind.kind == name:
            return kind
    raise KeyError(name)


def kind_named(name: str) -> Kind:
    """The served Kind with this kind name (names are unique across our groups)."""
    return _kind(name)
