"""The seed's PetSet (apps/v1alpha1), converted to apps/v1, deploys and passes the same checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance import checks, evidence, observe, probes, workloads
from conformance.checks import fail_on
from conformance.cluster import Cluster
from conformance.deployments import Case, Deployment
from conformance.inventory import PodManagementPolicy
from conformance.plugin import Run

SEED = Path(__file__).parent / "data" / "seed-petset.yaml"


@pytest.fixture(scope="module")
def seed(run: Run, cluster: Cluster, namespace: str) -> Deployment:
    text, warnings = workloads.convert_documents(SEED.read_text())
    evidence.attach_text("conversion warnings", "\n".join(warnings))
    documents = [d for d in yaml.safe_load_all(text) if d]
    statefulset = next(d for d in documents if d["kind"] == "StatefulSet")
    template = statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    dep = Deployment(
        cluster=cluster,
        inventory=run.inventory,
        case=Case(
            run.inventory.storage[0],
            statefulset["spec"]["replicas"],
            PodManagementPolicy.ORDERED_READY,
        ),
        namespace=namespace,
        class_name=None,
        labels=workloads.labels(run.id, run.worker),
        set_name=statefulset["metadata"]["name"],
        claim_template=template,
        app_label=statefulset["spec"]["selector"]["matchLabels"]["app"],
    )
    for document in documents:
        document.setdefault("metadata", {}).setdefault("labels", {}).update(dep.labels)
        dep.apply_manifest(document)
    dep.wait_up()  # the claims use the default class: without one they stay Pending
    return dep


def test_the_converted_seed_binds_its_claims(seed: Deployment) -> None:
    evidence.label_suite("legacy PetSet", "claims pv-claim-test-petset-N Bound")
    fail_on(checks.claims_bound(seed.claims(), seed.claim_names()))


@pytest.mark.exec
def test_the_converted_seed_mounts_data_that_persists(seed: Deployment) -> None:
    evidence.label_suite("legacy PetSet", "/data mounted and writable")
    problems: list[str] = []
    for ordinal in range(seed.case.replicas):
        views = observe.volume_views(seed, None, ordinal, container=True)
        problems += checks.container_mount(views, fs_type=None, writable=True)
        payload = probes.Payload.random()
        pod = seed.pod_name(ordinal)
        problems += checks.written(observe.write_payload(seed, pod, payload, "seed.bin"))
        problems += checks.payload_intact(observe.read_back(seed, pod, "seed.bin"), payload)
    fail_on(problems)
