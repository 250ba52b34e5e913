"""The pytest plugin as a suite author sees it: prefixed options, markers, parametrization."""

from __future__ import annotations

import pytest

INVENTORY = """
cluster: {sim: {}}
storage:
  - name: disk
    provisioner: x
    expect: {scsi_vendor: V}
    capabilities: {scsi: true}
  - name: dir
    provisioner: y
    capabilities: {scsi: false}
"""

SUITE = """
import pytest

def test_each_storage_entry(storage):
    assert storage.name in ("disk", "dir")

@pytest.mark.scsi
def test_needs_scsi(storage):
    assert storage.capabilities.scsi
"""


def test_storage_entries_parametrize_and_capabilities_skip(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", inventory=INVENTORY)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "conformance.plugin", "--conformance-inventory", "inventory.yaml", "-rs", "-v"
    )
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_each_storage_entry[[]disk[]] PASSED*",
            "*storage 'dir' declares capabilities.scsi: false*",
        ]
    )


def test_options_share_the_prefix(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "conformance.plugin", "--help")
    options = [
        line.split()[0]
        for line in result.stdout.lines
        if "conformance" in line and line.strip().startswith("--")
    ]
    assert options
    assert all(option.startswith("--conformance-") for option in options)


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", inventory=INVENTORY)
    result = pytester.runpytest_subprocess(
        "-p", "conformance.plugin", "--conformance-inventory", "inventory.yaml", "--markers"
    )
    for marker in ("persistence", "exec", "scsi", "multinode", "disruptive", "slow"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{marker}:*"])
