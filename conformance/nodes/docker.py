"""The docker transport: kind's nodes are containers named after their Node objects.

A command runs as ``docker exec <node-name> sh -c CMD`` (root in the container, so
``sudo`` is ignored). The binary is ``nodes.docker.binary`` (``docker`` by default;
``podman`` works the same way).
"""

from __future__ import annotations

import subprocess

from conformance.inventory import Docker
from conformance.nodes.base import NodeAccessError, NodeShell, ShellRequest, tail

# stderr of the docker client itself (not of the command) when exec could not start
_CLIENT_ERRORS = (
    "Error response from daemon",
    "Cannot connect to the Docker daemon",
    "error during connect",
    "permission denied while trying to connect",
)


def connect(request: ShellRequest) -> DockerShell:
    """The registry's entry: a shell into the container named like the node."""
    settings = request.nodes.docker or Docker()
    return DockerShell(
        request.node_name, binary=settings.binary, command_timeout=request.timeouts.command
    )


class DockerShell(NodeShell):
    """Commands in a kind node container via ``docker exec``."""

    def __init__(
        self,
        name: str,
        *,
        binary: str = "docker",
        container: str | None = None,
        command_timeout: float = 60.0,
    ) -> None:
        super().__init__(name, command_timeout=command_timeout)
        self.binary = binary
        self.container = container or name

    def __repr__(self) -> str:
        return f"DockerShell({self.name}: {self.binary} exec {self.container})"

    def _exec(self, text: str, *, sudo: bool | None, timeout: float) -> tuple[str, str, int]:
        argv = [self.binary, "exec", self.container, "sh", "-c", text]
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            raise NodeAccessError(
                self.name,
                f"the container client {self.binary!r} is not installed or not on PATH",
                where=f"container {self.container}",
                fix="nodes.docker.binary",
            ) from None
        except subprocess.TimeoutExpired as exc:
            raise self._timed_out(text, timeout, _decode(exc.stdout), _decode(exc.stderr)) from None
        stdout, stderr = _decode(done.stdout), _decode(done.stderr)
        if done.returncode != 0 and stderr.startswith(_CLIENT_ERRORS):
            raise NodeAccessError(
                self.name,
                f"`{self.binary} exec` failed: {tail(stderr, 3)}",
                where=f"container {self.container}",
                fix="kind nodes are containers named after their Node objects; is the "
                "cluster a kind cluster on this machine? (nodes.access, nodes.docker.binary)",
            )
        return stdout, stderr, done.returncode


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


__all__ = ["DockerShell", "connect"]
