"""The seed's PetSet (apps/v1alpha1), converted to apps/v1, deploys and passes the same checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance import checks, evidence, probes, workloads
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
    cluster.wait_claims_bound(namespace, dep.claim_names())
    cluster.wait_ready(namespace, dep.case.replicas, selector=dep.selector)
    return dep


def test_the_converted_seed_binds_its_claims(seed: Deployment) -> None:
    evidence.label_suite("legacy PetSet", "claims pv-claim-test-petset-N Bound")
    assert seed.claim_names() == ["pv-claim-test-petset-0", "pv-claim-test-petset-1"]
    checks.fail_on(checks.claims_bound(seed))


@pytest.mark.exec
def test_the_converted_seed_mounts_data_that_persists(seed: Deployment) -> None:
    evidence.label_suite("legacy PetSet", "/data mounted and writable")
    problems: list[str] = []
    for pod in seed.pods():
        name = pod.metadata.name
        result = seed.exec(name, list(probes.MOUNTINFO))
        mounts = probes.parse_mountinfo(result.stdout) if result.exit_code == 0 else []
        mount = probes.find_mount(mounts, seed.mount_path)
        if mount is None:
            problems.append(f"{name}: nothing is mounted at {seed.mount_path}")
            continue
        if not probes.is_read_write(mount):
            problems.append(f"{name}: {seed.mount_path} is mounted read-only")
        payload = probes.Payload.random()
        problems += checks.write_payload(seed, name, payload, "seed.bin")
        problems += checks.payload_intact(seed, name, payload, "seed.bin")
    checks.fail_on(problems)
