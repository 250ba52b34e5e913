"""Pre-provisioned volumes, as in the seed (pv-datera-0..n bound to pv-claim-test-petset-0..n):
static PVs made from the entry's ``static:`` template go to the claims they were made
for, by claimRef (PV n to ordinal n) or by the claim template's label selector, and stay
there, data intact, when a pod is deleted and comes back.

Each test has a namespace and PVs of its own, all deleted after it (the PVs last, once
their claims are gone), so a vendor's fixed list of volumes (``static.handles``) serves
both tests in turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from conformance import checks, evidence, observe, probes, static_volumes, workloads
from conformance.checks import fail_on
from conformance.cluster import Cluster
from conformance.deployments import Case, Deployment
from conformance.plugin import Run, namespace_name

pytestmark = [
    pytest.mark.static,
    pytest.mark.disruptive,
    pytest.mark.per_entry,
    pytest.mark.persistence,
    pytest.mark.filesystem,
]

PAYLOAD = "static.bin"


@dataclass
class StaticSet:
    dep: Deployment
    volumes: dict[str, str] = field(default_factory=dict)  # claim -> the PV made for it
    decoys: list[str] = field(default_factory=list)  # PVs no claim may take


@contextlib.contextmanager
def static_set(run: Run, cluster: Cluster, case: Case, binding: str) -> Iterator[StaticSet]:
    """A set whose claims find their PVs already there; everything deleted afterwards."""
    static = case.storage.static
    assert static is not None  # the `static` marker skips entries without one
    short = static_volumes.handles_for(static, case.replicas)
    if short:
        pytest.skip(short)
    name = namespace_name(run, "static", case.id)
    try:
        with cluster.namespace(name, run_id=run.id, worker=run.worker) as namespace:
            dep = Deployment(
                cluster=cluster,
                inventory=run.inventory,
                case=case,
                namespace=namespace,
                class_name=None,
                labels=workloads.labels(run.id, run.worker),
            )
            made = StaticSet(dep)
            # with a selector, one more PV of the same shape outside the pool: a decoy
            count = case.replicas + (binding == static_volumes.SELECTOR)
            for ordinal in range(count):
                claim = dep.claim_name(ordinal)
                pv = static_volumes.volume(
                    case.storage,
                    ordinal=ordinal,
                    claim=claim,
                    namespace=namespace,
                    set_name=dep.set_name,
                    run_id=run.id,
                    labels=dep.labels,
                    pool=namespace if ordinal < case.replicas else "",
                    binding=binding,
                )
                cluster.apply(pv)
                if ordinal < case.replicas:
                    made.volumes[claim] = pv["metadata"]["name"]
                else:
                    made.decoys.append(pv["metadata"]["name"])
            dep.deploy(
                shape=lambda manifest: static_volumes.claim_templates_use(
                    manifest, static, binding=binding, pool=namespace
                )
            )
            yield made
    finally:
        cluster.delete_volumes(f"{static_volumes.NAMESPACE_LABEL}={name}")


def _survives_pod_deletion(dep: Deployment) -> list[str]:
    """The last pod, deleted, comes back with the same claim and volume and its data."""
    ordinal = dep.case.replicas - 1
    name = dep.pod_name(ordinal)
    claim_before = dep.claim(ordinal)
    payload = probes.Payload.random()
    fail_on(checks.written(observe.write_payload(dep, name, payload, PAYLOAD)))
    new = dep.recreate_pod(ordinal)
    claim_after = dep.claims().get(claim_before.metadata.name)
    problems = checks.kept_claim_and_volume(name, dep.claim_of_pod(new), claim_before, claim_after)
    problems += checks.payload_intact(observe.read_back(dep, name, PAYLOAD), payload)
    views = observe.volume_views(dep, None, ordinal, container=True)
    problems += checks.container_mount(views, fs_type=dep.case.storage.fs_type, writable=True)
    return problems


def test_each_ordinal_gets_the_volume_pre_bound_to_its_claim(
    run: Run, cluster: Cluster, case: Case
) -> None:
    evidence.label_suite("static volumes", "claimRef: PV n goes to ordinal n and stays")
    with static_set(run, cluster, case, static_volumes.CLAIM_REF) as made:
        fail_on(checks.bound_as_pre_bound(made.dep.claims(), made.volumes))
        problems = _survives_pod_deletion(made.dep)
        problems += checks.bound_as_pre_bound(made.dep.claims(), made.volumes)
        fail_on(problems)


def test_the_claim_templates_selector_picks_the_sets_volumes(
    run: Run, cluster: Cluster, case: Case
) -> None:
    evidence.label_suite("static volumes", "selector: each claim one PV of the pool")
    with static_set(run, cluster, case, static_volumes.SELECTOR) as made:
        names = list(made.volumes)
        pool = set(made.volumes.values())
        label = f"{static_volumes.POOL_LABEL}={made.dep.namespace}"
        fail_on(checks.bound_in_pool(made.dep.claims(), names, pool, label))
        fail_on(_survives_pod_deletion(made.dep))
