"""What a StorageClass asks the simulated nodes to show under its volumes, and the stable
identifiers that tie a disk to its PV.

The provisioner (:mod:`conformance.sim.controllers.volumes`) reads the class's parameters
with :meth:`StackParameters.parse`, refuses a class that asks for something the nodes
cannot show, copies the parameters into the PV (CSI ``volumeAttributes`` or flexvolume
``options``, as drivers return their volume context) and makes the volumeHandle; the
kernel runtime reads them back from the PV when it attaches the volume to a node
(:mod:`conformance.sim.kernel.stacks`).

Identifiers are derived from one key (the volumeHandle; the PV name for flexvolumes),
the way real backends make them stable: a SAN LUN's NAA WWN, which SAN drivers carry in
their handle; an EBS volume id ``vol-0...``, whose NVMe serial is the id without its
dash. Pure functions, no I/O: both the control plane and the node side import this.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

DEVICES = ("scsi", "nvme", "rbd")
SCSI_TRANSPORTS = ("iscsi", "fc", "sas")
NVME_TRANSPORTS = ("pcie", "tcp", "rdma", "fc")
MAX_PATHS = 8
EBS_MODEL = "Amazon Elastic Block Store"
# The class parameters a PV carries to the node (volumeAttributes / flexvolume options).
STACK_PARAMETERS = (
    "vendor",
    "model",
    "rev",
    "pluginDir",
    "device",
    "transport",
    "multipath",
    "userFriendlyNames",
    "pool",
)

# NAA-6 WWNs start with the vendor's IEEE OUI; LIO (the Linux SCSI target, which Datera
# and most software iSCSI targets run) is 00:14:05.
_NAA_PREFIX = {"NETAPP": "600a0980", "PURE": "624a9370", "3PARdata": "60002ac0"}
_LIO_PREFIX = "6001405"
_WWN_IN_HANDLE = re.compile(r"(?<![0-9a-f])(6[0-9a-f]{31})(?![0-9a-f])", re.IGNORECASE)
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def _digest(key: str, digits: int) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:digits]


def naa_wwn(vendor: str, key: str) -> str:
    """A LUN's NAA-6 WWN (32 hex digits) with the vendor's OUI, stable for ``key``."""
    prefix = _NAA_PREFIX.get(vendor.strip(), _LIO_PREFIX)
    return prefix + _digest(f"wwn:{key}", 32 - len(prefix))


def unit_serial(key: str) -> str:
    """A SCSI unit serial number (VPD page 0x80), LIO-style: a UUID, stable for ``key``."""
    return str(uuid.UUID(_digest(f"serial:{key}", 32)))


def san_volume_handle(vendor: str, key: str) -> str:
    """A SAN driver's volumeHandle carrying the LUN's WWN (as IBM's block CSI driver does,
    ``<array>:<wwn>``), so the WWN the node shows proves the disk is this volume."""
    return f"sim-san:{naa_wwn(vendor, key)}"


def ebs_volume_id(key: str) -> str:
    """An EBS-style volume id: ``vol-0`` and 16 hex digits (17 after the dash)."""
    return "vol-0" + _digest(f"ebs:{key}", 16)


def wwn_for(vendor: str, handle: str) -> str:
    """The WWN a disk of this volume shows: the one in the handle, else one derived from it."""
    found = _WWN_IN_HANDLE.search(handle)
    return found.group(1).lower() if found else naa_wwn(vendor, handle)


def nvme_serial(handle: str) -> str:
    """An NVMe serial as EBS gives it: the volume id without its dash (``vol0abc...``);
    for a handle that is no EBS id, an id-shaped serial derived from it."""
    if re.fullmatch(r"vol-[0-9a-f]{17}", handle):
        return handle.replace("-", "", 1)
    return "vol0" + _digest(f"ebs:{handle}", 16)


def unrelated_key(handle: str) -> str:
    """Fault wrong-serial: the key of some other volume; it does not contain the handle,
    so nothing derived from it (a WWN found in the key) carries the handle either."""
    return f"another-volume-{_digest(f'other:{handle}', 16)}"


def _flag(parameters: Mapping[str, str], name: str, default: bool) -> bool:
    value = parameters.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"parameter {name}: {value!r} is not true or false")


@dataclass(frozen=True)
class StackParameters:
    """The device stack a class's volumes stand on, as its parameters ask.

    ``device``: ``scsi`` (a SCSI disk ``sdX``; with ``multipath`` N >= 1, a dm-multipath
    map over N SCSI paths), ``nvme`` (a namespace ``nvmeXn1`` of its own controller) or
    ``rbd`` (``/dev/rbdN``). ``transport``: iscsi, fc or sas for SCSI (default iscsi);
    pcie, tcp, rdma or fc for NVMe (default pcie).
    """

    device: str = "scsi"
    transport: str = "iscsi"
    vendor: str = "SIM"
    model: str = "DISK"
    rev: str = "1.0"
    multipath: int = 0
    friendly_names: bool = True
    pool: str = "rbd"

    @classmethod
    def parse(cls, parameters: Mapping[str, str]) -> StackParameters:
        """Read the parameters; ValueError names the first one a node cannot show."""
        device = parameters.get("device", "scsi")
        if device not in DEVICES:
            raise ValueError(f"parameter device: {device!r} is not one of {', '.join(DEVICES)}")
        transports = NVME_TRANSPORTS if device == "nvme" else SCSI_TRANSPORTS
        transport = parameters.get("transport", transports[0] if device != "rbd" else "")
        if device != "rbd" and transport not in transports:
            raise ValueError(
                f"parameter transport: {transport!r} is not one of {', '.join(transports)} "
                f"(device {device})"
            )
        if device == "rbd" and transport:
            raise ValueError("parameter transport: an rbd device has no transport")
        text = parameters.get("multipath", "0")
        try:
            paths = int(text)
        except ValueError:
            raise ValueError(f"parameter multipath: {text!r} is not a number of paths") from None
        if not 0 <= paths <= MAX_PATHS:
            raise ValueError(f"parameter multipath: {paths} paths, expected 0 to {MAX_PATHS}")
        if paths and device != "scsi":
            raise ValueError(f"parameter multipath: a {device} device has no SCSI paths")
        pool = parameters.get("pool", "rbd")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", pool):
            raise ValueError(f"parameter pool: {pool!r} is not a pool name")
        model = parameters.get("model", EBS_MODEL if device == "nvme" else "DISK")
        if device == "nvme" and not (0 < len(model) <= 40 and model.isascii()):
            raise ValueError(f"parameter model: {model!r} is not an NVMe model (1 to 40 ASCII)")
        return cls(
            device=device,
            transport=transport,
            vendor=parameters.get("vendor", "SIM"),
            model=model,
            rev=parameters.get("rev", "1.0"),
            multipath=paths,
            friendly_names=_flag(parameters, "userFriendlyNames", True),
            pool=pool,
        )

    def volume_handle(self, key: str) -> str:
        """The handle a CSI driver of this kind gives a new volume: an EBS volume id for
        NVMe, a WWN-carrying handle for multipath SAN LUNs, a ceph-csi one (cluster id,
        pool id, image uuid) for RBD, ``sim-<key>`` otherwise."""
        if self.device == "nvme":
            return ebs_volume_id(key)
        if self.device == "rbd":
            return f"0001-0009-rook-ceph-0000000000000002-{uuid.uuid5(uuid.NAMESPACE_URL, key)}"
        if self.multipath:
            return san_volume_handle(self.vendor, key)
        return f"sim-{key}"


__all__ = [
    "DEVICES",
    "EBS_MODEL",
    "NVME_TRANSPORTS",
    "SCSI_TRANSPORTS",
    "STACK_PARAMETERS",
    "StackParameters",
    "ebs_volume_id",
    "naa_wwn",
    "nvme_serial",
    "san_volume_handle",
    "unit_serial",
    "unrelated_key",
    "wwn_for",
]
