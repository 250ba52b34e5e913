"""A simulator started by a run dies with that run, SIGKILL included (a CI timeout kills
runs that way); one started by hand lives until `sim down`; `sim clean` stops a simulator
whose run is gone but which still runs, and leaves one without an owner alone."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from conformance.sim import lifecycle, ownership
from conformance.sim.control_plane import STATE_FILE, SimConfig
from conformance.sim.kernel import cleanup
from tests.conftest import ROOT
from tests.sim.conftest import run_a_pod

kernel = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="kernel-backed nodes need root and openssh-server (CI runs as root)",
)

OWNER_DEATH_TIMEOUT = 30.0  # the promise: gone within 30 s of its owner's death
START_TIMEOUT = 120.0

# Starts one simulator per "<state dir>=owned|free" argument from a process of its own,
# prints {"<state dir>": daemon pid, ...} and waits: the test then kills that process.
STARTER = """
import json, os, sys
from conformance.sim import lifecycle
from conformance.sim.control_plane import SimConfig
runtime, specs = sys.argv[1], sys.argv[2:]
pids = {}
for spec in specs:
    state, how = spec.split("=")
    owner = os.getpid() if how == "owned" else None
    pids[state] = lifecycle.up(
        SimConfig(state_dir=state, nodes=1, runtime=runtime), owner_pid=owner
    ).pid
print(json.dumps(pids), flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Adopt the orphans made meanwhile (this machine's PID 1 reaps none), so that a
    daemon whose starter died can be waited for and reaped here, not left a zombie."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    before = _children()
    if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        pytest.fail(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    try:
        yield
    finally:
        libc.prctl(pr_set_child_subreaper, 0, 0, 0, 0)
        for pid in _children() - before:  # adopted ones that exited: reap them
            stat = ownership.proc_stat(pid)
            if stat is not None and stat[0] == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError):
            if entry.isdigit():
                stat = Path(f"/proc/{entry}/stat").read_text()
                if stat.rsplit(")", 1)[1].split()[1] == me:
                    found.add(int(entry))
    return found


def read_until(stream: int, wanted: str, timeout: float) -> list[str]:
    """Lines from a pipe up to the first containing ``wanted``; fail with the last seen."""
    deadline = time.monotonic() + timeout
    buffer, lines = b"", []
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            lines.append(line.decode(errors="replace"))
            if wanted in lines[-1]:
                return lines
        left = deadline - time.monotonic()
        ready = select.select([stream], [], [], max(left, 0))[0] if left > 0 else []
        chunk = os.read(stream, 65536) if ready else b""
        if not chunk:
            why = "the stream ended" if ready else f"{timeout:.0f} s passed"
            last = "\n".join([*lines[-30:], buffer.decode(errors="replace")])
            pytest.fail(f"{why} without a line containing {wanted!r}; last seen:\n{last}")
        buffer += chunk


def start_from_child(
    runtime: str, specs: dict[Path, str]
) -> tuple[subprocess.Popen[bytes], dict[Path, int]]:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, runtime, *(f"{path}={how}" for path, how in specs.items())],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert starter.stdout is not None
    line = read_until(starter.stdout.fileno(), "{", START_TIMEOUT)[-1]
    return starter, {Path(path): pid for path, pid in json.loads(line).items()}


def kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def kill_if_running(process: ownership.Owner) -> None:
    """SIGKILL a process we started, through a pidfd, unless it is gone (no pid reuse harm)."""
    try:
        fd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return
    try:
        if process.alive():
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            lifecycle.wait_exit(process.pid, 10)
    finally:
        os.close(fd)


def assert_exits(pid: int, state_dir: Path, why: str) -> None:
    if not lifecycle.wait_exit(pid, OWNER_DEATH_TIMEOUT):
        log = state_dir / lifecycle.LOG_FILE
        tail = log.read_text()[-3000:] if log.exists() else "(no log)"
        pytest.fail(f"simulator {pid} still runs {OWNER_DEATH_TIMEOUT:.0f} s after {why}:\n{tail}")


def nothing_left(state_dirs: list[Path], subnets: set[int]) -> None:
    leftovers = cleanup.find_leftovers(state_dirs=state_dirs, subnets=subnets, include_live=True)
    assert leftovers.empty, "\n".join(leftovers.lines())
    for state_dir in state_dirs:
        assert not state_dir.exists() or list(state_dir.iterdir()) == []
        assert lifecycle.mounts_under(state_dir.parent) == []


def assert_kernel_objects(found: cleanup.Leftovers) -> None:
    """The test is not vacuous: there were processes, namespaces and volumes to remove."""
    assert found.processes, found.lines()
    assert found.netns, found.lines()
    assert found.loop_devices, found.lines()


@contextlib.contextmanager
def removed_afterwards(*state_dirs: Path) -> Iterator[None]:
    """Whatever is left of these simulators at the end goes, also when the test failed
    (say, a daemon that ignored its owner's death): SIGKILL, then clean its leftovers."""
    try:
        yield
    finally:
        root = os.geteuid() == 0  # without root there are no kernel objects (memory runtime)
        subnets = (
            cleanup.find_leftovers(state_dirs=state_dirs, include_live=True).subnets
            if root
            else set()
        )
        for daemon in daemons_of(state_dirs):
            kill_if_running(daemon)
        if root:
            leftovers = cleanup.find_leftovers(
                state_dirs=state_dirs, subnets=subnets, include_live=True
            )
            if not leftovers.empty:
                cleanup.clean(leftovers)
        for state_dir in state_dirs:
            lifecycle.remove_state(state_dir)


def daemons_of(state_dirs: tuple[Path, ...]) -> list[ownership.Owner]:
    """Running simulator daemons with state in (or under) these directories."""
    wanted = {path.resolve() for path in state_dirs}
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ProcessLookupError):
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            cwd = Path(os.readlink(f"/proc/{entry}/cwd"))
            args = [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]
            command = ownership.daemon_command(args, cwd)
            where = None if command is None else command.state_dir
            if where is not None and wanted & {where, *where.parents}:
                found.append(ownership.Owner.of(int(entry)))
    return found


def made_by(state_dir: Path) -> cleanup.Leftovers:
    """What the simulator of ``state_dir`` has on the host now (its subnet included)."""
    mine = cleanup.find_leftovers(state_dirs=[state_dir], include_live=True)
    return cleanup.find_leftovers(state_dirs=[state_dir], subnets=mine.subnets, include_live=True)


# --- without root --------------------------------------------------------------------


def test_owner_tokens_and_daemon_command_lines() -> None:
    me = ownership.Owner.of(os.getpid())
    assert me.alive()
    assert ownership.Owner.parse(str(me)) == me
    assert not ownership.Owner(me.pid, str(int(me.start_time) + 1)).alive()  # a reused pid
    with pytest.raises(ValueError, match="owner token"):
        ownership.Owner.parse("12")
    argv = ownership.daemon_argv(json.dumps({"state_dir": "runs/a"}), ready_fd=5, owner=me)
    command = ownership.daemon_command(
        ["/usr/bin/python3", "-m", ownership.DAEMON_MODULE, *argv], cwd=Path("/work")
    )
    assert command == ownership.DaemonCommand(me, Path("/work/runs/a"))
    assert ownership.daemon_command(["python3", "-m", "pytest"]) is None
    free = ownership.daemon_argv(json.dumps({"state_dir": "/s"}), ready_fd=5, owner=None)
    assert ownership.daemon_command(["py", "-m", ownership.DAEMON_MODULE, *free]) == (
        ownership.DaemonCommand(None, Path("/s"))
    )


def test_an_owner_that_is_gone_is_refused(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(lifecycle.SimError, match=f"process {gone.pid}, is not running"):
        lifecycle.up(
            SimConfig(state_dir=str(tmp_path / "sim"), runtime="memory"), owner_pid=gone.pid
        )
    assert not (tmp_path / "sim").exists()


def test_only_a_simulator_without_owner_outlives_its_starter(tmp_path: Path) -> None:
    owned, free = tmp_path / "owned", tmp_path / "free"
    with subreaper(), removed_afterwards(owned, free):
        starter, pids = start_from_child("memory", {owned: "owned", free: "free"})
        try:
            running = lifecycle.status(owned)
            assert running is not None
            assert running.owner == ownership.Owner.of(starter.pid)
            assert json.loads((owned / STATE_FILE).read_text())["owner"]["pid"] == starter.pid
            assert json.loads((free / STATE_FILE).read_text())["owner"] is None
        finally:
            kill(starter)
        assert_exits(pids[owned], owned, "its owner was killed")
        assert not owned.exists()
        # The free one saw the same death and stays: it still serves, until `down`.
        survivor = lifecycle.status(free)
        assert survivor is not None
        assert survivor.pid == pids[free]
        assert survivor.owner is None
        api = config.new_client_from_config(config_file=str(survivor.kubeconfig))
        try:
            assert len(client.CoreV1Api(api).list_node().items) == 1
        finally:
            api.close()
        assert lifecycle.down(free)
        assert lifecycle.wait_exit(pids[free], 0)
        assert not free.exists()


# --- kernel-backed nodes -----------------------------------------------------------------


@kernel
def test_a_simulator_whose_owner_is_sigkilled_removes_everything(tmp_path: Path) -> None:
    state_dir = tmp_path / "sim"
    with subreaper(), removed_afterwards(state_dir):
        starter, pids = start_from_child("kernel", {state_dir: "owned"})
        try:
            running = lifecycle.status(state_dir)
            assert running is not None
            run_a_pod(running.kubeconfig)
            before = made_by(state_dir)
            assert_kernel_objects(before)
        finally:
            kill(starter)  # SIGKILL
        assert_exits(pids[state_dir], state_dir, "its owner was SIGKILLed")
        nothing_left([state_dir], before.subnets)


@kernel
def test_a_sigkilled_conformance_run_leaves_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "sim-runs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    env.update(CONFORMANCE_SIM_STATE_ROOT=str(runs), PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/test_provisioning.py",
        "--conformance-inventory",
        "inventories/sim.yaml",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--setup-show",  # prints "SETUP M deployed" once pods run on bound claims
    ]
    with subreaper(), removed_afterwards(runs):
        run = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        try:
            assert run.stdout is not None
            read_until(run.stdout.fileno(), "SETUP    M deployed", START_TIMEOUT)
            (state_dir,) = runs.iterdir()
            running = lifecycle.status(state_dir)
            assert running is not None
            assert running.owner == ownership.Owner.of(run.pid)
            before = made_by(state_dir)
            assert_kernel_objects(before)
        finally:
            kill(run)  # SIGKILL, as a CI timeout does: no teardown, no atexit
        assert_exits(running.pid, state_dir, "its run was SIGKILLed")
        nothing_left([state_dir], before.subnets)
        assert list(runs.iterdir()) == []


@kernel
def test_sim_clean_stops_a_simulator_whose_owner_is_gone_and_leaves_one_without(
    tmp_path: Path,
) -> None:
    orphan, free = tmp_path / "orphan", tmp_path / "free"
    with subreaper(), removed_afterwards(orphan, free):
        starter, pids = start_from_child("kernel", {orphan: "owned"})
        try:
            lifecycle.up(SimConfig(state_dir=str(free), nodes=1, runtime="kernel"))
            made = made_by(orphan)
            # A hung simulator: stopped, it cannot see its owner die.
            os.kill(pids[orphan], signal.SIGSTOP)
        finally:
            kill(starter)
        found = cleanup.find_leftovers(state_dirs=[orphan, free])
        assert [sim.pid for sim in found.simulators] == [pids[orphan]], found.lines()
        assert found.simulators[0].owner.pid == starter.pid
        assert found.simulators[0].state_dir == str(orphan.resolve())
        assert found.skipped_live, "the free simulator's objects are left alone"

        report = cleanup.clean(found)
        assert report.ok, str(report)
        assert report.stopped == [pids[orphan]]
        assert lifecycle.wait_exit(pids[orphan], 0)
        nothing_left([orphan], made.subnets)

        assert lifecycle.status(free) is not None
        assert not made_by(free).empty
        assert lifecycle.down(free)
        nothing_left([free], set())
