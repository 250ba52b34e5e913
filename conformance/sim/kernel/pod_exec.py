"""Exec in a running pod: the process, its pipes or terminal, resize and kill.

Exec is ``nsenter -t <pod PID 1> -m -u -p -n -r -w`` with the container's
capabilities and resolves the command inside the pod first, so a missing binary fails
as a real runtime fails (127, OCI message). Each exec runs in a session of its own,
recorded in :attr:`RunningPod.sessions` so that stopping a hostPID pod finds what an
exec left running.
With a terminal, the pty comes from the pod's own devpts when it has one (so ``tty``
in the pod names it), else from the host's. Kept apart from :mod:`pods`, which owns the
pod's lifecycle; a session only needs the pod's PID 1 and spec.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios

from conformance.sim.kernel import cgroups
from conformance.sim.kernel.pods import (
    RunningPod,
    capabilities_argv,
    container_env,
    exit_code,
    set_done,
)
from conformance.sim.runtimes.base import STDERR, STDOUT, RuntimeFailure

# Linux (asm-generic) pty ioctls that the termios module does not export.
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441


# Exec: resolve the command inside the pod as runc does, then run it.
_EXEC = r"""a=$1
oci='OCI runtime exec failed: exec failed: unable to start container process: exec:'
case $a in
  */*)
    if [ ! -e "$a" ]; then
      printf '%s "%s": stat %s: no such file or directory: unknown\n' "$oci" "$a" "$a" >&2
      exit 127
    fi
    if [ -d "$a" ] || [ ! -x "$a" ]; then
      printf '%s "%s": permission denied: unknown\n' "$oci" "$a" >&2
      exit 126
    fi ;;
  *)
    found=
    set -f; IFS=:
    for d in $PATH; do
      if [ -f "${d:-.}/$a" ] && [ -x "${d:-.}/$a" ]; then found=1; break; fi
    done
    unset IFS; set +f
    if [ -z "$found" ]; then
      printf '%s "%s": executable file not found in $PATH: unknown\n' "$oci" "$a" >&2
      exit 127
    fi ;;
esac
exec "$@"
"""


class PodExecSession:
    """One process exec'd in a pod (runtime.ExecSession)."""

    def __init__(
        self, process: asyncio.subprocess.Process, *, stdin: bool, master: int | None
    ) -> None:
        self._process = process
        self._stdin = stdin
        self._master = master
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._open_streams = 0
        self._ended = False
        self._tasks: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        if master is not None:
            self._open_streams = 1
            loop.add_reader(master, self._read_master)
        else:
            for stream, channel in ((process.stdout, STDOUT), (process.stderr, STDERR)):
                if stream is not None:
                    self._open_streams += 1
                    self._tasks.append(asyncio.create_task(self._pump(stream, channel)))

    async def _pump(self, stream: asyncio.StreamReader, channel: int) -> None:
        try:
            while chunk := await stream.read(65536):
                self._queue.put_nowait((channel, chunk))
        finally:
            self._queue.put_nowait(None)

    def _read_master(self) -> None:
        assert self._master is not None
        try:
            chunk = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every holder of the terminal's other end is gone
            chunk = b""
        if chunk:
            self._queue.put_nowait((STDOUT, chunk))
            return
        self._close_master()

    def _close_master(self) -> None:
        if self._master is None:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)
        self._master = None
        self._queue.put_nowait(None)

    async def read(self) -> tuple[int, bytes] | None:
        while not self._ended:
            item = await self._queue.get()
            if item is not None:
                return item
            self._open_streams -= 1
            if self._open_streams <= 0:
                self._ended = True
        return None

    async def write_stdin(self, data: bytes) -> None:
        if not self._stdin or not data:
            return
        if self._master is not None:
            await _write_all(self._master, data)
            return
        pipe = self._process.stdin
        if pipe is None or pipe.is_closing():
            return
        try:
            pipe.write(data)
            await pipe.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def close_stdin(self) -> None:
        if not self._stdin:
            return
        if self._master is not None:
            await _write_all(self._master, b"\x04")  # a terminal's end of input: ^D
            return
        pipe = self._process.stdin
        if pipe is not None and not pipe.is_closing():
            pipe.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await pipe.wait_closed()

    async def resize(self, width: int, height: int) -> None:
        if self._master is not None and width > 0 and height > 0:
            _set_size(self._master, width, height)

    async def wait(self) -> int:
        return exit_code(await self._process.wait())

    async def kill(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._process.wait(), 10)
        self._close_master()
        for task in self._tasks:
            task.cancel()


async def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    loop = asyncio.get_running_loop()
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            writable: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, set_done, writable)
            try:
                await writable
            finally:
                loop.remove_writer(fd)
            continue
        except OSError:  # the terminal is gone
            return
        view = view[written:]


def _set_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _open_pty(pod: RunningPod) -> tuple[int, int]:
    """A terminal in the pod's own devpts (so tty(1) in the pod names it); else the host's."""
    flags = os.O_RDWR | os.O_NOCTTY
    try:
        master = os.open(f"/proc/{pod.pid}/root/dev/pts/ptmx", flags | os.O_CLOEXEC)
    except OSError:
        return _host_pty()
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        slave = fcntl.ioctl(master, _TIOCGPTPEER, flags)
    except OSError:
        os.close(master)
        return _host_pty()
    return master, int(slave)


def _host_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    return master, slave


def _take_terminal() -> None:  # runs in the child between fork and exec
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def exec_in_pod(
    pod: RunningPod, argv: list[str], *, stdin: bool, tty: bool
) -> PodExecSession:
    """Run ``argv`` in the pod's namespaces and root with the container's environment."""
    if not argv:
        raise RuntimeFailure("exec needs a command")
    if not pod.running:
        raise RuntimeFailure(
            f'container "{pod.spec.container}" of pod {pod.spec.name} is not running'
        )
    command = [
        *cgroups.join_argv(pod.spec.cgroup),  # as runc exec: in the container's cgroup
        "nsenter",
        "-t",
        str(pod.pid),
        "-m",
        "-u",
        "-p",
        "-n",
        "-r",
        "-w",
        "--",
        *capabilities_argv(pod.spec),  # as runc exec gives the container's capabilities
        "/bin/sh",
        "-c",
        _EXEC,
        "cfsim-exec",
        *argv,
    ]
    env = container_env(pod.spec, tty=tty)
    if not tty:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        pod.sessions.add(process.pid)  # its own session (start_new_session)
        return PodExecSession(process, stdin=stdin, master=None)
    master, slave = _open_pty(pod)
    try:
        _set_size(master, 80, 24)
        os.set_blocking(master, False)
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=_take_terminal,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    pod.sessions.add(process.pid)  # its own session (_take_terminal)
    return PodExecSession(process, stdin=stdin, master=master)


__all__ = ["PodExecSession", "exec_in_pod"]
