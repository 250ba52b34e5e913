"""One shell per node for this process, opened on first use and closed together."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from conformance.inventory import Access, Nodes, Timeouts
from conformance.nodes.base import CommandResult, NodeAddress, NodeShell, open_shell
from conformance.nodes.pod import PodOps

log = logging.getLogger(__name__)


@dataclass
class NodeShells:
    """One shell per node, kept for the process and closed together.

    Each pytest-xdist worker is a process with its own pool; a pool inherited across a
    fork is not reused (the connections belong to the parent) and starts empty.
    ``addresses_of(node_name)`` returns the Node object's ``status.addresses``; it is
    called only for ``access: ssh`` nodes without an address override.
    """

    nodes: Nodes
    timeouts: Timeouts
    addresses_of: Callable[[str], Iterable[NodeAddress]] | None = None
    pod_ops: PodOps | None = None
    opener: Callable[..., NodeShell] = open_shell
    _shells: dict[str, NodeShell] = field(default_factory=dict, init=False, repr=False)
    _pid: int = field(default_factory=os.getpid, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _addresses(self, node_name: str) -> Iterable[NodeAddress]:
        override = self.nodes.overrides.get(node_name)
        if (
            self.addresses_of is None
            or self.nodes.access is not Access.SSH
            or (override is not None and override.address)
        ):
            return ()
        return self.addresses_of(node_name)

    def get(self, node_name: str) -> NodeShell:
        """The shell for ``node_name``, opened on first use."""
        with self._lock:
            if os.getpid() != self._pid:  # forked: the parent's connections are not ours
                self._shells = {}
                self._pid = os.getpid()
            shell = self._shells.get(node_name)
            if shell is None:
                shell = self.opener(
                    node_name,
                    self._addresses(node_name),
                    self.nodes,
                    self.timeouts,
                    pod_ops=self.pod_ops,
                )
                self._shells[node_name] = shell
            return shell

    __getitem__ = get

    def run(
        self,
        node_name: str,
        command: str | Sequence[str],
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        return self.get(node_name).run(command, sudo=sudo, timeout=timeout)

    def __contains__(self, node_name: object) -> bool:
        return node_name in self._shells

    def __len__(self) -> int:
        return len(self._shells)

    def close(self) -> None:
        """Close every shell (errors are logged, not raised); the pool may be reused."""
        with self._lock:
            shells, self._shells = self._shells, {}
            forked = os.getpid() != self._pid
        if forked:
            return
        for name, shell in shells.items():
            try:
                shell.close()
            except Exception:
                log.warning("closing the shell of node %s failed", name, exc_info=True)

    def __enter__(self) -> NodeShells:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["NodeShells"]
