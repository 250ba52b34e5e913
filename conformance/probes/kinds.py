"""Every probe's reader by name, and what it read as JSON: what ``conformance probe parse``
shows support when a customer pastes what their node printed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.probes.checksum import parse_checksum
from conformance.probes.common import MajorMinor, ProbeProblem
from conformance.probes.findmnt import parse_findmnt_json
from conformance.probes.fio import parse_fio_json
from conformance.probes.getent import parse_getent_hosts
from conformance.probes.hostname import parse_hostname
from conformance.probes.lsblk import parse_lsblk
from conformance.probes.lsscsi import read_lsscsi
from conformance.probes.mount import parse_mount
from conformance.probes.mountinfo import parse_mountinfo
from conformance.probes.multipath import parse_multipath
from conformance.probes.owner import parse_owner
from conformance.probes.proc_mounts import parse_proc_mounts
from conformance.probes.sizes import parse_blockdev_size, parse_statfs


@dataclass(frozen=True)
class Reading:
    """What a reader read: the items under ``key``, and lines read only in part or not at
    all (tolerant readers only; the others raise :class:`ProbeParseError`)."""

    key: str
    items: Sequence[object]
    problems: tuple[ProbeProblem, ...] = ()


@dataclass(frozen=True)
class ProbeKind:
    name: str
    summary: str  # the command whose output it reads
    read: Callable[[str], Reading]


def _items(key: str, parse: Callable[[str], Sequence[object]]) -> Callable[[str], Reading]:
    return lambda text: Reading(key, parse(text))


def _one(parse: Callable[[str], object]) -> Callable[[str], Sequence[object]]:
    return lambda text: [parse(text)]


def _lsscsi(transport: bool | None) -> Callable[[str], Reading]:
    def read(text: str) -> Reading:
        listing = read_lsscsi(text, transport=transport)
        return Reading("devices", listing.devices, listing.problems)

    return read


KINDS: dict[str, ProbeKind] = {
    kind.name: kind
    for kind in (
        ProbeKind("lsscsi", "lsscsi [-dgsktcbv] (transport recognised per row)", _lsscsi(None)),
        ProbeKind("lsscsi-t", "lsscsi -t (a blank transport column is a transport)", _lsscsi(True)),
        ProbeKind(
            "lsblk",
            "lsblk -J (any columns, any version) or lsblk -P",
            _items("devices", parse_lsblk),
        ),
        ProbeKind("mountinfo", "cat /proc/self/mountinfo", _items("mounts", parse_mountinfo)),
        ProbeKind(
            "proc-mounts", "cat /proc/mounts (or /etc/mtab)", _items("mounts", parse_proc_mounts)
        ),
        ProbeKind("mount", "mount (util-linux or busybox)", _items("mounts", parse_mount)),
        ProbeKind("findmnt", "findmnt -J", _items("filesystems", parse_findmnt_json)),
        ProbeKind("multipath", "multipath -ll", _items("maps", parse_multipath)),
        ProbeKind("fio", "fio --output-format=json", _items("figures", parse_fio_json)),
        ProbeKind(
            "blockdev",
            "blockdev --getsize64 DEV (bytes)",
            _items("size_bytes", _one(parse_blockdev_size)),
        ),
        ProbeKind(
            "statfs",
            "stat -f -c '%S %b' PATH (block size x blocks, in bytes)",
            _items("size_bytes", _one(parse_statfs)),
        ),
        ProbeKind("stat-owner", "stat -c '%u|%g|%a|%F|%n' PATH...", _items("owners", parse_owner)),
        ProbeKind("getent", "getent hosts NAME", _items("hosts", parse_getent_hosts)),
        ProbeKind("hostname", "hostname", _items("hostname", _one(parse_hostname))),
        ProbeKind(
            "checksum",
            "sha256sum FILE (or md5sum)",
            _items("checksum", _one(parse_checksum)),
        ),
    )
}


def to_jsonable(value: object) -> Any:
    """Dataclasses as objects, major:minor as ``"8:16"``, tuples as lists."""
    if isinstance(value, MajorMinor):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
