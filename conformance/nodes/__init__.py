"""How the harness runs a command on a node: one :class:`NodeShell` per node, over the
transport the inventory's ``nodes.access`` names (ssh, docker, pod).

    shells = NodeShells(inventory.nodes, inventory.timeouts, addresses_of=node_addresses)
    result = shells.run("node-1", ["lsscsi", "-d"], sudo=True).check()
    shells.close()

A sequence command is quoted with shlex.join; a string is passed as is (callers quote).
Every command's output and exit code go into the evidence.
"""

from conformance.nodes.base import (
    TRANSPORTS,
    CommandResult,
    NodeAccessError,
    NodeAddress,
    NodeCommandFailed,
    NodeCommandTimeout,
    NodeError,
    NodeShell,
    ShellRequest,
    command_text,
    node_address,
    open_shell,
    register_transport,
)
from conformance.nodes.docker import DockerShell
from conformance.nodes.pod import PodOps, PodShell, host_exec_pod
from conformance.nodes.pool import NodeShells
from conformance.nodes.ssh import SshShell, SshTarget

__all__ = [
    "TRANSPORTS",
    "CommandResult",
    "DockerShell",
    "NodeAccessError",
    "NodeAddress",
    "NodeCommandFailed",
    "NodeCommandTimeout",
    "NodeError",
    "NodeShell",
    "NodeShells",
    "PodOps",
    "PodShell",
    "ShellRequest",
    "SshShell",
    "SshTarget",
    "command_text",
    "host_exec_pod",
    "node_address",
    "open_shell",
    "register_transport",
]
