"""The inventory: which cluster, how to reach its nodes, which storage to certify.

Vendors edit these files by hand, so every mistake must come back as a short list of
field paths (``storage[0].fs_type``) with the line and what is allowed, never as a
traceback. Unknown keys are errors: a misspelt key silently ignored is a check that
silently did not run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from conformance import providers

DEFAULT_INVENTORY = Path("inventories/sim.yaml")
MAX_LISTED_PROBLEMS = 20

# --- value types -------------------------------------------------------------------

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        hint = ""
        upper = value.upper()
        for suffix in ("KB", "MB", "GB", "TB"):
            if upper.endswith(suffix):
                number = value[: -len(suffix)].strip()
                hint = f" (did you mean {number}{suffix[0]}i or {number}{suffix[0]}?)"
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 1Gi, 500Mi or 2G{hint}")
    return value


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 subdomain: lower-case letters, digits, '-' and '.'"
        )
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path such as /data")
    return value


def _expand_user(value: str) -> str:
    return os.path.expanduser(value)


Quantity = Annotated[str, AfterValidator(_quantity)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
UserPath = Annotated[str, AfterValidator(_expand_user)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    """Base for every inventory section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- cluster -----------------------------------------------------------------------


class ClusterSettings(Strict):
    """A cluster that exists (kubeconfig + context), or one a provider starts, not both.

    ``sim:`` is the embedded simulated cluster's section; the simulator provider (the
    ``sim`` extra) validates it, so the harness needs no knowledge of its settings.
    """

    kubeconfig: UserPath | None = None
    context: str | None = None
    sim: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ClusterSettings:
        if self.sim is not None and (self.kubeconfig or self.context):
            raise ValueError(
                "@sim: give either sim: (the embedded cluster) or kubeconfig:/context:, not both"
            )
        return self

    @property
    def provider(self) -> tuple[str, dict[str, Any]] | None:
        """(provider name, its settings) when a provider starts the cluster, else None."""
        return None if self.sim is None else ("sim", self.sim)


# --- nodes -------------------------------------------------------------------------


class Access(str, Enum):
    SSH = "ssh"
    DOCKER = "docker"
    POD = "pod"
    NONE = "none"


class HostKeyPolicy(str, Enum):
    STRICT = "strict"
    ACCEPT_NEW = "accept-new"
    IGNORE = "ignore"


class AddressType(str, Enum):
    INTERNAL_IP = "InternalIP"
    EXTERNAL_IP = "ExternalIP"
    HOSTNAME = "Hostname"


class Bastion(Strict):
    host: str
    port: Port = 22
    user: str | None = None
    key_file: UserPath | None = None


class Ssh(Strict):
    user: str | None = None
    port: Port = 22
    key_file: UserPath | None = None
    agent: bool = False
    known_hosts: UserPath | None = "~/.ssh/known_hosts"
    host_key_policy: HostKeyPolicy = HostKeyPolicy.STRICT
    sudo: bool = False
    bastion: Bastion | None = None
    connect_timeout: PositiveFloat = 10.0


class NodeOverride(Strict):
    """Per-node settings, keyed by the Node object's name."""

    address: str | None = None
    port: Port | None = None
    user: str | None = None


class Docker(Strict):
    """kind nodes are containers named after their Node objects."""

    binary: str = "docker"


class PodAccess(Strict):
    """A privileged pod per node with the host at /rootfs (upstream e2e's HostExec)."""

    image: str = "busybox:1.36"
    namespace: DnsLabel | None = None


KUBELET_ROOTS = (  # where kubelets keep pods: the default, then relocations seen in the wild
    "/var/lib/kubelet",  # upstream's default (kubeadm, kind, rke2, k3s today)
    "/var/snap/microk8s/common/var/lib/kubelet",  # microk8s
    "/var/lib/rancher/k3s/agent/kubelet",  # older k3s (k3s-io/k3s#840)
    "/opt/rke/var/lib/kubelet",  # RKE on RancherOS (rancher/rancher#28447)
)


class Nodes(Strict):
    access: Access = Access.NONE
    address: AddressType = AddressType.INTERNAL_IP
    # the kubelet's --root-dir; unset: found on the node among KUBELET_ROOTS
    kubelet_root: AbsolutePath | None = None
    # how the disruption suite restarts a node's kubelet, run on the node (kind's nodes and
    # the simulator's answer it too; k3s: "systemctl restart k3s-agent")
    kubelet_restart_command: str = Field(default="systemctl restart kubelet", min_length=1)
    ssh: Ssh | None = None
    docker: Docker | None = None
    pod: PodAccess | None = None
    overrides: dict[str, NodeOverride] = Field(default_factory=dict)


# --- storage -----------------------------------------------------------------------


BLOCK_FS_TYPES = ("xfs", "ext4", "ext3", "btrfs")
SHARE_FS_TYPES = ("nfs", "nfs4", "cifs", "smb3", "cephfs")  # and fuse.<name>
_FUSE = re.compile(r"^fuse\.[a-z0-9][a-z0-9._-]*$")


def _fs_type(value: str) -> str:
    if value in BLOCK_FS_TYPES or value in SHARE_FS_TYPES or _FUSE.match(value):
        return value
    allowed = ", ".join((*BLOCK_FS_TYPES, *SHARE_FS_TYPES))
    raise ValueError(f"{value!r} is not a filesystem type the checks know: {allowed} or fuse.NAME")


FsType = Annotated[str, AfterValidator(_fs_type)]


def is_share(fs_type: str) -> bool:
    """A network file share: its source is the identity, no block device stands behind it."""
    return fs_type in SHARE_FS_TYPES or fs_type.startswith("fuse.")


class VolumeMode(str, Enum):
    FILESYSTEM = "Filesystem"
    BLOCK = "Block"


class AccessMode(str, Enum):
    RWO = "ReadWriteOnce"
    RWOP = "ReadWriteOncePod"
    ROX = "ReadOnlyMany"
    RWX = "ReadWriteMany"


class ReclaimPolicy(str, Enum):
    RETAIN = "Retain"
    DELETE = "Delete"


class BindingMode(str, Enum):
    IMMEDIATE = "Immediate"
    WAIT = "WaitForFirstConsumer"


class Multipath(Strict):
    """A device-mapper multipath device over SCSI paths (NetApp, Pure, 3PAR, Dell SANs)."""

    min_paths: Annotated[int, Field(ge=1)] = 2


class HandleIn(str, Enum):
    SERIAL = "serial"  # EBS on NVMe: serial vol0abc... for volumeHandle vol-0abc...
    WWN = "wwn"  # SAN LUNs whose handle carries the LUN's WWN / NAA id


class Expectations(Strict):
    """What stands behind a volume on the node: the device stack, from the mounted device
    down to the hardware (lsblk and sysfs), and what the hardware says it is."""

    transport: str | None = None  # iscsi, fc, sas, sata, pcie, tcp, rdma, usb ...
    vendor: str | None = None
    model: str | None = None
    rev: str | None = None
    device: Literal["scsi", "nvme", "rbd", "nbd", "loop", "virtio"] | None = None
    multipath: Multipath | None = None
    volume_handle_in: HandleIn | None = None  # proves the disk is this volume
    # the seed's names for vendor/model/rev (lsscsi columns); kept for older inventories
    scsi_vendor: str | None = None
    scsi_model: str | None = None
    scsi_rev: str | None = None

    @model_validator(mode="after")
    def _one_name_each(self) -> Expectations:
        for new, old in (("vendor", "scsi_vendor"), ("model", "scsi_model"), ("rev", "scsi_rev")):
            given, legacy = getattr(self, new), getattr(self, old)
            if given and legacy and given != legacy:
                raise ValueError(f"@{old}: {old} and {new} disagree; {new} alone is enough")
        return self

    @property
    def hardware(self) -> dict[str, str]:
        """vendor/model/rev as expected (either spelling)."""
        found = {
            "vendor": self.vendor or self.scsi_vendor,
            "model": self.model or self.scsi_model,
            "rev": self.rev or self.scsi_rev,
        }
        return {key: value for key, value in found.items() if value}


class Capabilities(Strict):
    """What the driver supports; a check needing a capability switched off skips."""

    persistence: bool = True  # data survives pod restarts and re-attachment
    exec: bool = True  # volumes hold files readable by exec into the pod
    scsi: bool = False  # the volume appears as a SCSI disk (lsscsi) on the node
    multinode: bool = True  # a volume may follow its pod to another node
    # upstream's DriverInfo capabilities of the same meaning (off unless declared)
    expansion: bool = False  # controllerExpansion: a claim can be resized (allowVolumeExpansion)
    online_expansion: bool = False  # onlineExpansion: grows while its pod runs
    topology: bool = False  # volumes are reachable from some nodes only (allowedTopologies)
    fs_group: bool = False  # fsGroup: the kubelet gives the pod's group the volume's files
    rwop: bool = False  # readWriteOncePod: ReadWriteOncePod claims admit one pod only


CAPABILITY_NAMES: tuple[str, ...] = tuple(Capabilities.model_fields)


class Threshold(Strict):
    """What one fio job must reach on this storage; a miss fails the performance check."""

    min_iops: PositiveFloat | None = None
    min_mib_per_s: PositiveFloat | None = None
    max_p50_ms: PositiveFloat | None = None
    max_p99_ms: PositiveFloat | None = None
    max_p999_ms: PositiveFloat | None = None


FioJobName = Literal["randread_4k", "randwrite_4k", "seqread_1m", "seqwrite_1m"]
FIO_JOB_NAMES: tuple[FioJobName, ...] = ("randread_4k", "randwrite_4k", "seqread_1m", "seqwrite_1m")


class Performance(Strict):
    """fio in the set's pods on the mounted volume: figures always, a verdict only where a
    job has a threshold. Short by default: seconds per job, not a benchmark campaign."""

    jobs: list[FioJobName] = Field(default_factory=lambda: list(FIO_JOB_NAMES), min_length=1)
    runtime: Annotated[float, Field(gt=0, le=3600)] = 2.0  # seconds per job
    iodepth: Annotated[int, Field(ge=1, le=1024)] = 4
    size: Quantity = "32Mi"  # of the file fio lays out (ignored for Block volumes)
    ioengine: str = "libaio"
    direct: bool = True  # O_DIRECT: the volume's speed, not the page cache's
    randread_4k: Threshold | None = None
    randwrite_4k: Threshold | None = None
    seqread_1m: Threshold | None = None
    seqwrite_1m: Threshold | None = None

    def threshold(self, job: str) -> Threshold | None:
        found: Threshold | None = getattr(self, job)
        return found


# What a static PV template may say in its strings: filled in per ordinal by the harness.
STATIC_PLACEHOLDERS = ("ordinal", "claim", "namespace", "set", "handle", "run")
# PersistentVolume sources (core/v1 PersistentVolumeSpec): one must name the volume.
PV_SOURCES = (
    "csi",
    "flexVolume",
    "iscsi",
    "fc",
    "rbd",
    "cephfs",
    "nfs",
    "local",
    "hostPath",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "cinder",
    "portworxVolume",
    "vsphereVolume",
)
# What the harness sets itself; a template may override all but these.
_PV_HARNESS_FIELDS = ("claimRef",)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a nested mapping/list, with its dotted path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


class StaticVolumes(Strict):
    """Pre-provisioned (static) volumes, as in the seed (pv-datera-0..n): the vendor's
    volumes that exist before the claims, one per ordinal, described as a PV template.

    ``pv`` is a PersistentVolume ``spec`` (a ``csi:`` source with its volumeHandle, a
    ``flexVolume:`` or ``iscsi:`` source as in the seed, ...) whose strings may hold
    ``{ordinal}``, ``{claim}``, ``{namespace}``, ``{set}``, ``{run}`` and, with
    ``handles``, ``{handle}`` (the ordinal's entry). The harness adds what is not given:
    capacity (the entry's size), access modes, volumeMode, reclaim policy Retain (the
    vendor's volume is never deleted by a test), storageClassName "" (so no provisioner
    steps in; set it and the claims ask for that class) and the claimRef or labels that
    bind PV n to claim ``<template>-<set>-<n>``.
    """

    pv: dict[str, Any]
    handles: list[str] | None = None  # existing volumes, one per ordinal: {handle}
    name: str = "static-{namespace}-{ordinal}"  # the PV's name (cluster-wide: keep {namespace})

    @model_validator(mode="after")
    def _template(self) -> StaticVolumes:
        sources = [key for key in self.pv if key in PV_SOURCES]
        if len(sources) != 1:
            found = f"found {', '.join(sources)}" if sources else "found none"
            raise ValueError(
                f"@pv: give exactly one volume source ({', '.join(PV_SOURCES[:4])}, ...); {found}"
            )
        for key in _PV_HARNESS_FIELDS:
            if key in self.pv:
                raise ValueError(f"@pv.{key}: set by the harness (it binds PV n to claim n)")
        for path, text in [*_strings(self.pv, "pv"), ("name", self.name)]:
            for found in _PLACEHOLDER.findall(text):
                if found not in STATIC_PLACEHOLDERS:
                    raise ValueError(
                        f"@{path}: unknown placeholder {{{found}}}; known: "
                        + ", ".join(f"{{{p}}}" for p in STATIC_PLACEHOLDERS)
                    )
                if found == "handle" and not self.handles:
                    raise ValueError(f"@{path}: {{handle}} needs handles: (one per ordinal)")
        source = "\n".join(text for _, text in _strings(self.pv[sources[0]], ""))
        per_ordinal = ("{ordinal}", "{claim}", "{handle}")
        if not any(p in source for p in per_ordinal):
            raise ValueError(
                f"@pv.{sources[0]}: names the same volume for every ordinal; put {{ordinal}} "
                "or {handle} in it (e.g. the volumeHandle)"
            )
        if not any(p in self.name for p in ("{ordinal}", "{claim}")):
            raise ValueError("@name: PV names must differ per ordinal: put {ordinal} in it")
        if self.handles is not None and len(set(self.handles)) != len(self.handles):
            raise ValueError("@handles: each pre-created volume once")
        return self


_PLUGIN_DIR = re.compile(r"^[a-z0-9.\-]+~[a-z0-9.\-]+$")


class Storage(Strict):
    """One driver/class under test; each entry parametrizes the suites."""

    name: DnsLabel
    storage_class: DnsSubdomain | None = None
    provisioner: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    reclaim_policy: ReclaimPolicy = ReclaimPolicy.DELETE
    volume_binding_mode: BindingMode = BindingMode.IMMEDIATE
    # the class's allowedTopologies, label key -> values (e.g. topology.kubernetes.io/zone:
    # [us-east-1a]): volumes only where a node's labels match every key
    allowed_topologies: dict[str, list[str]] = Field(default_factory=dict)
    fs_type: FsType = "ext4"
    volume_mode: VolumeMode = VolumeMode.FILESYSTEM
    device_path: AbsolutePath = "/dev/xvda"  # where a Block volume appears in the container
    size: Quantity = "1Gi"
    access_modes: list[AccessMode] = Field(default_factory=lambda: [AccessMode.RWO], min_length=1)
    kubelet_plugin_dir: str = "kubernetes.io~csi"
    expect: Expectations = Field(default_factory=Expectations)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    performance: Performance = Field(default_factory=Performance)
    static: StaticVolumes | None = None  # pre-provisioned volumes (suites/test_static_volumes)

    @field_validator("kubelet_plugin_dir")
    @classmethod
    def _plugin_dir(cls, value: str) -> str:
        if not _PLUGIN_DIR.match(value):
            raise ValueError(
                f"{value!r} is not a kubelet plugin directory such as kubernetes.io~csi, "
                "kubernetes.io~iscsi or datera~iscsi (vendor~driver)"
            )
        return value

    @model_validator(mode="after")
    def _class_or_provisioner(self) -> Storage:
        if bool(self.storage_class) == bool(self.provisioner):
            raise ValueError(
                "@storage_class: give exactly one of storage_class: (an existing class) or "
                "provisioner: (a class the harness creates)"
            )
        if self.parameters and not self.provisioner:
            raise ValueError("@parameters: only apply with provisioner: (a class we create)")
        if self.allowed_topologies and not self.provisioner:
            raise ValueError(
                "@allowed_topologies: only apply with provisioner: (a class we create); an "
                "existing class's allowedTopologies are read from the cluster"
            )
        if any(not values for values in self.allowed_topologies.values()):
            raise ValueError("@allowed_topologies: each key needs at least one value")
        if self.capabilities.scsi and not (
            self.expect.hardware.get("vendor") or self.expect.hardware.get("model")
        ):
            raise ValueError("@expect: capabilities.scsi is true, so set vendor or model")
        if is_share(self.fs_type) and self.volume_mode is VolumeMode.BLOCK:
            raise ValueError(f"@volume_mode: a {self.fs_type} share cannot be a Block volume")
        return self

    @property
    def share(self) -> bool:
        return is_share(self.fs_type)

    def __repr__(self) -> str:
        # reports show a test's parameters by repr: the name, never the parameters
        return f"Storage({self.name})"


# --- workload and timeouts ---------------------------------------------------------


class PodManagementPolicy(str, Enum):
    ORDERED_READY = "OrderedReady"
    PARALLEL = "Parallel"


class Workload(Strict):
    image: str = "registry.k8s.io/nginx-slim:0.27"
    set_name: DnsLabel = "web"
    claim_template: DnsLabel = "data"
    mount_path: AbsolutePath = "/data"
    replicas: list[Annotated[int, Field(ge=1, le=50)]] = Field(
        default_factory=lambda: [2], min_length=1
    )
    pod_management_policy: list[PodManagementPolicy] = Field(
        default_factory=lambda: [PodManagementPolicy.ORDERED_READY], min_length=1
    )
    # StatefulSets that may exist at once when the run deploys them ahead: volume attach
    # limits per node are real (EBS: 25-39 per Nitro instance; many SANs fewer LUNs)
    max_concurrent_sets: Annotated[int, Field(ge=1, le=64)] = 4
    # where fio runs when the workload image has none: a pod of this image beside the
    # set's pod, on its node, mounting the same claim (kubestr's image: Alpine with fio)
    fio_image: str = "ghcr.io/kastenhq/kubestr:latest"


class Timeouts(Strict):
    """Seconds. Slow drivers need more: upstream saw provisioning alone take 5 minutes."""

    pvc_bound: PositiveFloat = 180
    pod_ready: PositiveFloat = 300
    delete: PositiveFloat = 180
    command: PositiveFloat = 60


class Inventory(Strict):
    cluster: ClusterSettings
    nodes: Nodes = Field(default_factory=Nodes)
    storage: list[Storage] = Field(min_length=1)
    workload: Workload = Field(default_factory=Workload)
    timeouts: Timeouts = Field(default_factory=Timeouts)

    @model_validator(mode="after")
    def _ssh_complete(self) -> Inventory:
        # A provider that starts the cluster hands out its own user, key and known_hosts.
        if self.nodes.access is not Access.SSH or self.cluster.provider is not None:
            return self
        ssh = self.nodes.ssh
        if ssh is None:
            raise ValueError("@nodes.ssh: required for access: ssh (with user and key_file)")
        if not ssh.user:
            raise ValueError("@nodes.ssh.user: required for access: ssh (or set KUBE_SSH_USER)")
        if not ssh.key_file and not ssh.agent:
            raise ValueError(
                "@nodes.ssh.key_file: required for access: ssh unless agent: true "
                "(or set KUBE_SSH_KEY_PATH)"
            )
        return self

    @field_validator("storage")
    @classmethod
    def _unique_storage_names(cls, value: list[Storage]) -> list[Storage]:
        seen: set[str] = set()
        for entry in value:
            if entry.name in seen:
                raise ValueError(f"storage name {entry.name!r} is used twice")
            seen.add(entry.name)
        return value


# --- loading and errors ------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str  # e.g. storage[0].fs_type; "" for the whole file
    message: str
    line: int | None = None  # 1-based line in the file


class InventoryError(Exception):
    """An inventory that cannot be used; ``render()`` gives the one-screen report."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__(f"{source}: {len(problems)} problem(s)")
        self.source = source
        self.problems = problems

    def render(self) -> str:
        count = len(self.problems)
        lines = [f"{self.source}: invalid inventory, {count} problem{'s' if count > 1 else ''}:"]
        for problem in self.problems[:MAX_LISTED_PROBLEMS]:
            where = problem.path or "(file)"
            if problem.line is not None:
                where += f" (line {problem.line})"
            lines.append(f"  {where}: {problem.message}")
        if count > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {count - MAX_LISTED_PROBLEMS} more")
        lines.append(
            "Fix the fields above; `conformance inventory schema` prints every allowed key."
        )
        return "\n".join(lines)


ENV_OVERRIDES: dict[str, str] = {
    "KUBECONFIG": "cluster.kubeconfig (when the inventory does not use sim:)",
    "KUBE_SSH_USER": "nodes.ssh.user",
    "KUBE_SSH_KEY_PATH": "nodes.ssh.key_file",
    "KUBE_SSH_BASTION": "nodes.ssh.bastion (host[:port])",
}


def apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Apply the environment variables upstream e2e uses, so CI can keep secrets out of files."""
    cluster = data.get("cluster")
    if env.get("KUBECONFIG") and isinstance(cluster, dict) and "sim" not in cluster:
        # KUBECONFIG may list several files; the first one is the one to use.
        cluster["kubeconfig"] = env["KUBECONFIG"].split(os.pathsep)[0]
    nodes = data.get("nodes")
    wanted = [
        name for name in ("KUBE_SSH_USER", "KUBE_SSH_KEY_PATH", "KUBE_SSH_BASTION") if env.get(name)
    ]
    if isinstance(nodes, dict) and nodes.get("access") == "ssh" and wanted:
        ssh = nodes.setdefault("ssh", {})
        if isinstance(ssh, dict):
            if env.get("KUBE_SSH_USER"):
                ssh["user"] = env["KUBE_SSH_USER"]
            if env.get("KUBE_SSH_KEY_PATH"):
                ssh["key_file"] = env["KUBE_SSH_KEY_PATH"]
            if env.get("KUBE_SSH_BASTION"):
                host, _, port = env["KUBE_SSH_BASTION"].partition(":")
                bastion: dict[str, Any] = {"host": host}
                if port:
                    bastion["port"] = int(port) if port.isdigit() else port
                ssh["bastion"] = bastion
    return data


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Inventory:
    """Read, override from the environment, and validate an inventory file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(
            source, [Problem("", "file not found; pass an existing inventory path")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(source, [Problem("", f"cannot read: {exc}")]) from None
    return parse(text, source, os.environ if env is None else env)


def parse(
    text: str, source: str = "<inventory>", env: Mapping[str, str] | None = None
) -> Inventory:
    """Validate inventory YAML text; raise InventoryError listing every bad field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InventoryError(source, [Problem("", f"not valid YAML: {problem}", line)]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise InventoryError(
            source,
            [
                Problem(
                    "", f"the inventory must be a mapping with cluster: and storage:, got {kind}"
                )
            ],
        )
    data = apply_env_overrides(data, {} if env is None else env)
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(source, validation_problems(exc, root, Inventory)) from None
    problems = _provider_problems(inventory, root)
    if problems:
        raise InventoryError(source, problems)
    return inventory


def _provider_problems(inventory: Inventory, root: yaml.Node | None) -> list[Problem]:
    """The provider's own verdict on its section (e.g. cluster.sim.faults)."""
    chosen = inventory.cluster.provider
    if chosen is None:
        return []
    name, settings = chosen
    base: tuple[str | int, ...] = ("cluster", name)
    try:
        found = providers.get(name).problems(settings)
    except providers.ProviderError as exc:
        return [Problem(format_path(base), str(exc), line_of(root, base))]
    return [
        Problem(format_path(base + loc), message, line_of(root, base + loc))
        for loc, message in found
    ]


def validation_problems(
    exc: ValidationError, root: yaml.Node | None, model: type[BaseModel]
) -> list[Problem]:
    """Each of pydantic's errors as a field path, the line it is written on, and what is
    allowed there; in the file's order. Also for other YAML files the harness reads."""
    problems = [_problem(error, root, model) for error in exc.errors()]
    return sorted(problems, key=lambda problem: problem.line or 0)


def _problem(error: Any, root: yaml.Node | None, model: type[BaseModel]) -> Problem:
    loc = tuple(error["loc"])
    path = format_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], model)
        message = "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
    elif kind == "missing":
        message = "required field is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        if message.startswith("@"):
            # a cross-field check names the exact sub-field: "@nodes.ssh.user: ..."
            sub, _, message = message[1:].partition(": ")
            loc = loc + tuple(int(p) if p.isdigit() else p for p in sub.split("."))
            path = format_path(loc)
        given = error.get("input")
        if kind != "value_error" and isinstance(given, (str, int, float, bool)):
            message += f"; got {given!r}"
    return Problem(path, message, line_of(root, loc))


def format_path(loc: tuple[Any, ...]) -> str:
    """('storage', 0, 'fs_type') -> 'storage[0].fs_type'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _allowed_keys(loc: tuple[Any, ...], top: type[BaseModel]) -> list[str]:
    model: Any = top
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest YAML node along ``loc`` that exists."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                # an unknown key is reported where the key itself is written
                return value if not isinstance(value, yaml.ScalarNode) else key
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the inventory, for editors (yaml-language-server)."""
    schema = Inventory.model_json_schema()
    for name in providers.names():
        try:
            section = providers.get(name).settings_schema()
        except providers.ProviderError:
            continue  # installed but not loadable: its section stays a free mapping
        schema.setdefault("$defs", {}).update(section.pop("$defs", {}))  # refs are root-relative
        cluster = schema["$defs"].get("ClusterSettings", {}).get("properties", {})
        if name in cluster:
            cluster[name] = {"anyOf": [section, {"type": "null"}], "default": None}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Stateful storage conformance inventory"
    return schema


def iter_parameters(inventory: Inventory) -> Iterator[tuple[Storage, int, PodManagementPolicy]]:
    """The matrix the suites run: storage entries x replicas x pod management policies."""
    for entry in inventory.storage:
        for replicas in inventory.workload.replicas:
            for policy in inventory.workload.pod_management_policy:
                yield entry, replicas, policy


def parameter_id(entry: Storage, replicas: int, policy: PodManagementPolicy) -> str:
    """Readable ids such as ``datera-iscsi-r2-OrderedReady``."""
    return f"{entry.name}-r{replicas}-{policy.value}"


__all__ = [
    "CAPABILITY_NAMES",
    "DEFAULT_INVENTORY",
    "ENV_OVERRIDES",
    "Access",
    "Inventory",
    "InventoryError",
    "Problem",
    "StaticVolumes",
    "Storage",
    "format_path",
    "iter_parameters",
    "json_schema",
    "line_of",
    "load",
    "parameter_id",
    "parse",
    "validation_problems",
]
