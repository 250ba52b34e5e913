"""The docker transport: kind's nodes are containers named after their Node objects.

A command runs as ``docker exec <node-name> sh -c CMD`` (root in the container, so
``sudo`` is ignored). The binary is ``nodes.docker.binary`` (``docker`` by default;
``podman`` works the same way).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence

from conformance.inventory import Docker
from conformance.nodes.base import (
    CommandResult,
    NodeAccessError,
    NodeCommandTimeout,
    ShellRequest,
    command_text,
    tail,
)

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


class DockerShell:
    """Commands in a kind node container via ``docker exec``."""

    def __init__(
        self,
        name: str,
        *,
        binary: str = "docker",
        container: str | None = None,
        command_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.binary = binary
        self.container = container or name
        self.command_timeout = command_timeout

    def __repr__(self) -> str:
        return f"DockerShell({self.name}: {self.binary} exec {self.container})"

    def run(
        self,
        command: str | Sequence[str],
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        text = command_text(command)
        limit = self.command_timeout if timeout is None else timeout
        argv = [self.binary, "exec", self.container, "sh", "-c", text]
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=limit, check=False, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            raise NodeAccessError(
                self.name,
                f"the container client {self.binary!r} is not installed or not on PATH",
                where=f"container {self.container}",
                fix="nodes.docker.binary",
            ) from None
        except subprocess.TimeoutExpired as exc:
            raise NodeCommandTimeout(
                self.name, text, limit, _decode(exc.stdout), _decode(exc.stderr)
            ) from None
        stdout, stderr = _decode(done.stdout), _decode(done.stderr)
        if done.returncode != 0 and stderr.startswith(_CLIENT_ERRORS):
            raise NodeAccessError(
                self.name,
                f"`{self.binary} exec` failed: {tail(stderr, 3)}",
                where=f"container {self.container}",
                fix="kind nodes are containers named after their Node objects; is the "
                "cluster a kind cluster on this machine? (nodes.access, nodes.docker.binary)",
            )
        return CommandResult(
            text, stdout, stderr, done.returncode, time.monotonic() - started, self.name
        )

    def close(self) -> None:
        """Nothing to close: every command is its own ``docker exec``."""


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


__all__ = ["DockerShell", "connect"]
