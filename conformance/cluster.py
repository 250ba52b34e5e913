"""The official Kubernetes client in one place: create, read, patch, delete, exec, wait.

Transient API trouble (429, 5xx, dropped connections and watches) is retried with
backoff, so a flaky control plane does not fail a storage check. Waits follow
watches (conformance.waits) with timeouts from the inventory, and a timed-out wait
fails with what it last saw: pod phases and conditions, claim status, recent events.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubernetes import client, config, utils
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    SSLError,
)

from conformance import evidence
from conformance.inventory import Inventory, Timeouts
from conformance.nodes.base import CommandResult
from conformance.topology import NodeFacts
from conformance.waits import TRANSIENT_CODES, Seen, WaitTimeout, wait_for
from conformance.workloads import LABEL_RUN, LABEL_WORKER

T = TypeVar("T")

RETRY_DEADLINE = 60.0
CONNECT_TIMEOUT = 3.0  # seconds for the first contact with the API server


class ClusterError(Exception):
    """The cluster cannot be used; the message names what to fix."""


def pod_ready(pod: client.V1Pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return (
        pod.status is not None
        and pod.status.phase == "Running"
        and not pod.metadata.deletion_timestamp
        and any(c.type == "Ready" and c.status == "True" for c in conditions)
    )


def rolled_out(sts: client.V1StatefulSet) -> bool:
    """The set's status is settled for its spec: observed, every replica Ready, and each
    pod at the current or the update revision with none being replaced (a pod the
    controller deletes for an update leaves currentReplicas + updatedReplicas short)."""
    status = sts.status
    if status is None or (status.observed_generation or 0) < (sts.metadata.generation or 0):
        return False
    replicas = sts.spec.replicas if sts.spec.replicas is not None else 1
    if (status.ready_replicas or 0) != replicas or (status.replicas or 0) != replicas:
        return False
    if status.current_revision == status.update_revision:
        return (status.current_replicas or 0) == replicas
    return (status.current_replicas or 0) + (status.updated_replicas or 0) == replicas


@dataclass
class Cluster:
    api: client.ApiClient
    timeouts: Timeouts
    _streams: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _stream_clients: list[client.ApiClient] = field(default_factory=list, init=False, repr=False)

    # --- construction -------------------------------------------------------------

    @classmethod
    def from_inventory(cls, inventory: Inventory) -> Cluster:
        settings = inventory.cluster
        try:
            api = config.new_client_from_config(
                config_file=settings.kubeconfig, context=settings.context
            )
        except (config.ConfigException, OSError, TypeError, ValueError) as exc:
            raise ClusterError(
                f"cannot load kubeconfig {settings.kubeconfig or '~/.kube/config'}"
                f"{f' context {settings.context}' if settings.context else ''}: {exc} "
                "(cluster.kubeconfig / cluster.context in the inventory, or KUBECONFIG)"
            ) from None
        cluster = cls(api, inventory.timeouts)
        try:
            # No retries: a refused connection, an unknown host or a TLS mismatch will not
            # mend itself, and a user waiting a minute for that news stops trusting the tool.
            client.VersionApi(api).get_code(_request_timeout=(CONNECT_TIMEOUT, CONNECT_TIMEOUT))
        except (ApiException, HTTPError, OSError) as exc:
            host = api.configuration.host
            raise ClusterError(
                f"cannot reach the Kubernetes API at {host}: {_short(exc)} "
                "(check cluster.kubeconfig / cluster.context in the inventory, or KUBECONFIG)"
            ) from None
        return cluster

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def storage(self) -> client.StorageV1Api:
        return client.StorageV1Api(self.api)

    def _exec_api(self) -> client.CoreV1Api:
        """A client of this thread's own for exec: the official client's stream() swaps its
        ApiClient's request method while a WebSocket is open, so a shared ApiClient turns
        other threads' calls meanwhile into WebSocket handshakes."""
        mine = getattr(self._streams, "api", None)
        if mine is None:
            mine = self._streams.api = client.ApiClient(self.api.configuration)
            self._stream_clients.append(mine)
        return client.CoreV1Api(mine)

    def close(self) -> None:
        for api in self._stream_clients:
            api.close()
        self.api.close()

    # --- calls ----------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the API, retrying transient failures with backoff until a deadline."""
        deadline = time.monotonic() + RETRY_DEADLINE
        delay = 0.1
        while True:
            try:
                return fn(*args, **kwargs)
            except ApiException as exc:
                if _status(exc) not in TRANSIENT_CODES or time.monotonic() > deadline:
                    raise
                retry_after = (exc.headers or {}).get("Retry-After") if exc.headers else None
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
            except (HTTPError, ConnectionError) as exc:
                if not _transient(exc) or time.monotonic() > deadline:
                    raise
                wait = delay
            time.sleep(min(wait, 2.0))  # backoff before a retry, not synchronization
            delay = min(delay * 2, 2.0)

    def apply(
        self, manifest: dict[str, Any], namespace: str | None = None, *, exist_ok: bool = False
    ) -> None:
        """Create an object from a manifest (attached as evidence)."""
        kind = manifest.get("kind", "object")
        name = manifest.get("metadata", {}).get("name", "")
        with evidence.step(f"create {kind} {name}"):
            evidence.attach_yaml(f"{kind} {name}", manifest)
            self.call(self._create, manifest, namespace, exist_ok)

    def _create(self, manifest: dict[str, Any], namespace: str | None, exist_ok: bool) -> None:
        try:
            utils.create_from_dict(self.api, manifest, namespace=namespace)
        except utils.FailToCreateError as exc:
            failures = [e for e in exc.api_exceptions if not (exist_ok and e.status == 409)]
            if failures:
                raise failures[0] from None  # an ApiException: transient ones are retried

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        with evidence.step(f"scale StatefulSet {name} to {replicas}"):
            self.call(
                self.apps.patch_namespaced_stateful_set_scale,
                name,
                namespace,
                {"spec": {"replicas": replicas}},
            )

    def patch_statefulset(self, namespace: str, name: str, patch: dict[str, Any]) -> Any:
        """Patch the set (the patch attached as evidence); the set as the API server stored it,
        which shows what it kept (a field a feature gate drops is gone)."""
        with evidence.step(f"patch StatefulSet {name}"):
            evidence.attach_yaml(f"patch of StatefulSet {name}", patch)
            return self.call(self.apps.patch_namespaced_stateful_set, name, namespace, patch)

    def delete_pod(self, namespace: str, name: str, *, wait: bool = False) -> None:
        """Delete the pod; with ``wait``, until it is gone (up to ``timeouts.delete``): a
        pod a read-only suite added must not hold the shared set's claims afterwards."""
        with evidence.step(f"delete pod {name}"):
            self.call(self.core.delete_namespaced_pod, name, namespace)
            if wait:
                self.wait_pods(
                    namespace,
                    lambda seen: name not in seen.objects,
                    what=f"pod {name} to be deleted",
                    timeout=self.timeouts.delete,
                )

    def delete_statefulset(
        self, namespace: str, name: str, *, propagation: str = "Background"
    ) -> None:
        with evidence.step(f"delete StatefulSet {name} ({propagation})"):
            self.call(
                self.apps.delete_namespaced_stateful_set,
                name,
                namespace,
                propagation_policy=propagation,
            )

    def resize_claim(self, namespace: str, name: str, size: str) -> None:
        """Ask for a larger claim: patch ``spec.resources.requests.storage``."""
        with evidence.step(f"resize claim {name} to {size}"):
            self.call(
                self.core.patch_namespaced_persistent_volume_claim,
                name,
                namespace,
                {"spec": {"resources": {"requests": {"storage": size}}}},
            )

    def wait_claim(
        self,
        namespace: str,
        name: str,
        predicate: Callable[[Any], bool],
        *,
        what: str,
        timeout: float | None = None,
    ) -> Any:
        """Wait up to ``timeout`` (default ``timeouts.pod_ready``) for the claim to satisfy
        ``predicate``; the claim as last seen (None if gone), whether it did or not, for a
        check to judge."""
        seen = wait_for(
            self.core.list_namespaced_persistent_volume_claim,
            lambda seen: name in seen.objects and predicate(seen.objects[name]),
            timeout=timeout or self.timeouts.pod_ready,
            what=what,
            raise_on_timeout=False,
            namespace=namespace,
            field_selector=f"metadata.name={name}",
        )
        return seen.objects.get(name)

    def wait_claims_gone(self, namespace: str, names: list[str]) -> dict[str, Any]:
        """Wait up to ``timeouts.delete`` for the claims to go; the claims still there."""
        seen = wait_for(
            self.core.list_namespaced_persistent_volume_claim,
            lambda seen: not any(name in seen.objects for name in names),
            timeout=self.timeouts.delete,
            what=f"claims {', '.join(names)} to be deleted",
            raise_on_timeout=False,
            namespace=namespace,
        )
        return {name: seen.objects[name] for name in names if name in seen.objects}

    def delete_volumes(self, selector: str) -> None:
        """Delete the PersistentVolumes the harness made (static ones), found by label, and
        wait for them to go: a PV still bound stays until its claim is gone."""
        listed = self.call(self.core.list_persistent_volume, label_selector=selector).items
        names = [pv.metadata.name for pv in listed]
        for name in names:
            with evidence.step(f"delete PersistentVolume {name}"):
                try:
                    self.call(self.core.delete_persistent_volume, name)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
        if names:
            wait_for(
                self.core.list_persistent_volume,
                lambda seen: not any(name in seen.objects for name in names),
                timeout=self.timeouts.delete,
                what=f"PersistentVolumes {', '.join(names)} to be deleted",
                label_selector=selector,
            )

    def exec(
        self,
        namespace: str,
        pod: str,
        argv: list[str],
        *,
        timeout: float | None = None,
        record: bool = True,
    ) -> CommandResult:
        """Run a command in a pod's first container through the API (WebSocket exec).

        A command cut off by ``timeout`` returns exit code -1. ``record=False`` leaves the
        evidence to the caller (a node transport records the command it ran).
        """
        started = time.monotonic()
        session = self.call(
            stream,
            self._exec_api().connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=argv,
            stderr=True,
            stdout=True,
            stdin=False,
            tty=False,
            _preload_content=False,
        )
        try:
            session.run_forever(timeout=timeout or self.timeouts.command)
            code = session.returncode  # before reading: read_all() also drops the status
            stdout = session.read_stdout() if session.peek_stdout() else ""
            stderr = session.read_stderr() if session.peek_stderr() else ""
        finally:
            session.close()
        command = " ".join(argv)
        result = CommandResult(
            command=command,
            stdout=stdout,
            stderr=stderr,
            exit_code=-1 if code is None else int(code),
            duration=time.monotonic() - started,
        )
        if record:
            evidence.attach_command(f"pod {pod}", command, result.exit_code, stdout, stderr)
        return result

    # --- nodes: cordon, drain -------------------------------------------------------

    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        """Cordon (``spec.unschedulable: true``) or uncordon a node, as kubectl does."""
        verb = "cordon" if unschedulable else "uncordon"
        with evidence.step(f"{verb} node {node}"):
            self.call(self.core.patch_node, node, {"spec": {"unschedulable": unschedulable}})

    @contextmanager
    def cordoned(self, *nodes: str) -> Iterator[list[str]]:
        """The nodes cordoned for the body, uncordoned afterwards even when it failed; a
        node that was cordoned already stays so. Yields those this call cordoned."""
        done: list[str] = []
        try:
            for node in nodes:
                if not self.call(self.core.read_node, node).spec.unschedulable:
                    self.set_unschedulable(node, True)
                    done.append(node)
            yield done
        finally:
            for node in done:
                self.set_unschedulable(node, False)

    def evict(self, namespace: str, name: str) -> None:
        """Evict a pod through the Eviction API (policy/v1), as ``kubectl drain`` does: the
        server deletes it unless a PodDisruptionBudget forbids it (429), which is retried
        until ``timeouts.delete`` and then reported with the server's reason."""
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
        deadline = time.monotonic() + self.timeouts.delete
        with evidence.step(f"evict pod {name}"):
            while True:
                try:
                    self.call(self.core.create_namespaced_pod_eviction, name, namespace, body)
                    return
                except ApiException as exc:
                    if exc.status != 429 or time.monotonic() > deadline:
                        raise ClusterError(
                            f"pod {name} could not be evicted: {_short(exc)}: {_message(exc)}"
                        ) from None
                time.sleep(5.0)  # kubectl drain's retry interval while a budget refuses

    def node_heartbeat(self, node: str) -> str:
        """The Ready condition's lastHeartbeatTime of a node (RFC 3339), "" if none."""
        ready = _ready_condition(self.call(self.core.read_node, node))
        return str(ready.last_heartbeat_time.isoformat()) if ready is not None else ""

    def wait_node_ready(self, node: str, *, after_heartbeat: str = "") -> Any:
        """Wait until the node is Ready with a heartbeat later than ``after_heartbeat``
        (its kubelet posted status since), up to ``timeouts.pod_ready``; the Node."""

        def predicate(seen: Seen[Any]) -> bool:
            ready = _ready_condition(seen.objects.get(node))
            return (
                ready is not None
                and ready.status == "True"
                and ready.last_heartbeat_time is not None
                and ready.last_heartbeat_time.isoformat() > after_heartbeat
            )

        seen = wait_for(
            self.core.list_node,
            predicate,
            timeout=self.timeouts.pod_ready,
            what=f"node {node} Ready with a heartbeat after {after_heartbeat or 'none'}",
            describe=lambda s: f"  node {node}: {_describe_ready(s.objects.get(node))}",
            field_selector=f"metadata.name={node}",
        )
        return seen.objects[node]

    # --- namespaces -----------------------------------------------------------------

    @contextmanager
    def namespace(self, name: str, *, run_id: str, worker: str) -> Iterator[str]:
        """A labelled namespace, deleted afterwards even when the body failed."""
        self.create_namespace(name, run_id=run_id, worker=worker)
        try:
            yield name
        finally:
            self.delete_namespace(name)

    def create_namespace(self, name: str, *, run_id: str, worker: str) -> None:
        """A namespace labelled as this run's (``conformance clean`` finds it by that)."""
        labels = {LABEL_RUN: run_id, LABEL_WORKER: worker}
        self.call(self.core.create_namespace, {"metadata": {"name": name, "labels": labels}})

    def delete_namespace(self, name: str) -> None:
        try:
            self.call(self.core.delete_namespace, name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        wait_for(
            self.core.list_namespace,
            lambda seen: name not in seen.objects,
            timeout=self.timeouts.delete,
            what=f"namespace {name} to be deleted",
            field_selector=f"metadata.name={name}",
        )

    # --- nodes and scheduling ---------------------------------------------------------

    def as_json(self, obj: Any) -> dict[str, Any]:
        """An object of the client as the API's JSON (camelCase), for pure checks."""
        found: dict[str, Any] = self.api.sanitize_for_serialization(obj)
        return found

    def nodes(self) -> list[NodeFacts]:
        """Every node: name, labels, and whether it is cordoned."""
        listed = self.call(self.core.list_node)
        return [NodeFacts.of(self.as_json(node)) for node in listed.items]

    def ungate(self, namespace: str, pod: str) -> None:
        """Remove a pod's scheduling gates: the scheduler may place it from now on."""
        with evidence.step(f"remove the scheduling gates of pod {pod}"):
            self.call(
                self.core.patch_namespaced_pod, pod, namespace, {"spec": {"schedulingGates": None}}
            )

    def wait_events(
        self,
        namespace: str,
        name: str,
        predicate: Callable[[list[tuple[str, str]]], bool],
        *,
        what: str,
        timeout: float,
    ) -> list[tuple[str, str]]:
        """Watch the events about ``name`` until ``predicate`` holds of their (reason,
        message), or ``timeout``; the events seen either way."""
        seen = wait_for(
            self.core.list_namespaced_event,
            lambda seen: predicate(_reasons(seen.items())),
            timeout=timeout,
            what=what,
            raise_on_timeout=False,
            namespace=namespace,
            field_selector=f"involvedObject.name={name}",
        )
        return _reasons(seen.items())

    # --- waits ------------------------------------------------------------------------

    def wait_pods(
        self,
        namespace: str,
        predicate: Callable[[Seen[client.V1Pod]], bool],
        *,
        what: str,
        selector: str | None = None,
        timeout: float | None = None,
        since: str | None = None,
        seen: Seen[Any] | None = None,
        raise_on_timeout: bool = True,
    ) -> Seen[client.V1Pod]:
        kwargs: dict[str, Any] = {"namespace": namespace}
        if selector:
            kwargs["label_selector"] = selector
        try:
            return wait_for(
                self.core.list_namespaced_pod,
                predicate,
                timeout=timeout or self.timeouts.pod_ready,
                what=what,
                since=since,
                seen=seen,
                describe=lambda _: self.describe(namespace),
                raise_on_timeout=raise_on_timeout,
                **kwargs,
            )
        except WaitTimeout as exc:
            evidence.attach_text("namespace state at timeout", str(exc))
            raise

    def wait_ready(
        self,
        namespace: str,
        count: int,
        *,
        selector: str,
        since: str | None = None,
        raise_on_timeout: bool = True,
    ) -> Seen[client.V1Pod]:
        def predicate(seen: Seen[client.V1Pod]) -> bool:
            pods = seen.items()
            return len(pods) == count and all(pod_ready(p) for p in pods)

        return self.wait_pods(
            namespace,
            predicate,
            what=f"{count} pod(s) {selector} Running and Ready",
            selector=selector,
            since=since,
            raise_on_timeout=raise_on_timeout,
        )

    def wait_rolled_out(self, namespace: str, name: str) -> Any:
        """Wait until the controller has acted on the set's latest spec and every pod is
        Ready, each at the current or the update revision (``rolled_out``); the set."""
        seen = wait_for(
            self.apps.list_namespaced_stateful_set,
            lambda seen: name in seen.objects and rolled_out(seen.objects[name]),
            timeout=self.timeouts.pod_ready,
            what=f"StatefulSet {name} to finish acting on its update",
            describe=lambda _: self.describe(namespace),
            namespace=namespace,
            field_selector=f"metadata.name={name}",
        )
        return seen.objects[name]

    def resource_version(self, namespace: str) -> str:
        listed = self.call(self.core.list_namespaced_pod, namespace, limit=1)
        return str(listed.metadata.resource_version)

    # --- what a failure report needs ------------------------------------------------

    def describe(self, namespace: str) -> str:
        """Pods, claims and recent events of a namespace, for timeout messages."""
        lines: list[str] = []
        try:
            for pod in self.core.list_namespaced_pod(namespace).items:
                conditions = ", ".join(
                    f"{c.type}={c.status}" for c in (pod.status.conditions or [])
                )
                waiting = [
                    f"{s.name}: {s.state.waiting.reason}"
                    for s in (pod.status.container_statuses or [])
                    if s.state and s.state.waiting
                ]
                lines.append(
                    f"  pod {pod.metadata.name}: {pod.status.phase} on "
                    f"{pod.spec.node_name or '(unscheduled)'} [{conditions}]"
                    + (f" waiting {'; '.join(waiting)}" if waiting else "")
                    + (" (terminating)" if pod.metadata.deletion_timestamp else "")
                )
            for pvc in self.core.list_namespaced_persistent_volume_claim(namespace).items:
                lines.append(
                    f"  claim {pvc.metadata.name}: {pvc.status.phase} "
                    f"volume={pvc.spec.volume_name or '-'}"
                )
            lines += _event_lines(self.core.list_namespaced_event(namespace).items)
        except (ApiException, HTTPError, OSError) as exc:
            lines.append(f"  (could not describe namespace {namespace}: {_short(exc)})")
        return "\n".join(lines) or "  (namespace is empty)"


def _ready_condition(node: Any) -> Any:
    conditions = (node.status.conditions if node is not None and node.status else None) or []
    return next((c for c in conditions if c.type == "Ready"), None)


def _describe_ready(node: Any) -> str:
    ready = _ready_condition(node)
    if ready is None:
        return "no Ready condition" if node is not None else "not seen"
    return (
        f"Ready={ready.status} ({ready.reason}: {ready.message}), last heartbeat "
        f"{ready.last_heartbeat_time.isoformat() if ready.last_heartbeat_time else '-'}"
    )


def _message(exc: ApiException) -> str:
    """The message of a Status body the server answered with."""
    try:
        return str(json.loads(exc.body or "{}").get("message", "")) or str(exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)


def _reasons(events: list[Any]) -> list[tuple[str, str]]:
    ordered = sorted(events, key=lambda e: str(e.last_timestamp or e.event_time or ""))
    return [(str(e.reason or ""), str(e.message or "")) for e in ordered]


MAX_WARNINGS = 10
MAX_NORMAL = 5


def _event_lines(events: list[Any]) -> list[str]:
    """Recent events, repeats folded (``x10``), Warnings kept before routine Normal ones:
    the reason a pod cannot start must not drown in ten "image already present"."""
    folded: dict[tuple[str, str, str, str], list[Any]] = {}
    for event in sorted(events, key=lambda e: str(e.last_timestamp or e.event_time or "")):
        obj = event.involved_object
        key = (event.type or "", event.reason or "", f"{obj.kind}/{obj.name}", event.message or "")
        folded.setdefault(key, []).append(event)
    warnings = [k for k in folded if k[0] == "Warning"][-MAX_WARNINGS:]
    normal = [k for k in folded if k[0] != "Warning"][-MAX_NORMAL:]
    lines = []
    for key in [k for k in folded if k in warnings or k in normal]:
        kind, reason, obj, message = key
        count = sum(max(1, int(e.count or 1)) for e in folded[key])
        times = f" (x{count})" if count > 1 else ""
        lines.append(f"  event {kind} {reason} {obj}: {message}{times}")
    return lines


_HANDSHAKE = re.compile(r"Handshake status (\d{3})")


def _status(exc: ApiException) -> int:
    """The HTTP status of a failed call; for exec's WebSocket handshake the client reports
    status 0 and puts the server's answer (429, 503 ...) in the reason."""
    if exc.status:
        return int(exc.status)
    found = _HANDSHAKE.search(str(exc.reason or ""))
    return int(found.group(1)) if found else 0


def _transient(exc: BaseException) -> bool:
    """A dropped connection or a read timeout may mend; a refused connection, an unknown
    host or a TLS failure will not (they fail the run in seconds instead of a minute)."""
    reason = getattr(exc, "reason", None) if isinstance(exc, MaxRetryError) else exc
    return not isinstance(
        reason, (NewConnectionError, NameResolutionError, SSLError, ConnectionRefusedError)
    )


def _short(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, NameResolutionError):
        return "the host name does not resolve"
    if isinstance(exc, NewConnectionError):
        errno = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
        return errno.group(0) if errno else "cannot connect"
    if isinstance(exc, SSLError):
        return f"TLS handshake failed: {str(exc)[:160]}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
