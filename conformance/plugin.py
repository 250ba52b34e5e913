"""The pytest plugin: options (all prefixed ``--conformance-``), markers, fixtures, parametrization.

Registered as a ``pytest11`` entry point, so it loads wherever the harness is installed.
Options share one prefix so that it loads beside plugins that define their own
``--kubeconfig``; it stays inert until a test asks for a storage entry or the cluster.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from conformance import evidence, progress, providers, workloads
from conformance import inventory as inv
from conformance.cluster import Cluster, ClusterError, pod_ready
from conformance.deployments import Case, Deployment
from conformance.nodes.base import CommandResult
from conformance.nodes.pod import PodOps
from conformance.nodes.pool import NodeShells
from conformance.reporting import fingerprint
from conformance.reporting.summary import Outcome, Summary, first_line

pytest_plugins = ("conformance.plugin_sets",)  # the sets' fixtures and run order

OPTION_PREFIX = "--conformance-"
INVENTORY_ENV = "CONFORMANCE_INVENTORY"
RUN_ID_ENV = "CONFORMANCE_RUN_ID"
STATE_ROOT_ENV = "CONFORMANCE_SIM_STATE_ROOT"  # where started clusters (the simulator) keep state

# What kind of volume an entry gives, as a marker: a test marked so skips other entries.
KINDS: dict[str, tuple[str, Callable[[inv.Storage], bool]]] = {
    "filesystem": (
        "with volumeMode Filesystem",
        lambda e: e.volume_mode is inv.VolumeMode.FILESYSTEM,
    ),
    "block": ("with volumeMode Block", lambda e: e.volume_mode is inv.VolumeMode.BLOCK),
    "disk": ("backed by a disk (not a file share)", lambda e: not e.share),
    "share": ("that are file shares (nfs, cifs, cephfs, fuse.*)", lambda e: e.share),
}

# What an entry must declare in the inventory for a test marked so: marker -> (field, why).
DECLARES: dict[str, tuple[str, str, Callable[[inv.Storage], bool]]] = {
    "static": (
        "static",
        "pre-provisioned volumes: static.pv, a PV template per ordinal",
        lambda e: e.static is not None,
    ),
}

MARKERS: dict[str, str] = {
    **{
        name: f"needs the storage capability '{name}' (skipped where the inventory says false)"
        for name in inv.CAPABILITY_NAMES
    },
    **{name: f"only for storage entries {what}" for name, (what, _) in KINDS.items()},
    **{
        name: f"only for storage entries that declare {field}: ({why})"
        for name, (field, why, _) in DECLARES.items()
    },
    "disruptive": "changes cluster state others may see (deletes pods, scales sets); runs serially",
    "after_readers": "with disruptive: takes over the read-only suites' set after the last "
    "of them, instead of deploying one of its own (one module only)",
    "slow": "takes more than a few seconds per parameter set",
    "per_entry": "runs once per storage entry (its first replica count and pod management "
    "policy), not for every case: for behaviours the policy does not change",
}

_INVENTORY_KEY = pytest.StashKey[inv.Inventory]()
_SUMMARY_KEY = pytest.StashKey[Summary]()
_STARTED_KEY = pytest.StashKey[float]()
SUMMARY_FILE = "summary.json"
EFFECTIVE_INVENTORY = "inventory.yaml"  # the run's inventory as used, secrets redacted
# the report hook gets no config: the controller's summary of this process's one session
_SESSION_SUMMARY: list[Summary | None] = [None]
_LOGS_KEY = pytest.StashKey[tuple[Path, ...]]()  # a started cluster's own logs
_LOG_OFFSETS_KEY = pytest.StashKey[dict[Path, int]]()  # their sizes when a test began
LOG_TAIL_LINES = 400  # of a started cluster's log, attached to a failed test


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "stateful storage conformance")
    group.addoption(
        f"{OPTION_PREFIX}reports",
        dest="conformance_reports",
        metavar="DIR",
        default=None,
        help="where summary.json, fingerprint.json, the effective inventory and kept "
        "cluster logs go (default: reports/ under the project root)",
    )
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


def reports_dir(config: pytest.Config) -> Path:
    """Where the run's summary, fingerprint, effective inventory and kept logs go."""
    given = config.getoption("conformance_reports")
    return Path(given) if given else config.rootpath / "reports"


def inventory_path(config: pytest.Config) -> Path | None:
    """The inventory this run uses: option, then environment, then the embedded default
    when the project has one; None when there is none (the plugin then stays inert)."""
    given = config.getoption("conformance_inventory") or os.environ.get(INVENTORY_ENV)
    if given:
        return Path(given)
    default = config.rootpath / inv.DEFAULT_INVENTORY
    return default if default.exists() else None


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    if config.option.help or config.option.version:
        return
    path = inventory_path(config)
    if path is None:
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    quiet = capture.global_and_fixture_disabled if capture is not None else contextlib.nullcontext
    progress.use(progress.for_terminal(quiet))
    try:
        config.stash[_INVENTORY_KEY] = inv.load(path)
    except inv.InventoryError as exc:
        raise pytest.UsageError(exc.render()) from None


def loaded_inventory(config: pytest.Config) -> inv.Inventory | None:
    """The run's inventory, or None when the run has none (the plugin stays inert)."""
    return config.stash.get(_INVENTORY_KEY, None)


def _loaded(config: pytest.Config) -> inv.Inventory:
    if _INVENTORY_KEY not in config.stash:
        raise pytest.UsageError(
            f"these tests need an inventory: pass {OPTION_PREFIX}inventory PATH or set "
            f"{INVENTORY_ENV} (examples in inventories/)"
        )
    return config.stash[_INVENTORY_KEY]


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> inv.Inventory:
    """The validated inventory of this run."""
    return _loaded(pytestconfig)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not {"storage", "case"} & set(metafunc.fixturenames):
        return
    loaded = _loaded(metafunc.config)
    if "storage" in metafunc.fixturenames:
        entries = loaded.storage
        metafunc.parametrize("storage", entries, ids=[entry.name for entry in entries])
    if "case" in metafunc.fixturenames:
        cases = [Case(*params) for params in inv.iter_parameters(loaded)]
        if metafunc.definition.get_closest_marker("per_entry") is not None:
            firsts: dict[str, Case] = {}
            for case in cases:
                firsts.setdefault(case.storage.name, case)
            cases = list(firsts.values())
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
    shown = progress.current()
    if shown is not None:
        callspec = getattr(item, "callspec", None)
        shown.label = callspec.id if callspec is not None else item.name
    logs = item.config.stash.get(_LOGS_KEY, ())
    item.stash[_LOG_OFFSETS_KEY] = {path: _size(path) for path in logs}
    reason = skip_reason(item)
    if reason is not None:
        pytest.skip(reason)


def skip_reason(item: pytest.Item) -> str | None:
    """Why the test does not apply to its storage entry (a capability switched off, a
    kind of volume it is not for), or None. Also keeps such tests' sets from being made."""
    entry = _entry_of(item)
    if entry is None:
        return None
    for mark in item.iter_markers():
        if mark.name in inv.CAPABILITY_NAMES and not getattr(entry.capabilities, mark.name):
            return (
                f"storage '{entry.name}' declares capabilities.{mark.name}: false in the inventory"
            )
        if mark.name in KINDS and not KINDS[mark.name][1](entry):
            kind = "a Block volume" if entry.volume_mode is inv.VolumeMode.BLOCK else entry.fs_type
            return f"only for entries {KINDS[mark.name][0]}; storage '{entry.name}' is {kind}"
        if mark.name in DECLARES and not DECLARES[mark.name][2](entry):
            field, why, _ = DECLARES[mark.name]
            return f"storage '{entry.name}' declares no {field}: in the inventory ({why})"
    return None


# --- the run: identity, target cluster, nodes --------------------------------------------


@dataclass
class Run:
    id: str
    worker: str
    inventory: inv.Inventory  # the effective one: for a started cluster, the one it wrote
    state_dir: Path | None = None  # a started cluster's state (its logs among it)


def _run_id(config: pytest.Config) -> str:
    given = os.environ.get(RUN_ID_ENV)
    if given:
        return given
    run_id = time.strftime("%m%d%H%M") + secrets.token_hex(2)
    os.environ[RUN_ID_ENV] = run_id  # xdist workers inherit it
    return run_id


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _keep_logs(started: providers.Started, reports: Path) -> Path | None:
    """Copy a started cluster's logs under reports/ (its state goes with it when it stops)."""
    kept = reports / "cluster-logs" / started.state_dir.name
    copied = False
    for log in started.logs:
        if log.is_file():
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copy2(log, kept / log.name)
            copied = True
    return kept if copied else None


@pytest.fixture(scope="session")
def run(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    worker_id: str,
    inventory: inv.Inventory,
) -> Iterator[Run]:
    """This process's run: the effective inventory, starting a provider's cluster if asked."""
    run_id = _run_id(pytestconfig)
    worker = worker_id if worker_id != "master" else "w0"
    chosen = inventory.cluster.provider
    if chosen is None:
        yield Run(run_id, worker, inventory)
        return
    name, settings = chosen
    unique = f"{run_id}-{worker}-{secrets.token_hex(3)}"  # runs may share an id and worker
    root = os.environ.get(STATE_ROOT_ENV) or pytestconfig.rootpath / "reports" / "sim-runs"
    base = inventory.model_dump(mode="json", exclude_none=True)
    try:
        started = providers.get(name).start(
            settings, base, state_dir=Path(root) / unique, owner_pid=os.getpid()
        )
    except providers.ProviderError as exc:
        _give_up(pytestconfig, str(exc))
    stop = providers.get(name).stop
    atexit.register(stop, started)  # also after Ctrl-C; stopping twice is harmless
    pytestconfig.stash[_LOGS_KEY] = started.logs
    try:
        yield Run(run_id, worker, inv.load(started.inventory, env={}), started.state_dir)
    finally:
        if request.session.testsfailed:  # a failed run keeps what the cluster logged
            kept = _keep_logs(started, reports_dir(pytestconfig))
            if kept is not None:
                print(f"\nthe started cluster's logs are kept in {kept}")
        stop(started)


def _give_up(config: pytest.Config, message: str) -> NoReturn:
    """End the run with one line (exit 3); a pytest-xdist worker cannot end the run, so
    there every test that needs the cluster errors with that line instead."""
    if hasattr(config, "workerinput"):
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=3)


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, run: Run) -> Iterator[Cluster]:
    """The cluster under test (the official client, retried and watched)."""
    try:
        connected = Cluster.from_inventory(run.inventory)
    except ClusterError as exc:
        _give_up(request.config, f"cannot use the cluster: {exc}")
    yield connected
    connected.close()


@dataclass(frozen=True)
class NodeAccess:
    """Whether node checks can run here: the node shells, or why there are none."""

    shells: NodeShells | None
    reason: str = ""


@pytest.fixture(scope="session")
def node_access(run: Run, cluster: Cluster) -> Iterator[NodeAccess]:
    """Node access, decided once: one shell per node over the inventory's transport."""
    nodes = run.inventory.nodes
    if nodes.access is inv.Access.NONE:
        yield NodeAccess(None, "the inventory sets nodes.access: none, so node checks cannot run")
        return

    def addresses_of(node_name: str) -> Any:
        return cluster.call(cluster.core.read_node, node_name).status.addresses

    with _pod_ops(run, cluster) as pod_ops:
        shells = NodeShells(
            nodes, run.inventory.timeouts, addresses_of=addresses_of, pod_ops=pod_ops
        )
        try:
            yield NodeAccess(shells)
        finally:
            shells.close()


@contextlib.contextmanager
def _pod_ops(run: Run, cluster: Cluster) -> Iterator[PodOps | None]:
    """For ``nodes.access: pod``: the cluster calls the HostExec transport needs, and a
    labelled namespace for its pods (unless ``nodes.pod.namespace`` names one)."""
    nodes = run.inventory.nodes
    if nodes.access is not inv.Access.POD:
        yield None
        return
    labels = workloads.labels(run.id, run.worker)

    def exec_in_pod(namespace: str, pod: str, argv: Sequence[str], timeout: float) -> CommandResult:
        return cluster.exec(namespace, pod, list(argv), timeout=timeout, record=False)

    def create_pod(namespace: str, manifest: dict[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        cluster.apply(manifest, namespace)
        cluster.wait_pods(
            namespace,
            lambda seen: name in seen.objects and pod_ready(seen.objects[name]),
            what=f"node shell pod {name} Running",
            timeout=run.inventory.timeouts.pod_ready,
        )

    def delete_pod(namespace: str, name: str) -> None:
        cluster.delete_pod(namespace, name)

    if nodes.pod is not None and nodes.pod.namespace:
        yield PodOps(exec_in_pod, create_pod, delete_pod, nodes.pod.namespace, labels)
        return
    with cluster.namespace(
        namespace_name(run, "node-shells", ""), run_id=run.id, worker=run.worker
    ) as namespace:
        yield PodOps(exec_in_pod, create_pod, delete_pod, namespace, labels)


@pytest.fixture(scope="session")
def node_shells(node_access: NodeAccess) -> NodeShells:
    """One shell per node; tests that need it skip, with the reason, without node access."""
    if node_access.shells is None:
        pytest.skip(node_access.reason)
    return node_access.shells


class StorageClasses:
    """The class name for each entry, creating the harness's own once per run (shared by
    every set of the entry; thread-safe, as sets are deployed from background threads)."""

    def __init__(self, run: Run, cluster: Cluster) -> None:
        self._run = run
        self._cluster = cluster
        self._made: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def name_for(self, entry: inv.Storage) -> str | None:
        with self._lock:
            if entry.name not in self._made:
                manifest = workloads.storage_class(
                    entry, run_id=self._run.id, worker=self._run.worker
                )
                if manifest is not None:
                    manifest["metadata"]["name"] += "-" + secrets.token_hex(2)
                    self._cluster.apply(manifest)
                self._made[entry.name] = manifest["metadata"]["name"] if manifest else None
            return self._made[entry.name] or entry.storage_class

    def delete(self) -> None:
        for entry_name, name in self._made.items():
            if name is None:
                continue
            try:
                self._cluster.call(self._cluster.storage.delete_storage_class, name)
            except Exception as exc:  # cleanup goes on: report, do not mask the test result
                print(f"warning: could not delete StorageClass {name} ({entry_name}): {exc}")


def suite_module(node: pytest.Item | pytest.Collector) -> str:
    """The suite a test or module belongs to: its file's name without ``test_``."""
    return Path(str(node.path)).stem.removeprefix("test_")


def namespace_name(run: Run, module: str, case: str) -> str:
    base = f"cf-{run.id}-{run.worker}-{module}-{case}".lower()
    base = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in base)[:55].strip("-")
    return f"{base}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def namespace(request: pytest.FixtureRequest, run: Run, cluster: Cluster) -> Iterator[str]:
    """A labelled namespace for one module, deleted afterwards (also after a failure)."""
    name = namespace_name(run, suite_module(request.node), "")
    with cluster.namespace(name, run_id=run.id, worker=run.worker):
        yield name


def write_fingerprint(
    request: pytest.FixtureRequest, run: Run, cluster: Cluster, classes: StorageClasses
) -> None:
    """What is certified: the cluster and the drivers as the run found them (and the
    effective inventory, secrets redacted), under reports/ for the report and the bundle."""
    if getattr(request.config, "workerinput", {}).get("workerid", "gw0") != "gw0":
        return  # one worker records it for the run
    entries = run.inventory.storage
    names = [name for name in (classes.name_for(e) for e in entries) if name]
    drivers = [e.provisioner for e in entries if e.provisioner]
    found = fingerprint.collect(cluster, names, drivers)
    found["drivers_asked"] = drivers or [c["provisioner"] for c in found["storage_classes"]]
    reports = reports_dir(request.config)
    fingerprint.write(found, reports / fingerprint.FINGERPRINT_FILE)
    effective = yaml.safe_dump(run.inventory.model_dump(mode="json", exclude_none=True))
    (reports / EFFECTIVE_INVENTORY).write_text(evidence.redact(effective))
    evidence.attach_text("cluster fingerprint", fingerprint.describe(found))


def _summary(config: pytest.Config) -> Summary | None:
    return config.stash.get(_SUMMARY_KEY, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        _run_id(session.config)
        path = inventory_path(session.config)
        session.config.stash[_SUMMARY_KEY] = _SESSION_SUMMARY[0] = Summary(
            run=os.environ.get(RUN_ID_ENV, "-"),
            inventory=str(path or "-"),
            started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        session.config.stash[_STARTED_KEY] = time.monotonic()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Every outcome, for the summary (under xdist, the controller sees the workers')."""
    summary = _SESSION_SUMMARY[0]
    if summary is None:
        return
    props = dict(report.user_properties)
    outcome = None
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = "failed" if report.failed else report.outcome
    elif report.when == "teardown" and report.failed:
        outcome = "failed"
    if outcome is None:
        return
    module = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    summary.outcomes.append(
        Outcome(
            test=report.nodeid,
            entry=str(props.get("conformance_entry", "-")),
            suite=module.removeprefix("test_"),
            outcome=outcome,
            message=str(props.get("conformance_message", "")),
            figures={
                key.removeprefix(evidence.FIGURES_PREFIX): value
                for key, value in report.user_properties
                if key.startswith(evidence.FIGURES_PREFIX)
            },
        )
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    summary = _summary(session.config)
    if summary is None or not any(o.entry != "-" for o in summary.outcomes):
        return  # no storage entry was tested: nothing to summarise
    summary.duration = time.monotonic() - session.config.stash.get(_STARTED_KEY, time.monotonic())
    summary.write(reports_dir(session.config) / SUMMARY_FILE)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary = _summary(config)
    if hasattr(config, "workerinput") or summary is None:
        return
    if not any(o.entry != "-" for o in summary.outcomes):
        return
    terminalreporter.write_sep("-", "conformance summary")
    terminalreporter.write_line(
        f"inventory: {summary.inventory}  run: {summary.run}  verdict: {summary.verdict}"
    )
    for line in summary.table():
        terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failed check, attach the namespace's pods, claims and recent events, and what
    a started cluster (the simulator: control plane, kubelets, nodes) logged meanwhile."""
    report = yield
    entry = _entry_of(item)
    if entry is None:  # a test of its own set (the seed's PetSet): the entry it deploys on
        held = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Deployment)]
        entry = held[0].case.storage if held else None
    if entry is not None:
        report.user_properties.append(("conformance_entry", entry.name))
    if report.failed and call.excinfo is not None:
        report.user_properties.append(("conformance_message", first_line(str(call.excinfo.value))))
    if report.failed and call.when in ("setup", "call"):
        _attach_cluster_logs(item)
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


def _attach_cluster_logs(item: pytest.Item) -> None:
    offsets = item.stash.get(_LOG_OFFSETS_KEY, {})
    for path in item.config.stash.get(_LOGS_KEY, ()):
        try:
            with path.open("rb") as log:
                log.seek(offsets.get(path, 0))
                lines = log.read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            continue
        shown = "\n".join(lines[-LOG_TAIL_LINES:])
        cut = (
            f"(last {LOG_TAIL_LINES} of {len(lines)} lines)\n"
            if len(lines) > LOG_TAIL_LINES
            else ""
        )
        evidence.attach_text(f"cluster log {path.name} during this test", cut + shown)
