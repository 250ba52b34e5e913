"""The named faults the simulated cluster can inject, in one place.

Each conformance check must be seen to fail: a fault breaks exactly the property a
check targets, so a test can switch it on and assert the check notices. The
inventory (``cluster.sim.faults``) and ``conformance sim up --fault`` accept only
the names below; the value kind says what ``NAME=VALUE`` means.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ValueKind(str, Enum):
    """What a fault's value means."""

    SWITCH = "switch"  # on when named; a value is not accepted
    RATE = "rate"  # fraction of operations affected, 0 < rate <= 1
    SECONDS = "seconds"  # an interval or delay in seconds, > 0


@dataclass(frozen=True)
class Fault:
    name: str
    layer: str  # "api" (control plane) or "node" (kernel-backed nodes)
    kind: ValueKind
    breaks: str  # the property a conformance check must then report as broken
    default: float | None = None


CATALOG: tuple[Fault, ...] = (
    Fault("api-5xx", "api", ValueKind.RATE, "API availability: requests answer 500/503", 0.05),
    Fault(
        "api-429", "api", ValueKind.RATE, "API throttling: requests answer 429 Retry-After", 0.05
    ),
    Fault("watch-drop", "api", ValueKind.SECONDS, "watch streams close after this interval", 5.0),
    Fault("unordered-scale", "api", ValueKind.SWITCH, "OrderedReady creates/deletes out of order"),
    Fault(
        "claims-deleted-despite-retain",
        "api",
        ValueKind.SWITCH,
        "scale-down deletes the removed pods' claims although whenScaled is Retain",
    ),
    Fault(
        "claims-deleted-on-set-delete",
        "api",
        ValueKind.SWITCH,
        "deleting a StatefulSet deletes its claims although whenDeleted is Retain",
    ),
    Fault(
        "claims-kept-despite-delete",
        "api",
        ValueKind.SWITCH,
        "whenDeleted: Delete is ignored: claims stay after their StatefulSet is deleted",
    ),
    Fault(
        "claims-kept-despite-scaled-delete",
        "api",
        ValueKind.SWITCH,
        "whenScaled: Delete is ignored: the claims of pods removed by scale-down stay",
    ),
    Fault(
        "update-ignores-partition",
        "api",
        ValueKind.SWITCH,
        "a rolling update also replaces the pods below rollingUpdate.partition",
    ),
    Fault(
        "update-forward-order",
        "api",
        ValueKind.SWITCH,
        "a rolling update replaces pods lowest ordinal first, not highest first",
    ),
    Fault(
        "update-all-at-once",
        "api",
        ValueKind.SWITCH,
        "a rolling update deletes every outdated pod at once, not one at a time "
        "(or maxUnavailable at a time)",
    ),
    Fault("wrong-claim-binding", "api", ValueKind.SWITCH, "a pod mounts another ordinal's claim"),
    Fault("hostname-drift", "api", ValueKind.SWITCH, "a recreated pod gets a different hostname"),
    Fault("slow-provisioning", "api", ValueKind.SECONDS, "provisioning takes this long", 30.0),
    Fault(
        "pv-wrong-capacity",
        "api",
        ValueKind.SWITCH,
        "provisioned PVs (and so their claims' status.capacity) are half the size requested",
    ),
    Fault(
        "static-pv-misbound",
        "api",
        ValueKind.SWITCH,
        "the binder gives a claim a static PV pre-bound (claimRef) to another ordinal's claim, "
        "or one its selector does not select",
    ),
    Fault(
        "no-default-class",
        "api",
        ValueKind.SWITCH,
        "no default StorageClass: a claim without storageClassName stays Pending",
    ),
    Fault(
        "wffc-ignored",
        "api",
        ValueKind.SWITCH,
        "WaitForFirstConsumer is ignored: claims are provisioned and bound at once, before "
        "any pod using them is scheduled",
    ),
    Fault(
        "topology-ignored",
        "api",
        ValueKind.SWITCH,
        "the provisioner ignores the class's allowedTopologies: zonal volumes are made in a "
        "zone the class does not allow",
    ),
    Fault(
        "volume-affinity-ignored",
        "api",
        ValueKind.SWITCH,
        "the scheduler ignores bound volumes' nodeAffinity: pods land on nodes their "
        "volumes do not reach",
    ),
    Fault(
        "rwop-not-enforced",
        "api",
        ValueKind.SWITCH,
        "the scheduler admits a second pod using a ReadWriteOncePod claim",
    ),
    Fault("data-loss-on-reattach", "node", ValueKind.SWITCH, "a re-attached volume is empty"),
    Fault(
        "rwo-multi-attach",
        "node",
        ValueKind.SWITCH,
        "a ReadWriteOnce volume in use on one node is attached and mounted read-write on "
        "another too (no Multi-Attach error)",
    ),
    Fault("wrong-fstype", "node", ValueKind.SWITCH, "volumes are formatted with another fs"),
    Fault("no-scsi-device", "node", ValueKind.SWITCH, "lsscsi does not list attached disks"),
    Fault("missing-data-mount", "node", ValueKind.SWITCH, "the volume is not mounted in the pod"),
    Fault("readonly-data-mount", "node", ValueKind.SWITCH, "the pod's volume is mounted read-only"),
    Fault(
        "claim-templates-crossed",
        "node",
        ValueKind.SWITCH,
        "a pod's first two claims swap mount paths: the second template's volume is "
        "mounted at the first's path",
    ),
    Fault(
        "fsgroup-ignored",
        "node",
        ValueKind.SWITCH,
        "the kubelet does not give volumes the pod's fsGroup: the volume root stays root's, "
        "and a non-root container cannot write to it",
    ),
    Fault("stale-kubelet-mount", "node", ValueKind.SWITCH, "kubelet mounts outlive their pods"),
    Fault(
        "mount-fails",
        "node",
        ValueKind.SWITCH,
        "the node cannot mount volumes (a driver whose NodeStage fails): pods stay "
        "ContainerCreating with FailedMount events",
    ),
    Fault(
        "share-not-shared",
        "node",
        ValueKind.SWITCH,
        "a file share is a local directory of each pod's node: the mount source is not the "
        "PV's server:share, and pods on other nodes do not see the writes",
    ),
    Fault(
        "kubelet-restart-kills-pods",
        "node",
        ValueKind.SWITCH,
        "a restarted kubelet restarts the containers of its node and remounts their volumes, "
        "instead of adopting them as they run",
    ),
    Fault("ssh-drop", "node", ValueKind.RATE, "SSH connections drop mid-session", 0.05),
    Fault("dns-missing", "node", ValueKind.SWITCH, "pods cannot resolve their peers' DNS names"),
    Fault(
        "volume-on-node-root",
        "node",
        ValueKind.SWITCH,
        "the kubelet binds a directory of the node's root filesystem at the volume's path: "
        "the pod's data lands on the node's own disk",
    ),
    Fault(
        "multipath-path-down",
        "node",
        ValueKind.SWITCH,
        "one path of each multipath map is down (its SCSI device state is offline)",
    ),
    Fault(
        "wrong-serial",
        "node",
        ValueKind.SWITCH,
        "disk serials and WWNs do not derive from the PV's volumeHandle: "
        "the disk cannot be shown to be this volume",
    ),
    Fault(
        "slow-volume",
        "node",
        ValueKind.SWITCH,
        "volumes are slow disks: the kernel's block throttle holds each to 200 IOPS and "
        "8 MiB/s each way, so fio's figures miss the inventory's performance thresholds",
    ),
    Fault(
        "expansion-stalls-on-node",
        "node",
        ValueKind.SWITCH,
        "a resized claim's PV grows but nothing on the node does: no node rescans the "
        "device (it keeps its old size) and NodeExpandVolume answers success without "
        "growing the filesystem",
    ),
    Fault(
        "expansion-loses-data",
        "node",
        ValueKind.SWITCH,
        "a resize loses the volume's data: a grown filesystem comes back empty, a grown raw "
        "device reads zeros",
    ),
    Fault(
        "corrupt-writes",
        "node",
        ValueKind.SWITCH,
        "data reads back changed: after each exec, a bit flips in each volume file it wrote",
    ),
)

BY_NAME: dict[str, Fault] = {fault.name: fault for fault in CATALOG}


def check_value(name: str, value: float | bool | None) -> float | None:
    """Validate one fault setting; return its effective value (None for a switch).

    Raises ValueError with a message meant for the user when the name or value is wrong.
    """
    fault = BY_NAME.get(name)
    if fault is None:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(sorted(BY_NAME))}")
    if fault.kind is ValueKind.SWITCH:
        if value not in (None, True):
            raise ValueError(f"fault {name!r} is a switch: give it no value (or true)")
        return None
    if value is None or value is True:
        return fault.default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"fault {name!r} takes a number ({fault.kind.value})")
    number = float(value)
    if fault.kind is ValueKind.RATE and not 0 < number <= 1:
        raise ValueError(f"fault {name!r} takes a rate between 0 (exclusive) and 1, got {value}")
    if fault.kind is ValueKind.SECONDS and number <= 0:
        raise ValueError(f"fault {name!r} takes a positive number of seconds, got {value}")
    return number


class ActiveFaults:
    """The faults switched on in a running simulator; components ask it before acting."""

    def __init__(self, settings: dict[str, float | bool | None] | None = None) -> None:
        self._values: dict[str, float | None] = {}
        for name, value in (settings or {}).items():
            self.set(name, value)

    def set(self, name: str, value: float | bool | None = None) -> None:
        self._values[name] = check_value(name, value)

    def clear(self, name: str | None = None) -> None:
        if name is None:
            self._values.clear()
        else:
            self._values.pop(name, None)

    def on(self, name: str) -> bool:
        return name in self._values

    def value(self, name: str) -> float | None:
        return self._values.get(name)

    def as_dict(self) -> dict[str, float | None]:
        return dict(self._values)
