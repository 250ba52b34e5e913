"""fio in every pod of the set, on its volume: IOPS, bandwidth and latency percentiles
per job and pod, always reported (evidence, summary, a chart in the report); a verdict
where the inventory sets thresholds (``storage[].performance``)."""

from __future__ import annotations

import dataclasses

import pytest

from conformance import checks, evidence, observe
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.reporting import perf_chart

# its own set: fio overwrites a Block volume and loads every volume for seconds
pytestmark = [pytest.mark.per_entry, pytest.mark.disruptive, pytest.mark.exec]


def test_the_volume_performs_as_the_inventory_asks(
    deployed: Deployment, request: pytest.FixtureRequest
) -> None:
    evidence.label_suite("performance", "fio")
    storage = deployed.case.storage
    problems: list[str] = []
    figures: dict[str, list[dict[str, object]]] = {}
    for pod in deployed.ready_pods():
        run = observe.run_fio(deployed, pod.metadata.name)
        evidence.attach_text(f"fio in {run.pod} ({run.ran_in}): JSON", run.output)
        problems += checks.fio_ran(run)
        figures[run.pod] = [dataclasses.asdict(f) for f in run.figures]
        problems += checks.performance_within(run, storage.performance, storage.name)
    evidence.attach_svg("fio figures", perf_chart.svg(figures, f"fio on {storage.name}"))
    evidence.record_figures(request.node, "performance", figures)
    fail_on(problems)
