"""`tox -e conformance -- --lf` re-runs only what failed: pytest's cache is kept (under
reports/ in tox), so a vendor fixing one driver bug does not wait for every suite again."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import run
from tests.test_suites_fail_on_faults import inventory_with, needs_nodes

FAILING = "suites/test_provisioning.py::test_each_pod_mounts_its_own_claim"


def conformance(inventory: Path, cache: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    result = run(
        sys.executable,
        "-m",
        "pytest",
        *args,
        "-o",
        f"cache_dir={cache}",
        "-o",
        "addopts=",
        "--conformance-inventory",
        str(inventory),
        env=env,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


@needs_nodes
def test_last_failed_selects_only_the_failed_tests(tmp_path: Path) -> None:
    inventory = inventory_with(tmp_path, {"wrong-claim-binding": None})
    code, output = conformance(inventory, tmp_path / "cache", "suites/test_provisioning.py")
    assert code == 1, output[-3000:]
    code, output = conformance(
        inventory, tmp_path / "cache", "suites", "--lf", "--collect-only", "-q"
    )
    selected = sorted(line for line in output.splitlines() if line.startswith("suites/"))
    assert selected == [f"{FAILING}[datera-iscsi-r2-OrderedReady]"], output[-3000:]
