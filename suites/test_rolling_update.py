"""A rolling update of the pod template replaces pods highest ordinal first, leaves those
below the partition untouched, takes down no more pods at once than maxUnavailable allows
(one where the API server drops that alpha field), and every pod keeps its claim, its
volume and its data."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.cluster import pod_ready
from conformance.deployments import Deployment
from conformance.reporting import timeline
from conformance.waits import Seen

REPLICAS = 3  # at least: two pods above the partition show the order
PARTITION = 1
MAX_UNAVAILABLE = 2
PAYLOAD = "rollout.bin"
ROLLOUT_ANNOTATION = "conformance.io/rollout"

# rolling updates replace pods one at a time whatever the pod management policy
pytestmark = [
    pytest.mark.disruptive,
    pytest.mark.per_entry,
    pytest.mark.persistence,
    pytest.mark.filesystem,  # payloads are files
]


def _grown(dep: Deployment) -> list[str]:
    """The set with at least REPLICAS pods, all Ready; their names, by ordinal."""
    replicas = max(REPLICAS, dep.case.replicas)
    if len(dep.pods()) != replicas:
        dep.cluster.scale(dep.namespace, dep.set_name, replicas)
    dep.wait_up(replicas)
    return [dep.pod_name(i) for i in range(replicas)]


def _strategy(dep: Deployment, rolling: dict[str, Any]) -> Any:
    """Set the RollingUpdate strategy; the set as the API server stored it."""
    patch = {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}
    return dep.cluster.patch_statefulset(dep.namespace, dep.set_name, patch)


def _change_template(dep: Deployment, value: str) -> None:
    """A new pod template revision: an annotation changes, nothing the volumes depend on."""
    patch = {"spec": {"template": {"metadata": {"annotations": {ROLLOUT_ANNOTATION: value}}}}}
    dep.cluster.patch_statefulset(dep.namespace, dep.set_name, patch)


def _wait_replaced(
    dep: Deployment, before: dict[str, Any], replaced: list[str], since: str, title: str
) -> Seen[Any]:
    """Watch from ``since`` until the pods of ``replaced`` are new pods and every pod is
    Ready, then until the set's status is settled; the watch, with its events."""
    count = len(before)

    def done(seen: Seen[Any]) -> bool:
        pods = seen.objects
        return (
            len(pods) == count
            and all(pod_ready(p) for p in pods.values())
            and all(
                name in pods and pods[name].metadata.uid != before[name].metadata.uid
                for name in replaced
            )
        )

    seen = dep.cluster.wait_pods(
        dep.namespace,
        done,
        what=f"{', '.join(replaced)} replaced and all {count} pods Ready",
        selector=dep.selector,
        since=since,
    )
    evidence.attach_svg(f"{title} timeline", timeline.svg(seen.timeline, title))
    return seen


def _payloads(dep: Deployment, names: list[str]) -> dict[str, probes.Payload]:
    payloads = {name: probes.Payload.random() for name in names}
    problems: list[str] = []
    for pod, payload in payloads.items():
        problems += checks.written(observe.write_payload(dep, pod, payload, PAYLOAD))
    fail_on(problems)
    return payloads


def _volumes(dep: Deployment, names: list[str]) -> dict[str, str | None]:
    """Claim name -> the PV it is bound to, for the claims of these pods' ordinals."""
    claims = dep.claims()
    wanted = [dep.claim_name(i) for i in range(len(names))]
    return {name: claims[name].spec.volume_name if name in claims else None for name in wanted}


def _kept_claims_and_data(
    dep: Deployment,
    volumes: dict[str, str | None],
    payloads: dict[str, probes.Payload],
    *,
    when: str,
) -> list[str]:
    """Pod n mounts claim n, each claim is bound to the PV it had, each payload reads back."""
    expected = {dep.pod_name(i): dep.claim_name(i) for i in range(len(payloads))}
    problems = checks.pods_mount_their_claims(dep.claims_mounted(), expected)
    problems += checks.claims_rebound(volumes, _volumes(dep, list(payloads)), when=when)
    for pod, payload in payloads.items():
        problems += checks.payload_intact(observe.read_back(dep, pod, PAYLOAD), payload)
    return problems


def test_a_partitioned_update_spares_the_ordinals_below_until_the_partition_is_lowered(
    deployed: Deployment,
) -> None:
    evidence.label_suite("rolling update", f"partition {PARTITION}, then 0")
    dep, cluster = deployed, deployed.cluster
    names = _grown(dep)
    payloads = _payloads(dep, names)
    volumes = _volumes(dep, names)
    before = {p.metadata.name: p for p in dep.pods()}
    above, below = names[PARTITION:][::-1], names[:PARTITION]

    _strategy(dep, {"partition": PARTITION})
    since = cluster.resource_version(dep.namespace)
    _change_template(dep, f"partition-{PARTITION}")
    seen = _wait_replaced(dep, before, above, since, f"update with partition {PARTITION}")
    rolled = cluster.wait_rolled_out(dep.namespace, dep.set_name)
    after = {p.metadata.name: p for p in dep.pods()}
    problems = checks.replaced_highest_first(
        checks.went_down_in_order(seen.availability, names), above
    )
    problems += checks.spared(before, after, below, partition=PARTITION)
    problems += checks.at_revision(before, after, above, rolled.status.update_revision)
    problems += _kept_claims_and_data(
        dep, volumes, payloads, when=f"after the update with partition {PARTITION}"
    )
    fail_on(problems)

    since = cluster.resource_version(dep.namespace)
    _strategy(dep, {"partition": 0})
    _wait_replaced(dep, after, below, since, "partition lowered to 0")
    rolled = cluster.wait_rolled_out(dep.namespace, dep.set_name)
    final = {p.metadata.name: p for p in dep.pods()}
    problems = checks.at_revision(after, final, below, rolled.status.update_revision)
    problems += _kept_claims_and_data(
        dep, volumes, payloads, when="after the partition was lowered to 0"
    )
    fail_on(problems)


def test_an_update_takes_down_no_more_pods_at_once_than_max_unavailable(
    deployed: Deployment,
) -> None:
    evidence.label_suite("rolling update", f"maxUnavailable {MAX_UNAVAILABLE}")
    dep, cluster = deployed, deployed.cluster
    names = _grown(dep)
    payloads = _payloads(dep, names)
    volumes = _volumes(dep, names)
    before = {p.metadata.name: p for p in dep.pods()}

    stored = _strategy(dep, {"partition": 0, "maxUnavailable": MAX_UNAVAILABLE})
    rolling = stored.spec.update_strategy.rolling_update
    limit, why = checks.max_unavailable(
        rolling.max_unavailable if rolling is not None else None, len(names)
    )
    evidence.attach_text("maxUnavailable as stored", why)
    since = cluster.resource_version(dep.namespace)
    _change_template(dep, f"max-unavailable-{MAX_UNAVAILABLE}")
    everyone = names[::-1]
    seen = _wait_replaced(dep, before, everyone, since, f"update with {why}")
    rolled = cluster.wait_rolled_out(dep.namespace, dep.set_name)
    after = {p.metadata.name: p for p in dep.pods()}
    problems = checks.unavailable_at_most(seen.availability, names, limit, why=why)
    problems += checks.replaced_highest_first(
        checks.went_down_in_order(seen.availability, names), everyone
    )
    problems += checks.at_revision(before, after, everyone, rolled.status.update_revision)
    problems += _kept_claims_and_data(
        dep, volumes, payloads, when=f"after the update with maxUnavailable {MAX_UNAVAILABLE}"
    )
    fail_on(problems)
