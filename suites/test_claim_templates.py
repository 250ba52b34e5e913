"""Several claim templates per set (``data`` at the mount path, ``log`` at another): each is
mounted at its own path from its own volume, and each keeps its claim, volume and data
when a pod is deleted and comes back.

The set with two templates is a variant in the read-only suites' namespace; deleting
its pods disturbs no other suite's set.
"""

from __future__ import annotations

import functools

import pytest

from conformance import checks, evidence, observe, probes, shapes
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.plugin import NodeAccess

pytestmark = [pytest.mark.per_entry, pytest.mark.exec, pytest.mark.filesystem]

PAYLOAD = "templates.bin"


@pytest.fixture(scope="module")
def templated(statefulset: Deployment) -> list[Deployment]:
    """A set with two claim templates, deployed; one view of it per template."""
    first = statefulset.claim_template
    second = "log" if first != "log" else "logs"
    path = "/log" if statefulset.mount_path != "/log" else "/logs"
    dep = statefulset.variant("tpl")
    dep.deploy(shape=functools.partial(shapes.add_claim_template, name=second, mount_path=path))
    return [dep, dep.template_view(second, path)]


def _each_on_its_own(templated: list[Deployment], access: NodeAccess, ordinal: int) -> list[str]:
    """Pod ``ordinal``'s templates: each mounted, read-write, at its path from its volume."""
    views = [observe.volume_views(dep, access.shells, ordinal, container=True) for dep in templated]
    fs_type = templated[0].case.storage.fs_type
    problems = checks.own_devices(views)
    for seen in views:
        problems += checks.container_mount(seen, fs_type=fs_type, writable=True)
    return problems


def test_each_template_is_mounted_at_its_own_path_from_its_own_volume(
    templated: list[Deployment], node_access: NodeAccess
) -> None:
    evidence.label_suite("claim templates", "each template at its path, own device")
    problems: list[str] = []
    for ordinal in range(templated[0].case.replicas):
        problems += _each_on_its_own(templated, node_access, ordinal)
    fail_on(problems)


def test_each_template_keeps_its_claim_and_data_across_pod_deletion(
    templated: list[Deployment], node_access: NodeAccess
) -> None:
    evidence.label_suite("claim templates", "each template's identity survives pod deletion")
    main = templated[0]
    ordinal = main.case.replicas - 1
    name = main.pod_name(ordinal)
    before = {dep.claim_template: dep.claim(ordinal) for dep in templated}
    payloads = {dep.claim_template: probes.Payload.random() for dep in templated}
    for dep in templated:
        payload = payloads[dep.claim_template]
        fail_on(checks.written(observe.write_payload(dep, name, payload, PAYLOAD)))

    new = main.recreate_pod(ordinal)
    claims = main.claims()
    problems: list[str] = []
    for dep in templated:
        claim = before[dep.claim_template]
        problems += checks.kept_claim_and_volume(
            name, dep.claim_of_pod(new), claim, claims.get(claim.metadata.name)
        )
        read = observe.read_back(dep, name, PAYLOAD)
        problems += checks.payload_intact(read, payloads[dep.claim_template])
    problems += _each_on_its_own(templated, node_access, ordinal)
    fail_on(problems)
