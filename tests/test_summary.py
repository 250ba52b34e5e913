"""The run's summary: storage entry x suite, the verdict per entry, a line per failure."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.reporting.summary import Outcome, Summary, first_line


def summary() -> Summary:
    s = Summary(run="r1", inventory="inv.yaml", started="2026-12-02T00:00:00+00:00", duration=12.34)
    s.outcomes += [
        Outcome("suites/test_provisioning.py::test_a[gold-r2]", "gold", "provisioning", "passed"),
        Outcome(
            "suites/test_provisioning.py::test_b[gold-r2]",
            "gold",
            "provisioning",
            "failed",
            "claim data-web-0 is Pending, not Bound",
        ),
        Outcome("suites/test_shares.py::test_c[gold-r2]", "gold", "shares", "skipped"),
        Outcome("suites/test_provisioning.py::test_a[nfs-r2]", "nfs", "provisioning", "passed"),
    ]
    return s


def test_the_table_counts_per_entry_and_suite_and_names_each_failure() -> None:
    assert summary().table() == [
        "suite             gold       nfs",
        "provisioning     1/1/0     1/0/0",
        "shares           0/0/1         -",
        "verdict         failed    passed",
        "(passed/failed/skipped per suite and storage entry)",
        "FAILED [gold] provisioning: test_b[gold-r2]",
        "    claim data-web-0 is Pending, not Bound",
    ]


def test_the_json_has_the_verdicts_and_the_failures(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    summary().write(path)
    data = json.loads(path.read_text())
    assert data["verdict"] == "failed"
    assert data["duration"] == 12.3
    assert data["entries"]["nfs"] == {
        "verdict": "passed",
        "suites": {"provisioning": {"passed": 1, "failed": 0, "skipped": 0}},
    }
    assert data["failures"] == [
        {
            "test": "suites/test_provisioning.py::test_b[gold-r2]",
            "entry": "gold",
            "suite": "provisioning",
            "message": "claim data-web-0 is Pending, not Bound",
        }
    ]


def test_the_failure_line_is_the_checks_sentence() -> None:
    text = "web-0: /data is ext4 in the container, expected xfs\nweb-1: ...\nassert not [...]"
    assert first_line(text) == "web-0: /data is ext4 in the container, expected xfs"
