"""The kubelet's events and container statuses for a pod that cannot start or whose
container ends, as upstream words them, on in-memory nodes that fail on request."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from conformance.sim.api.store import Obj
from conformance.sim.controllers.kubelet import Kubelet
from conformance.sim.profiles import Timing, timing
from conformance.sim.runtimes.base import (
    FAILED_ATTACH,
    FAILED_MOUNT,
    FAILED_SANDBOX,
    FAILED_UNMOUNT,
    RUN_CONTAINER_ERROR,
    PodStarted,
    PodVolume,
    RuntimeFailure,
)
from conformance.sim.runtimes.memory import InMemoryRuntime
from tests.sim.test_volumes import EVENT, POD, PVC, SC, Sim, _pod, claim, run
from tests.sim.test_volumes import storage_class as make_class

ALL = ("binder", "provisioner", "scheduler", "kubelet")


class FailingRuntime(InMemoryRuntime):
    """In-memory nodes whose steps fail while ``failures`` names them; containers end
    when a test says so (:meth:`end`)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, RuntimeFailure] = {}
        self.calls: dict[str, int] = {}
        self._ends: dict[str, asyncio.Future[int]] = {}

    def _step(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        failure = self.failures.get(name)
        if failure is not None:
            raise failure

    async def attach(self, node: str, pv: Obj) -> None:
        self._step("attach")
        await super().attach(node, pv)

    async def mount_volumes(self, node: str, pod: Obj, volumes: list[PodVolume]) -> None:
        self._step("mount")
        await super().mount_volumes(node, pod, volumes)

    async def start_pod(self, node: str, pod: Obj, volumes: list[PodVolume]) -> PodStarted:
        self._step("start")
        return await super().start_pod(node, pod, volumes)

    async def stop_pod(self, node: str, pod: Obj, grace_seconds: float) -> None:
        self._step("stop")
        await super().stop_pod(node, pod, grace_seconds)

    async def wait_pod(self, node: str, pod: Obj) -> int:
        end = asyncio.get_running_loop().create_future()
        self._ends[pod["metadata"]["uid"]] = end
        return await end

    def end(self, pod: Obj, code: int) -> None:
        self._ends.pop(pod["metadata"]["uid"]).set_result(code)


def _sim(profile: dict[str, float] | None = None) -> tuple[Sim, FailingRuntime]:
    sim = Sim(nodes=1, controllers=ALL)
    runtime = FailingRuntime()
    sim.runtime = runtime
    fast = timing("fast")
    for controller in sim.controllers:
        if hasattr(controller, "runtime"):
            controller.runtime = runtime
        if isinstance(controller, Kubelet):
            controller.timing = Timing(replace(fast.profile, **(profile or {})))
    sim.store.create(SC, make_class("fast"))
    sim.store.create(PVC, claim("data", cls="fast"))
    return sim, runtime


def _warnings(sim: Sim, reason: str) -> list[Obj]:
    return [
        e
        for e in sim.store.list(EVENT)
        if e["reason"] == reason and e["involvedObject"]["name"] == "web-0"
    ]


def _waiting(sim: Sim) -> dict[str, Any]:
    pod = sim.get(POD, "web-0") or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[0].get("state", {}).get("waiting") or {})


def test_a_failing_mount_is_reported_and_retried_then_times_out() -> None:
    async def main() -> None:
        sim, runtime = _sim({"mount_timeout": 0.5})
        message = 'MountVolume.MountDevice failed for volume "pvc-1" : rpc error: boom'
        runtime.failures["mount"] = RuntimeFailure(message, reason=FAILED_MOUNT, volume="data")
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            await sim.wait_for(
                lambda: any(e["count"] >= 3 for e in _warnings(sim, FAILED_MOUNT)),
                what="the mount failure reported three times",
            )
            failed = next(e for e in _warnings(sim, FAILED_MOUNT) if e["message"] == message)
            assert (failed["type"], failed["source"]["component"]) == ("Warning", "kubelet")
            assert _waiting(sim) == {"reason": "ContainerCreating"}
            unable = (
                "Unable to attach or mount volumes: unmounted volumes=[data], unattached "
                "volumes=[], failed to process volumes=[]: timed out waiting for the condition"
            )
            await sim.wait_for(
                lambda: any(e["message"] == unable for e in _warnings(sim, FAILED_MOUNT)),
                what="the volume manager's timeout",
            )
            assert "start" not in runtime.calls
            del runtime.failures["mount"]
            await sim.wait_for(lambda: sim.phase(POD, "web-0") == "Running", what="running")

    run(main())


def test_a_failing_attach_is_reported_by_the_attach_detach_controller() -> None:
    async def main() -> None:
        sim, runtime = _sim()
        runtime.failures["attach"] = RuntimeFailure("the backend is down", reason=FAILED_ATTACH)
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            (event,) = await sim.wait_for(lambda: _warnings(sim, FAILED_ATTACH), what="event")
            pv = sim.get(PVC, "data")["spec"]["volumeName"]  # type: ignore[index]
            assert event["message"] == (
                f'AttachVolume.Attach failed for volume "{pv}" : the backend is down'
            )
            assert event["source"]["component"] == "attachdetach-controller"
            del runtime.failures["attach"]
            await sim.wait_for(lambda: sim.phase(POD, "web-0") == "Running", what="running")

    run(main())


def test_a_sandbox_that_cannot_be_made_is_reported_as_upstream_words_it() -> None:
    async def main() -> None:
        sim, runtime = _sim()
        runtime.failures["start"] = RuntimeFailure("no netns", reason=FAILED_SANDBOX)
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            (event,) = await sim.wait_for(lambda: _warnings(sim, FAILED_SANDBOX), what="event")
            assert event["message"] == (
                "Failed to create pod sandbox: rpc error: code = Unknown desc = no netns"
            )
            assert _waiting(sim) == {"reason": "ContainerCreating"}

    run(main())


def test_a_container_that_cannot_be_created_waits_with_the_error() -> None:
    async def main() -> None:
        sim, runtime = _sim()
        runtime.failures["start"] = RuntimeFailure("bad working dir")
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            (event,) = await sim.wait_for(lambda: _warnings(sim, "Failed"), what="event")
            assert event["message"] == "Error: bad working dir"
            assert event["involvedObject"]["fieldPath"] == "spec.containers{web}"
            waiting = await sim.wait_for(lambda: _waiting(sim).get("message") and _waiting(sim))
            assert waiting == {"reason": "CreateContainerError", "message": "bad working dir"}

    run(main())


def test_a_container_that_fails_to_start_goes_into_crash_loop_back_off() -> None:
    async def main() -> None:
        sim, runtime = _sim({"crash_backoff": 40.0, "crash_backoff_max": 300.0})
        runtime.failures["start"] = RuntimeFailure("exec failed", waiting=RUN_CONTAINER_ERROR)
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            (backoff,) = await sim.wait_for(lambda: _warnings(sim, "BackOff"), what="BackOff")
            uid = sim.get(POD, "web-0")["metadata"]["uid"]  # type: ignore[index]
            assert backoff["message"] == (
                f"Back-off restarting failed container web in pod web-0_default({uid})"
            )
            assert runtime.calls["start"] == 2  # at once, then not before the back-off
            pod = sim.get(POD, "web-0")
            (status,) = pod["status"]["containerStatuses"]  # type: ignore[index]
            assert status["state"]["waiting"] == {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 40s restarting failed container=web pod=web-0_default({uid})",
            }
            assert status["lastState"]["terminated"]["reason"] == "StartError"
            assert status["lastState"]["terminated"]["exitCode"] == 128

    run(main())


def test_a_container_that_exits_is_restarted_after_the_back_off() -> None:
    async def main() -> None:
        sim, runtime = _sim({"crash_backoff": 0.3})
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            pod = await sim.wait_for(
                lambda: sim.phase(POD, "web-0") == "Running" and sim.get(POD, "web-0")
            )
            await sim.wait_for(lambda: pod["metadata"]["uid"] in runtime._ends)
            runtime.end(pod, 3)  # the first restart is at once

            def restarted(count: int) -> Obj | None:
                current = sim.get(POD, "web-0") or {}
                statuses = (current.get("status") or {}).get("containerStatuses") or [{}]
                status: Obj = statuses[0]
                if status.get("restartCount") == count and "running" in status.get("state", {}):
                    return status
                return None

            status = await sim.wait_for(lambda: restarted(1), what="restart 1")
            assert status["lastState"]["terminated"]["exitCode"] == 3
            assert status["lastState"]["terminated"]["reason"] == "Error"
            await sim.wait_for(lambda: pod["metadata"]["uid"] in runtime._ends)
            runtime.end(pod, 1)  # the second waits for the back-off
            await sim.wait_for(lambda: _waiting(sim).get("reason") == "CrashLoopBackOff")
            assert sim.phase(POD, "web-0") == "Running"  # as upstream, while it restarts
            assert _warnings(sim, "BackOff")
            await sim.wait_for(lambda: restarted(2), what="restart 2")

    run(main())


def test_a_pod_whose_volumes_cannot_be_unmounted_stays_terminating_and_says_why() -> None:
    async def main() -> None:
        sim, runtime = _sim()
        async with sim:
            sim.store.create(POD, _pod("web-0", "data"))
            await sim.wait_for(lambda: sim.phase(POD, "web-0") == "Running", what="running")
            message = (
                'UnmountVolume.TearDown failed for volume "pvc-1" : umount /data did not end '
                "within 30s and was killed; it printed nothing"
            )
            runtime.failures["stop"] = RuntimeFailure(message, reason=FAILED_UNMOUNT)
            sim.store.delete(POD, "default", "web-0")
            await sim.wait_for(
                lambda: any(e["count"] >= 2 for e in _warnings(sim, FAILED_UNMOUNT)),
                what="the unmount failure reported, and retried",
            )
            (event,) = _warnings(sim, FAILED_UNMOUNT)
            assert event["message"] == message
            assert sim.get(POD, "web-0") is not None  # Terminating, as upstream keeps it
            del runtime.failures["stop"]  # the worker was not wedged: its retry succeeds
            await sim.wait_for(lambda: sim.get(POD, "web-0") is None, what="pod removed")

    run(main())
