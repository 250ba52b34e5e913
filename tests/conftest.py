"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command the way a user would, from the project root, capturing everything."""
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.fixture
def conformance_cli():
    """Run ``conformance ARGS`` in a fresh interpreter (exit codes and output as users see them)."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run(sys.executable, "-m", "conformance", *args, env=env)

    return invoke
