"""The pytest plugin: options (all prefixed ``--conformance-``), markers, fixtures, parametrization.

Loaded by the root conftest.py. Options share one prefix so that this plugin loads
beside others that define their own ``--kubeconfig``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance import evidence, workloads
from conformance import inventory as inv
from conformance.cluster import Cluster, ClusterError
from conformance.deployments import Case, Deployment
from conformance.nodes.base import NodeShells

OPTION_PREFIX = "--conformance-"
INVENTORY_ENV = "CONFORMANCE_INVENTORY"
RUN_ID_ENV = "CONFORMANCE_RUN_ID"
SIM_STATE_ROOT_ENV = "CONFORMANCE_SIM_STATE_ROOT"  # where embedded simulators keep their state

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
    loaded = metafunc.config.stash[_INVENTORY_KEY]
    if "storage" in metafunc.fixturenames:
        entries = loaded.storage
        metafunc.parametrize("storage", entries, ids=[entry.name for entry in entries])
    if "case" in metafunc.fixturenames:
        cases = [Case(*params) for params in inv.iter_parameters(loaded)]
        metafunc.parametrize("case", cases, ids=[c.id for c in cases], scope="module")


def _entry_of(item: pytest.Item) -> inv.Storage | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    entry = callspec.params.get("storage")
    case = callspec.params.get("case")
    if isinstance(case, Case):
        entry = case.storage
    return entry if isinstance(entry, inv.Storage) else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    entry = _entry_of(item)
    if entry is None:
        return
    for mark in item.iter_markers():
        if mark.name in inv.CAPABILITY_NAMES and not getattr(entry.capabilities, mark.name):
            pytest.skip(
                f"storage '{entry.name}' declares capabilities.{mark.name}: false in the inventory"
            )


# --- the run: identity, target cluster, nodes --------------------------------------------


@dataclass
class Run:
    id: str
    worker: str
    inventory: inv.Inventory  # the effective one: for the embedded sim, the one it wrote
    sim_state: Path | None = None


def _run_id(config: pytest.Config) -> str:
    given = os.environ.get(RUN_ID_ENV)
    if given:
        return given
    run_id = time.strftime("%m%d%H%M") + secrets.token_hex(2)
    os.environ[RUN_ID_ENV] = run_id  # xdist workers inherit it
    return run_id


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        _run_id(session.config)


@pytest.fixture(scope="session")
def run(pytestconfig: pytest.Config, worker_id: str, inventory: inv.Inventory) -> Iterator[Run]:
    """This process's run: the effective inventory, starting the embedded sim if asked."""
    run_id = _run_id(pytestconfig)
    worker = worker_id if worker_id != "master" else "w0"
    settings = inventory.cluster.sim
    if settings is None:
        yield Run(run_id, worker, inventory)
        return
    from conformance.sim import lifecycle
    from conformance.sim.control_plane import SimConfig

    unique = f"{run_id}-{worker}-{secrets.token_hex(3)}"  # runs may share an id and worker
    root = os.environ.get(SIM_STATE_ROOT_ENV) or pytestconfig.rootpath / "reports" / "sim-runs"
    state = Path(root) / unique
    config = SimConfig(
        nodes=settings.nodes,
        profile=settings.profile.value,
        seed=settings.seed,
        faults=dict(settings.faults),
        state_dir=str(state),
        base_inventory=inventory.model_dump(
            mode="json", include={"storage", "workload", "timeouts"}, exclude_none=True
        ),
    )
    try:
        running = lifecycle.up(config, owner_pid=os.getpid())  # dies with this run
    except lifecycle.SimError as exc:
        pytest.exit(f"cannot start the embedded simulated cluster: {exc}", returncode=3)
    atexit.register(lifecycle.down, state)  # also after Ctrl-C
    try:
        yield Run(run_id, worker, inv.load(running.inventory, env={}), state)
    finally:
        lifecycle.down(state)


@pytest.fixture(scope="session")
def cluster(run: Run) -> Iterator[Cluster]:
    """The cluster under test (the official client, retried and watched)."""
    try:
        connected = Cluster.from_inventory(run.inventory)
    except ClusterError as exc:
        pytest.exit(f"cannot use the cluster: {exc}", returncode=3)
    yield connected
    connected.close()


@pytest.fixture(scope="session")
def node_shells(run: Run, cluster: Cluster) -> Iterator[NodeShells]:
    """One shell per node (SSH, docker exec or a privileged pod, per the inventory)."""
    if run.inventory.nodes.access is inv.Access.NONE:
        pytest.skip("the inventory sets nodes.access: none, so node checks cannot run")

    def addresses_of(node_name: str) -> Any:
        return cluster.call(cluster.core.read_node, node_name).status.addresses

    shells = NodeShells(run.inventory.nodes, run.inventory.timeouts, addresses_of=addresses_of)
    yield shells
    shells.close()


@pytest.fixture(scope="module")
def storage_class_for(run: Run, cluster: Cluster) -> Iterator[Callable[[inv.Storage], str | None]]:
    """The class name for an entry, creating (and later deleting) the harness's own."""
    created: dict[str, str | None] = {}

    def get(entry: inv.Storage) -> str | None:
        if entry.name not in created:
            manifest = workloads.storage_class(entry, run_id=run.id, worker=run.worker)
            if manifest is None:
                created[entry.name] = None
            else:
                manifest["metadata"]["name"] += "-" + secrets.token_hex(2)
                cluster.apply(manifest)
                created[entry.name] = manifest["metadata"]["name"]
        return created[entry.name] or entry.storage_class

    yield get
    for entry_name, name in created.items():
        if name is not None:
            try:
                cluster.call(cluster.storage.delete_storage_class, name)
            except Exception as exc:  # cleanup goes on: report, do not mask the test result
                print(f"warning: could not delete StorageClass {name} ({entry_name}): {exc}")


def namespace_name(run: Run, module: str, case: str) -> str:
    base = f"cf-{run.id}-{run.worker}-{module}-{case}".lower()
    base = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in base)[:55].strip("-")
    return f"{base}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def namespace(request: pytest.FixtureRequest, run: Run, cluster: Cluster) -> Iterator[str]:
    """A labelled namespace for one module, deleted afterwards (also after a failure)."""
    module = Path(str(request.node.path)).stem.removeprefix("test_")
    name = namespace_name(run, module, "")
    with cluster.namespace(name, run_id=run.id, worker=run.worker):
        yield name


@pytest.fixture(scope="module")
def statefulset(
    request: pytest.FixtureRequest,
    run: Run,
    cluster: Cluster,
    case: Case,
    storage_class_for: Callable[[inv.Storage], str | None],
) -> Iterator[Deployment]:
    """A StatefulSet of this parameter set, in its own namespace (not yet deployed)."""
    module = Path(str(request.node.path)).stem.removeprefix("test_")
    name = namespace_name(run, module, case.id)
    evidence.parameters(storage=case.storage.name, replicas=case.replicas, policy=case.policy.value)
    with cluster.namespace(name, run_id=run.id, worker=run.worker):
        yield Deployment(
            cluster=cluster,
            inventory=run.inventory,
            case=case,
            namespace=name,
            class_name=storage_class_for(case.storage),
            labels=workloads.labels(run.id, run.worker),
        )


@pytest.fixture(scope="module")
def deployed(statefulset: Deployment) -> Deployment:
    """The StatefulSet deployed: every pod Ready, every claim Bound."""
    statefulset.deploy()
    return statefulset


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _INVENTORY_KEY not in config.stash:
        return
    run_id = os.environ.get(RUN_ID_ENV, "-")
    stats = terminalreporter.stats
    counts = {key: len(stats.get(key, [])) for key in ("passed", "failed", "error", "skipped")}
    terminalreporter.write_sep("-", "conformance summary")
    terminalreporter.write_line(f"inventory: {inventory_path(config)}  run: {run_id}")
    terminalreporter.write_line("  ".join(f"{key}: {value}" for key, value in counts.items()))
    for report in stats.get("failed", []):
        terminalreporter.write_line(f"FAILED {report.nodeid}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failed check, attach the namespace's pods, claims and recent events."""
    report = yield
    if report.failed and call.when == "call":
        funcargs = getattr(item, "funcargs", {})
        dep = funcargs.get("deployed") or funcargs.get("statefulset") or funcargs.get("seed")
        if isinstance(dep, Deployment):
            try:
                evidence.attach_text(
                    f"namespace {dep.namespace} at failure", dep.cluster.describe(dep.namespace)
                )
            except Exception as exc:  # evidence must never hide the real failure
                report.sections.append(("conformance", f"could not describe namespace: {exc}"))
    return report
