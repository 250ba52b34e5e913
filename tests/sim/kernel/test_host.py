"""Kernel-backed nodes: netns + private root + real sshd, reached with strict host keys.

Every address dialled here is one of the nodes these tests created (10.251.<k>.<i>,
inside namespaces made by conformance.sim.kernel.host). Clean-up checks are scoped to
the subnets and state directories of these tests, so simulators of other xdist
workers are never touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from conformance.sim.kernel import cleanup, host
from conformance.sim.kernel.model import NodeHost, child_pids, enter, run

TOOLS = ("sshd", "ssh", "ssh-keygen", "ip", "unshare", "nsenter", "losetup", "mkfs.ext4")
_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
_MISSING = [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0, reason="kernel-backed nodes need root (netns, mounts, loop devices)"
    ),
    pytest.mark.skipif(bool(_MISSING), reason=f"tools missing: {', '.join(_MISSING)}"),
]


@dataclass
class Cluster:
    network: host.NodeNetwork
    nodes: list[NodeHost]
    key: Path
    known_hosts: Path
    start_seconds: float  # two nodes started concurrently
    state: Path


def _start(network: host.NodeNetwork, state: Path, names: list[str], pub: str) -> list[NodeHost]:
    async def start_all() -> list[NodeHost]:
        return list(
            await asyncio.gather(
                *(
                    host.start_node(network, name, i, state / "nodes" / name, pub)
                    for i, name in enumerate(names, start=1)
                )
            )
        )

    return asyncio.run(start_all())


def _stop(nodes: list[NodeHost]) -> None:
    async def stop_all() -> None:
        await asyncio.gather(*(host.stop_node(node) for node in nodes))

    asyncio.run(stop_all())


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A marked simulator state directory; whatever a failed test left there is removed."""
    cleanup.mark_state_dir(tmp_path)
    yield tmp_path
    _safety_net(tmp_path)


def _safety_net(state: Path) -> None:
    """Remove what a failing test may have left (a no-op after a passing one)."""
    cleanup.clean(cleanup.find_leftovers(state_dirs=[state], include_live=True))
    cleanup.unmark_state_dir(state)


@pytest.fixture(scope="module")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return host.generate_client_key(tmp_path_factory.mktemp("client") / "id_ed25519")


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, client_key: tuple[Path, str]
) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("sim")
    cleanup.mark_state_dir(state)
    key, pub = client_key
    with host.NodeNetwork() as network:
        began = time.monotonic()
        nodes = _start(network, state, ["node-1", "node-2"], pub)
        elapsed = time.monotonic() - began
        try:
            known_hosts = host.write_known_hosts(state / "known_hosts", nodes)
            yield Cluster(network, nodes, key, known_hosts, elapsed, state)
        finally:
            _stop(nodes)
            _safety_net(state)


def _in_node(node: NodeHost, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([*host_enter(node), *argv], check=check)


def host_enter(node: NodeHost) -> list[str]:
    return enter(node.pid)


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Poll with backoff until ``check`` holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {timeout}s: {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _sshd(node: NodeHost) -> int:
    """Host PID of the node's sshd (its pid file holds the PID in the node's namespace)."""
    in_node = int(Path(f"/proc/{node.pid}/root/run/cfsim-node/sshd.pid").read_text())
    for pid in child_pids(node.pid):
        status = Path(f"/proc/{pid}/status").read_text()
        nspids = next(line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:"))
        if int(nspids[-1]) == in_node:
            return pid
    raise AssertionError(f"no child of agent {node.pid} is node PID {in_node}")


def _crash_agent(node: NodeHost) -> None:
    """SIGKILL the node's agent (a crash) and wait, on a pidfd, until it is dead."""
    fd = os.pidfd_open(node.pid)
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        readable, _w, _x = select.select([fd], [], [], 10)
        assert readable, f"agent {node.pid} survived SIGKILL"
    finally:
        os.close(fd)
    host.reap_exited_agents()


def _netns_members(name: str) -> set[int]:
    inode = host.netns_inode(name)
    if inode is None:
        return set()
    return {pid for pid, info in host.scan_processes().items() if info.net == inode}


def _links_left(subnets: set[int], veths: Collection[str] = ()) -> list[str]:
    """Links of ours still there: bridges in ``subnets`` whose ifalias names this process
    as owner, and the named veths if they hang on no bridge or on one of ours. (Once
    freed, a subnet may be taken by a simulator of another xdist worker.)"""
    token = host.owner_token()
    by_name = {str(link.get("ifname", "")): link for link in host.links()}
    bridges = {
        name
        for name, link in by_name.items()
        if (match := host.BRIDGE_RE.match(name))
        and int(match.group(1)) in subnets
        and token in str(link.get("ifalias", ""))
    }
    left = sorted(bridges)
    for veth in veths:
        link = by_name.get(veth)
        if link is not None and (link.get("master") is None or link.get("master") in bridges):
            left.append(veth)
    return left


def _links_of(subnets: set[int]) -> list[str]:
    """All links in ``subnets`` (only meaningful while this test holds their bridges)."""
    names = [str(link.get("ifname", "")) for link in host.links()]
    found = []
    for name in names:
        match = host.BRIDGE_RE.match(name) or host.VETH_RE.match(name)
        if match and int(match.group(1)) in subnets:
            found.append(name)
    return found


# --- SSH -----------------------------------------------------------------------------------


def test_paramiko_strict_host_keys(cluster: Cluster) -> None:
    for node in cluster.nodes:
        client = paramiko.SSHClient()
        client.load_host_keys(str(cluster.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            node.address,
            username="root",
            key_filename=str(cluster.key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        try:
            _in, out, _err = client.exec_command("hostname")
            assert out.read().decode().strip() == node.name
            _in, out, _err = client.exec_command("cat /proc/self/mountinfo")
            mountinfo = out.read().decode()
        finally:
            client.close()
        root = next(line for line in mountinfo.splitlines() if line.split()[4] == "/")
        assert f"tmpfs cfsim-{cluster.network.subnet}-{node.name}" in root
        targets = {line.split()[4] for line in mountinfo.splitlines()}
        assert {"/usr", "/etc", "/dev", "/sys", "/proc"} <= targets
        assert not any(t.startswith(("/work", "/root/.pyenv", "/tmp/")) for t in targets)


def test_paramiko_rejects_unknown_host_key(cluster: Cluster, tmp_path: Path) -> None:
    """Strictness is real: with a known_hosts that lacks the node, the connection fails."""
    node = cluster.nodes[0]
    other = cluster.nodes[1]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{node.address} {' '.join(host.known_hosts_line(other).split()[1:])}\n")
    client = paramiko.SSHClient()
    client.load_host_keys(str(wrong))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException):
        client.connect(
            node.address,
            username="root",
            key_filename=str(cluster.key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
    client.close()


def test_openssh_client_strict_host_keys(cluster: Cluster) -> None:
    for node in cluster.nodes:
        result = run(
            [
                "ssh",
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={cluster.known_hosts}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=10",
                "-i",
                str(cluster.key),
                f"root@{node.address}",
                "hostname",
            ],
            timeout=30,
        )
        assert result.stdout.strip() == node.name


# --- the node's own root -------------------------------------------------------------------


def test_nsenter_sees_node_root_dev_and_sys(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    assert _in_node(node, "hostname").stdout.strip() == node.name
    assert sorted(_in_node(node, "ls", "-A", "/dev").stdout.split()) == sorted(
        os.listdir(node.dev_dir)
    )
    assert _in_node(node, "ls", "-A", "/sys").stdout.split() == sorted(os.listdir(node.sys_dir))
    # The devices module writes /sys entries from the host side: the node sees them.
    probe = node.sys_dir / "cfsim-probe"
    probe.write_text("from the host\n")
    try:
        assert _in_node(node, "cat", "/sys/cfsim-probe").stdout == "from the host\n"
    finally:
        probe.unlink()
    assert _in_node(node, "stat", "-c", "%t:%T", "/dev/null").stdout.strip() == "1:3"
    assert _in_node(node, "test", "-d", "/dev/pts").returncode == 0

    findmnt = _in_node(node, "findmnt", "-J").stdout
    tree = json.loads(findmnt)["filesystems"][0]
    assert tree["target"] == "/"
    assert tree["source"] == f"cfsim-{cluster.network.subnet}-{node.name}"
    assert tree["fstype"] == "tmpfs"
    children = {child["target"]: child for child in tree["children"]}
    assert children["/usr"]["options"].startswith("ro")
    assert children["/etc"]["options"].startswith("ro")
    assert "/work" not in findmnt
    assert ".pyenv" not in findmnt

    for path in ("/work", "/root/.pyenv", "/old_root", "/.old-root"):
        assert _in_node(node, "test", "-e", path, check=False).returncode != 0, path
    assert _in_node(node, "test", "-d", "/var/lib/kubelet").returncode == 0
    assert _in_node(node, "touch", "/usr/cfsim-x", check=False).returncode != 0
    _in_node(node, "touch", "/var/lib/kubelet/x", "/tmp/x", "/root/x", "/run/x")
    assert not (Path("/var/lib/kubelet") / "x").exists()
    assert _in_node(node, "cat", "/etc/hostname").stdout.strip() == node.name
    assert node.address in _in_node(node, "getent", "hosts", node.name).stdout
    # The node is in its own network namespace, its sshd listening on its own address.
    addresses = _in_node(node, "ip", "-j", "-4", "addr", "show", "dev", "eth0").stdout
    assert node.address in addresses
    listening = _in_node(node, "cat", "/proc/net/tcp").stdout
    port22 = f"{int.from_bytes(bytes(map(int, node.address.split('.')))[::-1], 'big'):08X}:0016"
    assert port22 in listening


def test_node_has_its_own_pid_namespace_with_the_agent_as_init(cluster: Cluster) -> None:
    """/proc inside the node is its PID namespace's: PID 1 is the agent, whose mount
    namespace is the node's (what a HostExec pod enters through /proc/1/ns/mnt)."""
    node = cluster.nodes[0]
    init = _in_node(node, "cat", "/proc/1/cmdline").stdout.split("\0")
    assert host.agent_args(init) == (cluster.network.subnet, node.name, node.state_dir)
    agent_mnt = os.readlink(f"/proc/{node.pid}/ns/mnt")
    assert _in_node(node, "readlink", "/proc/1/ns/mnt").stdout.strip() == agent_mnt
    assert os.readlink(f"/proc/{node.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    # The node's ps lists its own processes only (not this test's).
    listed = _in_node(node, "ps", "-e", "-o", "args=").stdout.splitlines()
    kinds = {"cfsim-agent" if "cfsim-agent" in ln else ln.split()[0] for ln in listed}
    assert kinds == {"cfsim-agent", "sshd:", "sleep", "ps"}, listed
    # The same over SSH, and what a login's shell is.
    client = paramiko.SSHClient()
    client.load_host_keys(str(cluster.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        node.address,
        username="root",
        key_filename=str(cluster.key),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        _in, out, _err = client.exec_command("readlink /proc/1/ns/mnt; cat /proc/1/cmdline")
        text = out.read().decode()
    finally:
        client.close()
    assert text.startswith(agent_mnt + "\n")
    assert "cfsim-agent" in text
    # An orphan is reaped by the agent (the node's init): no zombie stays behind.
    orphan = _in_node(node, "sh", "-c", "sleep 0.2 & echo $!").stdout.strip()
    in_proc = Path(f"/proc/{node.pid}/root/proc/{orphan}")
    _wait_until(lambda: not in_proc.exists(), f"orphan {orphan} exited and reaped")


def test_start_time(cluster: Cluster, record_property: Callable[[str, object], None]) -> None:
    record_property("two_nodes_start_seconds", round(cluster.start_seconds, 3))
    print(f"\ntwo nodes started concurrently in {cluster.start_seconds:.3f}s")
    assert cluster.start_seconds < 15


# --- networks ------------------------------------------------------------------------------


def test_networks_get_distinct_subnets() -> None:
    made: list[host.NodeNetwork] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def allocate() -> None:
        try:
            network = host.NodeNetwork()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            return
        with lock:
            made.append(network)

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors
        subnets = [network.subnet for network in made]
        assert len(set(subnets)) == 4, subnets
        for network in made:
            assert _links_of({network.subnet}) == [network.bridge]
    finally:
        for network in made:
            network.close()
    assert not _links_left({network.subnet for network in made})


# --- stop and clean-up ---------------------------------------------------------------------


def test_stop_node_leaves_nothing(state: Path, client_key: tuple[Path, str]) -> None:
    with host.NodeNetwork() as network:
        (node,) = _start(network, state, ["solo"], client_key[1])
        netns = host.netns_name(network.subnet, node.name)
        sshd = _sshd(node)
        # A long-running process in nested namespaces that ignores SIGTERM, outside the
        # node's PID namespace (as a pod's nsenter parent is): it must get SIGKILL.
        pod = subprocess.Popen(
            [
                *enter(node.pid, pid_ns=False),
                *("unshare", "-m", "-u", "--", "sh", "-c", "trap '' TERM; exec sleep 600"),
            ]
        )
        inode = host.netns_inode(netns)
        _wait_until(
            lambda: getattr(host.proc_info(pod.pid), "net", None) == inode,
            f"pod process {pod.pid} in netns {netns}",
        )
        assert pod.pid in host.node_processes(node)
        asyncio.run(host.stop_node(node, grace=0.5))
        assert pod.wait(timeout=5) in (-signal.SIGKILL, 128 + signal.SIGKILL)
        assert netns not in host.netns_names()
        assert _links_of({network.subnet}) == [network.bridge]
        assert not _netns_members(netns)
        for pid in (node.pid, sshd):
            assert not host.running(pid), pid
        assert not node.state_dir.exists()
        left = cleanup.find_leftovers(
            subnets={network.subnet}, state_dirs=[state], include_live=True
        )
        assert left.interfaces == [network.bridge]
        assert not left.processes
        assert not left.netns
    assert cleanup.find_leftovers(state_dirs=[state], include_live=True).empty
    assert not _links_left({network.subnet}, [host.veth_name(network.subnet, node.index)])


def test_clean_after_agent_killed(state: Path, client_key: tuple[Path, str]) -> None:
    """A crashed node (agent SIGKILLed, so its PID namespace is gone, but a process in its
    other namespaces left, a loop device mounted inside it, a mount left in the host
    namespace) is found by prefix and marker, and removed."""
    network = host.NodeNetwork()
    stray: subprocess.Popen[bytes] | None = None
    try:
        (node,) = _start(network, state, ["crashy"], client_key[1])
        sshd = _sshd(node)
        # In the node's network, mount and UTS namespaces, not its PID namespace (as the
        # nsenter above a pod is): it outlives the agent.
        stray = subprocess.Popen(
            [*enter(node.pid, pid_ns=False), "sleep", "600"], stdin=subprocess.DEVNULL
        )
        _wait_until(
            lambda: (
                getattr(host.proc_info(stray.pid), "mnt", None)
                == getattr(host.proc_info(node.pid), "mnt", 0)
            ),
            f"stray {stray.pid} inside node {node.name}",
        )
        image = state / "volumes" / "pv0.img"
        image.parent.mkdir()
        with image.open("wb") as f:
            f.truncate(16 << 20)
        run(["mkfs.ext4", "-q", "-F", str(image)])
        loop = run(["losetup", "-f", "--show", str(image)]).stdout.strip()
        os.mknod(node.dev_dir / "sdb", stat.S_IFBLK | 0o660, os.stat(loop).st_rdev)
        _in_node(node, "mkdir", "-p", "/var/lib/kubelet/pods/u1/volumes/x")
        _in_node(node, "mount", "/dev/sdb", "/var/lib/kubelet/pods/u1/volumes/x")
        host_mount = state / "mnt"
        host_mount.mkdir()
        run(["mount", "-t", "tmpfs", "cfsim-test", str(host_mount)])

        _crash_agent(node)
        assert not host.running(node.pid)
        _wait_until(lambda: not host.running(sshd), "sshd gone with the node's PID namespace")

        # Default search: orphans only; this process (the owner) runs, so all is skipped.
        live = cleanup.find_leftovers(subnets={network.subnet}, state_dirs=[state])
        assert live.empty
        assert any(f"process {stray.pid} " in item for item in live.skipped_live)

        left = cleanup.find_leftovers(
            subnets={network.subnet}, state_dirs=[state], include_live=True
        )
        assert stray.pid in {p.pid for p in left.processes}
        assert left.netns == [host.netns_name(network.subnet, node.name)]
        assert sorted(left.interfaces) == sorted(
            [network.bridge, host.veth_name(network.subnet, node.index)]
        )
        assert [lo.device for lo in left.loop_devices] == [loop]
        assert [m.target for m in left.mounts] == [str(host_mount)]
        assert left.node_dirs == [str(node.state_dir)]
        assert any(line.startswith("netns cfsim-") for line in left.lines())

        report = cleanup.clean(left)
        assert report.ok, str(report)
        assert stray.pid in report.killed
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert report.detached == [loop]
        assert host.netns_name(network.subnet, node.name) not in host.netns_names()
        assert not _links_left({network.subnet}, [host.veth_name(network.subnet, node.index)])
        assert not Path(f"/sys/block/{Path(loop).name}/loop").exists()
        assert not node.state_dir.exists()
        assert cleanup.find_leftovers(state_dirs=[state], include_live=True).empty
    finally:
        if stray is not None:
            stray.kill()
            stray.wait(timeout=10)
        network.close()


def test_leak_twenty_cycles(state: Path, client_key: tuple[Path, str]) -> None:
    subnets: set[int] = set()
    sshd_pids: list[int] = []
    agents: list[int] = []
    netns: list[str] = []
    veths: list[str] = []
    for cycle in range(20):
        with host.NodeNetwork() as network:
            subnets.add(network.subnet)
            (node,) = _start(network, state, [f"leak-{cycle}"], client_key[1])
            netns.append(host.netns_name(network.subnet, node.name))
            veths.append(host.veth_name(network.subnet, node.index))
            agents.append(node.pid)
            sshd_pids.append(_sshd(node))
            if cycle % 4 == 0:  # crash: agent killed, clean-up after the fact
                _crash_agent(node)
                report = cleanup.clean(
                    cleanup.find_leftovers(
                        subnets={network.subnet}, state_dirs=[state], include_live=True
                    )
                )
                assert report.ok, str(report)
            elif cycle % 4 == 1:  # the agent died, the node is stopped normally
                _crash_agent(node)
                asyncio.run(host.stop_node(node))
            else:
                asyncio.run(host.stop_node(node))
    assert len(netns) == 20
    assert not set(netns) & set(host.netns_names())
    assert not _links_left(subnets, veths)
    alive = [pid for pid in sshd_pids + agents if host.running(pid)]
    assert not alive
    assert not [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(state) in line
    ]
    assert not list((state / "nodes").iterdir())
    assert cleanup.find_leftovers(state_dirs=[state], include_live=True).empty
    assert not cleanup.find_leftovers(netns=netns, include_live=True).processes
    assert not set(agents) & set(host._AGENTS)  # every agent reaped: no zombies
