"""Performance: fio ran, and each job with a threshold in the inventory reached it.

Without thresholds the figures are reported only (in the evidence and the summary); a
threshold makes them a verdict, and a miss names the pod, the job, the figure, what was
measured and what the inventory asks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.inventory import Performance

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import FioRun

# threshold field -> (figure, how it is named, unit, a lower bound?)
_LIMITS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("min_iops", "iops", "IOPS", "", True),
    ("min_mib_per_s", "mib_per_s", "bandwidth", " MiB/s", True),
    ("max_p50_ms", "p50_ms", "p50 latency", " ms", False),
    ("max_p99_ms", "p99_ms", "p99 latency", " ms", False),
    ("max_p999_ms", "p999_ms", "p99.9 latency", " ms", False),
)


def fio_ran(run: FioRun) -> list[str]:
    if run.exit_code == 0 and not run.error and run.figures:
        return []
    why = run.error or "it reported no job that moved data"
    return [f"{run.pod}: fio in {run.ran_in} failed (exit {run.exit_code}): {why}"]


def performance_within(run: FioRun, performance: Performance, entry: str) -> list[str]:
    """Every figure a threshold names, for every job that has one."""
    problems: list[str] = []
    for job in performance.jobs:
        threshold = performance.threshold(job)
        if threshold is None:
            continue
        where = f"storage '{entry}' performance.{job}"
        measured = [f for f in run.figures if f.job == job]
        if not measured:
            problems.append(f"{run.pod}: fio reported no figures for {job}, which {where} limits")
            continue
        for figure in measured:
            for field, attribute, name, unit, lower in _LIMITS:
                limit = getattr(threshold, field)
                if limit is None:
                    continue
                value = getattr(figure, attribute)
                kind = f"{figure.latency} " if figure.latency and not lower else ""
                if value is None:
                    problems.append(
                        f"{run.pod}: {job} has no {kind}{name} figure (fio measured no "
                        f"latency), but {where} sets {field}: {limit:g}"
                    )
                elif (value < limit) if lower else (value > limit):
                    side = "below" if lower else "above"
                    problems.append(
                        f"{run.pod}: {job} {kind}{name} is {value:.{2 if unit else 0}f}{unit}, "
                        f"{side} {field} {limit:g}{unit} ({where})"
                    )
    return problems
