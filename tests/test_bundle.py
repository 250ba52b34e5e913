"""A bundle verifies as made, and a single changed byte fails it, naming the file."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from conformance.reporting import bundle
from tests.conftest import ROOT, run


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    (reports / "allure-results").mkdir(parents=True)
    (reports / "junit.xml").write_text("<testsuites><testsuite name='pytest'/></testsuites>\n")
    (reports / "allure-results" / "abc-result.json").write_text(
        '{"name": "test", "status": "passed"}'
    )
    (reports / "summary.json").write_text(
        json.dumps(
            {
                "run": "r42",
                "verdict": "failed",
                "entries": {"gold": {"verdict": "failed", "suites": {}}},
                "failures": [{"test": "t", "entry": "gold", "message": "claim x is Pending"}],
            }
        )
    )
    (reports / "inventory.yaml").write_text("cluster:\n  token: abcdefghijklmnop\n")
    return reports


def tamper(made: Path, name: str) -> None:
    """Change one byte of one file inside the bundle, keeping everything else."""
    with tarfile.open(made, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]  # type: ignore[union-attr]
    with tarfile.open(made, "w:gz") as tar:
        for member, data in members:
            if member.name.endswith("/" + name):
                data = bytes([data[0] ^ 1]) + data[1:]
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))


def test_a_bundle_verifies_and_holds_the_parts(reports: Path) -> None:
    made = bundle.make(reports, reports, root=ROOT)
    assert made.name == "conformance-r42.tar.gz"
    checked = bundle.verify(made)
    assert checked.summary["verdict"] == "failed"
    assert checked.about["harness_version"]
    with tarfile.open(made) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers()}
        inventory = tar.extractfile("conformance-r42/inventory.yaml").read().decode()  # type: ignore[union-attr]
    assert {
        "junit.xml",
        "summary.json",
        "allure-results/abc-result.json",
        "harness.json",
        "MANIFEST.sha256",
        "inventory.yaml",
    } <= names
    assert "abcdefghijklmnop" not in inventory  # redacted once more on the way in


@pytest.mark.parametrize("name", ["summary.json", "abc-result.json", "harness.json"])
def test_one_changed_byte_fails_verification_naming_the_file(reports: Path, name: str) -> None:
    made = bundle.make(reports, reports, root=ROOT)
    tamper(made, name)
    with pytest.raises(bundle.BundleError, match=rf"{name}: its SHA-256 differs"):
        bundle.verify(made)
    result = run(sys.executable, "-m", "conformance", "verify", str(made))
    assert result.returncode == 1
    assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_prints_the_summary_and_refuses_an_empty_reports_dir(
    reports: Path, tmp_path: Path
) -> None:
    made = run(sys.executable, "-m", "conformance", "bundle", "--reports", str(reports))
    assert made.returncode == 0, made.stderr
    path = made.stdout.split("bundle: ", 1)[1].strip()
    checked = run(sys.executable, "-m", "conformance", "verify", path)
    assert checked.returncode == 0, checked.stderr
    assert "run r42: failed" in checked.stdout
    assert "FAILED [gold] t: claim x is Pending" in checked.stdout
    empty = run(sys.executable, "-m", "conformance", "bundle", "--reports", str(tmp_path / "none"))
    assert empty.returncode == 1
    assert "run the suites first" in empty.stderr
