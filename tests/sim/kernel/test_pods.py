"""Pods on the real kernel: namespaces, root, volumes, /etc/hosts, exec, stop, logs.

The node here is a plain holder process, PID 1 of its own PID namespace (with its /proc)
in its own mount and UTS namespaces (the real node agents live in host.py); /var/lib is
a tmpfs inside it, so nothing the pods or the kubelet files do lands on the host's disk.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from conformance.sim.kernel.hostpath import HostPathVolume
from conformance.sim.kernel.hostpath import set_up as set_up_host_paths
from conformance.sim.kernel.model import NodeHost, child_pids
from conformance.sim.kernel.pod_exec import exec_in_pod
from conformance.sim.kernel.pods import (
    ENV_MARK,
    HostEntry,
    PodSpec,
    RunningPod,
    VolumeBind,
    pids_in_namespace,
    pod_pids,
    read_logs,
    start_pod,
    stop_pod,
    update_hosts,
)
from conformance.sim.runtimes.base import STDOUT, RuntimeFailure

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0, reason="pods need root (mount, PID and UTS namespaces, pivot_root)"
    ),
    pytest.mark.skipif(
        not (shutil.which("unshare") and shutil.which("nsenter")),
        reason="util-linux unshare and nsenter are needed",
    ),
]

T = TypeVar("T")
NS = "ns1"
VOLUME = "/var/lib/kubelet/test-volumes/v1"
RO_VOLUME = "/var/lib/kubelet/test-volumes/v2"
DEADLINE = 20.0


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeHost]:
    script = (
        "set -e; mount -t proc proc /proc; mount -t tmpfs tmpfs /var/lib; "
        f"mkdir -p {VOLUME} {RO_VOLUME}; echo from-node > {VOLUME}/hello; "
        f"echo read-only > {RO_VOLUME}/hello; hostname n1; echo ready; "
        "trap 'exit 0' TERM; while :; do sleep 86400 & wait $!; done"  # an init: reaps orphans
    )
    holder = subprocess.Popen(
        [
            *("unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child"),
            *("--propagation", "private", "--", "sh", "-c", script),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], DEADLINE)
        assert ready, "the node holder did not come up"
        assert holder.stdout.readline() == b"ready\n"
        (init,) = child_pids(holder.pid)
        state = tmp_path_factory.mktemp("node-n1")
        yield NodeHost("n1", 1, "10.251.250.2", init, state)
    finally:
        holder.kill()
        holder.wait(DEADLINE)


def run(coro: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro(), 60)

    return asyncio.run(bounded())


def spec(
    name: str = "web-0", argv: tuple[str, ...] = ("sleep", "infinity"), **kw: object
) -> PodSpec:
    fields: dict[str, object] = {
        "namespace": NS,
        "name": name,
        "uid": str(uuid.uuid4()),
        "container": "app",
        "argv": argv,
        "subdomain": "web",
        "pod_ip": "10.251.250.10",
        "volumes": (VolumeBind(VOLUME, "/data"),),
    }
    fields.update(kw)
    return PodSpec(**fields)  # type: ignore[arg-type]


async def collect(
    pod: RunningPod,
    argv: list[str],
    *,
    stdin: bytes | None = None,
    tty: bool = False,
) -> tuple[int, bytes, bytes]:
    session = await exec_in_pod(pod, argv, stdin=stdin is not None, tty=tty)
    out, err = bytearray(), bytearray()

    async def drain() -> None:
        while (item := await session.read()) is not None:
            channel, chunk = item
            (out if channel == STDOUT else err).extend(chunk)

    reading = asyncio.create_task(drain())
    if stdin is not None:
        await session.write_stdin(stdin)
        await session.close_stdin()
    await asyncio.wait_for(reading, DEADLINE)
    code = await asyncio.wait_for(session.wait(), DEADLINE)
    return code, bytes(out), bytes(err)


async def sh(pod: RunningPod, script: str) -> tuple[int, str, str]:
    code, out, err = await collect(pod, ["sh", "-c", script])
    return code, out.decode(), err.decode()


def in_node(node: NodeHost, path: str) -> Path:
    return Path(f"/proc/{node.pid}/root") / path.lstrip("/")


def marked_processes(uid: str) -> list[int]:
    """Processes whose environment names the pod (its unshare and anything left of it)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if f"{ENV_MARK}={uid}".encode() in environ.split(b"\0"):
                found.append(int(entry))
    return found


async def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def wait_until_in_pod(pod: RunningPod, script: str, expected: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (out := (await sh(pod, script))[1].strip()) != expected:
        assert time.monotonic() < deadline, f"{script!r} printed {out!r}, not {expected!r}"
        await asyncio.sleep(0.02)


def test_pod_has_its_own_hostname_pid_namespace_and_root(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec())
        try:
            assert pod.note is None
            assert not pod.standin
            assert pod.pid_ns != (
                os.stat("/proc/self/ns/pid").st_dev,
                os.stat("/proc/self/ns/pid").st_ino,
            )
            assert await sh(pod, "hostname") == (0, "web-0\n", "")
            assert (await sh(pod, "cat /etc/hostname"))[1] == "web-0\n"
            code, cmdline, _ = await sh(pod, "tr '\\0' ' ' < /proc/1/cmdline")
            assert code == 0
            assert "cfsim-init sleep infinity" in cmdline
            code, ps, _ = await sh(pod, "ps -eo pid=,args=")
            assert code == 0
            rows = [line.split(None, 1) for line in ps.strip().splitlines()]
            pids = {int(pid) for pid, _ in rows}
            assert 1 in pids
            assert all(pid < 1000 for pid in pids), ps  # numbered from 1 in its own namespace
            assert any(args == "sleep infinity" for _, args in rows), ps
            assert len(rows) <= 4, ps  # init, the container, ps (and sh): nothing of the host
            assert os.getpid() not in pids
        finally:
            await stop_pod(pod, 5)

    run(scenario)


def test_pod_sees_nothing_of_the_host(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec())
        try:
            for path in ("/work", "/root/.pyenv", "/var/lib/kubelet", "/old_root", "/.oldroot"):
                assert (await sh(pod, f"test -e {path}"))[0] == 1, path
            code, out, _ = await sh(pod, "ls /dev")
            assert code == 0
            assert set(out.split()) == {
                "fd", "full", "null", "ptmx", "pts", "random", "shm",
                "stderr", "stdin", "stdout", "tty", "urandom", "zero",
            }  # fmt: skip
            for path in ("/usr/cfsim-test", "/etc/cfsim-test"):
                code, _, err = await sh(pod, f"touch {path}")
                assert code != 0
                assert "Read-only file system" in err
            code, out, _ = await sh(pod, "echo x > /tmp/f && cat /tmp/f && echo y > /root/f")
            assert (code, out) == (0, "x\n")
            assert await sh(pod, "head -c 4 /dev/urandom | wc -c") == (0, "4\n", "")
            # The temporary mount point of the pod's root is gone from the node.
            assert not in_node(node, f"{pod.spec.node_dir}/cfsim-rootfs").exists()
        finally:
            await stop_pod(pod, 5)

    run(scenario)


def test_volumes_rw_and_read_only(node: NodeHost) -> None:
    async def scenario() -> None:
        volumes = (VolumeBind(VOLUME, "/data"), VolumeBind(RO_VOLUME, "/srv/ro", True))
        pod = await start_pod(node, spec(volumes=volumes))
        try:
            assert await sh(pod, "cat /data/hello") == (0, "from-node\n", "")
            assert (await sh(pod, "echo from-pod > /data/written"))[0] == 0
            assert in_node(node, f"{VOLUME}/written").read_text() == "from-pod\n"
            assert await sh(pod, "cat /srv/ro/hello") == (0, "read-only\n", "")
            code, _, err = await sh(pod, "echo no > /srv/ro/new")
            assert code != 0
            assert "Read-only file system" in err
            assert not in_node(node, f"{RO_VOLUME}/new").exists()
            code, mounts, _ = await sh(pod, "grep -E ' /(data|srv/ro) ' /proc/self/mountinfo")
            assert code == 0
            options = {line.split()[4]: line.split()[5] for line in mounts.splitlines()}
            assert options["/data"].startswith("rw")
            assert options["/srv/ro"].startswith("ro")
        finally:
            await stop_pod(pod, 5)
            in_node(node, f"{VOLUME}/written").unlink(missing_ok=True)

    run(scenario)


def test_missing_volume_path_fails_with_reason(node: NodeHost) -> None:
    async def scenario() -> None:
        bad = spec(volumes=(VolumeBind("/var/lib/kubelet/nowhere", "/data"),))
        with pytest.raises(RuntimeFailure, match="does not exist on the node"):
            await start_pod(node, bad)
        assert marked_processes(bad.uid) == []
        assert not in_node(node, bad.node_dir).exists()

    run(scenario)


def test_etc_hosts_resolves_headless_service_peers(node: NodeHost) -> None:
    async def scenario() -> None:
        peers = (HostEntry("web-0", "10.251.250.10"), HostEntry("web-1", "10.251.250.11"))
        pod = await start_pod(node, spec(peers=peers))
        try:
            fqdn = f"web-1.web.{NS}.svc.cluster.local"
            for name, ip in (
                ("web-0.web", "10.251.250.10"),
                (f"web-0.web.{NS}.svc.cluster.local", "10.251.250.10"),
                ("web-1.web", "10.251.250.11"),
                (fqdn, "10.251.250.11"),
            ):
                code, out, _ = await sh(pod, f"getent hosts {name}")
                assert code == 0, name
                assert out.split()[0] == ip, out
            assert (await sh(pod, "getent hosts web-2.web"))[0] == 2
            assert (await sh(pod, "hostname -f"))[1].strip() == f"web-0.web.{NS}.svc.cluster.local"
            update_hosts(pod, [*peers, ("web-2", "10.251.250.12")])
            code, out, _ = await sh(pod, "getent hosts web-2.web")
            assert code == 0
            assert out.split()[0] == "10.251.250.12"
            code, resolv, _ = await sh(pod, "cat /etc/resolv.conf")
            assert f"search {NS}.svc.cluster.local svc.cluster.local cluster.local" in resolv
            assert "nameserver" not in resolv
        finally:
            await stop_pod(pod, 5)

    run(scenario)


def test_exec_output_exit_codes_and_stdin(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec(env=(("GREETING", "hi there"),)))
        try:
            started = time.monotonic()
            assert await collect(pod, ["true"]) == (0, b"", b"")
            assert time.monotonic() - started < 2
            assert await sh(pod, "echo out; echo err >&2; exit 3") == (3, "out\n", "err\n")
            assert await sh(pod, 'echo "$GREETING"') == (0, "hi there\n", "")
            code, out, err = await collect(pod, ["no-such-command", "x"])
            assert code == 127
            assert out == b""
            assert err.decode() == (
                "OCI runtime exec failed: exec failed: unable to start container process: "
                'exec: "no-such-command": executable file not found in $PATH: unknown\n'
            )
            code, _, err = await collect(pod, ["/etc/passwd"])
            assert code == 126
            assert b"permission denied" in err
            code, _, err = await collect(pod, ["/nowhere/bin"])
            assert code == 127
            assert b"no such file or directory" in err
            # stdin: cat echoes what it is given and ends when stdin closes.
            assert await collect(pod, ["cat"], stdin=b"line one\nline two\n") == (
                0,
                b"line one\nline two\n",
                b"",
            )
            # Output order within a stream is kept.
            code, out, _ = await collect(
                pod, ["sh", "-c", "for i in $(seq 1 2000); do echo $i; done"]
            )
            assert out.decode().split() == [str(i) for i in range(1, 2001)]
        finally:
            await stop_pod(pod, 5)

    run(scenario)


def test_exec_with_a_terminal(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec())
        try:
            code, out, err = await collect(
                pod, ["sh", "-c", "test -t 0 && test -t 1 && tty; echo bad >&2"], tty=True
            )
            assert code == 0
            assert err == b""  # a terminal merges everything on stdout
            assert out == b"/dev/pts/0\r\nbad\r\n"

            session = await exec_in_pod(
                pod, ["sh", "-c", "read line; stty size; echo $TERM"], stdin=True, tty=True
            )
            await session.resize(120, 40)
            await session.write_stdin(b"go\n")
            output = bytearray()
            while (item := await asyncio.wait_for(session.read(), DEADLINE)) is not None:
                output.extend(item[1])
            assert await session.wait() == 0
            assert output == b"go\r\n40 120\r\nxterm\r\n"  # the terminal echoes the input

            code, out, _ = await collect(pod, ["cat"], stdin=b"hello\n", tty=True)
            assert code == 0
            assert out.count(b"hello\r\n") == 2  # echo + cat's copy, then ^D ends cat
        finally:
            await stop_pod(pod, 5)

    run(scenario)


def test_exec_kill_ends_the_session(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec())
        try:
            session = await exec_in_pod(pod, ["sleep", "300"], stdin=False, tty=False)
            await wait_until_in_pod(pod, "pgrep -x sleep | wc -l", "2")  # container's + exec's
            await session.kill()
            assert await asyncio.wait_for(session.wait(), DEADLINE) == 137
            assert await asyncio.wait_for(session.read(), DEADLINE) is None
            await session.kill()  # harmless after exit
            await wait_until_in_pod(pod, "pgrep -x sleep | wc -l", "1")  # reaped by PID 1
        finally:
            await stop_pod(pod, 5)

    run(scenario)


def test_stand_in_when_the_command_is_not_on_the_machine(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec(argv=("/opt/app/bin/server", "--port", "80")))
        try:
            assert pod.standin
            assert pod.note is not None
            assert '"/opt/app/bin/server" is not on node n1' in pod.note
            assert "sleep infinity" in pod.note
            cmdline = (await sh(pod, "tr '\\0' ' ' < /proc/1/cmdline"))[1]
            assert "sleep infinity" in cmdline
            assert "server" not in cmdline
        finally:
            started = time.monotonic()
            await stop_pod(pod, 10)
            assert time.monotonic() - started < 2  # the stand-in ends on SIGTERM

        empty = await start_pod(node, spec(argv=()))
        try:
            assert empty.standin
            assert empty.note is not None
            assert "entrypoint" in empty.note
        finally:
            await stop_pod(empty, 10)

    run(scenario)


def test_stop_terminates_promptly_and_leaves_nothing(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec(argv=("sleep", "infinity")))
        session = await exec_in_pod(pod, ["sleep", "300"], stdin=False, tty=False)
        await wait_until_in_pod(pod, "pgrep -x sleep | wc -l", "2")  # container's + exec's
        started = time.monotonic()
        await stop_pod(pod, 10)
        assert time.monotonic() - started < 2  # sleep dies of SIGTERM; no grace needed
        assert pids_in_namespace(pod.pid_ns) == []
        assert marked_processes(pod.spec.uid) == []
        assert not os.path.exists(f"/proc/{pod.pid}") or pod.pid_ns != _pid_ns(pod.pid)
        assert await asyncio.wait_for(session.wait(), DEADLINE) == 137  # killed with the pod
        assert not in_node(node, pod.spec.node_dir).exists()
        assert not pod.running
        await stop_pod(pod, 10)  # idempotent
        with pytest.raises(RuntimeFailure, match="not running"):
            await exec_in_pod(pod, ["true"], stdin=False, tty=False)

    run(scenario)


def test_stop_right_after_start(node: NodeHost) -> None:
    async def scenario() -> None:
        for argv in (("sleep", "infinity"), ("no-such-command",), ("sh", "-c", "exec cat")):
            pod = await start_pod(node, spec(argv=argv))
            started = time.monotonic()
            await stop_pod(pod, 10)
            assert time.monotonic() - started < 2, argv  # SIGTERM is never lost
            assert pids_in_namespace(pod.pid_ns) == []
            update_hosts(pod, [("web-1", "10.251.250.11")])  # a stopped pod: no-op
            assert not in_node(node, pod.spec.node_dir).exists()

    run(scenario)


def _pid_ns(pid: int) -> tuple[int, int]:
    try:
        st = os.stat(f"/proc/{pid}/ns/pid")
    except OSError:
        return (0, 0)
    return (st.st_dev, st.st_ino)


def test_stop_kills_a_pid1_that_ignores_sigterm_after_the_grace_period(node: NodeHost) -> None:
    async def scenario() -> None:
        script = "trap '' TERM; echo started; while :; do sleep 0.2; done"
        pod = await start_pod(node, spec(argv=("sh", "-c", script)))
        await wait_until(lambda: "started" in read_logs(pod), "the container to start")
        grace = 1.5
        started = time.monotonic()
        await stop_pod(pod, grace)
        took = time.monotonic() - started
        assert grace - 0.05 <= took < grace + 1.0, took
        assert pids_in_namespace(pod.pid_ns) == []
        assert marked_processes(pod.spec.uid) == []
        assert pod.process is not None
        assert await pod.wait() == 137

    run(scenario)


def test_logs_capture_stdout_and_stderr(node: NodeHost) -> None:
    async def scenario() -> None:
        script = "echo to-stdout; echo to-stderr >&2; exit 4"
        pod = await start_pod(node, spec(argv=("sh", "-c", script)))
        assert await asyncio.wait_for(pod.wait(), DEADLINE) == 4
        assert read_logs(pod) == "to-stdout\nto-stderr\n"
        assert pod.log_path.is_relative_to(node.state_dir)
        await stop_pod(pod, 5)  # a pod whose container already ended stops at once
        assert marked_processes(pod.spec.uid) == []

    run(scenario)


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="uid"):
        spec(uid="../x")
    with pytest.raises(ValueError, match="absolute"):
        spec(volumes=(VolumeBind(VOLUME, "data"),))
    with pytest.raises(ValueError, match="root"):
        spec(volumes=(VolumeBind(VOLUME, "/"),))
    plain = spec(volumes=[(VOLUME, "/data", True)], peers=[("web-1", "10.0.0.1")])
    assert plain.volumes == (VolumeBind(VOLUME, "/data", True),)
    assert plain.peers == (HostEntry("web-1", "10.0.0.1"),)
    assert spec(hostname="h" * 70).pod_hostname == "h" * 63


# --- host namespaces, privileges and hostPath -------------------------------------------

# The harness's HostExec container (conformance.nodes.podshell): sleeps, exits on SIGTERM.
HOSTEXEC = ("sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done")
DEFAULT_CAP_EFF = "00000000a80425fb"  # containerd's default set, as capsh --decode shows


def _ns(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def _in_pid_ns(of: int, argv: tuple[str, ...]) -> list[int]:
    """Host PIDs of live processes with this argv in the PID namespace of ``of``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = tuple(Path(f"/proc/{entry}/cmdline").read_bytes().decode().split("\0")[:-1])
            same_ns = _ns(int(entry), "pid") == _ns(of, "pid")
        except OSError:
            continue
        if same_ns and cmdline == argv:
            found.append(int(entry))
    return found


def _mount_points(mountinfo: str) -> set[str]:
    return {line.split()[4] for line in mountinfo.splitlines()}


def test_host_exec_pod_enters_the_node_and_stops_leaving_nothing(node: NodeHost) -> None:
    """hostPID + privileged + the node's / at /rootfs: nsenter through /rootfs/proc/1
    reaches the node's mount namespace; stopping the pod also ends what it left in the
    node's PID namespace (the container's sleep, an exec's escaped background job)."""

    async def scenario() -> None:
        shape = spec(
            argv=HOSTEXEC, host_pid=True, privileged=True, volumes=(VolumeBind("/", "/rootfs"),)
        )
        pod = await start_pod(node, shape)
        try:
            assert pod.pid_ns == _pid_ns(node.pid)  # no PID namespace of its own
            assert await sh(pod, "hostname") == (0, "web-0\n", "")  # but its own UTS
            code, init, _ = await sh(pod, "tr '\\0' ' ' < /proc/1/cmdline")
            assert code == 0
            assert "mount -t proc proc /proc" in init  # the node's init, not the pod's
            node_mnt = _ns(node.pid, "mnt")
            assert await sh(pod, "readlink /rootfs/proc/1/ns/mnt") == (0, node_mnt + "\n", "")
            code, seen, err = await sh(
                pod, "nsenter --mount=/rootfs/proc/1/ns/mnt -- cat /proc/self/mountinfo"
            )
            assert code == 0, err
            node_view = Path(f"/proc/{node.pid}/mountinfo").read_text()
            assert _mount_points(seen) == _mount_points(node_view)
            assert f"{VOLUME}/hello" not in seen  # (a path, not a mount point)
            assert (await sh(pod, f"cat /rootfs{VOLUME}/hello"))[1] == "from-node\n"
            # An exec that leaves a job behind in the node's mount namespace.
            escape = "nsenter --mount=/rootfs/proc/1/ns/mnt -- sh -c 'sleep 301 >/dev/null 2>&1 &'"
            assert (await sh(pod, escape))[0] == 0
            await wait_until(lambda: len(_in_pid_ns(node.pid, ("sleep", "301"))) == 1, "job")
            assert len(_in_pid_ns(node.pid, ("sleep", "3600"))) == 1  # the container's
        finally:
            started = time.monotonic()
            await stop_pod(pod, 5)
            took = time.monotonic() - started
        assert took < 2, took  # the container exits on SIGTERM: no grace period spent
        assert not pod.killed
        for argv in (("sleep", "301"), ("sleep", "3600")):
            assert _in_pid_ns(node.pid, argv) == [], argv
        assert pod_pids(pod) == []
        assert marked_processes(pod.spec.uid) == []
        assert os.path.exists(f"/proc/{node.pid}")  # the node's own processes live on
        assert not in_node(node, pod.spec.node_dir).exists()
        assert "/rootfs" not in Path(f"/proc/{node.pid}/mountinfo").read_text()

    run(scenario)


def test_capabilities_and_dev_follow_privileged(node: NodeHost) -> None:
    async def scenario() -> None:
        plain = await start_pod(node, spec(host_pid=True))
        privileged = await start_pod(node, spec(name="web-1", privileged=True))
        try:
            cap_eff = "grep CapEff /proc/self/status"
            assert (await sh(plain, cap_eff))[1].split() == ["CapEff:", DEFAULT_CAP_EFF]
            code, _, err = await sh(plain, "nsenter --mount=/proc/1/ns/mnt -- true")
            assert code != 0
            assert "Permission denied" in err or "not permitted" in err
            code, _, err = await sh(plain, "mount -t tmpfs none /mnt")
            assert code != 0
            ours = Path("/proc/self/status").read_text().split("CapEff:")[1].split()[0]
            assert (await sh(privileged, cap_eff))[1].split() == ["CapEff:", ours]
            code, listed, _ = await sh(privileged, "ls -A /dev")
            assert code == 0
            assert set(listed.split()) == set(os.listdir(f"/proc/{node.pid}/root/dev"))
            sys_options = "awk '$5 == \"/sys\" { print substr($6, 1, 2) }' /proc/self/mountinfo"
            assert await sh(plain, sys_options) == (0, "ro\n", "")
            assert await sh(privileged, sys_options) == (0, "rw\n", "")
            code, _, err = await sh(privileged, "mount -t tmpfs none /mnt && umount /mnt")
            assert code == 0, err
        finally:
            await stop_pod(plain, 5)
            await stop_pod(privileged, 5)

    run(scenario)


def test_host_network_pod_has_the_node_hostname_and_hosts(node: NodeHost) -> None:
    async def scenario() -> None:
        pod = await start_pod(node, spec(host_network=True, hostname="n1", subdomain=""))
        try:
            assert await sh(pod, "hostname") == (0, "n1\n", "")
            code, hosts, _ = await sh(pod, "cat /etc/hosts")
            assert code == 0
            node_hosts = in_node(node, "/etc/hosts").read_text()
            assert hosts == "# Kubernetes-managed hosts file (host network).\n" + node_hosts
            assert _ns(pod.pid, "uts") == _ns(node.pid, "uts")
            assert _ns(pod.pid, "pid") != _ns(node.pid, "pid")  # hostPID is another field
        finally:
            await stop_pod(pod, 5)

    run(scenario)


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (
            HostPathVolume("x", "/var/lib/hp/nope", "Directory"),
            'MountVolume.SetUp failed for volume "x" : '
            "hostPath type check failed: /var/lib/hp/nope is not a directory",
        ),
        (
            HostPathVolume("x", VOLUME, "File"),
            f'MountVolume.SetUp failed for volume "x" : '
            f"hostPath type check failed: {VOLUME} is not a file",
        ),
        (
            HostPathVolume("d", "/dev/null", "BlockDevice"),
            'MountVolume.SetUp failed for volume "d" : '
            "hostPath type check failed: /dev/null is not a block device",
        ),
        (
            HostPathVolume("s", "/dev/null", "Socket"),
            'MountVolume.SetUp failed for volume "s" : '
            "hostPath type check failed: /dev/null is not a socket file",
        ),
        (
            HostPathVolume("t", "/var/lib", "Bogus"),
            'MountVolume.SetUp failed for volume "t" : Bogus is an invalid volume type',
        ),
        (
            HostPathVolume("u", "/var/lib/../etc", ""),
            'MountVolume.SetUp failed for volume "u" : invalid HostPath `/var/lib/../etc`: '
            "must not contain '..'",
        ),
        (
            HostPathVolume("f", "/var/lib/hp/no-dir/f", "FileOrCreate"),
            'MountVolume.SetUp failed for volume "f" : '
            "open /var/lib/hp/no-dir/f: no such file or directory",
        ),
    ],
)
def test_host_path_checks_fail_as_the_kubelet_does(
    node: NodeHost, volume: HostPathVolume, message: str
) -> None:
    with pytest.raises(RuntimeFailure) as failed:
        run(lambda: set_up_host_paths(node, [volume]))
    assert failed.value.reason == "FailedMount"
    assert str(failed.value) == message
    assert not in_node(node, "/var/lib/hp/no-dir").exists()


def test_host_path_types_that_pass_or_create(node: NodeHost) -> None:
    made = ["/var/lib/hp/made", "/var/lib/hp/unset/deep", "/var/lib/hp/file"]
    volumes = [
        HostPathVolume("a", "/var/lib/hp/made", "DirectoryOrCreate"),
        HostPathVolume("b", "/var/lib/hp/unset/deep", ""),  # containerd makes it
        HostPathVolume("c", "/var/lib/hp/file", "FileOrCreate"),
        HostPathVolume("d", VOLUME, "Directory"),
        HostPathVolume("e", f"{VOLUME}/hello", "File"),
        HostPathVolume("f", "/dev/null", "CharDevice"),
        HostPathVolume("g", "/", ""),
    ]
    try:
        run(lambda: set_up_host_paths(node, volumes))
        assert in_node(node, made[0]).is_dir()
        assert in_node(node, made[1]).is_dir()
        assert oct(in_node(node, made[1]).stat().st_mode & 0o777) == "0o755"
        assert in_node(node, made[2]).is_file()
        assert oct(in_node(node, made[2]).stat().st_mode & 0o777) == "0o644"
        assert in_node(node, f"{VOLUME}/hello").read_text() == "from-node\n"  # untouched
    finally:
        shutil.rmtree(in_node(node, "/var/lib/hp"), ignore_errors=True)


def test_a_pod_runs_as_its_user_group_and_supplementary_groups(node: NodeHost) -> None:
    """runAsUser, runAsGroup and fsGroup + supplementalGroups: the container's process and
    every exec run with that identity and no capabilities (runc drops them for non-root)."""

    async def scenario() -> None:
        pod = await start_pod(node, spec(run_as_user=1001, run_as_group=1002, groups=(2000, 3000)))
        try:
            assert await sh(pod, "id -u; id -g; id -G") == (0, "1001\n1002\n1002 2000 3000\n", "")
            assert (await sh(pod, "grep CapEff /proc/self/status"))[1].split() == [
                "CapEff:",
                "0000000000000000",
            ]
            assert await sh(pod, 'echo "$HOME"') == (0, "/\n", "")
        finally:
            await stop_pod(pod, 5)

    run(scenario)
