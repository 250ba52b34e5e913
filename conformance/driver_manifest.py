"""Upstream's external storage driver manifest (the driver.yaml of ``e2e.test
-storage.testdriver``) turned into an inventory entry, field by field.

Most CSI vendors already describe their driver in that file. Upstream reads it leniently:
an unknown or misplaced key is silently ignored, so a typo switches a test off without a
word. Here every key is either mapped (and to what), not used (and why), or an error that
names the key and its line. The field list follows upstream's ``driverDefinition``
(test/e2e/storage/external/external.go), ``DriverInfo`` and the ``Cap*`` constants
(test/e2e/storage/framework/testdriver.go) and ``TimeoutContext``
(test/e2e/framework/timeouts.go).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conformance import inventory as inv

# --- the manifest, as upstream defines it ----------------------------------------------


class _Upstream(BaseModel):
    """A section of the manifest: upstream's Go field names; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassSource(_Upstream):
    FromName: bool = False
    FromFile: str | None = None
    FromExistingClassName: str | None = None


class InlineVolume(_Upstream):
    Attributes: dict[str, str] = Field(default_factory=dict)
    Shared: bool = False
    ReadOnly: bool = False


class SizeRange(_Upstream):
    Min: str | None = None
    Max: str | None = None


class CapabilityMap(_Upstream):
    """Upstream's capability names (``Cap*``); a name upstream does not know is an error."""

    persistence: bool | None = None
    block: bool | None = None
    fsGroup: bool | None = None
    volumeMountGroup: bool | None = None
    exec: bool | None = None
    snapshotDataSource: bool | None = None
    pvcDataSource: bool | None = None
    multipods: bool | None = None
    RWX: bool | None = None
    RWXFilesystemOnly: bool | None = None
    RWXBlockOnly: bool | None = None
    controllerExpansion: bool | None = None
    nodeExpansion: bool | None = None
    offlineExpansion: bool | None = None
    onlineExpansion: bool | None = None
    volumeLimits: bool | None = None
    singleNodeVolume: bool | None = None
    topology: bool | None = None
    capacity: bool | None = None
    FSResizeFromSourceNotSupported: bool | None = None
    readWriteOncePod: bool | None = None
    multiplePVsSameID: bool | None = None
    capReadOnlyMany: bool | None = None


class StressOptions(_Upstream):
    NumPods: int | None = None
    NumRestarts: int | None = None


class SnapshotStressOptions(_Upstream):
    NumPods: int | None = None
    NumSnapshots: int | None = None


class Metrics(_Upstream):
    AvgLatency: str | int | None = None
    Throughput: float | None = None


class ProvisioningPerformance(_Upstream):
    VolumeSize: str | None = None
    Count: int | None = None
    ExpectedMetrics: Metrics | None = None


class PerformanceOptions(_Upstream):
    ProvisioningOptions: ProvisioningPerformance | None = None


FsTypes = dict[str, dict[str, Any] | None]  # Go's sets.String: `ext4: {}`


class DriverInfoSection(_Upstream):
    Name: str
    InTreePluginName: str | None = None
    FeatureTag: str | None = None
    TestTags: list[Any] | None = None
    MaxFileSize: int | None = None
    SupportedSizeRange: SizeRange = Field(default_factory=SizeRange)
    SupportedFsType: FsTypes | None = None
    SupportedMountOption: FsTypes | None = None
    RequiredMountOption: FsTypes | None = None
    Capabilities: CapabilityMap = Field(default_factory=CapabilityMap)
    RequiredAccessModes: list[inv.AccessMode] | None = None
    TopologyKeys: list[str] | None = None
    NumAllowedTopologies: int | None = None
    StressTestOptions: StressOptions | None = None
    VolumeSnapshotStressTestOptions: SnapshotStressOptions | None = None
    PerformanceTestOptions: PerformanceOptions | None = None


class DriverManifest(_Upstream):
    ShortName: str | None = None  # read by upstream until 1.15; still in many manifests
    DriverInfo: DriverInfoSection
    StorageClass: ClassSource = Field(default_factory=ClassSource)
    SnapshotClass: ClassSource = Field(default_factory=ClassSource)
    InlineVolumes: list[InlineVolume] = Field(default_factory=list)
    ClientNodeName: str | None = None
    Timeouts: dict[str, str] = Field(default_factory=dict)


# --- errors ---------------------------------------------------------------------------


class ManifestError(Exception):
    """A manifest that cannot be converted; ``render()`` is the one-screen report."""

    def __init__(self, source: str, problems: list[inv.Problem]) -> None:
        super().__init__(f"{source}: {len(problems)} problem(s)")
        self.source = source
        self.problems = problems

    def render(self) -> str:
        count = len(self.problems)
        lines = [f"{self.source}: cannot convert, {count} problem{'s' if count > 1 else ''}:"]
        for problem in self.problems[: inv.MAX_LISTED_PROBLEMS]:
            where = problem.path or "(file)"
            if problem.line is not None:
                where += f" (line {problem.line})"
            lines.append(f"  {where}: {problem.message}")
        if any(problem.message.startswith("unknown") for problem in self.problems):
            lines.append(
                "Upstream's e2e.test ignores such keys silently, so a test it should run may "
                "not have run: fix or remove them (the field names are upstream's, in "
                "test/e2e/storage/framework/testdriver.go)."
            )
        return "\n".join(lines)


# --- what became of each field ---------------------------------------------------------


@dataclass(frozen=True)
class Fate:
    """One field of the manifest and what the conversion did with it."""

    field: str  # e.g. DriverInfo.Capabilities.fsGroup
    value: str
    mapped_to: str | None  # the inventory field, or None: not used
    why: str = ""

    def line(self) -> str:
        if self.mapped_to is not None:
            return f"{self.field}: {self.value} -> {self.mapped_to}" + (
                f" ({self.why})" if self.why else ""
            )
        return f"{self.field}: {self.value} -> not used: {self.why}"


# upstream's TimeoutContext keys and the inventory timeout that plays their part
TIMEOUTS: dict[str, str | None] = {
    "PodStart": "pod_ready",
    "PodStartShort": None,
    "PodStartSlow": None,
    "PodDelete": "delete",
    "ClaimProvision": "pvc_bound",
    "ClaimProvisionShort": None,
    "DataSourceProvision": None,
    "ClaimBound": "pvc_bound",
    "PVReclaim": None,
    "PVBound": "pvc_bound",
    "PVCreate": None,
    "PVDelete": "delete",
    "PVDeleteSlow": None,
    "SnapshotCreate": None,
    "SnapshotDelete": None,
    "SnapshotControllerMetrics": None,
    "SystemPodsStartup": None,
    "NodeSchedulable": None,
    "SystemDaemonsetStartup": None,
    "Poll": None,
}

# capability -> inventory capability of the same meaning
CAPABILITIES: dict[str, str] = {
    "persistence": "persistence",
    "exec": "exec",
    "fsGroup": "fs_group",
    "controllerExpansion": "expansion",
    "onlineExpansion": "online_expansion",
    "topology": "topology",
    "readWriteOncePod": "rwop",
}

UNUSED_CAPABILITIES: dict[str, str] = {
    "volumeMountGroup": "the fs_group suite checks the result, however the driver applies it",
    "snapshotDataSource": "this harness has no snapshot suites",
    "pvcDataSource": "this harness has no cloning suites",
    "multipods": "no suite mounts one volume in several pods of one node",
    "nodeExpansion": "the expansion suite checks the filesystem in the container grows, "
    "whichever side grows it",
    "offlineExpansion": "without online_expansion the expansion suite restarts the pod",
    "volumeLimits": "no suite fills a node to its attach limit",
    "capacity": "no suite reads CSIStorageCapacity",
    "FSResizeFromSourceNotSupported": "no suite resizes clones or restored snapshots",
    "multiplePVsSameID": "no suite creates two PVs for one volume",
    "capReadOnlyMany": "no suite uses ReadOnlyMany",
}

# drivers whose volumes are file shares: upstream's manifest has no fs type for them
SHARE_FS_TYPES: dict[str, str] = {
    "cephfs.csi.ceph.com": "cephfs",
    "nfs.csi.ceph.com": "nfs4",
    "nfs.csi.k8s.io": "nfs4",
    "efs.csi.aws.com": "nfs4",
    "file.csi.azure.com": "cifs",
    "smb.csi.k8s.io": "cifs",
    "filestore.csi.storage.gke.io": "nfs",
}

UPSTREAM_DEFAULT_SIZE = "5Gi"  # loadDriverDefinition's default SupportedSizeRange.Min


def _go_duration_seconds(text: str) -> float:
    """Go's time.ParseDuration for the units manifests use (h, m, s, ms)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a Go duration such as 10m, 90s or 1h30m")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _label(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return name or "driver"


@dataclass
class Conversion:
    """The inventory entries a manifest gives, its timeouts, and each field's fate."""

    source: str
    entries: list[dict[str, Any]]
    timeouts: dict[str, float]
    fates: list[Fate]

    def render(self) -> str:
        """YAML to paste into an inventory, the fate of each field as comments above it."""
        lines = [
            f"# converted from {self.source} (upstream's external storage driver manifest)",
            "# what became of each field:",
            *(f"#   {fate.line()}" for fate in self.fates),
        ]
        body: dict[str, Any] = {"storage": self.entries}
        if self.timeouts:
            body["timeouts"] = {key: int(value) for key, value in self.timeouts.items()}
        return "\n".join(lines) + "\n" + yaml.dump(body, Dumper=_NoAliases, sort_keys=False)


class _NoAliases(yaml.SafeDumper):
    """Each entry written out in full: a vendor edits one without touching the other."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load(path: str | Path) -> Conversion:
    """Read and convert a manifest; ManifestError names each bad key and its line."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(source, [inv.Problem("", f"cannot read: {exc}")]) from None
    return convert(text, source, base=Path(path).parent)


def convert(text: str, source: str = "<manifest>", base: Path | None = None) -> Conversion:
    """Convert manifest text; ``base`` is where StorageClass.FromFile is looked up."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(source, [inv.Problem("", f"not valid YAML: {problem}", line)]) from None
    if not isinstance(data, dict):
        raise ManifestError(
            source, [inv.Problem("", "a driver manifest is a mapping with DriverInfo: at least")]
        )
    if "kind" in data and "DriverInfo" not in data:
        raise ManifestError(
            source,
            [
                inv.Problem(
                    "kind",
                    f"this is a Kubernetes {data['kind']}, not a driver manifest; the manifest "
                    "names it in StorageClass.FromFile",
                    inv.line_of(root, ("kind",)),
                )
            ],
        )
    try:
        manifest = DriverManifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(source, inv.validation_problems(exc, root, DriverManifest)) from None
    problems: list[inv.Problem] = []
    for key, value in manifest.Timeouts.items():
        where = ("Timeouts", key)
        if key not in TIMEOUTS:
            problems.append(
                inv.Problem(
                    inv.format_path(where),
                    f"unknown timeout; upstream's are: {', '.join(TIMEOUTS)}",
                    inv.line_of(root, where),
                )
            )
            continue
        try:
            _go_duration_seconds(value)
        except ValueError as exc:
            problems.append(inv.Problem(inv.format_path(where), str(exc), inv.line_of(root, where)))
    storage_class: dict[str, Any] | None = None
    if manifest.StorageClass.FromFile and not manifest.StorageClass.FromName:
        storage_class, problem = _class_file(manifest.StorageClass.FromFile, base, root)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise ManifestError(source, problems)
    return _Converter(manifest, storage_class, source).run()


def _class_file(
    name: str, base: Path | None, root: yaml.Node | None
) -> tuple[dict[str, Any] | None, inv.Problem | None]:
    where = ("StorageClass", "FromFile")
    path = Path(name) if base is None or Path(name).is_absolute() else base / name
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        reason = "not found" if isinstance(exc, FileNotFoundError) else f"unreadable: {exc}"
        return None, inv.Problem(
            inv.format_path(where),
            f"{path}: {reason}; put the StorageClass file beside the manifest, or use "
            "FromExistingClassName with a class the cluster has",
            inv.line_of(root, where),
        )
    if not isinstance(loaded, dict) or loaded.get("kind") != "StorageClass":
        return None, inv.Problem(
            inv.format_path(where), f"{path} is not a StorageClass", inv.line_of(root, where)
        )
    return loaded, None


class _Converter:
    def __init__(
        self, manifest: DriverManifest, storage_class: dict[str, Any] | None, source: str
    ) -> None:
        self.m = manifest
        self.sc = storage_class
        self.source = source
        self.fates: list[Fate] = []
        self.entry: dict[str, Any] = {}

    def keep(self, field: str, value: Any, to: str | None, why: str = "") -> None:
        self.fates.append(Fate(field, _show(value), to, why))

    def run(self) -> Conversion:
        info = self.m.DriverInfo
        self._name()
        self._class()
        self._size(info)
        self._fs_type(info)
        self._access(info)
        capabilities = self._capabilities(info)
        self.entry["capabilities"] = capabilities
        self._unused(info)
        entries = [self.entry]
        if info.Capabilities.block:
            block = {
                **copy.deepcopy(self.entry),
                "name": _label(self.entry["name"] + "-block")[:63],
                "volume_mode": "Block",
                "access_modes": ["ReadWriteOnce"],
            }
            block.pop("fs_type", None)
            entries.append(block)
        for entry in entries:  # what is printed must load as an inventory entry
            inv.Storage.model_validate(entry)
        timeouts = self._timeouts()
        return Conversion(self.source, entries, timeouts, self.fates)

    def _name(self) -> None:
        info = self.m.DriverInfo
        if self.m.ShortName:
            self.entry["name"] = _label(self.m.ShortName)
            self.keep("ShortName", self.m.ShortName, "name")
            self.keep("DriverInfo.Name", info.Name, "provisioner or the class's driver")
        else:
            self.entry["name"] = _label(info.Name)
            self.keep("DriverInfo.Name", info.Name, "name")

    def _class(self) -> None:
        source, info = self.m.StorageClass, self.m.DriverInfo
        if source.FromName:
            self.entry["provisioner"] = info.Name
            self.keep(
                "StorageClass.FromName",
                True,
                "provisioner",
                "a class the harness creates, no parameters",
            )
        elif source.FromExistingClassName:
            self.entry["storage_class"] = source.FromExistingClassName
            self.keep(
                "StorageClass.FromExistingClassName", source.FromExistingClassName, "storage_class"
            )
        elif self.sc is not None:
            self.keep(
                "StorageClass.FromFile",
                source.FromFile,
                "provisioner, parameters, reclaim_policy, volume_binding_mode (read from the file)",
            )
            self.entry["provisioner"] = self.sc.get("provisioner") or info.Name
            parameters = {str(k): str(v) for k, v in (self.sc.get("parameters") or {}).items()}
            if parameters:
                self.entry["parameters"] = parameters
            for key, to in (
                ("reclaimPolicy", "reclaim_policy"),
                ("volumeBindingMode", "volume_binding_mode"),
            ):
                if self.sc.get(key):
                    self.entry[to] = self.sc[key]
            for key in ("mountOptions", "allowedTopologies", "allowVolumeExpansion"):
                if key in self.sc:
                    why = {
                        "mountOptions": "the harness's class has no mount options",
                        "allowedTopologies": "zones come from the nodes' labels",
                        "allowVolumeExpansion": "set from capabilities.expansion",
                    }[key]
                    self.keep(f"StorageClass.FromFile {key}", self.sc[key], None, why)
        else:
            self.entry["provisioner"] = info.Name
            self.keep(
                "StorageClass",
                "(none)",
                "provisioner",
                "upstream then runs no dynamic provisioning tests; every suite here "
                "provisions, so a class for the driver is created",
            )
        for key in ("FromName", "FromFile", "FromExistingClassName"):
            value = getattr(self.m.SnapshotClass, key)
            if value:
                self.keep(
                    f"SnapshotClass.{key}", value, None, "this harness has no snapshot suites"
                )

    def _size(self, info: DriverInfoSection) -> None:
        low = info.SupportedSizeRange.Min
        if low:
            self.entry["size"] = low
            self.keep(
                "DriverInfo.SupportedSizeRange.Min",
                low,
                "size",
                "the claims ask for the smallest size the driver supports",
            )
        else:
            self.entry["size"] = UPSTREAM_DEFAULT_SIZE
            self.keep(
                "DriverInfo.SupportedSizeRange.Min",
                "(unset)",
                "size",
                f"upstream's default, {UPSTREAM_DEFAULT_SIZE}",
            )
        if info.SupportedSizeRange.Max:
            self.keep(
                "DriverInfo.SupportedSizeRange.Max",
                info.SupportedSizeRange.Max,
                None,
                "no suite provisions the largest size",
            )

    def _fs_type(self, info: DriverInfoSection) -> None:
        named = [name for name in (info.SupportedFsType or {}) if name]
        usable = [name for name in named if name in inv.BLOCK_FS_TYPES]
        share = SHARE_FS_TYPES.get(info.Name) or SHARE_FS_TYPES.get(
            (self.sc or {}).get("provisioner", "")
        )
        if usable:
            self.entry["fs_type"] = usable[0]
            others = [n for n in named if n != usable[0]]
            why = "the first listed" + (
                f"; for {', '.join(others)} copy the entry with another fs_type" if others else ""
            )
            self.keep("DriverInfo.SupportedFsType", named, "fs_type", why)
        elif share:
            self.entry["fs_type"] = share
            self.keep(
                "DriverInfo.SupportedFsType",
                named or "(unset)",
                "fs_type",
                f"{info.Name} mounts {share} shares",
            )
        else:
            self.entry["fs_type"] = "ext4"
            self.keep(
                "DriverInfo.SupportedFsType",
                named or "(unset)",
                "fs_type",
                "the driver's default is not stated: ext4 assumed; set the fs type "
                "`findmnt` shows on a node",
            )

    def _access(self, info: DriverInfoSection) -> None:
        caps = info.Capabilities
        rwx = caps.RWX or caps.RWXFilesystemOnly
        if info.RequiredAccessModes:
            self.entry["access_modes"] = [mode.value for mode in info.RequiredAccessModes]
            self.keep(
                "DriverInfo.RequiredAccessModes",
                [m.value for m in info.RequiredAccessModes],
                "access_modes",
            )
        elif rwx and self.entry.get("fs_type") in inv.SHARE_FS_TYPES:
            self.entry["access_modes"] = ["ReadWriteMany"]
        for name in ("RWX", "RWXFilesystemOnly", "RWXBlockOnly"):
            value = getattr(caps, name)
            if value is None:
                continue
            if (
                value
                and name != "RWXBlockOnly"
                and self.entry.get("access_modes") == ["ReadWriteMany"]
            ):
                self.keep(
                    f"DriverInfo.Capabilities.{name}",
                    value,
                    "access_modes",
                    "ReadWriteMany: the shares suite reads across nodes",
                )
            else:
                self.keep(
                    f"DriverInfo.Capabilities.{name}",
                    value,
                    None,
                    "ReadWriteMany is tested on file shares; a block RWX volume has no suite"
                    if value
                    else "claims ask for ReadWriteOnce",
                )

    def _capabilities(self, info: DriverInfoSection) -> dict[str, bool]:
        caps = info.Capabilities
        result: dict[str, bool] = {}
        for name, to in CAPABILITIES.items():
            value = getattr(caps, name)
            if name == "onlineExpansion" and value is None and caps.controllerExpansion:
                # loadDriverDefinition: controller expansion implies online expansion
                result[to] = True
                self.keep(
                    f"DriverInfo.Capabilities.{name}",
                    "(unset)",
                    f"capabilities.{to}",
                    "true, as upstream defaults it when controllerExpansion is true",
                )
                continue
            if value is None:
                continue
            result[to] = value
            self.keep(f"DriverInfo.Capabilities.{name}", value, f"capabilities.{to}")
        if caps.singleNodeVolume is not None:
            result["multinode"] = not caps.singleNodeVolume
            self.keep(
                "DriverInfo.Capabilities.singleNodeVolume",
                caps.singleNodeVolume,
                "capabilities.multinode",
                "its opposite",
            )
        if caps.block is not None:
            self.keep(
                "DriverInfo.Capabilities.block",
                caps.block,
                "a second entry with volume_mode: Block" if caps.block else None,
                "" if caps.block else "no Block entry",
            )
        self.fates.append(
            Fate(
                "(none)",
                "false",
                "capabilities.scsi",
                "upstream has no SCSI capability: set it, with expect.vendor/"
                "model, when lsscsi lists the volume's disk",
            )
        )
        result["scsi"] = False
        return result

    def _unused(self, info: DriverInfoSection) -> None:
        for name, why in UNUSED_CAPABILITIES.items():
            value = getattr(info.Capabilities, name)
            if value is not None:
                self.keep(f"DriverInfo.Capabilities.{name}", value, None, why)
        reasons = {
            "InTreePluginName": "the harness tests the driver as installed, CSI or in-tree",
            "FeatureTag": "a ginkgo focus tag; select suites with pytest -m/-k instead",
            "TestTags": "a ginkgo focus tag; select suites with pytest -m/-k instead",
            "MaxFileSize": "payloads are a few KiB",
            "SupportedMountOption": "the harness's class has no mount options",
            "RequiredMountOption": "the harness's class has no mount options",
            "TopologyKeys": "the topology suite reads zones from the nodes' and PVs' labels",
            "NumAllowedTopologies": "the topology suite reads zones from the nodes' labels",
            "StressTestOptions": "no stress suite",
            "VolumeSnapshotStressTestOptions": "no snapshot suites",
            "PerformanceTestOptions": "provisioning latency is in each run's timeline",
        }
        for name, why in reasons.items():
            value = getattr(info, name)
            if value:
                shown = (
                    value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value
                )
                self.keep(f"DriverInfo.{name}", shown, None, why)
        if self.m.InlineVolumes:
            self.keep(
                "InlineVolumes",
                f"{len(self.m.InlineVolumes)} volume(s)",
                None,
                "no suite for CSI inline ephemeral volumes: StatefulSets use claims",
            )
        if self.m.ClientNodeName:
            self.keep(
                "ClientNodeName",
                self.m.ClientNodeName,
                None,
                "the StatefulSet's pods go where the scheduler puts them",
            )

    def _timeouts(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for key, value in self.m.Timeouts.items():
            to = TIMEOUTS[key]
            seconds = _go_duration_seconds(value)
            if to is None:
                self.keep(f"Timeouts.{key}", value, None, "no wait of that kind here")
                continue
            found[to] = max(found.get(to, 0.0), seconds)
            self.keep(f"Timeouts.{key}", value, f"timeouts.{to}", f"{seconds:g} s")
        return found


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)
