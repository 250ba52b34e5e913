"""Host commands of the node runtime are bounded: a stuck one is killed and reported."""

from __future__ import annotations

import os
import select
import time

import pytest

from conformance.sim.kernel.model import NodeCommandError, NodeCommandTimeout, run


def test_a_stuck_command_is_killed_with_its_children_and_named() -> None:
    started = time.monotonic()
    with pytest.raises(NodeCommandTimeout) as caught:
        # the background child keeps the output pipes open after its parent is killed
        run(["sh", "-c", "echo mounting; sleep 60 & echo $! >&2; wait"], timeout=0.5)
    assert time.monotonic() - started < 10
    error = caught.value
    assert str(error).startswith("sh -c echo mounting; sleep 60 & echo $! >&2; wait did not end")
    assert "within 0.5s and was killed; it printed: " in str(error)
    child = int(error.stderr.split()[0])
    try:  # killed with its process group: it ends (a pidfd turns readable) at once
        pidfd = os.pidfd_open(child)
    except ProcessLookupError:
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert poller.poll(10_000), f"the stuck command's child {child} still runs"
    finally:
        os.close(pidfd)


def test_a_failing_command_names_itself_and_what_it_printed() -> None:
    with pytest.raises(NodeCommandError, match="exit 32 exited 32: no such device"):
        run(["sh", "-c", "echo no such device >&2; exit 32"])
    assert run(["sh", "-c", "exit 3"], check=False).returncode == 3
