"""The shape every node transport shares: a shell that runs one command and reports it.

Transports (testinfra's model: one class per transport behind a registry):

- ``ssh``    :mod:`conformance.nodes.ssh`, paramiko; the default for labs and the simulator;
- ``docker`` :mod:`conformance.nodes.docker`, ``docker exec`` into kind's node containers;
- ``pod``    :mod:`conformance.nodes.pod`, upstream e2e's HostExec pod (no SSH needed).

Commands: a **sequence** is quoted with :func:`shlex.join` (``["ls", "a b"]`` runs
``ls 'a b'``); a **string** is passed to the node's shell as it is, so the caller quotes
(use :func:`shlex.quote` for every value you interpolate). Every command runs under a
timeout (the inventory's ``timeouts.command`` unless given), and its result carries
stdout, stderr and the exit code for the evidence.

Connections are opened lazily, on the first command, and kept: :class:`NodeShells`
(:mod:`conformance.nodes.pool`) holds one shell per node for this process (each
pytest-xdist worker has its own pool) and closes them all at the end.
"""

from __future__ import annotations

import importlib
import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

from conformance import evidence
from conformance.inventory import Access, Nodes, Timeouts

if TYPE_CHECKING:
    from conformance.nodes.pod import PodOps

TAIL_LINES = 12  # lines of stderr/stdout quoted in a failure message
TAIL_CHARS = 2000


# --- results and errors ------------------------------------------------------------------


def command_text(command: str | Sequence[str]) -> str:
    """The shell text of a command: sequences are quoted with shlex.join, strings kept."""
    if isinstance(command, str):
        return command
    return shlex.join(str(part) for part in command)


def tail(text: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines (at most ``chars`` characters) of ``text``, stripped."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    if len(kept) > chars:
        kept = "..." + kept[-chars:]
    return kept


class NodeError(Exception):
    """Base of everything a node transport raises."""


@dataclass(frozen=True)
class CommandResult:
    """One command run on a node: what it printed, how it exited, how long it took."""

    command: str  # the command as the caller gave it (sequences already shlex-joined)
    stdout: str
    stderr: str
    exit_code: int  # -1 when the command ended without an exit status (killed by a signal)
    duration: float  # seconds
    node: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self) -> CommandResult:
        """Return self if the command exited 0, else raise :class:`NodeCommandFailed`."""
        if not self.ok:
            raise NodeCommandFailed(self)
        return self


class NodeCommandFailed(NodeError):
    """A command ran and exited non-zero (raised by :meth:`CommandResult.check`)."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        output = tail(result.stderr) or tail(result.stdout)
        shown = f":\n{output}" if output else " (no output)"
        super().__init__(
            f"node {result.node or '?'}: `{result.command}` exited {result.exit_code}{shown}"
        )


class NodeCommandTimeout(NodeError):
    """A command did not finish in time; it was killed and this holds what it printed."""

    def __init__(self, node: str, command: str, timeout: float, stdout: str, stderr: str) -> None:
        self.node = node
        self.command = command
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr
        printed = []
        if stdout.strip():
            printed.append(f"stdout so far:\n{tail(stdout)}")
        if stderr.strip():
            printed.append(f"stderr so far:\n{tail(stderr)}")
        so_far = "\n".join(printed) if printed else "nothing printed"
        super().__init__(
            f"node {node}: `{command}` did not finish within {timeout:g}s and was killed "
            f"(timeouts.command, or the caller's timeout=); {so_far}"
        )

    @property
    def partial(self) -> CommandResult:
        """What was printed before the timeout, as a result (exit code -1)."""
        return CommandResult(self.command, self.stdout, self.stderr, -1, self.timeout, self.node)


class NodeAccessError(NodeError):
    """The node cannot be reached or used as configured; names the inventory field to fix.

    ``str()`` reads like ``node sim-node-1 (10.251.3.2:22): host key not in known_hosts
    /x (fix: nodes.ssh.known_hosts, or nodes.ssh.host_key_policy: accept-new)``.
    """

    def __init__(self, node: str, problem: str, *, where: str = "", fix: str = "") -> None:
        self.node = node
        self.where = where
        self.problem = problem
        self.fix = fix
        text = f"node {node}"
        if where:
            text += f" ({where})"
        text += f": {problem}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)


# --- the base of every transport --------------------------------------------------------


class NodeShell(ABC):
    """Runs commands on one node; transports implement only :meth:`_exec`.

    The base does what every transport shares (pytest-testinfra's shape): the command
    text and its quoting, the timeout, timing, and the evidence of every command.
    Implementations connect lazily and reconnect as needed.
    """

    def __init__(self, name: str, *, command_timeout: float = 60.0) -> None:
        self.name = name  # the Node object's name
        self.command_timeout = command_timeout

    def run(
        self,
        command: str | Sequence[str],
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run ``command`` (a sequence is shlex-joined; a string goes as is: caller quotes).

        ``sudo=None`` follows the inventory (``nodes.ssh.sudo``); transports that are
        root already (docker, pod) ignore it. ``timeout=None`` is ``timeouts.command``.
        Raises :class:`NodeCommandTimeout` (with the partial output) and
        :class:`NodeAccessError`; a non-zero exit is a result, see :meth:`CommandResult.check`.
        """
        text = command_text(command)
        limit = self.command_timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            stdout, stderr, code = self._exec(text, sudo=sudo, timeout=limit)
        except NodeCommandTimeout as exc:
            killed = f"{exc.stderr}\n(killed after {limit:g}s)"
            evidence.attach_command(f"node {self.name}", text, -1, exc.stdout, killed)
            raise
        result = CommandResult(text, stdout, stderr, code, time.monotonic() - started, self.name)
        evidence.attach_command(f"node {self.name}", text, code, stdout, stderr)
        return result

    @abstractmethod
    def _exec(self, text: str, *, sudo: bool | None, timeout: float) -> tuple[str, str, int]:
        """(stdout, stderr, exit code) of shell text ``text``; raise
        :class:`NodeCommandTimeout` after ``timeout`` seconds (use :meth:`_timed_out`)."""

    def _timed_out(self, text: str, timeout: float, stdout: str, stderr: str) -> NodeCommandTimeout:
        return NodeCommandTimeout(self.name, text, timeout, stdout, stderr)

    def close(self) -> None:  # noqa: B027 - transports without a connection keep it empty
        """Release the connection, if the transport keeps one."""


# --- node addresses ----------------------------------------------------------------------


class AddressLike(Protocol):
    """A Node's ``status.addresses`` entry as the kubernetes client models it."""

    @property
    def type(self) -> str: ...

    @property
    def address(self) -> str: ...


NodeAddress: TypeAlias = Mapping[str, str] | AddressLike


def _address_fields(entry: NodeAddress) -> tuple[str, str]:
    if isinstance(entry, Mapping):
        return str(entry.get("type", "")), str(entry.get("address", ""))
    return str(entry.type), str(entry.address)


def node_address(node_name: str, addresses: Iterable[NodeAddress] | None, nodes: Nodes) -> str:
    """The address to dial: ``nodes.overrides[name].address``, else the Node object's
    first ``status.addresses`` entry of type ``nodes.address`` (InternalIP by default)."""
    override = nodes.overrides.get(node_name)
    if override is not None and override.address:
        return override.address
    wanted = nodes.address.value
    seen = [_address_fields(entry) for entry in addresses or ()]
    for kind, address in seen:
        if kind == wanted and address:
            return address
    has = ", ".join(f"{kind} {address}" for kind, address in seen) or "none"
    raise NodeAccessError(
        node_name,
        f"the Node object has no {wanted} address (status.addresses: {has})",
        fix=f"nodes.address, or nodes.overrides.{node_name}.address",
    )


# --- the registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class ShellRequest:
    """Everything a transport needs to open a shell on one node."""

    node_name: str
    addresses: tuple[NodeAddress, ...]  # the Node object's status.addresses (may be empty)
    nodes: Nodes  # the inventory's nodes: section
    timeouts: Timeouts
    pod_ops: PodOps | None = None  # for access: pod (cluster callables)


Transport = Callable[[ShellRequest], NodeShell]

# access -> "module:function" (imported on first use, so paramiko loads only for ssh) or a
# callable; a function takes a ShellRequest and returns a NodeShell.
TRANSPORTS: dict[Access, str | Transport] = {
    Access.SSH: "conformance.nodes.ssh:connect",
    Access.DOCKER: "conformance.nodes.docker:connect",
    Access.POD: "conformance.nodes.pod:connect",
}


def register_transport(access: Access, transport: str | Transport) -> None:
    """Use ``transport`` for ``access`` (e.g. a fake in tests)."""
    TRANSPORTS[access] = transport


def _transport(access: Access) -> Transport:
    entry = TRANSPORTS.get(access)
    if entry is None:
        raise KeyError(access)
    if isinstance(entry, str):
        module_name, _, attr = entry.partition(":")
        found: Transport = getattr(importlib.import_module(module_name), attr)
        return found
    return entry


def open_shell(
    node_name: str,
    node_obj_addresses: Iterable[NodeAddress] | None,
    inventory_nodes: Nodes,
    timeouts: Timeouts,
    *,
    pod_ops: PodOps | None = None,
) -> NodeShell:
    """A shell on ``node_name`` over the transport ``nodes.access`` names (not connected
    yet: the first command connects, so configuration errors surface there)."""
    access = inventory_nodes.access
    if access is Access.NONE:
        raise NodeAccessError(
            node_name,
            "node access is switched off (nodes.access: none), so node checks cannot run",
            fix="set nodes.access to ssh, docker (kind) or pod",
        )
    try:
        transport = _transport(access)
    except KeyError:
        raise NodeAccessError(
            node_name,
            f"no transport is registered for nodes.access: {access.value}",
            fix="nodes.access",
        ) from None
    request = ShellRequest(
        node_name, tuple(node_obj_addresses or ()), inventory_nodes, timeouts, pod_ops
    )
    return transport(request)


__all__ = [
    "TRANSPORTS",
    "AddressLike",
    "CommandResult",
    "NodeAccessError",
    "NodeAddress",
    "NodeCommandFailed",
    "NodeCommandTimeout",
    "NodeError",
    "NodeShell",
    "ShellRequest",
    "Transport",
    "command_text",
    "node_address",
    "open_shell",
    "register_transport",
    "tail",
]
