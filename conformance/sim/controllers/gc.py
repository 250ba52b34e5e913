"""Garbage collector and namespace controller: ownerReferences and namespace cascade.

Background deletion removes dependents after their owner is gone; Foreground keeps
the owner (finalizer ``foregroundDeletion``) until its dependents are gone; Orphan
(finalizer ``orphan``) strips the owner's references from its dependents first.
Deleting a namespace deletes everything in it, then clears ``spec.finalizers``.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.sim.api import errors
from conformance.sim.api.kinds import KINDS, Kind
from conformance.sim.api.store import Event, Obj, Store, kind_named
from conformance.sim.controllers.base import Controller, QueueKey

NAMESPACE = kind_named("Namespace")
_UID = "uid:"  # queue keys ("uid:", <uid>) ask for an owner's dependents to be handled


def _owner_uids(obj: Obj) -> list[str]:
    return [ref.get("uid", "") for ref in (obj["metadata"].get("ownerReferences") or [])]


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._owners: dict[str, tuple[Kind, str, str]] = {}  # uid -> kind, ns, name

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        m = event.object["metadata"]
        uid = m.get("uid", "")
        if event.type == "DELETED":
            self._owners.pop(uid, None)
            yield (_UID, uid)
            for owner in _owner_uids(event.object):
                yield (_UID, owner)  # a foreground owner may now be free to go
            return
        self._owners[uid] = (event.kind, m.get("namespace", ""), m["name"])
        finalizers = m.get("finalizers") or []
        if m.get("deletionTimestamp") and (
            "foregroundDeletion" in finalizers or "orphan" in finalizers
        ):
            yield (_UID, uid)
        if event.type == "ADDED" and _owner_uids(event.object):
            # a dependent whose owners do not exist is garbage (checked after a resync)
            for owner in _owner_uids(event.object):
                yield (_UID, owner)

    def all_keys(self) -> Iterable[QueueKey]:
        for _, obj in self.store.iter_all():
            for owner in _owner_uids(obj):
                yield (_UID, owner)

    def _dependents(self, uid: str) -> list[tuple[Kind, Obj]]:
        return [(kind, obj) for kind, obj in self.store.iter_all() if uid in _owner_uids(obj)]

    async def reconcile(self, key: QueueKey) -> None:
        uid = key[1]
        owner_ref = self._owners.get(uid)
        owner = self.store.find(*owner_ref) if owner_ref else None
        dependents = self._dependents(uid)
        if owner is None or owner["metadata"].get("uid") != uid:
            for kind, obj in dependents:
                alive = [u for u in _owner_uids(obj) if u != uid and u in self._owners]
                if not alive:
                    self._delete(kind, obj, "Background")
            return
        finalizers = list(owner["metadata"].get("finalizers") or [])
        if not owner["metadata"].get("deletionTimestamp"):
            return
        if "orphan" in finalizers:
            for kind, obj in dependents:
                self._strip_owner(kind, obj, uid)
            self._drop_finalizer(owner_ref, "orphan")
        elif "foregroundDeletion" in finalizers:
            if dependents:
                for kind, obj in dependents:
                    if not obj["metadata"].get("deletionTimestamp"):
                        self._delete(kind, obj, "Foreground")
                return  # the dependents' deletions re-queue this owner
            self._drop_finalizer(owner_ref, "foregroundDeletion")

    def _delete(self, kind: Kind, obj: Obj, propagation: str) -> None:
        m = obj["metadata"]
        try:
            self.store.delete(
                kind,
                m.get("namespace"),
                m["name"],
                propagation=propagation,
                preconditions={"uid": m["uid"]},
            )
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise

    def _strip_owner(self, kind: Kind, obj: Obj, uid: str) -> None:
        def strip(current: Obj) -> None:
            refs = [
                ref
                for ref in current["metadata"].get("ownerReferences") or []
                if ref.get("uid") != uid
            ]
            if refs:
                current["metadata"]["ownerReferences"] = refs
            else:
                current["metadata"].pop("ownerReferences", None)

        m = obj["metadata"]
        try:
            self.store.mutate(kind, m.get("namespace"), m["name"], strip)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def _drop_finalizer(self, ref: tuple[Kind, str, str] | None, finalizer: str) -> None:
        if ref is None:
            return

        def drop(current: Obj) -> None:
            current["metadata"]["finalizers"] = [
                f for f in current["metadata"].get("finalizers") or [] if f != finalizer
            ]

        try:
            self.store.mutate(*ref, drop)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise


class NamespaceController(Controller):
    """Empties a terminating namespace, then lets it go."""

    name = "namespace-controller"

    def keys_for(self, event: Event) -> Iterable[QueueKey]:
        if event.kind is NAMESPACE:
            if event.type != "DELETED" and event.object["metadata"].get("deletionTimestamp"):
                yield ("", event.object["metadata"]["name"])
        elif event.kind.namespaced and event.type == "DELETED":
            namespace = event.object["metadata"].get("namespace", "")
            ns = self.store.find(NAMESPACE, None, namespace)
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                yield ("", namespace)

    def all_keys(self) -> Iterable[QueueKey]:
        for ns in self.store.list(NAMESPACE):
            if ns["metadata"].get("deletionTimestamp"):
                yield ("", ns["metadata"]["name"])

    async def reconcile(self, key: QueueKey) -> None:
        name = key[1]
        ns = self.store.find(NAMESPACE, None, name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        for kind in KINDS:
            if not kind.namespaced:
                continue
            for obj in self.store.list(kind, name):
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.store.delete(kind, name, obj["metadata"]["name"])
                except errors.ApiError as exc:
                    if exc.code != 404:
                        raise
        left = sum(len(self.store.list(kind, name)) for kind in KINDS if kind.namespaced)
        if left:
            return  # pods terminate gracefully; their DELETED events re-queue us

        def finalize(current: Obj) -> None:
            current.setdefault("spec", {})["finalizers"] = []

        self.store.mutate(NAMESPACE, None, name, finalize, subresource="finalize")
