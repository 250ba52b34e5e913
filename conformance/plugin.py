"""The pytest plugin: options (all prefixed ``--conformance-``), markers, fixtures, parametrization.

Loaded by the root conftest.py. Options share one prefix so that this plugin loads
beside others that define their own ``--kubeconfig``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance import inventory as inv

OPTION_PREFIX = "--conformance-"
INVENTORY_ENV = "CONFORMANCE_INVENTORY"

MARKERS: dict[str, str] = {
    **{
        name: f"needs the storage capability '{name}' (skipped where the inventory says false)"
        for name in inv.CAPABILITY_NAMES
    },
    "disruptive": "changes cluster state others may see (deletes pods, scales sets); runs serially",
    "slow": "takes more than a few seconds per parameter set",
}

_INVENTORY_KEY = pytest.StashKey[inv.Inventory]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "stateful storage conformance")
    group.addoption(
        f"{OPTION_PREFIX}inventory",
        dest="conformance_inventory",
        metavar="PATH",
        default=None,
        help=(
            f"inventory YAML (default: ${INVENTORY_ENV} or {inv.DEFAULT_INVENTORY} "
            "under the project root)"
        ),
    )


def inventory_path(config: pytest.Config) -> Path:
    """The inventory this run uses: option, then environment, then the embedded default."""
    given = config.getoption("conformance_inventory") or os.environ.get(INVENTORY_ENV)
    if given:
        return Path(given)
    return config.rootpath / inv.DEFAULT_INVENTORY


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if config.option.help or config.option.version:
        return
    try:
        config.stash[_INVENTORY_KEY] = inv.load(inventory_path(config))
    except inv.InventoryError as exc:
        raise pytest.UsageError(exc.render()) from None


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> inv.Inventory:
    """The validated inventory of this run."""
    return pytestconfig.stash[_INVENTORY_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage" in metafunc.fixturenames:
        entries = metafunc.config.stash[_INVENTORY_KEY].storage
        metafunc.parametrize("storage", entries, ids=[entry.name for entry in entries])


def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    entry = callspec.params.get("storage") if callspec is not None else None
    if not isinstance(entry, inv.Storage):
        return
    for mark in item.iter_markers():
        if mark.name in inv.CAPABILITY_NAMES and not getattr(entry.capabilities, mark.name):
            pytest.skip(
                f"storage '{entry.name}' declares capabilities.{mark.name}: false in the inventory"
            )


@pytest.fixture(scope="session")
def cluster(inventory: inv.Inventory) -> None:
    """The cluster under test. Placeholder until the suites' client layer lands."""
    pytest.skip(
        "the conformance checks and their cluster layer (conformance/cluster.py) are not "
        "built yet (issue 5); `conformance sim up` starts the simulated cluster meanwhile"
    )
