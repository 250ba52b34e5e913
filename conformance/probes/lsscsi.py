"""``lsscsi``: the node's SCSI view; the seed printed
``[11:0:0:0]   disk    DATERA   IBLOCK           4.0   /dev/sdb``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of

LSSCSI = ("lsscsi", "-d")  # with major:minor, the column the views are correlated by
LSSCSI_PLAIN = ("lsscsi",)
LSSCSI_SIZE = ("lsscsi", "-d", "-s")
LSSCSI_TRANSPORT = ("lsscsi", "-d", "-t")

# lsscsi prints the peripheral type padded to 7 and a space, then (without -t) the INQUIRY
# vendor, model and revision as the kernel pads them: "%-8s %-16s %-4s  ", 32 columns in all
# (with -t the transport "%-30s  " takes the same 32 columns, or more when it is longer).
_TYPE_WIDTH = 7
_VENDOR = (8, 16)  # offsets from the start of the type column
_MODEL = (17, 33)
_REV = (34, 38)
_HCTL = re.compile(r"^\[(?P<hctl>(?:\d+|N):\d+:\d+:(?:\d+|0x[0-9a-fA-F]+))\]")
_TRANSPORT = re.compile(
    r"(?:(?:spi|fc|sas|sata|ata|sbp|usb|pcie|srp|fcoe):\S*|\S+,t,0x[0-9a-fA-F]+)(?=\s|$)"
)
_DEVICE_COLUMN = re.compile(r"(?P<dev>[^\s\[]+)\s*(?:\[(?P<major>\d+):(?P<minor>\d+)\])?")
_SIZE = re.compile(r"^\d+(?:\.\d+)?(?:[KMGTPEZ]i?B)?$")


@dataclass(frozen=True)
class ScsiDevice:
    """One line of ``lsscsi``: ``[11:0:0:0]   disk    DATERA   IBLOCK   4.0   /dev/sdb [7:0]``."""

    hctl: str  # host:channel:target:lun, "11:0:0:0"
    type: str  # "disk", "cd/dvd", "enclosu", ...
    vendor: str  # "" when lsscsi -t printed the transport instead
    model: str
    rev: str
    device: str | None  # "/dev/sdb"; None when lsscsi printed "-" (no /dev node found)
    major_minor: MajorMinor | None = None  # with -d
    size: str | None = None  # with -s, as printed: "107GB", "314MB"
    transport: str | None = None  # with -t: "iqn...,t,0x1", "sas:0x5000...", "" when blank
    extra: tuple[str, ...] = ()  # further columns (-g generic device, -w wwn, ...)

    @property
    def host(self) -> int:
        return int(self.hctl.split(":")[0]) if self.hctl[0] != "N" else -1

    def describe(self) -> str:
        """``[11:0:0:0] DATERA IBLOCK 4.0 /dev/sdb 7:0`` (what the messages quote)."""
        parts = [f"[{self.hctl}]"]
        identity = " ".join(p for p in (self.vendor, self.model, self.rev) if p)
        if identity:
            parts.append(identity)
        if self.transport:
            parts.append(self.transport)
        parts.append(self.device or "-")
        if self.major_minor is not None:
            parts.append(str(self.major_minor))
        return " ".join(parts)


def _lsscsi_line(number: int, line: str, transport: bool | None) -> ScsiDevice:
    def fail(reason: str) -> ProbeParseError:
        return ProbeParseError("lsscsi", reason, line_no=number, line=line)

    m = _HCTL.match(line)
    if not m:
        raise fail("expected '[H:C:T:L]' at the start of the line")
    rest_start = m.end()
    type_start = len(line) - len(line[rest_start:].lstrip(" "))
    if type_start == rest_start and rest_start < len(line):
        raise fail("no space after the [H:C:T:L] column")
    if type_start >= len(line):
        raise fail("no device type after the [H:C:T:L] column")
    dev_type = line[type_start : type_start + _TYPE_WIDTH].strip()
    after_type = type_start + _TYPE_WIDTH
    if len(line) > after_type and line[after_type] != " ":
        raise fail(
            f"the device type column is not {_TYPE_WIDTH} characters wide where lsscsi prints "
            "it (was the output re-spaced?)"
        )
    body = line[after_type + 1 :]

    transport_value: str | None = None
    vendor = model = rev = ""
    tm = _TRANSPORT.match(body)
    if transport is None:
        transport = tm is not None
    if transport:
        if tm is not None:
            transport_value = tm.group(0)
            tail = body[tm.end() :]
        elif body[:1] in ("", " "):
            transport_value = ""  # lsscsi -t found no transport: 30 blank columns
            tail = body
        else:
            raise fail("expected a transport (iqn...,t,0x1, sas:..., sata:..., fc:...)")
    else:

        def column(start: int, end: int) -> str:
            return line[type_start + start : type_start + end]

        for name, (start, end) in (("vendor", _VENDOR), ("model", _MODEL)):
            if column(end, end + 1) not in ("", " "):
                raise fail(
                    f"the {name} column is not {end - start} characters wide where lsscsi "
                    "prints it (was the output re-spaced?)"
                )
        if len(line.rstrip()) <= type_start + _REV[0]:
            raise fail("the line ends before the vendor, model and revision columns")
        vendor = column(*_VENDOR).strip()
        model = column(*_MODEL).strip()
        rev = column(*_REV).strip()
        tail = line[type_start + _REV[1] :]
        if tail[:1] not in ("", " "):
            raise fail("the revision column is wider than 4 characters")

    stripped = tail.strip()
    dm = _DEVICE_COLUMN.match(stripped)
    if not stripped or not dm:
        raise fail("no device column (a /dev path or '-')")
    device_text = dm.group("dev")
    if device_text != "-" and not device_text.startswith("/"):
        raise fail(f"the device column {device_text!r} is neither a path nor '-'")
    major_minor = None
    if dm.group("major") is not None:
        major_minor = MajorMinor(int(dm.group("major")), int(dm.group("minor")))
    size: str | None = None
    extra: list[str] = []
    for token in stripped[dm.end() :].split():
        if size is None and _SIZE.match(token):
            size = token
        elif token != "-":
            extra.append(token)
    return ScsiDevice(
        hctl=m.group("hctl"),
        type=dev_type,
        vendor=vendor,
        model=model,
        rev=rev,
        device=None if device_text == "-" else device_text,
        major_minor=major_minor,
        size=size,
        transport=transport_value,
        extra=tuple(extra),
    )


def parse_lsscsi(text: str, *, transport: bool | None = None) -> list[ScsiDevice]:
    """Parse ``lsscsi`` with any of ``-d``, ``-s``, ``-t`` (and ``-g``, ``-w``).

    Vendor, model and revision are fixed-width columns that may hold spaces
    (``ATA      QEMU HARDDISK    2.5+``): they are cut at lsscsi's column positions
    relative to the type column, never split on blanks. With ``-t`` the transport
    replaces those columns; ``transport=None`` recognises it per line (``iqn...,t,0x1``,
    ``sas:0x...``, ``sata:...``, ...), ``True``/``False`` says whether ``-t`` was given
    (needed only when a transport column may be blank). The device column tolerates
    ``/dev/sdb [8:16]`` and ``/dev/loop0[7:0]`` (lsscsi drops the space after a
    9-character name) and ``-`` (no /dev node: ``device`` is None, major:minor kept).
    """
    return [_lsscsi_line(number, line, transport) for number, line in lines_of(text)]


def find_scsi_device(devices: Iterable[ScsiDevice], major_minor: MajorMinor) -> ScsiDevice | None:
    """The lsscsi device with that major:minor (lsscsi must have been run with -d)."""
    for device in devices:
        if device.major_minor == major_minor:
            return device
    return None
