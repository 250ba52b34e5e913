"""pods/exec over WebSocket (v4/v5.channel.k8s.io) and pods/log, backed by the node runtime.

Framing as the real API server sends it: every binary message starts with a channel
byte (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize, 255 close in v5). The
exit code travels as a Status on channel 3 right before the socket closes: kubectl
and the official client derive their exit codes from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.server import ApiServer
from conformance.sim.runtimes.base import NodeRuntime

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(code: int) -> dict[str, Any]:
    """The channel-3 Status for an exit code, exactly as kubelet/CRI streaming writes it."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[...], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _running_pod(
    api: ApiServer, kind: Kind, namespace: str, name: str, container: str
) -> tuple[dict[str, Any], str, str]:
    pod = api.store.get(kind, namespace, name)
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    container = container or (containers[0] if containers else "")
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    node = (pod.get("spec") or {}).get("nodeName")
    phase = (pod.get("status") or {}).get("phase")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    if phase != "Running":
        raise errors.bad_request(
            f'unable to upgrade connection: container not found ("{container}")'
        )
    return pod, node, container


def install(api: ApiServer, runtime: NodeRuntime) -> None:
    """Serve pods/exec and pods/log from ``runtime``."""

    async def exec_ws(
        request: web.Request, kind: Kind, namespace: str, name: str
    ) -> web.StreamResponse:
        command = request.query.getall("command", [])
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        pod, node, container = _running_pod(
            api, kind, namespace, name, request.query.get("container", "")
        )
        ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok:
            raise errors.bad_request("Upgrade request required")
        await ws.prepare(request)
        v5 = ws.ws_protocol == PROTOCOLS[0]
        session = await runtime.exec(
            node, pod, container, command, stdin=_flag(request, "stdin"), tty=_flag(request, "tty")
        )

        async def pump_output() -> None:
            while True:
                chunk = await session.read()
                if chunk is None:
                    return
                channel, data = chunk
                if data:
                    await ws.send_bytes(bytes([channel]) + data)

        async def pump_input() -> None:
            async for message in ws:
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                raw = message.data if isinstance(message.data, bytes) else message.data.encode()
                if not raw:
                    continue
                channel, data = raw[0], raw[1:]
                if channel == STDIN and data:
                    await session.write_stdin(data)
                elif v5 and channel == CLOSE and data[:1] == bytes([STDIN]):
                    await session.close_stdin()
            await session.close_stdin()

        reader = asyncio.create_task(pump_input())
        try:
            await pump_output()
            code = await session.wait()
            await ws.send_bytes(bytes([ERROR]) + json.dumps(exit_status(code)).encode())
        except errors.ApiError as exc:
            await ws.send_bytes(bytes([ERROR]) + json.dumps(exc.status()).encode())
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await session.kill()
            await ws.close()
        return ws

    async def exec_plain(
        request: web.Request, kind: Kind, namespace: str, name: str
    ) -> web.StreamResponse:
        _running_pod(api, kind, namespace, name, request.query.get("container", ""))
        raise errors.bad_request(
            "Upgrade request required: this cluster serves exec over WebSocket "
            f"({', '.join(PROTOCOLS)})"
        )

    async def log(
        request: web.Request, kind: Kind, namespace: str, name: str
    ) -> web.StreamResponse:
        pod = api.store.get(kind, namespace, name)
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        container = request.query.get("container") or (
            containers[0] if len(containers) == 1 else ""
        )
        if not container:
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, choose one of: {containers}"
            )
        if container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") == "Pending":
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        text = await runtime.logs(node, pod, container)
        tail = request.query.get("tailLines")
        if tail and tail.isdigit():
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :]) if int(tail) else ""
        return web.Response(text=text, content_type="text/plain")

    api.websockets[("Pod", "exec")] = exec_ws
    api.subresources[("Pod", "exec")] = exec_plain
    api.subresources[("Pod", "log")] = log
