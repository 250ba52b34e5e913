"""A claim of a running set resized to twice its size: its PV and status.capacity grow,
and so does what the container sees (the filesystem at the mount path; a Block volume's
device), online while the pod runs (capability ``online_expansion``) or once the pod
is re-created (``expansion`` only); data written before stays intact."""

from __future__ import annotations

import pytest
from kubernetes.utils import parse_quantity

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment

pytestmark = [
    pytest.mark.per_entry,
    pytest.mark.expansion,
    pytest.mark.disk,
    pytest.mark.exec,
    pytest.mark.disruptive,  # a resized claim is no longer what the other suites expect
]

ORDINAL = 0
PAYLOAD = "before-resize.bin"
OFFSET_BLOCKS = 2048  # 8 MiB into a Block volume's device


def doubled(size: str) -> str:
    """Twice a quantity, written with the largest binary suffix that is exact."""
    twice = int(parse_quantity(size)) * 2
    for suffix, power in (("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if twice % 2**power == 0:
            return f"{twice >> power}{suffix}"
    return str(twice)


def resize(dep: Deployment, requested: str) -> observe.Expansion:
    """Resize claim ORDINAL; re-create its pod unless the entry expands online; wait for
    the claim's status.capacity to reach the request (a timeout is judged, not raised)."""
    pod = dep.pod(ORDINAL)
    before = observe.size_seen(dep, pod.metadata.name)
    claim = dep.claim_name(ORDINAL)
    dep.cluster.resize_claim(dep.namespace, claim, requested)
    if not dep.case.storage.capabilities.online_expansion:
        dep.recreate_pod(ORDINAL)  # offline expansion finishes when a pod mounts it again
    wanted = parse_quantity(requested)
    with evidence.step(f"wait for claim {claim} to report {requested}"):
        dep.cluster.wait_claim(
            dep.namespace,
            claim,
            lambda c: (
                c.status is not None
                and parse_quantity((c.status.capacity or {}).get("storage", "0")) >= wanted
            ),
            what=f"claim {claim} status.capacity {requested}",
            # a real kubelet notices an online resize at a pod sync, a minute or more later
            timeout=2 * dep.cluster.timeouts.pod_ready,
        )
    return observe.expansion(dep, ORDINAL, requested, before=before, pod_uid=pod.metadata.uid)


@pytest.mark.filesystem
def test_a_resized_claim_grows_its_filesystem_and_keeps_the_data(deployed: Deployment) -> None:
    evidence.label_suite("expansion", "filesystem grows, data stays")
    entry = deployed.case.storage
    name = deployed.pod_name(ORDINAL)
    payload = probes.Payload.random(64 * 1024)
    fail_on(checks.written(observe.write_payload(deployed, name, payload, PAYLOAD)))
    facts = resize(deployed, doubled(entry.size))
    fail_on(checks.expanded(facts, online=entry.capabilities.online_expansion))
    fail_on(checks.payload_intact(observe.read_back(deployed, name, PAYLOAD), payload))


@pytest.mark.block
def test_a_resized_block_claim_grows_its_device_and_keeps_the_data(deployed: Deployment) -> None:
    evidence.label_suite("expansion", "device grows, data stays")
    entry = deployed.case.storage
    name = deployed.pod_name(ORDINAL)
    payload = probes.Payload.random(4 * probes.BLOCK)
    fail_on(checks.written(observe.write_raw(deployed, name, payload, offset_blocks=OFFSET_BLOCKS)))
    facts = resize(deployed, doubled(entry.size))
    fail_on(checks.expanded(facts, online=entry.capabilities.online_expansion))
    read = observe.read_raw(deployed, name, offset_blocks=OFFSET_BLOCKS, blocks=4)
    fail_on(checks.payload_intact(read, payload))
