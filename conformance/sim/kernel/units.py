"""``systemctl`` on a simulated node: its units are the simulator's per-node components.

A real node runs the kubelet as a systemd unit, and the harness restarts it with the
inventory's ``nodes.kubelet_restart_command`` (``systemctl restart kubelet``). A
simulated node has no systemd (its PID 1 is the node agent), so it gets a ``systemctl``
of its own: a shim at ``/run/cfsim-node/bin/systemctl`` (first in the PATH of SSH
sessions, see host.py) that sends its arguments over the Unix socket
``/run/cfsim-node/systemd.sock`` to the simulator, which runs the verb on the node's
unit (the simulated kubelet of that node) and answers with systemctl's output and exit
code. The socket is bound from the host through ``/proc/<agent>/root``.

Verbs: ``start``, ``stop``, ``restart``, ``try-restart``, ``is-active``, ``status``;
units: ``kubelet`` (``kubelet.service``). Messages and exit codes are systemctl's
(``Unit foo.service not found.`` with 5, ``is-active`` 3 for inactive). Where it differs:
the shim needs the host's ``/usr/bin/python3`` (bound into the node with /usr),
``status`` prints only the unit's first lines, and only SSH sessions find it by PATH: a
HostExec shell (``nodes.access: pod``) runs ``/run/cfsim-node/bin/systemctl`` by path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from conformance.sim.kernel.host import NODE_BIN, NODE_RUN
from conformance.sim.kernel.model import NodeHost

log = logging.getLogger(__name__)

SOCKET = f"{NODE_RUN}/systemd.sock"  # inside the node
SHIM = f"{NODE_BIN}/systemctl"
NOT_BOOTED = "System has not been booted with systemd as init system (PID 1). Can't operate."

_CLIENT = f"""# systemctl of a simulated node (written by conformance.sim.kernel.units): the verb
# is run by the simulator on this node's unit (its kubelet), over {SOCKET}.
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("{SOCKET}")
except OSError:
    sys.stderr.write("{NOT_BOOTED}\\n")
    sys.exit(1)
s.sendall(json.dumps(sys.argv[1:]).encode() + b"\\n")
s.shutdown(socket.SHUT_WR)
answer = json.loads(b"".join(iter(lambda: s.recv(65536), b"")) or b"{{}}")
sys.stdout.write(answer.get("stdout", ""))
sys.stderr.write(answer.get("stderr", ""))
sys.exit(int(answer.get("code", 1)))
"""
_SHIM = f"""#!/bin/sh
exec /usr/bin/python3 -I {SHIM}.py "$@"
"""


class Service(Protocol):
    """A per-node component the simulator runs (the kubelet)."""

    def running_on(self, node: str) -> bool: ...

    async def stop_on(self, node: str) -> None: ...

    async def start_on(self, node: str) -> None: ...


@dataclass(frozen=True)
class Unit:
    description: str
    service: Service


@dataclass(frozen=True)
class Answer:
    code: int
    stdout: str = ""
    stderr: str = ""


def _unit_name(name: str) -> str:
    return name if "." in name else f"{name}.service"


async def systemctl(node: str, argv: Sequence[str], units: Mapping[str, Unit]) -> Answer:
    """Run one systemctl command line on ``node``'s units."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return Answer(1, stderr="Too few arguments.\n")
    verb, names = words[0], words[1:]
    if verb not in ("start", "stop", "restart", "try-restart", "is-active", "status"):
        return Answer(1, stderr=f"Unknown command verb '{verb}'.\n")
    if not names:
        return Answer(1, stderr="Too few arguments.\n")
    out: list[str] = []
    code = 0
    for name in names:
        unit_name = _unit_name(name)
        unit = units.get(unit_name.removesuffix(".service"))
        if unit is None:
            if verb == "is-active":
                out.append("inactive\n")
                code = 3
                continue
            if verb == "status":
                return Answer(4, stderr=f"Unit {unit_name} could not be found.\n")
            why = "not loaded" if verb == "stop" else "not found"
            return Answer(5, stderr=f"Failed to {verb} {unit_name}: Unit {unit_name} {why}.\n")
        active = unit.service.running_on(node)
        if verb == "is-active":
            out.append("active\n" if active else "inactive\n")
            code = code or (0 if active else 3)
        elif verb == "status":
            state = "active (running)" if active else "inactive (dead)"
            out.append(f"● {unit_name} - {unit.description}\n     Active: {state}\n")
            code = code or (0 if active else 3)
        else:
            if verb in ("stop", "restart") or (verb == "try-restart" and active):
                await unit.service.stop_on(node)
            if verb in ("start", "restart") or (verb == "try-restart" and active):
                await unit.service.start_on(node)
    return Answer(code, "".join(out))


async def serve(node: NodeHost, units: Mapping[str, Unit]) -> asyncio.AbstractServer:
    """Put the shim into the node and answer its requests until the server closes."""
    root = Path(f"/proc/{node.pid}/root")
    shim = root / SHIM.lstrip("/")
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.with_suffix(".py").write_text(_CLIENT)
    shim.write_text(_SHIM)
    shim.chmod(0o755)
    socket_path = root / SOCKET.lstrip("/")
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = b""
        try:
            request = await reader.read()  # until the shim shuts its side
            argv = json.loads(request or b"[]")
            if not isinstance(argv, list):
                raise ValueError("not a list")
            answer = await systemctl(node.name, [str(a) for a in argv], units)
        except ValueError as exc:
            answer = Answer(1, stderr=f"bad request: {exc}\n")
        except Exception as exc:  # a failed unit operation is the command's failure
            log.exception("node %s: systemctl %s failed", node.name, request)
            answer = Answer(1, stderr=f"Job failed: {exc}\n")
        writer.write(json.dumps(answer.__dict__).encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, path=os.fspath(socket_path))
    log.info("node %s: systemctl serves %s", node.name, ", ".join(sorted(units)))
    return server


__all__ = ["SHIM", "SOCKET", "Answer", "Service", "Unit", "serve", "systemctl"]
