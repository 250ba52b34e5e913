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


def _suite(*marks: str) -> str:
    pytestmark = ", ".join(f"pytest.mark.{mark}" for mark in marks)
    return f"import pytest\npytestmark = [{pytestmark}]\ndef test_it(deployed): pass\n"


def test_the_module_after_readers_runs_on_their_set_after_them(pytester: pytest.Pytester) -> None:
    """Per case: the read-only modules, then the one that takes over their set, then the
    modules with sets of their own (each set used in one stretch)."""
    pytester.makefile(".yaml", inventory=INVENTORY)
    pytester.makepyfile(
        test_a_scaling=_suite("disruptive"),
        test_b_deletion=_suite("disruptive", "after_readers"),
        test_c_mounts=_suite(),
    )
    result = pytester.runpytest_subprocess(
        "-p", "conformance.plugin", "--conformance-inventory", "inventory.yaml", "--co", "-q"
    )
    collected = [line.split("::")[0] for line in result.stdout.lines if "::test_it[" in line]
    per_case = ["test_c_mounts.py", "test_b_deletion.py", "test_a_scaling.py"]
    assert collected == per_case * 2, result.stdout.str()


def test_only_one_module_can_take_over_the_readers_set(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", inventory=INVENTORY)
    pytester.makepyfile(
        test_deletion=_suite("disruptive", "after_readers"),
        test_identity=_suite("disruptive", "after_readers"),
    )
    result = pytester.runpytest_subprocess(
        "-p", "conformance.plugin", "--conformance-inventory", "inventory.yaml", "--co", "-q"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*suite modules deletion, identity are all marked after_readers*"])
