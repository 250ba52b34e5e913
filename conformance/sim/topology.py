"""Where the simulated nodes stand and where zonal volumes live.

Nodes carry the well-known topology labels (``topology.kubernetes.io/region`` and
``/zone``), as a cloud provider's node controller sets them, and each zonal driver's
own zone key (``topology.<driver>/zone``), as the kubelet's CSI node registration adds
the segments a driver's NodeGetInfo returns. Node n (from 1) stands in ``ZONES[(n-1) %
2]``: with three nodes, node-1 and node-3 in zone-a, node-2 in zone-b.

A zonal driver (EBS-like: its disks live in one zone) picks the zone of a new volume as
aws-ebs-csi-driver's pickAvailabilityZone does from external-provisioner's topology
requirement: the selected node's zone (preferred) when the class's allowedTopologies
admit it, else the first zone they allow, and without either the first zone of the
cluster. Its PV's nodeAffinity names the zone under the driver's key and the well-known
key, as the driver's CreateVolume answers both segments.

Where it differs: upstream's external-provisioner randomizes the preferred topologies
of an Immediate claim (the sim takes the first zone), and an EBS attach from another
zone fails at the cloud (the sim attaches anywhere: the scheduler keeps pods away).
"""

from __future__ import annotations

from typing import Any

from conformance.sim.api.store import Obj

ZONE_KEY = "topology.kubernetes.io/zone"
REGION_KEY = "topology.kubernetes.io/region"
BETA_ZONE_KEY = "failure-domain.beta.kubernetes.io/zone"
REGION = "sim-region-1"
ZONES = ("zone-a", "zone-b")
# Drivers whose volumes live in one zone (EBS-like); the others reach every node.
ZONAL_DRIVERS = ("ebs.csi.sim.conformance.io",)


def driver_zone_key(driver: str) -> str:
    """The zone key a driver reports (``topology.ebs.csi.aws.com/zone`` for EBS)."""
    return f"topology.{driver}/zone"


def zone_of_node(number: int) -> str:
    return ZONES[(number - 1) % len(ZONES)]


def node_labels(number: int) -> dict[str, str]:
    """The topology labels node ``number`` (from 1) carries."""
    zone = zone_of_node(number)
    labels = {REGION_KEY: REGION, ZONE_KEY: zone}
    labels.update({driver_zone_key(driver): zone for driver in ZONAL_DRIVERS})
    return labels


def zonal(provisioner: str) -> bool:
    return provisioner in ZONAL_DRIVERS


def _zone_keys(driver: str) -> tuple[str, ...]:
    return (ZONE_KEY, driver_zone_key(driver), BETA_ZONE_KEY)


def allowed_zones(storage_class: Obj) -> list[str] | None:
    """The zones a class's allowedTopologies name (None: the class restricts nothing)."""
    terms = storage_class.get("allowedTopologies") or []
    if not terms:
        return None
    keys = _zone_keys(str(storage_class.get("provisioner") or ""))
    zones: list[str] = []
    for term in terms:
        for expression in term.get("matchLabelExpressions") or []:
            if expression.get("key") in keys:
                zones += [str(v) for v in expression.get("values") or [] if str(v) not in zones]
    return zones or None


def topology_terms_match(terms: list[dict[str, Any]] | None, labels: dict[str, str]) -> bool:
    """v1helper.MatchTopologySelectorTerms: no terms match everything; any term matches
    when each of its expressions has the label with one of its values."""
    if not terms:
        return True
    for term in terms:
        expressions = term.get("matchLabelExpressions") or []
        if all(
            labels.get(e.get("key", "")) in [str(v) for v in e.get("values") or []]
            for e in expressions
        ):
            return True
    return False


def pick_zone(
    storage_class: Obj, selected: Obj | None, nodes: list[Obj], *, ignore_allowed: bool = False
) -> str:
    """The zone a zonal driver creates a volume in (see the module's docstring).

    ``ignore_allowed`` is the fault topology-ignored: a zone the class does not allow,
    when the cluster has one.
    """
    provisioner = str(storage_class.get("provisioner") or "")
    key = driver_zone_key(provisioner)
    known: list[str] = []
    for node in nodes:
        zone = (node["metadata"].get("labels") or {}).get(key)
        if zone and zone not in known:
            known.append(zone)
    allowed = allowed_zones(storage_class)
    if ignore_allowed and allowed:
        outside = [zone for zone in sorted(known) if zone not in allowed]
        if outside:
            return outside[0]
    preferred = ((selected or {}).get("metadata", {}).get("labels") or {}).get(key)
    if preferred and (allowed is None or preferred in allowed):
        return str(preferred)
    if allowed:
        return allowed[0]
    return preferred or (sorted(known)[0] if known else ZONES[0])


def volume_node_affinity(driver: str, zone: str) -> dict[str, Any]:
    """The PV nodeAffinity external-provisioner writes from the driver's accessible
    topology: one term, a requirement per segment."""
    return {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": driver_zone_key(driver), "operator": "In", "values": [zone]},
                        {"key": ZONE_KEY, "operator": "In", "values": [zone]},
                    ]
                }
            ]
        }
    }


__all__ = [
    "REGION_KEY",
    "ZONES",
    "ZONE_KEY",
    "allowed_zones",
    "driver_zone_key",
    "node_labels",
    "pick_zone",
    "topology_terms_match",
    "volume_node_affinity",
    "zonal",
]
