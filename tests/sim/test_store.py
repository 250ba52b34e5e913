"""Registry semantics of the store that no client test isolates well."""

from __future__ import annotations

import pytest

from conformance.sim.api import errors
from conformance.sim.api.store import Store, kind_named

NS = kind_named("Namespace")
CM = kind_named("ConfigMap")
POD = kind_named("Pod")


@pytest.fixture
def store() -> Store:
    s = Store(history=5)
    s.create(NS, {"metadata": {"name": "demo"}})
    return s


def test_no_op_update_keeps_resource_version(store: Store) -> None:
    created = store.create(CM, {"metadata": {"name": "a"}, "data": {"k": "v"}}, "demo")
    again = store.update(CM, created, namespace="demo")
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    changed = store.mutate(CM, "demo", "a", lambda o: o["data"].update(k="w"))
    assert int(changed["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_finalizers_defer_removal_until_cleared(store: Store) -> None:
    store.create(CM, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, "demo")
    deleting = store.delete(CM, "demo", "held")
    assert deleting["metadata"]["deletionTimestamp"]
    assert store.find(CM, "demo", "held") is not None
    store.mutate(CM, "demo", "held", lambda o: o["metadata"].update(finalizers=[]))
    assert store.find(CM, "demo", "held") is None


def test_scheduled_pod_terminates_gracefully(store: Store) -> None:
    spec = {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}
    store.create(POD, {"metadata": {"name": "p"}, "spec": spec}, "demo")
    first = store.delete(POD, "demo", "p")
    assert first["metadata"]["deletionGracePeriodSeconds"] == 30
    store.mutate(
        POD,
        "demo",
        "p",
        lambda o: o.setdefault("status", {}).update(phase="Running"),
        subresource="status",
    )
    assert store.find(POD, "demo", "p") is not None  # a status write does not end the grace period
    store.delete(POD, "demo", "p", grace_period=0)
    assert store.find(POD, "demo", "p") is None


def test_unscheduled_pod_goes_at_once(store: Store) -> None:
    store.create(POD, {"metadata": {"name": "p"}, "spec": {"containers": []}}, "demo")
    store.delete(POD, "demo", "p")
    assert store.find(POD, "demo", "p") is None


def test_watch_sees_objects_leave_and_enter_its_selector(store: Store) -> None:
    store.create(CM, {"metadata": {"name": "a", "labels": {"tier": "db"}}}, "demo")
    watcher = store.watch(
        CM,
        "demo",
        store.resource_version,
        lambda o: o["metadata"].get("labels", {}).get("tier") == "db",
    )
    store.mutate(CM, "demo", "a", lambda o: o["metadata"]["labels"].update(tier="web"))
    store.mutate(CM, "demo", "a", lambda o: o["metadata"]["labels"].update(tier="db"))
    types = [watcher.queue.get_nowait().type for _ in range(2)]  # type: ignore[union-attr]
    assert types == ["DELETED", "ADDED"]


def test_resume_from_compacted_version_is_gone(store: Store) -> None:
    start = store.resource_version
    for index in range(10):
        store.create(CM, {"metadata": {"name": f"c{index}"}}, "demo")
    with pytest.raises(errors.ApiError) as gone:
        store.watch(CM, "demo", start, lambda o: True)
    assert gone.value.code == 410


def test_terminating_namespace_refuses_new_objects(store: Store) -> None:
    store.mutate(
        NS, None, "demo", lambda o: o.setdefault("spec", {}).update(finalizers=["kubernetes"])
    )
    store.delete(NS, None, "demo")
    with pytest.raises(errors.ApiError) as refused:
        store.create(CM, {"metadata": {"name": "late"}}, "demo")
    assert refused.value.code == 403
    assert "being terminated" in refused.value.message


def test_stale_resource_version_conflicts(store: Store) -> None:
    created = store.create(CM, {"metadata": {"name": "a"}}, "demo")
    store.mutate(CM, "demo", "a", lambda o: o.update(data={"x": "1"}))
    created["data"] = {"x": "2"}
    with pytest.raises(errors.ApiError) as conflict:
        store.update(CM, created, namespace="demo")
    assert conflict.value.code == 409
    assert conflict.value.reason == "Conflict"
