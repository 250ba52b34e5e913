"""The performance check: figures pass without thresholds; each threshold missed is a
sentence naming the pod, the job, the figure, the value and the limit; the summary and
the chart carry fio's figures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conformance import checks
from conformance.inventory import Performance
from conformance.observe import FioRun
from conformance.probes import FioFigures
from conformance.reporting import perf_chart
from conformance.reporting.summary import Outcome, Summary

FAST = FioFigures("randwrite_4k", "write", 30000.0, 117.2, 0.05, 0.4, 1.1, "completion")
SLOW = dataclasses.replace(FAST, iops=201.0, mib_per_s=0.8, p99_ms=105.4)


def run(*figures: FioFigures, exit_code: int = 0, error: str = "") -> FioRun:
    return FioRun("web-0", "the workload container", exit_code, error, figures, "{}")


def perf(**thresholds: dict[str, float]) -> Performance:
    return Performance.model_validate(thresholds)


def test_without_thresholds_any_figures_pass() -> None:
    assert checks.performance_within(run(SLOW), perf(), "ebs") == []


def test_a_missed_minimum_names_the_job_figure_value_and_threshold() -> None:
    (problem,) = checks.performance_within(run(SLOW), perf(randwrite_4k={"min_iops": 2000}), "ebs")
    assert problem == (
        "web-0: randwrite_4k IOPS is 201, below min_iops 2000 (storage 'ebs' "
        "performance.randwrite_4k)"
    )


def test_a_missed_latency_bound_names_which_latency() -> None:
    (problem,) = checks.performance_within(run(SLOW), perf(randwrite_4k={"max_p99_ms": 20}), "ebs")
    assert "randwrite_4k completion p99 latency is 105.40 ms, above max_p99_ms 20 ms" in problem


def test_met_thresholds_pass() -> None:
    limits = {"min_iops": 2000, "min_mib_per_s": 100, "max_p99_ms": 20, "max_p999_ms": 5}
    assert checks.performance_within(run(FAST), perf(randwrite_4k=limits), "ebs") == []


def test_a_threshold_on_a_latency_fio_did_not_measure_fails() -> None:
    blind = dataclasses.replace(FAST, p50_ms=None, p99_ms=None, p999_ms=None, latency="")
    (problem,) = checks.performance_within(run(blind), perf(randwrite_4k={"max_p99_ms": 20}), "x")
    assert "has no p99 latency figure" in problem


def test_a_job_with_a_threshold_but_no_figures_fails() -> None:
    (problem,) = checks.performance_within(run(), perf(seqread_1m={"min_iops": 1}), "x")
    assert problem == (
        "web-0: fio reported no figures for seqread_1m, which storage 'x' performance.seqread_1m "
        "limits"
    )


def test_fio_failing_is_reported_with_its_complaint() -> None:
    (problem,) = checks.fio_ran(run(exit_code=1, error="fio: engine libaio not loadable"))
    assert problem == (
        "web-0: fio in the workload container failed (exit 1): fio: engine libaio not loadable"
    )
    assert checks.fio_ran(run(FAST)) == []


def test_the_summary_carries_the_figures_per_entry_and_prints_them(tmp_path: Path) -> None:
    summary = Summary(run="r", inventory="i", started="now")
    figures = {"web-0": [dataclasses.asdict(FAST)]}
    summary.outcomes.append(
        Outcome("t", "ebs", "performance", "passed", figures={"performance": figures})
    )
    assert summary.as_json()["entries"]["ebs"]["performance"] == figures
    (row,) = [line for line in summary.table() if "randwrite_4k" in line]
    assert row.split() == ["ebs", "web-0", "randwrite_4k", "30000", "117.2", "0.40"]


def test_the_chart_draws_a_bar_per_pod_and_job() -> None:
    drawn = perf_chart.svg(
        {"web-0": [dataclasses.asdict(FAST)], "web-1": [dataclasses.asdict(SLOW)]}, "fio on ebs"
    )
    assert drawn.startswith("<svg")
    assert drawn.count("<rect") == 4
    assert ">30000<" in drawn
    assert ">105.40<" in drawn
    assert perf_chart.svg({}, "nothing") == ""
