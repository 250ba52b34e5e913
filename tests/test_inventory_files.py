"""Shipped inventories validate; malformed ones are reported by field path, on one screen."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run

SHIPPED = sorted((ROOT / "inventories").glob("*.yaml"))
MALFORMED = sorted((ROOT / "tests" / "inventories" / "bad").glob("*.yaml"))
SCREEN_LINES = 25


def expected_paths(path: Path) -> list[str]:
    """The `# expect: PATH` header lines of a malformed inventory."""
    found = re.findall(r"^# expect: (.+)$", path.read_text(), flags=re.MULTILINE)
    assert found, f"{path.name} has no '# expect:' line"
    return found


def test_at_least_fifteen_malformed_cases_exist() -> None:
    assert len(MALFORMED) >= 15


def test_shipped_inventories_are_the_three_documented_ones() -> None:
    assert {path.name for path in SHIPPED} >= {"sim.yaml", "kind.yaml", "lab-example.yaml"}


def test_every_shipped_inventory_validates(conformance_cli) -> None:
    result = conformance_cli("inventory", "validate", *map(str, SHIPPED))
    assert result.returncode == 0, result.stderr
    for path in SHIPPED:
        assert f"{path}: ok" in result.stdout


@pytest.mark.parametrize("path", MALFORMED, ids=[path.stem for path in MALFORMED])
def test_malformed_inventory_names_each_bad_field(conformance_cli, path: Path) -> None:
    result = conformance_cli("inventory", "validate", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) <= SCREEN_LINES
    reported = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    for want in expected_paths(path):
        # a problem line starts with the exact path, then its line number or the colon
        assert any(
            line.startswith(f"{want} (line") or line.startswith(f"{want}:") for line in reported
        ), f"{want!r} not reported in:\n{result.stderr}"


def test_validate_reports_good_and_bad_files_together(conformance_cli) -> None:
    result = conformance_cli(
        "inventory", "validate", str(SHIPPED[0]), str(MALFORMED[0]), str(SHIPPED[-1])
    )
    assert result.returncode == 1
    assert result.stdout.count(": ok") == 2
    assert f"{MALFORMED[0]}: invalid inventory" in result.stderr


def test_missing_file_is_one_line_not_a_traceback(conformance_cli, tmp_path: Path) -> None:
    result = conformance_cli("inventory", "validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_many_problems_are_capped_to_one_screen(conformance_cli, tmp_path: Path) -> None:
    keys = "\n".join(f"bogus{i}: 1" for i in range(40))
    path = tmp_path / "noisy.yaml"
    path.write_text(
        f"cluster: {{kubeconfig: /k}}\nstorage: [{{name: a, storage_class: a}}]\n{keys}\n"
    )
    result = conformance_cli("inventory", "validate", str(path))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) <= SCREEN_LINES
    assert "and 20 more" in result.stderr


def test_schema_describes_every_section_and_forbids_unknown_keys(conformance_cli) -> None:
    result = conformance_cli("inventory", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) == {"cluster", "nodes", "storage", "workload", "timeouts"}
    assert schema["additionalProperties"] is False
    storage = schema["$defs"]["Storage"]
    assert storage["additionalProperties"] is False
    assert "fs_type" in storage["properties"]


def test_bad_inventory_stops_pytest_with_the_field_list(tmp_path: Path) -> None:
    bad = ROOT / "tests" / "inventories" / "bad" / "bad-fs-type.yaml"
    result = run(
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "--conformance-inventory",
        str(bad),
    )
    output = result.stdout + result.stderr
    assert result.returncode not in (0, 5), output
    assert "storage[0].fs_type (line 7)" in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) <= SCREEN_LINES
