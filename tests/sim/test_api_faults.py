"""Control-plane faults seen the way a conformance check sees them: through the API.

Each test runs against the simulated cluster with the official client, shows the
behaviour is right without the fault, then switches the fault on at run time (the
``/sim/v1/faults`` route `conformance sim fault set` uses) and observes exactly the
property it breaks. Negative observations ("the claims stay") are taken at a point
after which nothing could still change them, never after a sleep.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from conformance.sim import lifecycle
from conformance.sim.cli import _admin  # what `conformance sim fault set` calls
from conformance.waits import Seen, wait_for
from tests.sim import manifests
from tests.sim.conftest import Sim, start_sim

TIMEOUT = 30
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"

Switch = Callable[..., None]


@pytest.fixture
def faults(sim: Sim) -> Iterator[Switch]:
    """Switch faults on in the running simulator for one test; all are cleared afterwards."""

    state = sim.running.state_dir

    def switch(*names: str) -> None:
        _admin(state, "PUT", "/sim/v1/faults", dict.fromkeys(names))

    yield switch
    _admin(state, "DELETE", "/sim/v1/faults")


def claim(name: str, size: str = "1Gi", storage_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": spec,
    }


def bound(name: str) -> Callable[[Seen[client.V1PersistentVolumeClaim]], bool]:
    def predicate(seen: Seen[client.V1PersistentVolumeClaim]) -> bool:
        pvc = seen.objects.get(name)
        return bool(pvc and pvc.status and pvc.status.phase == "Bound")

    return predicate


def wait_bound(sim: Sim, namespace: str, name: str) -> client.V1PersistentVolumeClaim:
    seen = wait_for(
        sim.core.list_namespaced_persistent_volume_claim,
        bound(name),
        timeout=TIMEOUT,
        what=f"claim {name} Bound",
        namespace=namespace,
    )
    return seen.objects[name]


def wait_no_class_event(sim: Sim, namespace: str, name: str) -> None:
    """The binder looked at the claim and gave up: no class, no matching volume."""

    def said(seen: Seen[client.CoreV1Event]) -> bool:
        return any(
            e.reason == "FailedBinding" and e.message == NO_CLASS_MESSAGE for e in seen.items()
        )

    wait_for(
        sim.core.list_namespaced_event,
        said,
        timeout=TIMEOUT,
        what=f"FailedBinding for {name}",
        namespace=namespace,
        field_selector=f"involvedObject.name={name}",
    )


def deploy(sim: Sim, namespace: str, name: str, **settings: Any) -> dict[str, str]:
    """Create a set and wait for its pods Running; return its claims' uids by name."""
    body = manifests.statefulset(name, replicas=2, **settings)
    sim.apps.create_namespaced_stateful_set(namespace, body)
    names = [f"{name}-0", f"{name}-1"]

    def running(seen: Seen[client.V1Pod]) -> bool:
        pods = [seen.objects.get(n) for n in names]
        return all(p and p.status and p.status.phase == "Running" for p in pods)

    wait_for(
        sim.core.list_namespaced_pod,
        running,
        timeout=TIMEOUT,
        what=f"{names} Running",
        namespace=namespace,
        label_selector=f"app={name}",
    )
    claims = [f"data-{n}" for n in names]
    return {c: wait_bound(sim, namespace, c).metadata.uid for c in claims}


def delete_set_and_wait(sim: Sim, namespace: str, name: str) -> None:
    """Foreground deletion: the set is gone only once every dependent it owns is gone."""
    sim.apps.delete_namespaced_stateful_set(name, namespace, propagation_policy="Foreground")
    wait_for(
        sim.apps.list_namespaced_stateful_set,
        lambda seen: name not in seen.objects,
        timeout=TIMEOUT,
        what=f"StatefulSet {name} gone",
        namespace=namespace,
    )


def claims_gone(names: list[str]) -> Callable[[Seen[client.V1PersistentVolumeClaim]], bool]:
    return lambda seen: not set(names) & set(seen.objects)


def live_claims(sim: Sim, namespace: str) -> dict[str, client.V1PersistentVolumeClaim]:
    items = sim.core.list_namespaced_persistent_volume_claim(namespace).items
    return {c.metadata.name: c for c in items if not c.metadata.deletion_timestamp}


# --- pv-wrong-capacity ------------------------------------------------------------------


def test_fault_pv_wrong_capacity(sim: Sim, namespace: str, faults: Switch) -> None:
    sim.core.create_namespaced_persistent_volume_claim(namespace, claim("right"))
    right = wait_bound(sim, namespace, "right")
    assert right.status.capacity == {"storage": "1Gi"}
    pv = sim.core.read_persistent_volume(right.spec.volume_name)
    assert pv.spec.capacity == {"storage": "1Gi"}

    faults("pv-wrong-capacity")
    sim.core.create_namespaced_persistent_volume_claim(namespace, claim("small"))
    small = wait_bound(sim, namespace, "small")
    assert small.spec.resources.requests == {"storage": "1Gi"}
    pv = sim.core.read_persistent_volume(small.spec.volume_name)
    assert pv.spec.capacity == {"storage": "512Mi"}
    assert pv.spec.claim_ref.uid == small.metadata.uid
    assert small.status.capacity == {"storage": "512Mi"}


# --- no-default-class -------------------------------------------------------------------


def test_fault_no_default_class_switched_at_run_time(
    sim: Sim, namespace: str, faults: Switch
) -> None:
    made = sim.core.create_namespaced_persistent_volume_claim(namespace, claim("defaulted"))
    assert made.spec.storage_class_name == "standard"
    wait_bound(sim, namespace, "defaulted")

    faults("no-default-class")
    made = sim.core.create_namespaced_persistent_volume_claim(namespace, claim("classless"))
    assert made.spec.storage_class_name is None
    wait_no_class_event(sim, namespace, "classless")
    pvc = sim.core.read_namespaced_persistent_volume_claim("classless", namespace)
    assert pvc.status.phase == "Pending"
    assert pvc.spec.volume_name is None
    # only the default is gone: a claim naming the class is provisioned as before
    sim.core.create_namespaced_persistent_volume_claim(
        namespace, claim("named", storage_class="standard")
    )
    wait_bound(sim, namespace, "named")


def test_fault_no_default_class_from_the_start(tmp_path: Path) -> None:
    state_dir = tmp_path / "sim"
    started = start_sim(state_dir, nodes=1, runtime="memory", faults={"no-default-class": None})
    try:
        classes = started.storage.list_storage_class().items
        assert [c.metadata.name for c in classes] == ["standard"]
        assert all(
            (c.metadata.annotations or {}).get(DEFAULT_CLASS_ANNOTATION) != "true" for c in classes
        )
        name = f"t-{uuid.uuid4().hex[:8]}"
        started.core.create_namespace({"metadata": {"name": name}})
        made = started.core.create_namespaced_persistent_volume_claim(name, claim("classless"))
        assert made.spec.storage_class_name is None
        wait_no_class_event(started, name, "classless")
        pvc = started.core.read_namespaced_persistent_volume_claim("classless", name)
        assert pvc.status.phase == "Pending"
    finally:
        started.api.close()
        lifecycle.down(state_dir)


# --- retention on set deletion ------------------------------------------------------------


def test_fault_claims_deleted_on_set_delete(sim: Sim, namespace: str, faults: Switch) -> None:
    kept = deploy(sim, namespace, "web")
    delete_set_and_wait(sim, namespace, "web")
    assert deploy(sim, namespace, "web") == kept, "Retain: the recreated set gets its claims back"

    faults("claims-deleted-on-set-delete")
    uids = deploy(sim, namespace, "db")
    sim.apps.delete_namespaced_stateful_set("db", namespace)
    wait_for(
        sim.core.list_namespaced_persistent_volume_claim,
        claims_gone(list(uids)),
        timeout=TIMEOUT,
        what=f"{sorted(uids)} deleted with their set despite Retain",
        namespace=namespace,
    )
    live = live_claims(sim, namespace)
    assert {name: live[name].metadata.uid for name in kept if name in live} == kept, (
        "the claims of a set that was not deleted stay"
    )


def test_fault_claims_kept_despite_delete(sim: Sim, namespace: str, faults: Switch) -> None:
    retention = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    uids = deploy(sim, namespace, "web", retention=retention)
    delete_set_and_wait(sim, namespace, "web")
    wait_for(
        sim.core.list_namespaced_persistent_volume_claim,
        claims_gone(list(uids)),
        timeout=TIMEOUT,
        what=f"{sorted(uids)} deleted with their set (whenDeleted: Delete)",
        namespace=namespace,
    )

    faults("claims-kept-despite-delete")
    uids = deploy(sim, namespace, "db", retention=retention)
    delete_set_and_wait(sim, namespace, "db")
    # the set is gone, and only an owner reference could have made it wait for its claims
    kept = live_claims(sim, namespace)
    assert {name: kept[name].metadata.uid for name in uids if name in kept} == uids
    assert all(not kept[name].metadata.owner_references for name in uids)
