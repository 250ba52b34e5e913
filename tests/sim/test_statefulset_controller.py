"""The simulated StatefulSet controller, checked the way upstream e2e checks a real one.

Each test runs the controller against an in-memory store (with the API server's
defaulting and validation installed, as the sim wires it) together with a tiny fake
kubelet (binds pods, marks them Running/Ready unless told to hold them, finishes
graceful deletions at once) and asserts what test/e2e/apps/statefulset.go asserts:
the order seen in the event stream, identities, claims, retention owner references,
adoption/release, status and rolling updates, plus each fault this controller injects.
Waits are driven by store events with timeouts, never by fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from collections.abc import Callable, Coroutine
from typing import Any

from conformance.sim.api.server import install_admission
from conformance.sim.api.store import Event, Obj, Store, kind_named, now_rfc3339
from conformance.sim.controllers.statefulset import (
    COMPONENT,
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    StatefulSetController,
    revision_hash,
    running_and_ready,
)
from conformance.sim.faults import ActiveFaults

NS = "default"
NAMESPACE = kind_named("Namespace")
STS = kind_named("StatefulSet")
POD = kind_named("Pod")
PVC = kind_named("PersistentVolumeClaim")
REVISION = kind_named("ControllerRevision")
EVENT = kind_named("Event")

TIMEOUT = 5.0


class Cluster:
    """A store, the controller under test, and a fake kubelet, all in one event loop."""

    def __init__(self, faults: ActiveFaults) -> None:
        self.store = Store()
        install_admission(self.store)  # defaulting and validation, as the sim wires it
        self.store.create(NAMESPACE, {"metadata": {"name": NS}})
        self.faults = faults
        self.controller = StatefulSetController(self.store, faults)
        self.log: list[Event] = []
        self.hold: set[str] = set()  # pods the kubelet keeps Running but not Ready
        self.ready_before_create: dict[str, bool] = {}  # were all lower ordinals Ready?
        self._changed = asyncio.Event()
        self._kubelet_queue: asyncio.Queue[Event] = asyncio.Queue()
        self.store.subscribe(self._on_event)

    # --- observation ---------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.log.append(event)
        if event.kind == POD:
            if event.type == "ADDED":
                name = event.object["metadata"]["name"]
                set_name, ordinal = name.rsplit("-", 1)
                lower = [self.store.find(POD, NS, f"{set_name}-{i}") for i in range(int(ordinal))]
                self.ready_before_create[name] = all(
                    p is not None and running_and_ready(p) for p in lower
                )
            self._kubelet_queue.put_nowait(event)
        self._changed.set()

    def created_order(self) -> list[str]:
        return [
            e.object["metadata"]["name"] for e in self.log if e.kind == POD and e.type == "ADDED"
        ]

    def deletion_order(self) -> list[str]:
        """Pods in the order their deletion started (deletionTimestamp set, or removed at once)."""
        names: list[str] = []
        for e in self.log:
            if e.kind != POD:
                continue
            old_dt = bool(e.old and e.old["metadata"].get("deletionTimestamp"))
            new_dt = bool(e.object["metadata"].get("deletionTimestamp"))
            started = (e.type == "MODIFIED" and new_dt and not old_dt) or (
                e.type == "DELETED" and not old_dt
            )
            if started:
                names.append(e.object["metadata"]["name"])
        return names

    def deletion_start(self, name: str) -> int:
        """Index in the log of the event that began this pod's deletion."""
        for i, e in enumerate(self.log):
            if e.kind == POD and e.object["metadata"]["name"] == name:
                old_dt = bool(e.old and e.old["metadata"].get("deletionTimestamp"))
                if e.object["metadata"].get("deletionTimestamp") and not old_dt:
                    return i
        raise AssertionError(f"{name} was never deleted")

    def index_of(self, kind: Any, type_: str, name: str) -> int:
        for i, e in enumerate(self.log):
            if e.kind == kind and e.type == type_ and e.object["metadata"]["name"] == name:
                return i
        raise AssertionError(f"no {type_} event for {name}")

    async def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not predicate():
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def settle(self) -> None:
        """Yield until the controller and the kubelet have nothing left to do."""
        quiet = 0
        while quiet < 10:
            await asyncio.sleep(0)
            busy = not self.controller._queue.empty() or not self._kubelet_queue.empty()
            quiet = 0 if busy else quiet + 1

    # --- the fake kubelet ----------------------------------------------------------------

    async def kubelet(self) -> None:
        while True:
            event = await self._kubelet_queue.get()
            if event.type != "DELETED":
                self._kubelet_step(
                    event.object["metadata"]["name"], event.object["metadata"]["uid"]
                )

    def _kubelet_step(self, name: str, uid: str) -> None:
        pod = self.store.find(POD, NS, name)
        if pod is None or pod["metadata"]["uid"] != uid:
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.store.delete(POD, NS, name, grace_period=0)
            return
        if not pod["spec"].get("nodeName"):

            def bind(obj: Obj) -> None:
                obj["spec"]["nodeName"] = "node-1"

            self.store.mutate(POD, NS, name, bind)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Failed", "Succeeded"):
            return
        ready = name not in self.hold
        if phase == "Running" and running_and_ready(pod) == ready:
            return
        self.set_phase(name, "Running", ready=ready)

    def set_phase(self, name: str, phase: str, *, ready: bool) -> None:
        def change(obj: Obj) -> None:
            obj["status"] = {
                "phase": phase,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "lastTransitionTime": now_rfc3339(),
                    }
                ],
            }

        self.store.mutate(POD, NS, name, change, subresource="status")

    def release(self, name: str) -> None:
        self.hold.discard(name)
        if self.store.find(POD, NS, name) is not None:
            self.set_phase(name, "Running", ready=True)

    # --- shortcuts -----------------------------------------------------------------------

    def pod(self, name: str) -> Obj | None:
        return self.store.find(POD, NS, name)

    def claim(self, name: str) -> Obj | None:
        return self.store.find(PVC, NS, name)

    def sts(self, name: str = "web") -> Obj:
        return self.store.get(STS, NS, name)

    def pods(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.store.list(POD, NS)]

    def all_ready(self, *names: str) -> bool:
        pods = [self.pod(n) for n in names]
        return all(
            p is not None and running_and_ready(p) and not p["metadata"].get("deletionTimestamp")
            for p in pods
        )

    def set_spec(self, change: Callable[[dict[str, Any]], None], name: str = "web") -> None:
        def apply(obj: Obj) -> None:
            change(obj["spec"])

        self.store.mutate(STS, NS, name, apply)

    def scale(self, replicas: int, name: str = "web") -> None:
        self.set_spec(lambda spec: spec.update(replicas=replicas), name)


def make_set(
    name: str = "web",
    replicas: int = 3,
    *,
    policy: str = "OrderedReady",
    retention: tuple[str, str] = ("Retain", "Retain"),
    strategy: dict[str, Any] | None = None,
    start: int | None = None,
) -> Obj:
    """A StatefulSet as `kubectl apply` would leave it after the API server's defaulting."""
    spec: dict[str, Any] = {
        "replicas": replicas,
        "serviceName": "test",
        "selector": {"matchLabels": {"app": name}},
        "podManagementPolicy": policy,
        "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "revisionHistoryLimit": 10,
        "persistentVolumeClaimRetentionPolicy": {
            "whenDeleted": retention[0],
            "whenScaled": retention[1],
        },
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "containers": [
                    {
                        "name": "webserver",
                        "image": "registry.k8s.io/e2e-test-images/httpd:2.4.38-4",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
                "volumes": [
                    {"name": "data", "emptyDir": {}},  # replaced by the claim template
                    {"name": "home", "emptyDir": {}},
                ],
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data", "labels": {"tier": "storage"}},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    }
    if start is not None:
        spec["ordinals"] = {"start": start}
    return {"metadata": {"name": name, "namespace": NS}, "spec": spec}


Scenario = Callable[[Cluster], Coroutine[Any, Any, None]]


def run(scenario: Scenario, faults: dict[str, float | bool | None] | None = None) -> None:
    async def main() -> None:
        cluster = Cluster(ActiveFaults(faults))
        tasks = [
            asyncio.create_task(cluster.controller.run()),
            asyncio.create_task(cluster.kubelet()),
        ]
        try:
            await scenario(cluster)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(main())


async def running_set(cluster: Cluster, **kwargs: Any) -> Obj:
    """Create a set and wait until all its pods are Running and Ready."""
    body = make_set(**kwargs)
    cluster.store.create(STS, body)
    name = body["metadata"]["name"]
    start = body["spec"].get("ordinals", {}).get("start", 0)
    names = [f"{name}-{i}" for i in range(start, start + body["spec"]["replicas"])]
    await cluster.wait_for(lambda: cluster.all_ready(*names), f"{names} Running and Ready")
    return cluster.sts(name)


def owners(obj: Obj | None) -> list[tuple[str, str, str, bool, bool]]:
    assert obj is not None
    return [
        (
            r["kind"],
            r["name"],
            r["uid"],
            bool(r.get("controller")),
            bool(r.get("blockOwnerDeletion")),
        )
        for r in obj["metadata"].get("ownerReferences") or []
    ]


# --- ordering ------------------------------------------------------------------------------


def test_ordered_ready_creates_in_order_and_halts_on_an_unhealthy_pod() -> None:
    async def scenario(c: Cluster) -> None:
        c.hold.add("web-0")
        c.store.create(STS, make_set())
        await c.wait_for(lambda: c.pod("web-0") is not None, "web-0")
        await c.settle()
        assert c.pods() == ["web-0"], "scaling must halt while web-0 is not Ready"
        c.release("web-0")
        await c.wait_for(lambda: c.all_ready("web-0", "web-1", "web-2"), "3 ready pods")
        assert c.created_order() == ["web-0", "web-1", "web-2"]
        assert all(c.ready_before_create.values()), c.ready_before_create

    run(scenario)


def test_ordered_ready_scales_down_highest_first_one_at_a_time() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        c.scale(0)
        await c.wait_for(lambda: not c.pods(), "no pods")
        assert c.deletion_order() == ["web-2", "web-1", "web-0"]
        # each deletion starts only once the higher ordinal is gone
        assert c.index_of(POD, "DELETED", "web-2") < c.deletion_start("web-1")
        assert c.index_of(POD, "DELETED", "web-1") < c.deletion_start("web-0")
        await c.wait_for(lambda: c.sts()["status"]["replicas"] == 0, "status.replicas 0")

    run(scenario)


def test_scale_down_waits_for_unhealthy_pods() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        c.hold.add("web-0")
        c.set_phase("web-0", "Running", ready=False)
        c.scale(1)
        await c.settle()
        assert c.pods() == ["web-0", "web-1", "web-2"], "scale-down must halt on web-0"
        c.release("web-0")
        await c.wait_for(lambda: c.pods() == ["web-0"], "scaled down to web-0")
        assert c.deletion_order() == ["web-2", "web-1"]

    run(scenario)


def test_parallel_creates_and_deletes_all_without_waiting() -> None:
    async def scenario(c: Cluster) -> None:
        c.hold.update({"web-0", "web-1", "web-2"})
        c.store.create(STS, make_set(policy="Parallel"))
        await c.wait_for(lambda: len(c.pods()) == 3, "3 pods")
        assert not any(running_and_ready(c.store.get(POD, NS, n)) for n in c.pods())
        assert not all(c.ready_before_create.values())
        for name in ("web-0", "web-1", "web-2"):
            c.release(name)
        await c.wait_for(lambda: c.all_ready("web-0", "web-1", "web-2"), "3 ready")
        log_start = len(c.log)
        c.hold.add("web-0")
        c.set_phase("web-0", "Running", ready=False)
        c.scale(0)
        await c.wait_for(lambda: not c.pods(), "no pods")
        # burst: the deletions start before any of the pods is gone
        first_gone = min(c.index_of(POD, "DELETED", n) for n in ("web-0", "web-1", "web-2"))
        starts = [c.deletion_start(n) for n in ("web-0", "web-1", "web-2")]
        assert all(log_start <= s < first_gone for s in starts)

    run(scenario)


# --- identity and claims -------------------------------------------------------------------


def test_pods_and_claims_carry_the_stateful_identity() -> None:
    async def scenario(c: Cluster) -> None:
        sts = await running_set(c)
        status = sts["status"]
        for ordinal in range(3):
            name = f"web-{ordinal}"
            pod = c.store.get(POD, NS, name)
            assert pod["spec"]["hostname"] == name
            assert pod["spec"]["subdomain"] == "test"
            labels = pod["metadata"]["labels"]
            assert labels["app"] == "web"
            assert labels[POD_NAME_LABEL] == name
            assert labels[POD_INDEX_LABEL] == str(ordinal)
            assert labels[REVISION_LABEL] == status["updateRevision"]
            assert owners(pod) == [("StatefulSet", "web", sts["metadata"]["uid"], True, True)]
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["data"] == {
                "name": "data",
                "persistentVolumeClaim": {"claimName": f"data-web-{ordinal}"},
            }
            assert volumes["home"] == {"name": "home", "emptyDir": {}}
            claim = c.claim(f"data-web-{ordinal}")
            assert claim is not None
            assert claim["metadata"]["labels"] == {"tier": "storage", "app": "web"}
            assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
            assert not claim["metadata"].get("ownerReferences"), "Retain: no owner references"
            # the claim exists before its pod
            assert c.index_of(PVC, "ADDED", f"data-web-{ordinal}") < c.index_of(POD, "ADDED", name)
        messages = [
            (e.object["reason"], e.object["message"], e.object["source"]["component"])
            for e in c.log
            if e.kind == EVENT and e.type == "ADDED"
        ]
        assert messages[:2] == [
            (
                "SuccessfulCreate",
                "create Claim data-web-0 Pod web-0 in StatefulSet web success",
                COMPONENT,
            ),
            ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful", COMPONENT),
        ]
        c.scale(2)
        await c.wait_for(lambda: c.pods() == ["web-0", "web-1"], "scaled to 2")
        assert ("SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful") in [
            (e.object["reason"], e.object["message"]) for e in c.log if e.kind == EVENT
        ]
        assert c.claim("data-web-2") is not None, "Retain keeps the claim of a removed pod"

    run(scenario)


def test_ordinals_start_names_pods_from_the_start_ordinal() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c, replicas=2, start=3)
        assert c.pods() == ["web-3", "web-4"]
        assert c.created_order() == ["web-3", "web-4"]
        assert c.store.get(POD, NS, "web-3")["metadata"]["labels"][POD_INDEX_LABEL] == "3"
        assert c.claim("data-web-3") is not None
        assert c.claim("data-web-4") is not None
        assert c.claim("data-web-0") is None

    run(scenario)


def test_deleted_or_failed_pod_comes_back_with_same_name_and_claim() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        old_uid = c.store.get(POD, NS, "web-1")["metadata"]["uid"]
        claim_uid = c.store.get(PVC, NS, "data-web-1")["metadata"]["uid"]

        def recreated(name: str, uid: str) -> bool:
            pod = c.pod(name)
            return pod is not None and pod["metadata"]["uid"] != uid and c.all_ready(name)

        c.store.delete(POD, NS, "web-1")
        await c.wait_for(lambda: recreated("web-1", old_uid), "web-1 recreated")
        pod = c.store.get(POD, NS, "web-1")
        assert pod["spec"]["hostname"] == "web-1"
        assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-web-1"
        assert c.store.get(PVC, NS, "data-web-1")["metadata"]["uid"] == claim_uid

        # an evicted (Failed) pod is deleted and recreated too
        evicted_uid = c.store.get(POD, NS, "web-0")["metadata"]["uid"]
        c.set_phase("web-0", "Failed", ready=False)
        await c.wait_for(lambda: recreated("web-0", evicted_uid), "web-0 recreated")

    run(scenario)


# --- retention policy ----------------------------------------------------------------------


def test_when_deleted_delete_makes_the_set_own_its_claims() -> None:
    async def scenario(c: Cluster) -> None:
        sts = await running_set(c, retention=("Delete", "Retain"))
        uid = sts["metadata"]["uid"]
        for ordinal in range(3):
            claim = c.claim(f"data-web-{ordinal}")
            assert owners(claim) == [("StatefulSet", "web", uid, True, True)]

    run(scenario)


def test_when_scaled_delete_hands_condemned_claims_to_their_pods() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c, retention=("Retain", "Delete"))
        pod_uids = {n: c.store.get(POD, NS, n)["metadata"]["uid"] for n in c.pods()}
        assert all(not owners(c.claim(f"data-web-{i}")) for i in range(3))
        c.scale(1)
        await c.wait_for(lambda: c.pods() == ["web-0"], "scaled to 1")
        for ordinal in (1, 2):
            name = f"web-{ordinal}"
            assert owners(c.claim(f"data-{name}")) == [("Pod", name, pod_uids[name], True, True)]
        assert owners(c.claim("data-web-0")) == []

    run(scenario)


def test_both_delete_then_retain_moves_and_removes_owner_references() -> None:
    async def scenario(c: Cluster) -> None:
        sts = await running_set(c, retention=("Delete", "Delete"))
        uid = sts["metadata"]["uid"]
        pod_uid = c.store.get(POD, NS, "web-2")["metadata"]["uid"]
        c.scale(2)
        await c.wait_for(lambda: c.pods() == ["web-0", "web-1"], "scaled to 2")
        assert owners(c.claim("data-web-2")) == [("Pod", "web-2", pod_uid, True, True)]
        assert owners(c.claim("data-web-0")) == [("StatefulSet", "web", uid, True, True)]

        def retain(spec: dict[str, Any]) -> None:
            spec["persistentVolumeClaimRetentionPolicy"] = {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            }

        c.set_spec(retain)
        await c.wait_for(
            lambda: not owners(c.claim("data-web-0")) and not owners(c.claim("data-web-1")),
            "Retain removes the set's references",
        )

    run(scenario)


def test_claims_owned_by_another_controller_are_left_alone() -> None:
    async def scenario(c: Cluster) -> None:
        foreign = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "other",
            "uid": "7c3d0b0e-0000-4000-8000-000000000001",
            "controller": True,
        }
        c.store.create(
            PVC,
            {
                "metadata": {"name": "data-web-0", "namespace": NS, "ownerReferences": [foreign]},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        sts = await running_set(c, retention=("Delete", "Delete"))
        await c.settle()
        assert c.store.get(PVC, NS, "data-web-0")["metadata"]["ownerReferences"] == [foreign]
        uid = sts["metadata"]["uid"]
        assert owners(c.claim("data-web-1")) == [("StatefulSet", "web", uid, True, True)]

    run(scenario)


# --- adoption and release ------------------------------------------------------------------


def test_adopts_matching_orphans_and_releases_non_matching_pods() -> None:
    async def scenario(c: Cluster) -> None:
        sts = await running_set(c, replicas=1)
        uid = sts["metadata"]["uid"]

        def controlled() -> bool:
            pod = c.pod("web-0")
            return pod is not None and owners(pod) == [("StatefulSet", "web", uid, True, True)]

        def orphan(obj: Obj) -> None:
            obj["metadata"].pop("ownerReferences", None)

        c.store.mutate(POD, NS, "web-0", orphan)
        await c.wait_for(controlled, "web-0 adopted")

        saved = copy.deepcopy(c.store.get(POD, NS, "web-0")["metadata"]["labels"])

        def unlabel(obj: Obj) -> None:
            obj["metadata"]["labels"] = {}

        c.store.mutate(POD, NS, "web-0", unlabel)
        await c.wait_for(lambda: owners(c.pod("web-0")) == [], "web-0 released")

        def relabel(obj: Obj) -> None:
            obj["metadata"]["labels"] = saved

        c.store.mutate(POD, NS, "web-0", relabel)
        await c.wait_for(controlled, "web-0 adopted again")

    run(scenario)


# --- status, revisions, updates ------------------------------------------------------------


def test_status_and_controller_revision() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)

        def settled() -> bool:
            return c.sts().get("status", {}).get("readyReplicas") == 3

        await c.wait_for(settled, "readyReplicas 3")
        sts = c.sts()
        status = sts["status"]
        revision = status["updateRevision"]
        assert status == {
            "observedGeneration": sts["metadata"]["generation"],
            "replicas": 3,
            "readyReplicas": 3,
            "currentReplicas": 3,
            "updatedReplicas": 3,
            "availableReplicas": 3,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        cr = c.store.get(REVISION, NS, revision)
        assert cr["apiVersion"] == "apps/v1"
        assert cr["revision"] == 1
        template = copy.deepcopy(sts["spec"]["template"])
        template["$patch"] = "replace"
        assert cr["data"] == {"spec": {"template": template}}
        short = revision_hash(cr["data"], 0)
        assert revision == f"web-{short}"
        assert cr["metadata"]["labels"] == {"app": "web", REVISION_LABEL: short}
        assert owners(cr) == [("StatefulSet", "web", sts["metadata"]["uid"], True, True)]

    run(scenario)


def _set_image(image: str) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        spec["template"]["spec"]["containers"][0]["image"] = image

    return change


def test_rolling_update_with_partition() -> None:
    async def scenario(c: Cluster) -> None:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
        sts = await running_set(c, strategy=strategy)
        old = sts["status"]["updateRevision"]
        c.set_spec(_set_image("registry.k8s.io/e2e-test-images/httpd:2.4.39-4"))

        def revision_of(name: str) -> str | None:
            pod = c.pod(name)
            return pod["metadata"]["labels"].get(REVISION_LABEL) if pod else None

        def partitioned() -> bool:
            status = c.sts().get("status", {})
            new = status.get("updateRevision")
            return (
                new != old
                and revision_of("web-2") == new
                and revision_of("web-1") == new
                and revision_of("web-0") == old
                and c.all_ready("web-0", "web-1", "web-2")
                and status.get("updatedReplicas") == 2
                and status.get("currentReplicas") == 1
            )

        await c.wait_for(partitioned, "ordinals >= 1 updated")
        status = c.sts()["status"]
        assert status["currentRevision"] == old
        new = status["updateRevision"]
        assert c.deletion_order() == ["web-2", "web-1"], "highest ordinal first"
        image = c.store.get(POD, NS, "web-1")["spec"]["containers"][0]["image"]
        assert image.endswith("2.4.39-4")
        assert [r["revision"] for r in c.store.list(REVISION, NS)] in ([1, 2], [2, 1])

        c.set_spec(lambda spec: spec["updateStrategy"]["rollingUpdate"].update(partition=0))

        def complete() -> bool:
            status = c.sts().get("status", {})
            return (
                revision_of("web-0") == new
                and status.get("currentRevision") == new
                and status.get("currentReplicas") == 3
                and status.get("updatedReplicas") == 3
            )

        await c.wait_for(complete, "rollout complete")

    run(scenario)


def test_on_delete_updates_only_deleted_pods() -> None:
    async def scenario(c: Cluster) -> None:
        sts = await running_set(c, strategy={"type": "OnDelete"})
        old = sts["status"]["updateRevision"]
        c.set_spec(_set_image("registry.k8s.io/e2e-test-images/httpd:2.4.39-4"))
        await c.wait_for(
            lambda: c.sts().get("status", {}).get("updateRevision") != old, "new revision"
        )
        await c.settle()
        assert c.deletion_order() == []
        new = c.sts()["status"]["updateRevision"]
        c.store.delete(POD, NS, "web-1")

        def updated() -> bool:
            pod = c.pod("web-1")
            return (
                pod is not None
                and pod["metadata"]["labels"][REVISION_LABEL] == new
                and c.all_ready("web-1")
            )

        await c.wait_for(updated, "web-1 at the new revision")
        assert c.store.get(POD, NS, "web-0")["metadata"]["labels"][REVISION_LABEL] == old
        assert c.store.get(POD, NS, "web-2")["metadata"]["labels"][REVISION_LABEL] == old

    run(scenario)


def test_a_deleting_set_creates_no_pods() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        c.store.delete(STS, NS, "web", propagation="Foreground")
        assert c.sts()["metadata"].get("deletionTimestamp")
        c.store.delete(POD, NS, "web-1")
        await c.wait_for(lambda: c.pod("web-1") is None, "web-1 gone")
        await c.settle()
        assert c.pod("web-1") is None
        assert c.created_order() == ["web-0", "web-1", "web-2"]

    run(scenario)


# --- faults --------------------------------------------------------------------------------


def test_fault_unordered_scale() -> None:
    async def scenario(c: Cluster) -> None:
        c.hold.update({"web-0", "web-1", "web-2"})
        c.store.create(STS, make_set())
        await c.wait_for(lambda: len(c.pods()) == 3, "3 pods without readiness")
        assert c.created_order() == ["web-2", "web-1", "web-0"]
        for name in ("web-0", "web-1", "web-2"):
            c.release(name)
        await c.wait_for(lambda: c.all_ready("web-0", "web-1", "web-2"), "3 ready")
        c.scale(0)
        await c.wait_for(lambda: not c.pods(), "no pods")
        assert c.deletion_order() == ["web-0", "web-1", "web-2"]

    run(scenario, {"unordered-scale": None})


def test_fault_claims_deleted_despite_retain() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        c.scale(2)
        await c.wait_for(lambda: c.pods() == ["web-0", "web-1"], "scaled to 2")
        await c.settle()
        assert c.claim("data-web-2") is not None, "without the fault Retain keeps the claim"

        c.faults.set("claims-deleted-despite-retain")
        c.scale(1)
        await c.wait_for(lambda: c.claim("data-web-1") is None, "data-web-1 deleted")
        c.store.delete(STS, NS, "web")
        await c.wait_for(lambda: c.store.find(STS, NS, "web") is None, "the set gone")
        await c.settle()
        assert c.claim("data-web-0") is not None, "the fault is about scale-down only"
        assert c.claim("data-web-2") is not None

    run(scenario)


def test_fault_claims_deleted_on_set_delete() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c, name="kept")
        c.scale(0, "kept")  # this test bed has no garbage collector to remove the pods
        await c.wait_for(lambda: not c.pods(), "kept scaled to 0")
        c.store.delete(STS, NS, "kept")
        await c.wait_for(lambda: c.store.find(STS, NS, "kept") is None, "kept gone")
        await c.settle()
        assert all(c.claim(f"data-kept-{i}") is not None for i in range(3)), "Retain keeps them"

        c.faults.set("claims-deleted-on-set-delete")
        await running_set(c)
        c.scale(2)
        await c.wait_for(lambda: c.pods() == ["web-0", "web-1"], "scaled to 2")
        await c.settle()
        assert c.claim("data-web-2") is not None, "scale-down still follows whenScaled"
        c.store.delete(STS, NS, "web")
        await c.wait_for(
            lambda: all(c.claim(f"data-web-{i}") is None for i in range(3)),
            "all claims deleted with the set",
        )

    run(scenario)


def test_fault_claims_kept_despite_delete() -> None:
    async def scenario(c: Cluster) -> None:
        sts = await running_set(c, retention=("Delete", "Retain"))
        owner = ("StatefulSet", "web", sts["metadata"]["uid"], True, True)
        assert owners(c.claim("data-web-0")) == [owner], "without the fault the set owns it"

        c.faults.set("claims-kept-despite-delete")
        c.store.delete(POD, NS, "web-0")  # any event makes the controller look again
        await c.wait_for(
            lambda: all(not owners(c.claim(f"data-web-{i}")) for i in range(3)),
            "the set's references dropped, so the garbage collector will keep the claims",
        )

    run(scenario)


def test_fault_claims_kept_despite_scaled_delete() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c, retention=("Retain", "Delete"))
        c.scale(1)
        await c.wait_for(lambda: c.pods() == ["web-0"], "scaled to 1")
        await c.settle()
        assert all(not owners(c.claim(f"data-web-{i}")) for i in range(3)), (
            "no pod owns its claim, so the garbage collector keeps them"
        )

    run(scenario, {"claims-kept-despite-scaled-delete": None})


async def _rolled(c: Cluster, strategy: dict[str, Any]) -> list[str]:
    """Change the template of a running set; wait until the update is done; the order in
    which the pods were deleted."""
    sts = await running_set(c, strategy=strategy)
    old = sts["status"]["updateRevision"]
    c.set_spec(_set_image("registry.k8s.io/e2e-test-images/httpd:2.4.39-4"))

    def done() -> bool:
        new = c.sts().get("status", {}).get("updateRevision")
        pods = [c.pod(f"web-{i}") for i in range(3)]
        return (
            new not in (None, old)
            and all(p is not None and p["metadata"]["labels"][REVISION_LABEL] == new for p in pods)
            and c.all_ready("web-0", "web-1", "web-2")
        )

    await c.wait_for(done, "every pod at the new revision")
    return c.deletion_order()


def test_fault_update_ignores_partition() -> None:
    async def scenario(c: Cluster) -> None:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
        assert await _rolled(c, strategy) == ["web-2", "web-1", "web-0"]

    run(scenario, {"update-ignores-partition": None})


def test_fault_update_forward_order() -> None:
    async def scenario(c: Cluster) -> None:
        assert await _rolled(c, {"type": "RollingUpdate"}) == ["web-0", "web-1", "web-2"]

    run(scenario, {"update-forward-order": None})


def test_fault_update_all_at_once() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        c.hold.update({"web-0", "web-1", "web-2"})  # re-created pods stay unready
        c.set_spec(_set_image("registry.k8s.io/e2e-test-images/httpd:2.4.39-4"))
        await c.wait_for(lambda: len(c.deletion_order()) == 3, "all three deleted")
        assert c.deletion_order() == ["web-2", "web-1", "web-0"]
        assert not c.all_ready("web-2"), "deleted all three without a replacement Ready"

    run(scenario, {"update-all-at-once": None})


def test_fault_wrong_claim_binding() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)
        for ordinal in range(3):
            assert c.claim(f"data-web-{ordinal}") is not None
            pod = c.store.get(POD, NS, f"web-{ordinal}")
            claim = pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
            assert claim == f"data-web-{(ordinal + 1) % 3}"

    run(scenario, {"wrong-claim-binding": None})


def test_fault_hostname_drift() -> None:
    async def scenario(c: Cluster) -> None:
        await running_set(c)

        async def recreate(name: str) -> Obj:
            uid = c.store.get(POD, NS, name)["metadata"]["uid"]
            c.store.delete(POD, NS, name)

            def back() -> bool:
                pod = c.pod(name)
                return pod is not None and pod["metadata"]["uid"] != uid

            await c.wait_for(back, f"{name} recreated")
            return c.store.get(POD, NS, name)

        assert (await recreate("web-1"))["spec"]["hostname"] == "web-1"
        c.faults.set("hostname-drift")
        drifted = (await recreate("web-1"))["spec"]["hostname"]
        assert re.fullmatch(r"web-1-[a-z0-9]{5}", drifted), drifted

    run(scenario)
