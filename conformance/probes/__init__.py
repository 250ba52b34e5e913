"""The commands we run on nodes and in containers, and the parsers of what they print.

One module per tool. Every probe is pure: a command (an argv tuple, which both the node
transports and a pod exec accept; ``sh -c`` scripts are built with :func:`shlex.quote`)
plus a parser from the command's text to frozen dataclasses. Nothing here runs
anything, and nothing here judges: the suites run the commands, and
:mod:`conformance.checks` judges what the parsers read. Parsers raise
:class:`ProbeParseError` naming the probe, the line number and the line; lsscsi's reader
is tolerant instead (one odd row is a :class:`ProbeProblem` beside the rows it read),
because one unexpected device must not hide the disk behind a volume.
:mod:`conformance.probes.kinds` names every reader for ``conformance probe parse``.

The parsers are tested against real output of the real tools (``tests/data/``, each
capture with its origin next to it; ``tests/data/real/`` holds outputs people captured
on their own machines, each headed by its source).
"""

from conformance.probes.checksum import (
    BLOCK,
    CHECKSUM_ALGORITHMS,
    MAX_PAYLOAD_BYTES,
    Checksum,
    Payload,
    checksum_command,
    parse_checksum,
    read_block_command,
    write_block_command,
    write_payload_command,
)
from conformance.probes.common import MajorMinor, ProbeParseError, ProbeProblem, split_options
from conformance.probes.findmnt import (
    FINDMNT,
    FINDMNT_DEVNUM,
    FindmntEntry,
    findmnt_command,
    parse_findmnt_json,
)
from conformance.probes.fio import (
    JOBS,
    FioFigures,
    FioJob,
    cleanup_command,
    fio_command,
    parse_fio_json,
)
from conformance.probes.getent import HostEntry, getent_hosts_command, parse_getent_hosts
from conformance.probes.hostname import HOSTNAME, HOSTNAME_PROC, parse_hostname
from conformance.probes.kubelet_paths import (
    CSI_PLUGIN_DIR,
    KUBELET_ROOT,
    KubeletVolumePath,
    kubelet_mounts_of,
    kubelet_volume_mounts,
    kubelet_volume_path,
    match_kubelet_mount,
    parse_kubelet_volume_path,
)
from conformance.probes.lsblk import (
    LSBLK,
    STACK_COLUMNS,
    BlockDevice,
    find_block_devices,
    lsblk_command,
    parse_lsblk,
    underlying_devices,
    walk_block_devices,
)
from conformance.probes.lsscsi import (
    LSSCSI,
    LSSCSI_PLAIN,
    LSSCSI_SIZE,
    LSSCSI_TRANSPORT,
    LsscsiListing,
    ScsiDevice,
    find_scsi_device,
    parse_lsscsi,
    read_lsscsi,
)
from conformance.probes.mount import MOUNT, MountLine, parse_mount
from conformance.probes.mountinfo import (
    MOUNTINFO,
    MountInfo,
    find_mount,
    is_read_write,
    mount_containing,
    parse_mountinfo,
)
from conformance.probes.multipath import (
    MULTIPATH,
    MultipathMap,
    MultipathPath,
    PathGroup,
    parse_multipath,
)
from conformance.probes.owner import Owner, owner_command, parse_owner
from conformance.probes.proc import container_id, container_pids_command, mountinfo_of, parse_pids
from conformance.probes.proc_mounts import PROC_MOUNTS, MountEntry, parse_proc_mounts
from conformance.probes.sizes import (
    blockdev_size_command,
    parse_blockdev_size,
    parse_statfs,
    statfs_command,
)
from conformance.probes.stat import PathStat, parse_stat, stat_command
from conformance.probes.sysfs import SysfsAttributes, parse_sysfs, sysfs_command

__all__ = [
    "BLOCK",
    "CHECKSUM_ALGORITHMS",
    "CSI_PLUGIN_DIR",
    "FINDMNT",
    "FINDMNT_DEVNUM",
    "HOSTNAME",
    "HOSTNAME_PROC",
    "JOBS",
    "KUBELET_ROOT",
    "LSBLK",
    "LSSCSI",
    "LSSCSI_PLAIN",
    "LSSCSI_SIZE",
    "LSSCSI_TRANSPORT",
    "MAX_PAYLOAD_BYTES",
    "MOUNT",
    "MOUNTINFO",
    "MULTIPATH",
    "PROC_MOUNTS",
    "STACK_COLUMNS",
    "BlockDevice",
    "Checksum",
    "FindmntEntry",
    "FioFigures",
    "FioJob",
    "HostEntry",
    "KubeletVolumePath",
    "LsscsiListing",
    "MajorMinor",
    "MountEntry",
    "MountInfo",
    "MountLine",
    "MultipathMap",
    "MultipathPath",
    "Owner",
    "PathGroup",
    "PathStat",
    "Payload",
    "ProbeParseError",
    "ProbeProblem",
    "ScsiDevice",
    "SysfsAttributes",
    "blockdev_size_command",
    "checksum_command",
    "cleanup_command",
    "container_id",
    "container_pids_command",
    "find_block_devices",
    "find_mount",
    "find_scsi_device",
    "findmnt_command",
    "fio_command",
    "getent_hosts_command",
    "is_read_write",
    "kubelet_mounts_of",
    "kubelet_volume_mounts",
    "kubelet_volume_path",
    "lsblk_command",
    "match_kubelet_mount",
    "mount_containing",
    "mountinfo_of",
    "owner_command",
    "parse_blockdev_size",
    "parse_checksum",
    "parse_findmnt_json",
    "parse_fio_json",
    "parse_getent_hosts",
    "parse_hostname",
    "parse_kubelet_volume_path",
    "parse_lsblk",
    "parse_lsscsi",
    "parse_mount",
    "parse_mountinfo",
    "parse_multipath",
    "parse_owner",
    "parse_pids",
    "parse_proc_mounts",
    "parse_stat",
    "parse_statfs",
    "parse_sysfs",
    "read_block_command",
    "read_lsscsi",
    "split_options",
    "stat_command",
    "statfs_command",
    "sysfs_command",
    "underlying_devices",
    "walk_block_devices",
    "write_block_command",
    "write_payload_command",
]
