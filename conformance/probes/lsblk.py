"""``lsblk -J`` (and ``-P``): the node's block devices as a tree, read by column.

The storage stack behind a volume is resolved from the mounted device down (DESIGN §4):
``xfs on dm-3 (253:3, mpath "mpatha") -> sdb, sdc``. lsblk prints that tree, but its
JSON changed across util-linux versions, so every column is read by name and each
known spelling is accepted (all seen in ``tests/data/real/lsblk/``):

- ``"maj:min"`` (and ``maj_min``, as ``-P`` and other tools spell it);
- ``"mountpoint"`` (a string or null) before 2.37, ``"mountpoints"`` (a list that holds
  ``null`` for "not mounted") since; both are read into ``mountpoints``;
- sizes as numbers (``-b`` since 2.33), as digit strings (``-b`` before), or human
  strings without ``-b`` (``"96G"``: kept in ``size_text``, ``size`` is then None);
- ``true``/``false`` or ``"0"``/``"1"`` for flags; vendor and model padded as sysfs
  holds them (``"ATA     "``; stripped here).

Nodes whose lsblk predates JSON (util-linux < 2.27, e.g. CentOS 7) print ``-P`` pairs
(``NAME="sda" MAJ:MIN="8:0" ...``); those are read too, nested by ``PKNAME`` when present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of

PROBE = "lsblk"
LSBLK_COLUMNS = (
    "NAME,KNAME,PATH,MAJ:MIN,TYPE,SIZE,VENDOR,MODEL,SERIAL,WWN,TRAN,HCTL,FSTYPE,MOUNTPOINT"
)
LSBLK = ("lsblk", "-J", "-b", "-o", LSBLK_COLUMNS)
# the device stack under a volume: what each layer is, and each path's state (running)
STACK_COLUMNS = LSBLK_COLUMNS + ",REV,STATE"


def lsblk_command(
    device: str | None = None,
    *,
    inverse: bool = False,
    pairs: bool = False,
    columns: str = LSBLK_COLUMNS,
) -> tuple[str, ...]:
    """``lsblk -J -b -o ... [-s] [DEVICE]``.

    ``inverse`` (``-s``) prints the tree from DEVICE down to what it sits on (a dm
    device's paths become its children); ``pairs`` (``-P``) is for lsblk without
    ``-J`` (util-linux < 2.27), where PKNAME stands in for the tree.
    """
    if device is not None and not device.startswith("/dev/"):
        raise ValueError(f"lsblk takes a device node, not {device!r}")
    if pairs:
        command: tuple[str, ...] = ("lsblk", "-P", "-b", "-o", columns + ",PKNAME")
    else:
        command = ("lsblk", "-J", "-b", "-o", columns)
    if inverse:
        command = (*command, "-s")
    return command if device is None else (*command, device)


@dataclass(frozen=True)
class BlockDevice:
    """One device of lsblk's tree; None for a column lsblk did not print or left empty."""

    name: str
    kname: str | None = None
    path: str | None = None
    major_minor: MajorMinor | None = None
    type: str | None = None  # "disk", "part", "mpath", "lvm", "crypt", "raid0", "rom", "loop"
    size: int | None = None  # bytes (-b)
    size_text: str | None = None  # as printed when not in bytes: "96G", "1.7T"
    vendor: str | None = None  # stripped of the padding sysfs keeps: "ATA", "NETAPP"
    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    transport: str | None = None  # TRAN: "iscsi", "fc", "sas", "sata", "nvme", "usb"
    hctl: str | None = None
    fstype: str | None = None
    mountpoints: tuple[str, ...] = ()
    children: tuple[BlockDevice, ...] = ()  # holders; with -s, what it sits on
    extra: tuple[tuple[str, str], ...] = ()  # every other column, as printed

    def column(self, name: str) -> str | None:
        """A column kept in ``extra`` (``rev``, ``state``, ...), by its lsblk name."""
        return dict(self.extra).get(name.lower())

    def describe(self) -> str:
        """``mpatha (253:0, mpath)`` (what the messages quote)."""
        details = ", ".join(p for p in (str(self.major_minor or ""), self.type or "") if p)
        return f"{self.name} ({details})" if details else self.name


_STRIPPED = {"vendor", "model", "serial", "rev"}
_FIELDS = {
    "name": "name",
    "kname": "kname",
    "path": "path",
    "type": "type",
    "vendor": "vendor",
    "model": "model",
    "serial": "serial",
    "wwn": "wwn",
    "tran": "transport",
    "hctl": "hctl",
    "fstype": "fstype",
}
_PAIR = re.compile(r'\s*(?P<key>[A-Za-z0-9:%_.-]+)="(?P<value>[^"]*)"')
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _key(column: str) -> str:
    """A column name as one spelling: ``MAJ:MIN``, ``maj_min`` -> ``maj:min``."""
    key = column.lower()
    return "maj:min" if key in ("maj_min", "majmin") else key


def _scalar(value: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ProbeParseError(PROBE, f"{where} is a {type(value).__name__}, not a value")


def _device(columns: Mapping[str, object], children: tuple[BlockDevice, ...]) -> BlockDevice:
    """A BlockDevice from one device's columns (JSON object or -P pairs)."""
    named = {_key(k): v for k, v in columns.items() if k != "children"}
    name = _scalar(named.get("name"), "name")
    if not name:
        raise ProbeParseError(PROBE, f"a device without a name: {dict(columns)!r}")
    fields: dict[str, Any] = {}
    extra: list[tuple[str, str]] = []
    mountpoints: list[str] = []
    for key, value in named.items():
        where = f"{name}: {key!r}"
        if key in ("mountpoints", "mountpoint"):
            values = value if isinstance(value, list) else [value]
            for item in values:
                text = _scalar(item, where)
                for point in (text or "").split("\n"):  # -P joins MOUNTPOINTS with \x0a
                    if point and point not in mountpoints:
                        mountpoints.append(point)
        elif key == "maj:min":
            text = _scalar(value, where)
            if text:
                try:
                    fields["major_minor"] = MajorMinor.parse(text)
                except ValueError:
                    raise ProbeParseError(
                        PROBE, f"{name}: 'maj:min' {text!r} is not major:minor"
                    ) from None
        elif key == "size":
            text = _scalar(value, where)
            if text is None or not text.strip():
                continue
            if isinstance(value, int) or text.isdigit():
                fields["size"] = int(text)
            else:
                fields["size_text"] = text
        elif key in _FIELDS:
            text = _scalar(value, where)
            if text is not None and key in _STRIPPED:
                text = text.strip()
            fields[_FIELDS[key]] = text if text else None
        elif isinstance(value, list):
            items = [_scalar(item, where) for item in value]
            extra.append((key, ",".join(i for i in items if i is not None)))
        else:
            text = _scalar(value, where)
            if text:  # lsblk -P prints "" where -J prints null
                extra.append((key, text))
    fields["name"] = name
    return BlockDevice(
        **fields, mountpoints=tuple(mountpoints), children=children, extra=tuple(extra)
    )


def _from_json(nodes: object, where: str) -> tuple[BlockDevice, ...]:
    if not isinstance(nodes, list):
        raise ProbeParseError(PROBE, f"{where}: 'children' is not a list")
    devices = []
    for node in nodes:
        if not isinstance(node, dict):
            raise ProbeParseError(PROBE, f"{where}: a device that is not an object: {node!r}")
        name = str(node.get("name", "?"))
        devices.append(_device(node, _from_json(node.get("children", []), name)))
    return tuple(devices)


def _parse_json(text: str) -> list[BlockDevice]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        shown = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise ProbeParseError(
            PROBE, f"not JSON ({exc.msg})", line_no=exc.lineno, line=shown
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("blockdevices"), list):
        raise ProbeParseError(PROBE, "no top-level 'blockdevices' list")
    return list(_from_json(document["blockdevices"], "the top"))


def _parse_pairs(text: str) -> list[BlockDevice]:
    rows: list[tuple[dict[str, str], str | None]] = []
    for number, line in lines_of(text):
        columns: dict[str, str] = {}
        position = 0
        for m in _PAIR.finditer(line):
            if m.start() != position:
                break
            value = _HEX_ESCAPE.sub(lambda e: chr(int(e.group(1), 16)), m.group("value"))
            columns[m.group("key")] = value
            position = m.end()
        if position != len(line.rstrip()) or not columns:
            raise ProbeParseError(
                PROBE, 'expected KEY="value" pairs (lsblk -P)', line_no=number, line=line
            )
        parent = columns.pop("PKNAME", None)
        rows.append((columns, parent or None))
    flat = [_device(columns, ()) for columns, _ in rows]
    if all(parent is None for _, parent in rows):
        return flat
    # nest by PKNAME (the parent's KNAME, or its NAME/PATH with --paths)
    keys = {d.kname or d.name: d for d in flat} | {d.name: d for d in flat}
    children: dict[str, list[BlockDevice]] = {}
    for device, (_, parent) in zip(flat, rows, strict=True):
        if parent is not None and parent in keys:
            children.setdefault(parent, []).append(device)

    def build(device: BlockDevice, seen: frozenset[str]) -> BlockDevice:
        key = device.kname or device.name
        names = (key,) if key == device.name else (key, device.name)
        kids = [] if key in seen else [k for n in names for k in children.get(n, [])]
        return replace(device, children=tuple(build(k, seen | {key}) for k in kids))

    roots = [d for d, (_, p) in zip(flat, rows, strict=True) if p is None or p not in keys]
    return [build(d, frozenset()) for d in roots]


def parse_lsblk(text: str) -> list[BlockDevice]:
    """Parse ``lsblk -J`` (any columns, any util-linux version) or ``lsblk -P`` pairs."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("{"):
        return _parse_json(text)
    return _parse_pairs(text)


def walk_block_devices(
    devices: Iterable[BlockDevice],
) -> Iterator[tuple[BlockDevice, tuple[BlockDevice, ...]]]:
    """Every device of the tree, depth first, with the devices above it."""

    def walk(
        nodes: Iterable[BlockDevice], above: tuple[BlockDevice, ...]
    ) -> Iterator[tuple[BlockDevice, tuple[BlockDevice, ...]]]:
        for node in nodes:
            yield node, above
            yield from walk(node.children, (*above, node))

    yield from walk(devices, ())


def find_block_devices(
    devices: Iterable[BlockDevice], major_minor: MajorMinor
) -> list[BlockDevice]:
    """Every place the device with that major:minor appears (a dm device appears under
    each of its paths in lsblk's tree)."""
    return [d for d, _ in walk_block_devices(devices) if d.major_minor == major_minor]


def underlying_devices(
    devices: Iterable[BlockDevice], major_minor: MajorMinor, *, inverse: bool = False
) -> list[BlockDevice]:
    """What the device with that major:minor sits on: a multipath map's paths, an LV's PVs.

    In lsblk's default tree those are the devices it appears under; with ``-s``
    (``inverse``) they are its children. Each is listed once, in the order printed.
    """
    found: dict[tuple[str, MajorMinor | None], BlockDevice] = {}
    for device, above in walk_block_devices(devices):
        if device.major_minor != major_minor:
            continue
        below = device.children if inverse else above[-1:]
        for parent in below:
            found.setdefault((parent.name, parent.major_minor), parent)
    return [replace(d, children=()) for d in found.values()]
