"""conformance.nodes: the SSH transport against real OpenSSH servers, and the small ones.

The SSH tests start two kernel-backed simulator nodes (network namespaces on a private
bridge, each running a real sshd) and talk to them with the harness's SshShell.
NETWORK SAFETY: every address dialled is one of the nodes this module started
(10.251.<k>.<i> inside namespaces it made); "wrong" ports and missing addresses are
tried against those same nodes, never against anything else.

The docker and pod transports, the pool and the registry are tested with fakes (a
``docker`` script on PATH, recording callables) and need no root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.inventory import (
    Access,
    AddressType,
    Bastion,
    Docker,
    HostKeyPolicy,
    NodeOverride,
    Nodes,
    PodAccess,
    Ssh,
    Timeouts,
)
from conformance.nodes import (
    CommandResult,
    DockerShell,
    NodeAccessError,
    NodeCommandFailed,
    NodeCommandTimeout,
    NodeShell,
    NodeShells,
    PodOps,
    PodShell,
    SshShell,
    command_text,
    node_address,
    open_shell,
)
from conformance.nodes import ssh as ssh_transport
from conformance.nodes.ssh import SshTarget

TOOLS = ("sshd", "ssh-keygen", "ip", "unshare", "nsenter")
_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
_MISSING = [tool for tool in TOOLS if shutil.which(tool, path=_PATH) is None]

needs_nodes = [
    pytest.mark.skipif(
        os.geteuid() != 0, reason="simulated SSH nodes need root (network namespaces, mounts)"
    ),
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"tools for simulated SSH nodes missing: {', '.join(_MISSING)} "
        "(apt-get install openssh-server openssh-client iproute2 util-linux)",
    ),
]
needs_sudo = pytest.mark.skipif(
    shutil.which("sudo") is None, reason="sudo is not installed on this machine (apt install sudo)"
)

TIMEOUTS = Timeouts(command=20)
TEST_USER = "cfsimtest"  # a non-root user that exists only inside node 1's mount namespace
TEST_UID = 4242


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Poll with backoff until ``check`` holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {timeout}s: {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


# --- the simulated nodes --------------------------------------------------------------------


@dataclass
class Lab:
    network: Any  # host.NodeNetwork
    nodes: list[Any]  # host.NodeHost, started by this module
    key: Path
    known_hosts: Path
    state: Path
    opened: list[NodeShell] = field(default_factory=list)

    def addresses(self, node: Any) -> list[dict[str, str]]:
        """The Node object's status.addresses, as the API would give them."""
        return [
            {"type": "InternalIP", "address": node.address},
            {"type": "Hostname", "address": node.name},
        ]

    def inventory(self, overrides: dict[str, NodeOverride] | None = None, **ssh: Any) -> Nodes:
        settings: dict[str, Any] = {
            "user": "root",
            "key_file": str(self.key),
            "known_hosts": str(self.known_hosts),
        }
        settings.update(ssh)
        return Nodes(access=Access.SSH, ssh=Ssh(**settings), overrides=overrides or {})

    def shell(
        self,
        node: Any,
        *,
        addresses: Sequence[dict[str, str]] | None = None,
        overrides: dict[str, NodeOverride] | None = None,
        **ssh: Any,
    ) -> SshShell:
        shell = open_shell(
            node.name,
            self.addresses(node) if addresses is None else addresses,
            self.inventory(overrides, **ssh),
            TIMEOUTS,
        )
        assert isinstance(shell, SshShell)
        self.opened.append(shell)
        return shell


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from conformance.sim.kernel import cleanup, host

    state = tmp_path_factory.mktemp("nodes-ssh")
    cleanup.mark_state_dir(state)
    key, public = host.generate_client_key(state / "client" / "id_ed25519")
    network = host.NodeNetwork()
    nodes: list[Any] = []
    try:

        async def start() -> list[Any]:
            return list(
                await asyncio.gather(
                    *(
                        host.start_node(network, name, index, state / "nodes" / name, public)
                        for index, name in ((1, "nodes-1"), (2, "nodes-2"))
                    )
                )
            )

        nodes = asyncio.run(start())
        known_hosts = host.write_known_hosts(state / "known_hosts", nodes)
        yield Lab(network, nodes, key, known_hosts, state)
    finally:
        for node in nodes:
            host.stop_node_sync(node, grace=0)
        network.close()
        cleanup.clean(cleanup.find_leftovers(state_dirs=[state], include_live=True))
        cleanup.unmark_state_dir(state)


@pytest.fixture
def nodes(lab: Lab) -> Iterator[Lab]:
    """The lab; shells opened through it in a test are closed after that test."""
    yield lab
    while lab.opened:
        lab.opened.pop().close()


def _sessions(lab: Lab, node: Any) -> list[int]:
    """Per-connection sshd processes ("sshd: root@notty") inside this node's netns."""
    from conformance.sim.kernel import host

    inode = host.netns_inode(host.netns_name(lab.network.subnet, node.name))
    assert inode is not None
    return [
        info.pid
        for info in host.scan_processes().values()
        if info.net == inode
        and info.cmdline[:1]
        and info.cmdline[0].startswith(("sshd:", "sshd-session:"))
        and "@notty" in info.cmdline[0]
    ]


def _kill_sessions(lab: Lab, node: Any) -> list[int]:
    killed = _sessions(lab, node)
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return killed


# --- running commands -------------------------------------------------------------------------


class TestRun:
    pytestmark = needs_nodes

    def test_stdout_stderr_and_exit_codes(self, nodes: Lab) -> None:
        node = nodes.nodes[0]
        shell = nodes.shell(node)
        result = shell.run("echo out; echo err >&2; exit 3")
        assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 3)
        assert not result.ok
        assert result.node == node.name
        assert result.duration > 0
        with pytest.raises(NodeCommandFailed) as failed:
            result.check()
        message = str(failed.value)
        assert node.name in message
        assert "echo out; echo err >&2; exit 3" in message
        assert "exited 3" in message
        assert "err" in message
        ok = shell.run("hostname").check()
        assert ok.stdout.strip() == node.name
        assert ok.ok
        assert shell.connects == 1  # one connection, reused

    def test_sequence_is_quoted_and_string_is_not(self, nodes: Lab) -> None:
        shell = nodes.shell(nodes.nodes[0])
        args = ["a b", "it's", '"double"', "$HOME", "*", "; echo pwned", ""]
        result = shell.run(["printf", "%s|", *args]).check()
        assert result.stdout == "|".join(args) + "|"
        assert result.command == command_text(["printf", "%s|", *args])
        # a string is the caller's shell text: expansions happen
        assert shell.run("echo $((6 * 7))").check().stdout == "42\n"

    def test_timeout_kills_the_command_and_keeps_partial_output(self, nodes: Lab) -> None:
        node = nodes.nodes[0]
        shell = nodes.shell(node)
        began = time.monotonic()
        with pytest.raises(NodeCommandTimeout) as timed_out:
            shell.run("echo started; echo $$ >&2; exec sleep 60", timeout=1)
        assert time.monotonic() - began < 10
        error = timed_out.value
        assert error.stdout == "started\n"
        pid = int(error.stderr.strip())
        assert "started" in str(error)
        assert "within 1s" in str(error)
        assert error.partial.exit_code == -1
        # the remote sleep was killed ($$ is its PID in the node's PID namespace)
        in_node = Path(f"/proc/{node.pid}/root/proc/{pid}")
        _wait_until(lambda: not in_node.exists(), f"sleep {pid} killed")
        assert shell.run("true").ok  # the connection is still usable
        assert shell.connects == 1

    def test_a_command_killed_by_a_signal_has_exit_code_minus_one(self, nodes: Lab) -> None:
        result = nodes.shell(nodes.nodes[0]).run("echo before; kill -KILL $$")
        assert (result.stdout, result.exit_code, result.ok) == ("before\n", -1, False)

    def test_reconnects_once_after_the_server_kills_the_session(self, nodes: Lab) -> None:
        node = nodes.nodes[0]
        shell = nodes.shell(node)
        assert shell.run("true").ok
        assert _kill_sessions(nodes, node), "no sshd session process found for the shell"
        assert shell.run("hostname").check().stdout.strip() == node.name
        assert shell.connects == 2

    def test_reconnects_when_the_session_dies_mid_command(self, nodes: Lab) -> None:
        node = nodes.nodes[0]
        shell = nodes.shell(node)
        marker = Path(f"/proc/{node.pid}/root/tmp/nodes-ssh-midcommand")
        marker.unlink(missing_ok=True)
        results: list[CommandResult] = []
        runner = threading.Thread(
            target=lambda: results.append(
                shell.run("touch /tmp/nodes-ssh-midcommand; sleep 1; echo done")
            )
        )
        runner.start()
        try:
            _wait_until(marker.exists, "the command started on the node")
            assert _kill_sessions(nodes, node)
        finally:
            runner.join(30)
        assert results, "the command did not return"
        assert results[0].stdout == "done\n", results[0]
        assert shell.connects == 2

    def test_a_second_drop_is_a_clear_error(
        self, nodes: Lab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        node = nodes.nodes[0]
        shell = nodes.shell(node)

        def dropped(*_args: Any) -> CommandResult:
            raise EOFError("connection reset by test")

        monkeypatch.setattr(shell, "_exec_on", dropped)
        with pytest.raises(NodeAccessError) as failed:
            shell.run("true")
        message = str(failed.value)
        assert f"node {node.name} ({node.address}:22)" in message
        assert "again after a reconnect" in message
        assert "EOFError" in message


# --- host keys ---------------------------------------------------------------------------------


class TestHostKeys:
    pytestmark = needs_nodes

    def test_strict_rejects_a_host_missing_from_known_hosts(
        self, nodes: Lab, tmp_path: Path
    ) -> None:
        node = nodes.nodes[0]
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        shell = nodes.shell(node, known_hosts=str(empty))
        with pytest.raises(NodeAccessError) as rejected:
            shell.run("true")
        message = str(rejected.value)
        assert message.startswith(f"node {node.name} ({node.address}:22): host key of")
        assert f"not in known_hosts {empty}" in message
        assert "nodes.ssh.known_hosts" in message
        assert "accept-new" in message
        assert empty.read_text() == ""  # strict never writes

    def test_strict_rejects_a_changed_key(self, nodes: Lab, tmp_path: Path) -> None:
        from conformance.sim.kernel import host

        first, second = nodes.nodes
        wrong = tmp_path / "known_hosts"
        # the first node's address with the second node's key: a changed host key
        wrong.write_text(host.known_hosts_line(second).replace(second.address, first.address))
        for policy in ("strict", "accept-new"):
            shell = nodes.shell(first, known_hosts=str(wrong), host_key_policy=policy)
            with pytest.raises(NodeAccessError, match="CHANGED") as rejected:
                shell.run("true")
            assert str(wrong) in str(rejected.value)
            assert "ssh-keygen -R" in str(rejected.value)

    def test_accept_new_adds_the_key_then_strict_accepts_it(
        self, nodes: Lab, tmp_path: Path
    ) -> None:
        from conformance.sim.kernel import host

        node = nodes.nodes[0]
        learned = tmp_path / "fresh" / "known_hosts"  # not there yet
        shell = nodes.shell(node, known_hosts=str(learned), host_key_policy="accept-new")
        assert shell.run("hostname").check().stdout.strip() == node.name
        assert learned.read_text().splitlines() == [host.known_hosts_line(node)]
        again = nodes.shell(node, known_hosts=str(learned), host_key_policy="accept-new")
        assert again.run("true").ok
        assert learned.read_text().splitlines() == [host.known_hosts_line(node)]  # no duplicate
        strict = nodes.shell(node, known_hosts=str(learned))
        assert strict.run("true").ok

    def test_ignore_accepts_any_key_and_warns_once(
        self, nodes: Lab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ssh_transport, "_IGNORE_WARNED", False)
        node = nodes.nodes[0]
        with pytest.warns(UserWarning, match="host_key_policy: ignore"):
            assert nodes.shell(node, known_hosts=None, host_key_policy="ignore").run("true").ok
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert nodes.shell(node, known_hosts=None, host_key_policy="ignore").run("true").ok


# --- authentication, bastion, sudo, addresses ---------------------------------------------


class TestAccess:
    pytestmark = needs_nodes

    def test_bastion_reaches_the_other_node(self, nodes: Lab) -> None:
        jump, target = nodes.nodes
        bastion = Bastion(host=jump.address, user="root")
        shell = nodes.shell(target, bastion=bastion)
        result = shell.run("echo $SSH_CONNECTION; hostname").check()
        client_ip, _port, server_ip, server_port = result.stdout.split("\n")[0].split()
        assert client_ip == jump.address  # the connection came from the bastion
        assert (server_ip, server_port) == (target.address, "22")
        assert result.stdout.split("\n")[1] == target.name
        assert (
            repr(shell) == f"SshShell({target.name}: root@{target.address}:22 via {jump.address})"
        )

    def test_bastion_that_cannot_reach_the_node(self, nodes: Lab) -> None:
        jump, target = nodes.nodes
        shell = nodes.shell(
            target,
            bastion=Bastion(host=jump.address),
            overrides={target.name: NodeOverride(port=2222)},  # nothing listens there
        )
        with pytest.raises(NodeAccessError) as failed:
            shell.run("true")
        message = str(failed.value)
        assert f"({target.address}:2222 via bastion {jump.address}:22)" in message
        assert "the bastion could not open a connection" in message
        assert f"nodes.overrides.{target.name}.port" in message

    def test_ssh_agent(self, nodes: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
            pytest.skip("ssh-agent/ssh-add not installed (openssh-client)")
        sock = tmp_path / "agent.sock"
        agent = subprocess.Popen(
            ["ssh-agent", "-D", "-a", str(sock)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until(sock.exists, "the ssh-agent socket")
            env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
            subprocess.run(["ssh-add", str(nodes.key)], env=env, check=True, capture_output=True)
            monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
            shell = nodes.shell(nodes.nodes[0], key_file=None, agent=True)
            assert shell.run("true").ok
        finally:
            agent.terminate()
            agent.wait(10)

    @pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
    def test_key_types(self, nodes: Lab, tmp_path: Path, kind: str) -> None:
        node = nodes.nodes[1]
        key = tmp_path / f"id_{kind}"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"nodes-ssh-{kind}", "-f", str(key)],
            check=True,
        )
        # the node's own copy of authorized_keys lives on its root tmpfs
        authorized = Path(f"/proc/{node.pid}/root/run/cfsim-node/authorized_keys")
        with authorized.open("a") as handle:
            handle.write(key.with_name(key.name + ".pub").read_text())
        assert nodes.shell(node, key_file=str(key)).run("true").ok

    def test_encrypted_key_is_refused_with_the_fix(self, nodes: Lab, tmp_path: Path) -> None:
        key = tmp_path / "id_locked"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret-pass", "-f", str(key)], check=True
        )
        with pytest.raises(NodeAccessError) as refused:
            nodes.shell(nodes.nodes[0], key_file=str(key)).run("true")
        assert "is encrypted; passphrases are not supported" in str(refused.value)
        assert "nodes.ssh.agent: true" in str(refused.value)
        assert "secret-pass" not in str(refused.value)

    def test_agent_without_a_running_agent(
        self, nodes: Lab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        shell = nodes.shell(nodes.nodes[0], key_file=None, agent=True)
        with pytest.raises(NodeAccessError, match="SSH_AUTH_SOCK is not set"):
            shell.run("true")

    def test_missing_key_file_and_wrong_user(self, nodes: Lab, tmp_path: Path) -> None:
        node = nodes.nodes[0]
        missing = tmp_path / "no-such-key"
        with pytest.raises(NodeAccessError, match=r"does not exist.*nodes\.ssh\.key_file"):
            nodes.shell(node, key_file=str(missing)).run("true")
        with pytest.raises(NodeAccessError) as refused:
            nodes.shell(node, user="nobody-here").run("true")
        assert "authentication as 'nobody-here'" in str(refused.value)
        assert "nodes.ssh.user" in str(refused.value)

    def test_per_node_address_port_and_user_override(self, nodes: Lab) -> None:
        node = nodes.nodes[0]
        hostname_only = [{"type": "Hostname", "address": node.name}]
        # no InternalIP on the Node object: a clear error, nothing dialled
        with pytest.raises(NodeAccessError) as no_address:
            nodes.shell(node, addresses=hostname_only)
        assert "no InternalIP address (status.addresses: Hostname nodes-1)" in str(no_address.value)
        assert f"nodes.overrides.{node.name}.address" in str(no_address.value)
        # the override supplies address and user (the inventory's user does not exist)
        override = {node.name: NodeOverride(address=node.address, user="root", port=22)}
        shell = nodes.shell(node, addresses=hostname_only, overrides=override, user="nobody")
        assert shell.target.user == "root"
        assert shell.run("hostname").check().stdout.strip() == node.name
        # a wrong port in the override is named in the error
        bad_port = {node.name: NodeOverride(port=2222)}
        with pytest.raises(NodeAccessError) as refused:
            nodes.shell(node, overrides=bad_port).run("true")
        assert f"({node.address}:2222)" in str(refused.value)
        assert "connection refused" in str(refused.value)
        assert f"nodes.overrides.{node.name}.port" in str(refused.value)

    @needs_sudo
    def test_sudo_as_root(self, nodes: Lab) -> None:
        shell = nodes.shell(nodes.nodes[0], sudo=True)
        result = shell.run(["sh", "-c", 'echo "$SUDO_USER $(id -u)"']).check()
        assert result.stdout == "root 0\n"  # ran through sudo
        plain = shell.run("echo ${SUDO_USER:-none}", sudo=False).check()
        assert plain.stdout == "none\n"

    @needs_sudo
    def test_sudo_that_wants_a_password_is_a_clear_error(self, nodes: Lab, plain_user: str) -> None:
        node = nodes.nodes[0]
        shell = nodes.shell(node, user=plain_user, sudo=True)
        assert shell.run("id -u", sudo=False).check().stdout == f"{TEST_UID}\n"
        with pytest.raises(NodeAccessError) as refused:
            shell.run("id -u")
        message = str(refused.value)
        assert message.startswith(f"node {node.name} ({node.address}:22): sudo asks user")
        assert f"allow passwordless sudo for {plain_user}" in message
        assert "nodes.ssh.sudo: false" in message


@pytest.fixture
def plain_user(nodes: Lab) -> Iterator[str]:
    """A non-root user inside node 1 only: passwd/group copies bound over the node's /etc
    files in the node's own (private) mount namespace; the host's /etc is untouched."""
    from conformance.sim.kernel.model import enter, run

    node = nodes.nodes[0]
    inside = Path(f"/proc/{node.pid}/root/run/nodes-ssh-users")
    inside.mkdir(exist_ok=True)
    (inside / "passwd").write_text(
        Path("/etc/passwd").read_text() + f"{TEST_USER}:x:{TEST_UID}:{TEST_UID}::/tmp:/bin/sh\n"
    )
    (inside / "group").write_text(Path("/etc/group").read_text() + f"{TEST_USER}:x:{TEST_UID}:\n")
    for name in ("passwd", "group"):
        os.chmod(inside / name, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        run(
            [
                *enter(node.pid, net=False),
                "mount",
                "--bind",
                f"/run/nodes-ssh-users/{name}",
                f"/etc/{name}",
            ]
        )
    try:
        yield TEST_USER
    finally:
        for name in ("passwd", "group"):
            run([*enter(node.pid, net=False), "umount", f"/etc/{name}"], check=False)
        shutil.rmtree(inside, ignore_errors=True)


# --- the sudo message mapping, without a server ------------------------------------------------


def _target(**kwargs: Any) -> SshTarget:
    return SshTarget(host="10.251.0.2", **kwargs)  # never dialled: only messages are built


@pytest.mark.parametrize(
    ("code", "stderr", "expected"),
    [
        (1, "sudo: a password is required\n", "allow passwordless sudo for ops"),
        (1, "sudo: sorry, you must have a tty to run sudo\n", "requiretty"),
        (127, "sh: 1: sudo: not found\n", "sudo is not installed"),
        (127, "bash: line 1: sudo: command not found\n", "sudo is not installed"),
    ],
)
def test_sudo_failures_map_to_access_errors(code: int, stderr: str, expected: str) -> None:
    shell = SshShell("lab-3", _target(user="ops", sudo=True))
    result = CommandResult("lsscsi", "", stderr, code, 0.1, "lab-3")
    with pytest.raises(NodeAccessError, match=expected) as mapped:
        shell._check_sudo(result)
    assert str(mapped.value).startswith("node lab-3 (10.251.0.2:22): ")
    assert "nodes.ssh.sudo: false" in str(mapped.value)


def test_sudo_results_of_the_command_itself_pass_through() -> None:
    shell = SshShell("lab-3", _target(user="ops", sudo=True))
    for code, stderr in ((1, "lsscsi: failed\n"), (127, "sh: 1: lsscsi: not found\n")):
        shell._check_sudo(CommandResult("lsscsi", "", stderr, code, 0.1, "lab-3"))


def test_strict_without_known_hosts_is_refused_before_dialling() -> None:
    shell = SshShell("lab-3", _target(known_hosts=None, host_key_policy=HostKeyPolicy.STRICT))
    with pytest.raises(NodeAccessError, match="no known_hosts file is set"):
        shell.connect()


# --- results, addresses, registry, pool ------------------------------------------------------


def test_check_message_names_node_command_code_and_stderr_tail() -> None:
    stderr = "".join(f"line {i}\n" for i in range(40))
    result = CommandResult("lsscsi -d", "", stderr, 2, 0.5, "lab-1")
    with pytest.raises(NodeCommandFailed) as failed:
        result.check()
    message = str(failed.value)
    assert message.startswith("node lab-1: `lsscsi -d` exited 2:")
    assert "line 39" in message
    assert "line 0\n" not in message  # only the tail
    assert failed.value.result is result
    assert CommandResult("true", "", "", 0, 0.1, "lab-1").check().ok


def test_command_text_quotes_sequences_only() -> None:
    assert command_text(["ls", "a b", "it's"]) == "ls 'a b' 'it'\"'\"'s'"
    assert command_text("ls 'a b'") == "ls 'a b'"


def test_node_address_selection() -> None:
    class Addr:  # the kubernetes client's V1NodeAddress shape
        def __init__(self, type: str, address: str) -> None:
            self.type = type
            self.address = address

    entries = [
        Addr("Hostname", "n1"),
        Addr("InternalIP", "10.0.0.5"),
        Addr("ExternalIP", "1.2.3.4"),
    ]
    assert node_address("n1", entries, Nodes()) == "10.0.0.5"
    assert node_address("n1", entries, Nodes(address=AddressType.EXTERNAL_IP)) == "1.2.3.4"
    mapped = [{"type": "InternalIP", "address": "10.0.0.6"}]
    assert node_address("n1", mapped, Nodes()) == "10.0.0.6"
    override = Nodes(overrides={"n1": NodeOverride(address="192.0.2.9")})
    assert node_address("n1", entries, override) == "192.0.2.9"
    with pytest.raises(NodeAccessError, match=r"has no ExternalIP address.*nodes\.address"):
        node_address("n1", mapped, Nodes(address=AddressType.EXTERNAL_IP))


def test_open_shell_picks_the_transport_from_nodes_access() -> None:
    with pytest.raises(NodeAccessError, match=r"nodes\.access: none"):
        open_shell("n1", [], Nodes(access=Access.NONE), TIMEOUTS)
    docker = open_shell(
        "n1", [], Nodes(access=Access.DOCKER, docker=Docker(binary="podman")), TIMEOUTS
    )
    assert isinstance(docker, DockerShell)
    assert docker.binary == "podman"
    assert docker.command_timeout == TIMEOUTS.command
    with pytest.raises(NodeAccessError, match="needs the cluster"):
        open_shell("n1", [], Nodes(access=Access.POD), TIMEOUTS)
    ssh = open_shell(
        "n1", [{"type": "InternalIP", "address": "10.251.0.9"}], Nodes(access=Access.SSH), TIMEOUTS
    )
    assert isinstance(ssh, SshShell)
    assert ssh.target.host == "10.251.0.9"
    assert isinstance(ssh, NodeShell)


@dataclass
class FakeShell:
    name: str
    closed: bool = False
    commands: list[str] = field(default_factory=list)

    def run(
        self,
        command: str | Sequence[str],
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        self.commands.append(command_text(command))
        return CommandResult(command_text(command), "ok\n", "", 0, 0.0, self.name)

    def close(self) -> None:
        self.closed = True


def test_pool_keeps_one_shell_per_node_and_closes_all(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[FakeShell] = []
    asked: list[str] = []

    def opener(
        name: str, addresses: Any, nodes: Nodes, timeouts: Timeouts, **_kw: Any
    ) -> FakeShell:
        assert list(addresses) == [{"type": "InternalIP", "address": f"10.251.0.{len(name)}"}]
        opened.append(FakeShell(name))
        return opened[-1]

    def addresses_of(name: str) -> list[dict[str, str]]:
        asked.append(name)
        return [{"type": "InternalIP", "address": f"10.251.0.{len(name)}"}]

    pool = NodeShells(Nodes(access=Access.SSH), TIMEOUTS, addresses_of=addresses_of, opener=opener)
    with pool:
        assert pool.get("a") is pool["a"]
        assert pool.run("bb", ["echo", "x y"]).stdout == "ok\n"
        assert len(pool) == 2
        assert "a" in pool
        assert asked == ["a", "bb"]
    assert [shell.closed for shell in opened] == [True, True]
    assert opened[1].commands == ["echo 'x y'"]
    # a forked worker does not reuse (or close) the parent's connections
    again = pool.get("a")
    monkeypatch.setattr(os, "getpid", lambda: -1)
    assert pool.get("a") is not again
    assert not again.closed


# --- docker -----------------------------------------------------------------------------------


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker`` on PATH: records its argv; runs ``exec NAME sh -c CMD`` locally."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    script = bin_dir / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {log}\n'
        'if [ "$1" != exec ]; then echo "unexpected: $1" >&2; exit 2; fi\n'
        'if [ "$2" = ghost ]; then\n'
        '  echo "Error response from daemon: No such container: ghost" >&2; exit 1\n'
        "fi\n"
        "shift 2\n"
        'exec "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def test_docker_exec_runs_quoted_commands(fake_docker: Path) -> None:
    shell = DockerShell("kind-worker", command_timeout=5)
    result = shell.run(["printf", "%s|", "a b", "it's"])
    assert (result.stdout, result.exit_code, result.node) == ("a b|it's|", 0, "kind-worker")
    assert (
        fake_docker.read_text().splitlines()[0]
        == "exec kind-worker sh -c printf '%s|' 'a b' 'it'\"'\"'s'"
    )
    failed = shell.run("echo oops >&2; exit 4", sudo=True)
    assert (failed.stderr, failed.exit_code) == ("oops\n", 4)


def test_docker_timeout_keeps_partial_output(fake_docker: Path) -> None:
    shell = DockerShell("kind-worker", command_timeout=5)
    with pytest.raises(NodeCommandTimeout) as timed_out:
        shell.run("echo started; exec sleep 30", timeout=0.5)
    assert timed_out.value.stdout == "started\n"


def test_docker_errors_name_the_fix(fake_docker: Path) -> None:
    with pytest.raises(NodeAccessError, match="No such container: ghost") as missing:
        DockerShell("ghost").run("true")
    assert "nodes.access" in str(missing.value)
    with pytest.raises(NodeAccessError, match=r"nodes\.docker\.binary"):
        DockerShell("kind-worker", binary="no-such-docker-binary").run("true")


# --- pod (HostExec) --------------------------------------------------------------------------


def test_pod_shell_creates_one_host_exec_pod_and_deletes_it() -> None:
    calls: list[tuple[Any, ...]] = []

    def exec_in_pod(namespace: str, pod: str, argv: Sequence[str], timeout: float) -> CommandResult:
        calls.append(("exec", namespace, pod, list(argv), timeout))
        return CommandResult(" ".join(argv), "out\n", "", 0, 0.01)

    ops = PodOps(
        exec_in_pod=exec_in_pod,
        create_pod=lambda ns, manifest: calls.append(("create", ns, manifest)),
        delete_pod=lambda ns, name: calls.append(("delete", ns, name)),
        namespace="conformance-w0",
        labels={"conformance.io/run": "r1"},
    )
    nodes = Nodes(access=Access.POD, pod=PodAccess(image="busybox:1.36"))
    shell = open_shell("node-1", [], nodes, TIMEOUTS, pod_ops=ops)
    assert isinstance(shell, PodShell)
    first = shell.run(["ls", "/var/lib/kubelet/pods/a b"])
    shell.run("true", timeout=3)
    assert (first.stdout, first.exit_code, first.node) == ("out\n", 0, "node-1")
    assert first.command == "ls '/var/lib/kubelet/pods/a b'"
    kinds = [call[0] for call in calls]
    assert kinds == ["create", "exec", "exec"]
    _create, namespace, manifest = calls[0]
    assert namespace == "conformance-w0"
    spec = manifest["spec"]
    assert spec["nodeName"] == "node-1"
    assert spec["hostPID"] is True
    assert spec["hostNetwork"] is True
    container = spec["containers"][0]
    assert container["securityContext"] == {"privileged": True}
    assert container["volumeMounts"] == [{"name": "rootfs", "mountPath": "/rootfs"}]
    assert spec["volumes"] == [{"name": "rootfs", "hostPath": {"path": "/"}}]
    assert manifest["metadata"]["labels"]["conformance.io/run"] == "r1"
    pod = manifest["metadata"]["name"]
    assert calls[1] == (
        "exec",
        "conformance-w0",
        pod,
        ["nsenter", "--mount=/rootfs/proc/1/ns/mnt", "--", "sh", "-c", first.command],
        TIMEOUTS.command,
    )
    assert calls[2][4] == 3
    shell.close()
    assert calls[-1] == ("delete", "conformance-w0", pod)
    shell.close()
    assert len(calls) == 4  # deleted once
