"""Control-plane faults seen the way a conformance check sees them: through the API.

Each test runs against the simulated cluster with the official client, shows the
behaviour is right without the fault, then switches the fault on at run time (the
``/sim/v1/faults`` route `conformance sim fault set` uses) and observes exactly the
property it breaks. Negative observations ("the claims stay") are taken at a point
after which nothing could still change them, never after a sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from conformance.cli import _admin  # what `conformance sim fault set` calls
from conformance.waits import Seen, wait_for
from tests.sim import manifests
from tests.sim.conftest import Sim

TIMEOUT = 30

Switch = Callable[..., None]


@pytest.fixture
def faults(sim: Sim) -> Iterator[Switch]:
    """Switch faults on in the running simulator for one test; all are cleared afterwards."""

    state = sim.running.state_dir

    def switch(*names: str) -> None:
        _admin(state, "PUT", "/sim/v1/faults", dict.fromkeys(names))

    yield switch
    _admin(state, "DELETE", "/sim/v1/faults")


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
