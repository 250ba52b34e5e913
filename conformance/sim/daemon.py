"""The background process behind ``conformance sim up``.

It serves the simulated cluster until SIGTERM/SIGINT, then tears down everything it
made. Readiness travels to the parent over an inherited pipe (one JSON line), so the
parent waits on an event rather than polling or sleeping.
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

from conformance.sim.control_plane import SimCluster, SimConfig


async def serve(config: SimConfig, ready_fd: int | None) -> int:
    cluster = SimCluster(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        await cluster.start()
    except Exception as exc:
        logging.exception("the simulated cluster failed to start")
        _report(ready_fd, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        await cluster.stop()
        return 1
    _report(ready_fd, {"ready": True, **cluster.describe()})
    await stop.wait()
    logging.info("stopping the simulated cluster")
    await cluster.stop()
    return 0


def _report(fd: int | None, message: dict[str, object]) -> None:
    if fd is None:
        print(json.dumps(message), flush=True)
        return
    with contextlib.suppress(OSError):
        os.write(fd, (json.dumps(message) + "\n").encode())
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.sim.daemon")
    parser.add_argument("--config", required=True, help="SimConfig as JSON")
    parser.add_argument("--ready-fd", type=int, default=None)
    args = parser.parse_args(argv)
    config = SimConfig.model_validate_json(args.config)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    Path(config.state_dir).mkdir(parents=True, exist_ok=True)
    return asyncio.run(serve(config, args.ready_fd))


if __name__ == "__main__":
    raise SystemExit(main())
