"""Every judgement of the suites: facts in, sentences naming the object and property out.

A check returns the problems it found (e.g. "web-1: /data is on 7:3 but the kubelet
mounted pvc-... from 7:4"); an empty list means the property holds. Checks are pure:
they never call the cluster or a node, so each can be tested against captured facts,
and each is shown to fail on the simulator fault that breaks its property
(tests/test_suites_fail_on_faults.py). A suite test reads: act, observe, then
``fail_on(checks.X(...))``.
"""

from conformance.checks.access import not_attached_twice, one_pod_only
from conformance.checks.block import block_device
from conformance.checks.claims import (
    claims_bound,
    claims_deleted,
    claims_kept,
    claims_rebound,
    claims_recreated,
    pods_mount_their_claims,
    pods_ready,
    volumes_as_declared,
)
from conformance.checks.data import payload_intact, written
from conformance.checks.disruption import (
    adopted_after_kubelet_restart,
    mount_kept,
    moved_off,
    volume_left_node,
)
from conformance.checks.expansion import expanded
from conformance.checks.identity import hostname_is, kept_claim_and_volume, resolves
from conformance.checks.ordering import created_in_order, deleted_highest_first
from conformance.checks.ownership import file_owned, fs_group_root, regrouped
from conformance.checks.performance import fio_ran, performance_within
from conformance.checks.rollout import (
    at_revision,
    max_unavailable,
    replaced_highest_first,
    spared,
    unavailable_at_most,
    went_down_in_order,
)
from conformance.checks.shares import seen_by_the_other_pod, share_source
from conformance.checks.stack import device_stack
from conformance.checks.static import bound_as_pre_bound, bound_in_pool
from conformance.checks.templates import own_devices
from conformance.checks.topology import (
    kept_from_its_volume,
    volume_reaches_node,
    waited_for_consumer,
    within_allowed_topologies,
)
from conformance.checks.volumes import (
    container_mount,
    kubelet_mount,
    kubelet_mounts_gone,
    not_on_the_nodes_own_disk,
    scsi_disk,
)


def fail_on(problems: list[str]) -> None:
    """Fail the check with every problem, one per line."""
    __tracebackhide__ = True
    assert not problems, "\n".join(problems)


__all__ = [
    "adopted_after_kubelet_restart",
    "at_revision",
    "block_device",
    "bound_as_pre_bound",
    "bound_in_pool",
    "claims_bound",
    "claims_deleted",
    "claims_kept",
    "claims_rebound",
    "claims_recreated",
    "container_mount",
    "created_in_order",
    "deleted_highest_first",
    "device_stack",
    "expanded",
    "fail_on",
    "file_owned",
    "fio_ran",
    "fs_group_root",
    "hostname_is",
    "kept_claim_and_volume",
    "kept_from_its_volume",
    "kubelet_mount",
    "kubelet_mounts_gone",
    "max_unavailable",
    "mount_kept",
    "moved_off",
    "not_attached_twice",
    "not_on_the_nodes_own_disk",
    "one_pod_only",
    "own_devices",
    "payload_intact",
    "performance_within",
    "pods_mount_their_claims",
    "pods_ready",
    "regrouped",
    "replaced_highest_first",
    "resolves",
    "scsi_disk",
    "seen_by_the_other_pod",
    "share_source",
    "spared",
    "unavailable_at_most",
    "volume_left_node",
    "volume_reaches_node",
    "volumes_as_declared",
    "waited_for_consumer",
    "went_down_in_order",
    "within_allowed_topologies",
    "written",
]
