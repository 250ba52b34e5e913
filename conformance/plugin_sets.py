"""The pytest side of the set pool (conformance.sets): which set each test uses, the
run order that uses each set in one stretch, and the fixtures that deploy sets ahead and
delete each after its last test. Loaded by conformance.plugin (its ``pytest_plugins``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance import evidence, sets, workloads
from conformance import inventory as inv
from conformance.cluster import Cluster
from conformance.deployments import Case, Deployment
from conformance.plugin import (
    Run,
    StorageClasses,
    loaded_inventory,
    namespace_name,
    skip_reason,
    suite_module,
    write_fingerprint,
)


def _set_key(item: pytest.Item, groups: sets.SetGroups) -> sets.SetKey | None:
    """The set a test uses (None if it uses none, or will be skipped before it would)."""
    if not {"deployed", "statefulset"} & set(getattr(item, "fixturenames", ())):
        return None
    if skip_reason(item) is not None:
        return None
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    if not isinstance(case, Case):
        return None
    return sets.SetKey.of(groups.group(suite_module(item)), case)


def _set_groups(items: list[pytest.Item]) -> sets.SetGroups:
    def marked(name: str) -> set[str]:
        return {suite_module(i) for i in items if i.get_closest_marker(name) is not None}

    try:
        disruptive = marked("disruptive")
        return sets.SetGroups.of(disruptive, marked("after_readers") & disruptive)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_xdist_groups(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With ``-n N --dist loadgroup`` the tests of one set go to one worker (an
    ``xdist_group`` per set), so workers run different sets side by side and none is
    deployed twice. Before xdist's own hook, which reads the groups."""
    # xdist's workers (which collect) see dist "no" and the choice in option.loadgroup
    grouped = config.getoption("dist", "no") == "loadgroup" or getattr(
        config.option, "loadgroup", False
    )
    if loaded_inventory(config) is None or not grouped:
        return
    groups = _set_groups(items)
    for item in items:
        key = _set_key(item, groups)
        if key is not None:
            item.add_marker(pytest.mark.xdist_group(f"{key.group}-{key.case_id}"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Run the tests of one case together, read-only suites first (then the module that
    takes over their set), so each set is used in one stretch and can be deleted after
    it (and the next deployed meanwhile)."""
    inventory = loaded_inventory(config)
    if inventory is None:
        return
    groups = _set_groups(items)
    cases = [Case(*params) for params in inv.iter_parameters(inventory)]
    order = {case.id: n for n, case in enumerate(cases)}
    modules = {m: n for n, m in enumerate(dict.fromkeys(suite_module(i) for i in items))}

    def rank(indexed: tuple[int, pytest.Item]) -> tuple[int, int, int, int]:
        index, item = indexed
        key = _set_key(item, groups)
        if key is None:
            return (len(cases), 0, 0, index)
        module = suite_module(item)
        return (order.get(key.case_id, len(cases)), groups.stage(module), modules[module], index)

    items[:] = [item for _, item in sorted(enumerate(items), key=rank)]


_POOL_KEY = pytest.StashKey[sets.SetPool]()
_LAST_USE_KEY = pytest.StashKey[dict[str, sets.SetKey]]()  # nodeid -> set it last uses


@pytest.fixture(scope="session")
def set_pool(request: pytest.FixtureRequest, run: Run, cluster: Cluster) -> Iterator[sets.SetPool]:
    """The run's sets: deployed ahead in run order when the run is one process (with
    pytest-xdist each worker deploys what its tests ask for, when they ask)."""
    config = request.config
    classes = StorageClasses(run, cluster)
    labels = workloads.labels(run.id, run.worker)

    def make(key: sets.SetKey) -> tuple[Deployment, Callable[[], None]]:
        name = namespace_name(run, key.group, key.case.id)
        cluster.create_namespace(name, run_id=run.id, worker=run.worker)
        deployment = Deployment(
            cluster=cluster,
            inventory=run.inventory,
            case=key.case,
            namespace=name,
            class_name=classes.name_for(key.case.storage),
            labels=labels,
        )
        return deployment, lambda: cluster.delete_namespace(name)

    write_fingerprint(request, run, cluster, classes)
    ahead = not hasattr(config, "workerinput") and config.getoption("dist", "no") == "no"
    limit = run.inventory.workload.max_concurrent_sets
    pool = sets.SetPool(make, limit=limit if ahead else None, workers=limit)
    config.stash[_POOL_KEY] = pool
    if ahead:
        items = request.session.items
        groups = _set_groups(items)
        keyed = [(item, _set_key(item, groups)) for item in items]
        pool.plan(list(dict.fromkeys(key for _, key in keyed if key is not None)))
        last: dict[sets.SetKey, str] = {key: item.nodeid for item, key in keyed if key is not None}
        config.stash[_LAST_USE_KEY] = {nodeid: key for key, nodeid in last.items()}
    try:
        yield pool
    finally:
        pool.close()
        classes.delete()


@pytest.fixture(scope="module")
def deployed(
    request: pytest.FixtureRequest, set_pool: sets.SetPool, case: Case
) -> Iterator[Deployment]:
    """This case's StatefulSet, deployed: every pod Ready, every claim Bound. Read-only
    suites share one per case; a module with disruptive tests has its own, or takes over
    the shared one after them (``after_readers``)."""
    module = suite_module(request.node)
    groups = _set_groups(request.session.items)
    evidence.parameters(storage=case.storage.name, replicas=case.replicas, policy=case.policy.value)
    key = sets.SetKey.of(groups.group(module), case)
    yield set_pool.get(key)
    if _LAST_USE_KEY not in request.config.stash and groups.owns_a_set(module):
        set_pool.release(key)  # with xdist: the module's set goes with the module


@pytest.fixture(scope="module")
def statefulset(deployed: Deployment) -> Deployment:
    """The module's set, for tests that add sets of their own to its namespace."""
    return deployed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After the last test that uses a set, delete it: its slot goes to the next set."""
    try:
        return (yield)
    finally:
        key = item.config.stash.get(_LAST_USE_KEY, {}).get(item.nodeid)
        pool = item.config.stash.get(_POOL_KEY, None)
        if key is not None and pool is not None:
            pool.release(key)
