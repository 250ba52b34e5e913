"""The background process behind ``conformance sim up`` and a run's embedded cluster.

It serves the simulated cluster until SIGTERM/SIGINT, then tears down everything it
made. Readiness travels to the parent over an inherited pipe (one JSON line), so the
parent waits on an event rather than polling or sleeping.

Started with ``--owner <pid>:<start time>`` (by a test run), it also stops when that
process exits, however it exits: a CI timeout SIGKILLs the run, and nothing else would
ever stop a simulator living in its own session. It watches the owner through a pidfd
(see :mod:`conformance.sim.ownership`) and then removes its state directory too, since
no ``sim down`` will come.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from conformance.sim import lifecycle, ownership
from conformance.sim.control_plane import SimCluster, SimConfig

log = logging.getLogger("conformance.sim.daemon")


async def serve(
    config: SimConfig, ready_fd: int | None, owner: ownership.Owner | None = None
) -> int:
    """Run the cluster until a stop signal or the owner's exit; return the exit status."""
    cluster = SimCluster(config, owner=owner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    unwatch = None
    if owner is not None:

        def owner_exited() -> None:
            log.info("owner process %d exited: stopping the simulated cluster", owner.pid)
            stop.set()

        unwatch = ownership.watch(owner, owner_exited)  # before start: it may die meanwhile
    try:
        try:
            await cluster.start()
        except Exception as exc:
            logging.exception("the simulated cluster failed to start")
            _report(ready_fd, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
            await cluster.stop()
            return 1
        _report(ready_fd, {"ready": True, **cluster.describe()})
        await stop.wait()
        log.info("stopping the simulated cluster")
        await cluster.stop()
    finally:
        if unwatch is not None:
            unwatch()
        # with the owner gone, nobody is left to run `sim down`, which removes the state
        if owner is not None and not owner.alive() and lifecycle.remove_state(cluster.state_dir):
            log.info("removed %s: its owner is gone", cluster.state_dir)
    return 0


def _report(fd: int | None, message: dict[str, object]) -> None:
    if fd is None:
        print(json.dumps(message), flush=True)
        return
    with contextlib.suppress(OSError):
        os.write(fd, (json.dumps(message) + "\n").encode())
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {ownership.DAEMON_MODULE}")
    parser.add_argument(
        ownership.CONFIG_FLAG, dest="config", required=True, help="SimConfig as JSON"
    )
    parser.add_argument(ownership.READY_FD_FLAG, dest="ready_fd", type=int, default=None)
    parser.add_argument(
        ownership.OWNER_FLAG,
        dest="owner",
        type=ownership.Owner.parse,
        default=None,
        help="<pid>:<start time> of the process whose exit stops the simulator",
    )
    args = parser.parse_args(argv)
    config = SimConfig.model_validate_json(args.config)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    Path(config.state_dir).mkdir(parents=True, exist_ok=True)
    return asyncio.run(serve(config, args.ready_fd, args.owner))


if __name__ == "__main__":
    raise SystemExit(main())
