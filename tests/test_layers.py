"""The harness stands apart from its simulator: it imports none of it, and lint says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run

LINT_IMPORTS = shutil.which("lint-imports")


def test_loading_the_plugin_and_the_command_loads_no_simulator_module() -> None:
    probe = (
        "import sys, conformance.plugin, conformance.cli, conformance.checks, conformance.observe;"
        "print(sorted(m for m in sys.modules if m.startswith('conformance.sim')))"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is a dev dependency (.[dev])")
def test_lint_passes_on_the_tree_and_fails_when_the_harness_imports_the_simulator(
    tmp_path: Path,
) -> None:
    assert LINT_IMPORTS is not None
    clean = run(LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"))
    assert clean.returncode == 0, clean.stdout + clean.stderr

    shutil.copytree(ROOT / "conformance", tmp_path / "conformance")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    checks = tmp_path / "conformance" / "checks" / "__init__.py"
    checks.write_text(checks.read_text() + "\nfrom conformance.sim import faults  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    broken = subprocess.run(
        [LINT_IMPORTS], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0, output
    assert "conformance.checks -> conformance.sim.faults" in output, output
