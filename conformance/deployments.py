"""A StatefulSet under test: how it was deployed, and how to look at its pods and claims.

Suites hold one of these per parameter set; it knows the names upstream derives
(pods `<set>-<n>`, claims `<template>-<set>-<n>`) and reads everything through the
``Cluster`` layer, so suites never touch the Kubernetes client directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from conformance import checks, evidence, workloads
from conformance.cluster import Cluster, pod_ready
from conformance.inventory import Inventory, PodManagementPolicy, Storage, VolumeMode
from conformance.nodes.base import CommandResult
from conformance.reporting import timeline


class DeployFailed(AssertionError):
    """The set did not come up; the message names the claims or pods and what they lack."""


@dataclass(frozen=True)
class Case:
    """One parameter set of the suites: a storage entry, a replica count, a policy."""

    storage: Storage
    replicas: int
    policy: PodManagementPolicy

    @property
    def id(self) -> str:
        return f"{self.storage.name}-r{self.replicas}-{self.policy.value}"

    def __repr__(self) -> str:
        # what reports show as the test's parameter: the id, never the entry's parameters
        # (a StorageClass parameter may hold a secret)
        return f"Case({self.id})"


@dataclass
class Deployment:
    cluster: Cluster
    inventory: Inventory
    case: Case
    namespace: str
    class_name: str | None  # None: the claim template names no class (the default applies)
    labels: dict[str, str]
    set_name: str = ""
    claim_template: str = ""
    app_label: str = ""  # the pods' `app` label; the set's name unless a manifest says else
    manifests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.set_name = self.set_name or self.inventory.workload.set_name
        self.claim_template = self.claim_template or self.inventory.workload.claim_template

    # --- names ------------------------------------------------------------------------

    @property
    def selector(self) -> str:
        return f"{workloads.APP_LABEL}={self.app_label or self.set_name}"

    @property
    def mount_path(self) -> str:
        return self.inventory.workload.mount_path

    def pod_name(self, ordinal: int) -> str:
        return f"{self.set_name}-{ordinal}"

    def claim_name(self, ordinal: int) -> str:
        return f"{self.claim_template}-{self.set_name}-{ordinal}"

    def claim_names(self, replicas: int | None = None) -> list[str]:
        return [
            self.claim_name(i) for i in range(self.case.replicas if replicas is None else replicas)
        ]

    # --- deploying --------------------------------------------------------------------

    def variant(self, suffix: str) -> Deployment:
        """Another set of this case in the same namespace, named ``<set>-<suffix>``: for
        tests that need a set shaped otherwise (a policy, a strategy, more templates)."""
        return dataclasses.replace(
            self, set_name=f"{self.set_name}-{suffix}", app_label="", manifests=[]
        )

    def template_view(self, template: str, mount_path: str) -> Deployment:
        """This set seen through another of its claim templates (claims
        ``<template>-<set>-<n>``, mounted at ``mount_path``): for sets with several."""
        workload = self.inventory.workload.model_copy(
            update={"claim_template": template, "mount_path": mount_path}
        )
        inventory = self.inventory.model_copy(update={"workload": workload})
        return dataclasses.replace(self, inventory=inventory, claim_template=template)

    def build(
        self,
        *,
        replicas: int | None = None,
        retention: dict[str, str] | None = None,
        shape: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """The Service and StatefulSet manifests for this case; ``shape`` edits the
        StatefulSet manifest in place (an update strategy, a security context...)."""
        self.manifests = [
            workloads.headless_service(self.set_name, self.set_name, self.labels),
            workloads.statefulset(
                name=self.set_name,
                service_name=self.set_name,
                storage=self.case.storage,
                class_name=self.class_name or "",
                workload=self.inventory.workload,
                replicas=self.case.replicas if replicas is None else replicas,
                policy=self.case.policy,
                labels=self.labels,
                retention=retention,
                claim_template=self.claim_template,
            ),
        ]
        if shape is not None:
            shape(self.manifests[-1])

    def deploy(
        self,
        *,
        replicas: int | None = None,
        retention: dict[str, str] | None = None,
        shape: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Apply the manifests and wait until every pod is Ready and every claim Bound."""
        if not self.manifests or retention is not None or replicas is not None or shape:
            self.build(replicas=replicas, retention=retention, shape=shape)
        count = self.case.replicas if replicas is None else replicas
        for manifest in self.manifests:
            # a re-created set finds its Service still there
            self.cluster.apply(manifest, self.namespace, exist_ok=manifest["kind"] == "Service")
        self.wait_up(count)

    def switch_retention(self, retention: dict[str, str]) -> None:
        """Give the set this claim retention policy and wait until its controller acted on
        it (upstream re-owns the claims in that sync). A set that is gone (a test before
        failed half-way) is deployed with the policy instead."""
        patch = {"spec": {"persistentVolumeClaimRetentionPolicy": retention}}
        try:
            self.cluster.patch_statefulset(self.namespace, self.set_name, patch)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.deploy(retention=retention)
            return
        self.build(retention=retention)  # a later re-creation keeps the policy
        self.cluster.wait_rolled_out(self.namespace, self.set_name)

    def recreate_pod(self, ordinal: int) -> Any:
        """Delete pod ``ordinal`` and wait for the set to bring it back Ready; the new pod."""
        name = self.pod_name(ordinal)
        old = self.pod(ordinal)
        since = self.cluster.resource_version(self.namespace)
        self.cluster.delete_pod(self.namespace, name)
        seen = self.cluster.wait_pods(
            self.namespace,
            lambda seen: (
                name in seen.objects
                and seen.objects[name].metadata.uid != old.metadata.uid
                and pod_ready(seen.objects[name])
            ),
            what=f"{name} to come back",
            selector=self.selector,
            since=since,
        )
        evidence.attach_svg(
            f"{name} deleted and back", timeline.svg(seen.timeline, f"{name} re-created")
        )
        return self.pod(ordinal)

    def add_claim_pod(
        self,
        claim: str,
        *,
        suffix: str = "reader",
        avoid_node: str | None = None,
        node: str | None = None,
        image: str | None = None,
    ) -> str:
        """Create a pod ``<set>-<suffix>`` using ``claim`` (kept off ``avoid_node``, or on
        ``node``; of ``image``, else the workload's), without waiting for it; its name."""
        name = f"{self.set_name}-{suffix}"
        storage = self.case.storage
        manifest = workloads.claim_pod(
            name,
            claim,
            workload=self.inventory.workload,
            labels=self.labels,
            avoid_node=avoid_node,
            node=node,
            device_path=storage.device_path if storage.volume_mode is VolumeMode.BLOCK else None,
            image=image,
        )
        self.cluster.apply(manifest, self.namespace)
        return name

    def start_reader(self, claim: str, *, avoid_node: str) -> Any:
        """A second pod mounting ``claim``, on another node than ``avoid_node``; Ready. The
        caller deletes it."""
        name = self.add_claim_pod(claim, avoid_node=avoid_node)
        try:
            self.cluster.wait_pods(
                self.namespace,
                lambda seen: name in seen.objects and pod_ready(seen.objects[name]),
                what=f"{name} Running on another node than {avoid_node}",
            )
        except BaseException:  # the caller never gets its name to delete it
            self.cluster.delete_pod(self.namespace, name)
            raise
        return self.cluster.call(self.cluster.core.read_namespaced_pod, name, self.namespace)

    def start_beside(self, pod: str, image: str, *, suffix: str) -> str:
        """A pod of ``image`` on ``pod``'s node using its claim (a tool the workload image
        lacks), Running; its name. The caller deletes it."""
        found = self.cluster.call(self.cluster.core.read_namespaced_pod, pod, self.namespace)
        name = self.add_claim_pod(
            self.claim_of_pod(found) or "", suffix=suffix, node=found.spec.node_name, image=image
        )
        self.cluster.wait_pods(
            self.namespace,
            lambda seen: name in seen.objects and pod_ready(seen.objects[name]),
            what=f"{name} ({image}) Running beside {pod}",
        )
        return name

    def apply_manifest(self, manifest: dict[str, Any]) -> None:
        """Deploy a manifest someone else wrote (e.g. a converted PetSet)."""
        self.cluster.apply(manifest, self.namespace)

    def wait_up(self, count: int | None = None) -> None:
        """Wait until ``count`` pods are Ready (so their claims are Bound); DeployFailed
        names each pod and claim that is not, with the namespace's events."""
        count = self.case.replicas if count is None else count
        with evidence.step(f"wait for {count} pod(s) Ready and their claims Bound"):
            seen = self.cluster.wait_ready(
                self.namespace, count, selector=self.selector, raise_on_timeout=False
            )
            claims = self.claims()
            problems = checks.pods_ready(seen.objects, [self.pod_name(n) for n in range(count)])
            problems += checks.claims_bound(
                claims, [c for c in self.claim_names(count) if c in claims]
            )
            if problems:
                state = self.cluster.describe(self.namespace)
                evidence.attach_text("namespace state at timeout", state)
                raise DeployFailed(
                    "\n".join(problems)
                    + f"\n(after {self.cluster.timeouts.pod_ready:g}s, timeouts.pod_ready; "
                    f"namespace {self.namespace}:)\n{state}"
                )

    # --- reading ----------------------------------------------------------------------

    def pods(self) -> list[Any]:
        listed = self.cluster.call(
            self.cluster.core.list_namespaced_pod, self.namespace, label_selector=self.selector
        )
        return sorted(listed.items, key=lambda p: ordinal(p.metadata.name))

    def ready_pods(self) -> list[Any]:
        return [p for p in self.pods() if pod_ready(p)]

    def pod(self, ordinal: int) -> Any:
        return self.cluster.call(
            self.cluster.core.read_namespaced_pod, self.pod_name(ordinal), self.namespace
        )

    def claims(self) -> dict[str, Any]:
        listed = self.cluster.call(
            self.cluster.core.list_namespaced_persistent_volume_claim, self.namespace
        )
        return {c.metadata.name: c for c in listed.items}

    def claim(self, ordinal: int) -> Any:
        return self.cluster.call(
            self.cluster.core.read_namespaced_persistent_volume_claim,
            self.claim_name(ordinal),
            self.namespace,
        )

    def volume(self, name: str) -> Any:
        return self.cluster.call(self.cluster.core.read_persistent_volume, name)

    def volumes_of(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The PVs the claims are bound to, by PV name."""
        names = {c.spec.volume_name for c in claims.values() if c.spec.volume_name}
        return {name: self.volume(name) for name in sorted(names)}

    def claims_mounted(self) -> dict[str, str | None]:
        """Pod name -> the claim its spec mounts for our template."""
        return {p.metadata.name: self.claim_of_pod(p) for p in self.pods()}

    def claim_of_pod(self, pod: Any) -> str | None:
        """The claim the pod mounts for our template (what the kubelet really mounted)."""
        for volume in pod.spec.volumes or []:
            if volume.name == self.claim_template and volume.persistent_volume_claim:
                return str(volume.persistent_volume_claim.claim_name)
        return None

    def exec(self, pod: str, argv: list[str] | tuple[str, ...]) -> CommandResult:
        return self.cluster.exec(self.namespace, pod, list(argv))


def ordinal(name: str) -> int:
    """The ordinal of a pod name `<set>-<n>` (names without one sort last)."""
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 1 << 30
