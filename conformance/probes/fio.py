"""fio: the harness's four jobs as one command, and a reader of ``--output-format=json``.

The reader takes what fio versions in the field print: fio 3 reports latencies in
nanoseconds (``clat_ns``), fio 2 in microseconds (``clat``) and pads its percentile maps
with ``"0.00"`` keys; with ``lat_percentiles=1`` the percentiles sit under the total
latency (``lat_ns``) instead; with ``gtod_reduce=1`` there are none. Notes fio prints
before the JSON (``note: ...``, ``fio: ...``) are skipped. Each job gives one figure per
direction it moved data in.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from conformance.probes.common import ProbeParseError


@dataclass(frozen=True)
class FioJob:
    name: str  # also the inventory key of its thresholds
    rw: str  # fio's --rw
    block_size: str  # fio's --bs


JOBS: dict[str, FioJob] = {
    job.name: job
    for job in (
        FioJob("randread_4k", "randread", "4k"),
        FioJob("randwrite_4k", "randwrite", "4k"),
        FioJob("seqread_1m", "read", "1m"),
        FioJob("seqwrite_1m", "write", "1m"),
    )
}

PERCENTILES = "50:99:99.9"


@dataclass(frozen=True)
class FioFigures:
    """One job's figures in one direction."""

    job: str
    direction: str  # read | write | trim
    iops: float
    mib_per_s: float
    p50_ms: float | None  # None: fio measured no latency (gtod_reduce) or printed none
    p99_ms: float | None
    p999_ms: float | None
    latency: str  # which latency the percentiles are of: "completion", "total" or ""


def fio_command(
    path: str,
    jobs: list[str],
    *,
    size: str,
    runtime: float,
    iodepth: int,
    ioengine: str,
    direct: bool,
) -> tuple[str, ...]:
    """One fio run of ``jobs`` in turn (stonewall) on ``path``, a file in the mounted
    volume or a raw device; time-based, so a fast volume does not finish early."""
    argv = [
        "fio",
        "--output-format=json",
        f"--filename={path}",
        f"--size={size}",
        f"--runtime={runtime:g}",
        "--time_based",
        f"--ioengine={ioengine}",
        f"--iodepth={iodepth}",
        f"--direct={int(direct)}",
        f"--percentile_list={PERCENTILES}",
        "--group_reporting",
    ]
    for name in jobs:
        job = JOBS[name]
        argv += [f"--name={job.name}", f"--rw={job.rw}", f"--bs={job.block_size}", "--stonewall"]
    return tuple(argv)


def cleanup_command(path: str) -> tuple[str, ...]:
    """Remove the file fio laid out (not for a raw device)."""
    return ("sh", "-c", f"rm -f {shlex.quote(path)}")


def parse_fio_json(text: str) -> list[FioFigures]:
    """Figures per job and direction, for every direction that moved data."""
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("{")), None)
    if start is None:
        raise ProbeParseError(
            "fio", "no JSON object in the output", line_no=1, line=lines[0] if lines else ""
        )
    try:
        document = json.loads("\n".join(lines[start:]))
    except json.JSONDecodeError as exc:
        line = start + exc.lineno
        shown = lines[line - 1] if 0 < line <= len(lines) else ""
        raise ProbeParseError("fio", f"not JSON: {exc.msg}", line_no=line, line=shown) from None
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, list):
        raise ProbeParseError(
            "fio", 'no "jobs" list in the JSON', line_no=start + 1, line=lines[start]
        )
    found: list[FioFigures] = []
    for job in jobs:
        name = str(job.get("jobname", ""))
        for direction in ("read", "write", "trim"):
            stats = job.get(direction)
            if not isinstance(stats, dict) or not stats.get("io_bytes"):
                continue
            p50, p99, p999, kind = _percentiles(stats)
            found.append(
                FioFigures(
                    job=name,
                    direction=direction,
                    iops=float(stats.get("iops", 0.0)),
                    mib_per_s=float(stats.get("bw", 0.0)) / 1024.0,  # fio's bw is KiB/s
                    p50_ms=p50,
                    p99_ms=p99,
                    p999_ms=p999,
                    latency=kind,
                )
            )
    return found


def _percentiles(
    stats: dict[str, object],
) -> tuple[float | None, float | None, float | None, str]:
    for key, scale, kind in (
        ("clat_ns", 1e-6, "completion"),
        ("clat", 1e-3, "completion"),  # fio 2: microseconds
        ("lat_ns", 1e-6, "total"),  # lat_percentiles=1
        ("lat", 1e-3, "total"),
    ):
        block = stats.get(key)
        table = block.get("percentile") if isinstance(block, dict) else None
        if not isinstance(table, dict) or not table:
            continue
        by_level = {_level(k): v for k, v in table.items() if _level(k) is not None}

        def at(
            level: float, by: dict[float | None, object] = by_level, s: float = scale
        ) -> float | None:
            value = by.get(level)
            return float(value) * s if isinstance(value, (int, float)) else None

        if not any(at(level) for level in (50.0, 99.0, 99.9)):
            continue  # all zero: this direction moved no data, or latency was not measured
        return at(50.0), at(99.0), at(99.9), kind
    return None, None, None, ""


def _level(key: str) -> float | None:
    try:
        value = float(key)
    except ValueError:
        return None
    return value if value > 0 else None  # fio 2's "0.00" padding
