"""``lsscsi``: the node's SCSI view, and since lsscsi 0.30 its NVMe namespaces too.

Every row shape lsscsi prints is read (checked against lsscsi's source and the captures
in ``tests/data/real/lsscsi/``)::

    [11:0:0:0]   disk    DATERA   IBLOCK           4.0   /dev/sdb [8:16]  /dev/sg1  107GB
    [N:0:4:1]    disk    Samsung SSD 970 EVO 250GB__1               /dev/nvme0n1
    [N:0:0:1]    disk    pcie 0x1d4c:0x03e2              /dev/nvme0n1          (-t)
    [3:0:0:1]    disk    iqn.2013-05.com.example:tgt,t,0x1  /dev/sdc            (-t)
    [0:0:0:1085554707] disk    fc:0x500507630500873a0x770d00   /dev/sda         (-t)
    [8:0:0:1]    enclosu usb:2-7:1.0                     -                     (-t)
    Host: scsi4 Channel: 00 Target: 00 Lun: 01                                  (-c)

One odd row never sinks the parse: :func:`read_lsscsi` returns every device it could
read (a row read only in part carries a ``problem``) together with the lines it could
not read. :func:`parse_lsscsi` returns the devices and raises only when nothing in the
text is an lsscsi row at all (a shell error, another tool's output).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from conformance.probes.common import MajorMinor, ProbeParseError, ProbeProblem

LSSCSI = ("lsscsi", "-d")  # with major:minor, the column the views are correlated by
LSSCSI_PLAIN = ("lsscsi",)
LSSCSI_SIZE = ("lsscsi", "-d", "-s")
LSSCSI_TRANSPORT = ("lsscsi", "-d", "-t")

PROBE = "lsscsi"

# lsscsi pads "[H:C:T:L]" to 13 columns (a longer tuple gets one space), then the
# 7-character type and a space, then 32 columns of identity: "%-8s %-16s %-4s  " for
# vendor, model and revision, or "%-30s  " for a transport (-t), or for an NVMe namespace
# its model with "__<nsid>" (padded to 41 columns before lsscsi 0.33, 30 since).
_HCTL_WIDTH = 13
_TYPE_WIDTH = 7
_VENDOR = (0, 8)  # offsets from the start of the identity columns
_MODEL = (9, 25)
_REV = (26, 30)
_HCTL = re.compile(r"^\[(?P<hctl>[^\]\s]*)\]")
_HCTL_SHAPE = re.compile(r"^(?:\d+|N):\d+:\d+:(?:\d+|0x[0-9a-fA-F]+)$")
_SHORT_TYPES = frozenset(
    {"disk", "tape", "printer", "process", "worm", "cd/dvd", "scanner", "optical"}
    | {"mediumx", "comms", "storage", "enclosu", "sim dsk", "opti rd", "bridge", "osd"}
    | {"adi", "sec man", "zbc", "wlun", "no dev", "dsk/nvm", "type?", "type??", "type???"}
    | {f"(0x{n:x})" for n in (0xA, 0xB, *range(0x15, 0x1E))}
)
_PDT = re.compile(r"^(?:0x[0-9a-f]{1,2}|-1)$")  # lsscsi -D prints the type as a number
# what lsscsi -t prints for SCSI (transport_sdev_tport) and NVMe (device/transport)
_TRANSPORT = re.compile(
    r"^(?:(?:spi|fc|fcoe|sas|sata|ata|sbp|usb|srp|pseudo_0):.*"
    r"|\S+,t,0x[0-9a-fA-F]+"
    r"|pcie(?: \S+)?|tcp|rdma|fc|loop|transport\?)$"
)
_NVME_MODEL = re.compile(r"^(?P<model>.*?)__(?P<nsid>\d+)$")
_NVME_MODEL_SPACED = re.compile(r"^(?P<model>.*?)\s*__(?P<nsid>\d+)$")
_MAJOR_MINOR = re.compile(r"^\[(?P<major>\d+):(?P<minor>\d+)\]$")
_GLUED_MAJOR_MINOR = re.compile(r"^(?P<dev>[^\[]+)\[(?P<major>\d+):(?P<minor>\d+)\]$")
_SIZE = re.compile(r"^\d+(?:\.\d+)?(?:[KMGTPEZ]i?B|B)?(?:,\d+)?$")
_GENERIC = re.compile(r"^/dev/(?:sg|ng|bsg/)\S*$")

# lsscsi -c ("classic", the /proc/scsi/scsi layout) prints the long SCSI type names
_CLASSIC_TYPES = {
    "Direct-Access": "disk",
    "Sequential-Access": "tape",
    "Printer": "printer",
    "Processor": "process",
    "Write-once": "worm",
    "CD-ROM": "cd/dvd",
    "Scanner": "scanner",
    "Optical memory": "optical",
    "Medium Changer": "mediumx",
    "Communications": "comms",
    "Storage array": "storage",
    "Enclosure": "enclosu",
    "Simplified direct-access": "sim dsk",
    "Optical card read/writer": "opti rd",
    "Bridge controller": "bridge",
    "Object based storage": "osd",
    "Automation Drive interface": "adi",
    "Security manager": "sec man",
    "Zoned Block": "zbc",
    "Well known LU": "wlun",
    "No device": "no dev",
}
_CLASSIC_HOST = re.compile(
    r"^Host: scsi(?P<h>\d+) Channel: (?P<c>\d+) Target: (?P<t>\d+) Lun: (?P<l>\d+)\s*$"
)
_CLASSIC_IDENTITY = re.compile(
    r"^\s+Vendor: (?P<vendor>.*?) Model: (?P<model>.*?) Rev: (?P<rev>.*)$"
)
_CLASSIC_TYPE = re.compile(r"^\s+Type:\s+(?P<type>.*?)\s+ANSI\s+SCSI revision:\s*\S*\s*$")


@dataclass(frozen=True)
class ScsiDevice:
    """One row of ``lsscsi``: ``[11:0:0:0]   disk    DATERA   IBLOCK   4.0   /dev/sdb [7:0]``."""

    hctl: str  # host:channel:target:lun, "11:0:0:0"; NVMe: "N:<ctrl>:<cntlid>:<nsid>"
    type: str  # "disk", "cd/dvd", "enclosu", ...; "" with -b
    vendor: str  # "" when lsscsi printed the transport instead, and for NVMe
    model: str  # NVMe: the controller model without lsscsi's "__<nsid>"
    rev: str
    device: str | None  # "/dev/sdb"; None when lsscsi printed "-" (no /dev node found)
    major_minor: MajorMinor | None = None  # with -d
    size: str | None = None  # with -s, as printed: "107GB", "314MB"
    transport: str | None = None  # with -t: "iqn...,t,0x1", "sas:0x5000...", "" when blank
    extra: tuple[str, ...] = ()  # further columns (-w wwn, -i scsi_id, -g sg major:minor, ...)
    generic: str | None = None  # with -g: "/dev/sg1" (or "/dev/ng0n1" for NVMe)
    namespace: int | None = None  # NVMe: the namespace id lsscsi appends to the model
    details: tuple[str, ...] = ()  # the indented lines -v, -l and -L print below the row
    problem: str | None = None  # set when the row could be read only in part, and why

    @property
    def host(self) -> int:
        return int(self.hctl.split(":")[0]) if self.hctl[:1].isdigit() else -1

    @property
    def nvme(self) -> bool:
        """lsscsi lists NVMe namespaces with an "N" for the host: ``[N:0:1:1]``."""
        return self.hctl.startswith("N:")

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


@dataclass(frozen=True)
class LsscsiListing:
    """What ``lsscsi`` printed: the devices read, and the lines that could not be read."""

    devices: tuple[ScsiDevice, ...]
    problems: tuple[ProbeProblem, ...] = ()


@dataclass
class _Identity:
    """The columns between the type and the device, and the text after them."""

    tail: str
    vendor: str = ""
    model: str = ""
    rev: str = ""
    transport: str | None = None
    namespace: int | None = None


class _RowReader:
    """Reads one single-line row; notes what it reads only in part in ``problems``."""

    def __init__(self, number: int, line: str, transport: bool | None) -> None:
        self.number = number
        self.line = line
        self.transport = transport
        self.problems: list[str] = []

    def fail(self, reason: str) -> ProbeProblem:
        return ProbeProblem(PROBE, self.number, self.line, reason)

    def read(self) -> ScsiDevice | ProbeProblem:
        line = self.line
        m = _HCTL.match(line)
        if not m:
            return self.fail("not an lsscsi row: expected '[H:C:T:L]' at the start")
        hctl = m.group("hctl")
        if not _HCTL_SHAPE.match(hctl):
            self.problems.append(f"[{hctl}] is not a host:channel:target:lun tuple")
        rest = line[m.end() :]
        if not rest.strip():
            return self.fail("no device type after the [H:C:T:L] column")
        if rest[:1] != " ":
            self.problems.append("no space after the [H:C:T:L] column")
        type_start = m.end() + len(rest) - len(rest.lstrip(" "))
        first = rest.split()[0]
        if first.startswith("/") or first == "-":  # lsscsi -b: no type, no identity
            return self._finish(hctl, "", _Identity(tail=rest))
        dev_type = line[type_start : type_start + _TYPE_WIDTH].strip()
        after_type = line[type_start + _TYPE_WIDTH : type_start + _TYPE_WIDTH + 1]
        aligned = type_start == max(_HCTL_WIDTH, m.end() + 1) and after_type in ("", " ")
        if aligned and (dev_type in _SHORT_TYPES or _PDT.match(dev_type)):
            identity = self._identity(hctl, line[type_start + _TYPE_WIDTH + 1 :])
            if identity is not None:
                return self._finish(hctl, dev_type, identity)
        return self._respaced(hctl, line[type_start:])

    def _identity(self, hctl: str, body: str) -> _Identity | None:
        """The identity columns cut where lsscsi prints them; None if they are not there."""
        field = body.partition("  ")[0].strip()
        if hctl.startswith("N:"):  # an NVMe namespace: model__nsid, or the -t transport
            nvme = _NVME_MODEL.match(field)
            if nvme:
                return _Identity(
                    tail=_after(body, field),
                    model=nvme.group("model").strip(),
                    namespace=int(nvme.group("nsid")),
                )
            if _TRANSPORT.match(field):
                return _Identity(tail=_after(body, field), transport=field)
            if not field or field.startswith("/") or field == "-":
                return _Identity(tail=body)
            self.problems.append(f"unrecognised NVMe identity column {field!r}")
            return _Identity(tail=_after(body, field))
        if self.transport or (self.transport is None and _TRANSPORT.match(field)):
            if body[:1] in ("", " "):  # lsscsi -t found no transport: 32 blank columns
                return _Identity(tail=body, transport="")
            if not _TRANSPORT.match(field):
                self.problems.append(f"{field!r} is not a transport lsscsi -t prints")
            return _Identity(tail=_after(body, field), transport=field)
        if body[_VENDOR[1] : _VENDOR[1] + 1] != " " or body[_MODEL[1] : _MODEL[1] + 1] != " ":
            return None
        rev = body[_REV[0] :].split(" ", 1)[0]
        if len(rev) > _REV[1] - _REV[0]:
            self.problems.append(f"the revision {rev!r} is wider than the 4 columns it has")
        return _Identity(
            tail=body[_REV[0] + len(rev) :],
            vendor=body[_VENDOR[0] : _VENDOR[1]].strip(),
            model=body[_MODEL[0] : _MODEL[1]].strip(),
            rev=rev,
        )

    def _respaced(self, hctl: str, text: str) -> ScsiDevice | ProbeProblem:
        """A row whose columns are not where lsscsi puts them (re-spaced when pasted)."""
        tokens = text.split()
        if len(tokens) >= 2 and f"{tokens[0]} {tokens[1]}" in _SHORT_TYPES:
            dev_type, rest = f"{tokens[0]} {tokens[1]}", tokens[2:]
        else:
            dev_type, rest = tokens[0], tokens[1:]
        if dev_type not in _SHORT_TYPES and not _PDT.match(dev_type):
            self.problems.append(f"{dev_type!r} is not a device type lsscsi prints")
        index = next((i for i, t in enumerate(rest) if t.startswith("/") or t == "-"), None)
        if index is None:
            return self.fail("no device column (a /dev path or '-')")
        identity = " ".join(rest[:index])
        tail = " " + " ".join(rest[index:])
        nvme = _NVME_MODEL_SPACED.match(identity) if hctl.startswith("N:") else None
        if nvme:  # an NVMe model is the only column, so it survives re-spacing
            model, nsid = nvme.group("model"), int(nvme.group("nsid"))
            return self._finish(hctl, dev_type, _Identity(tail=tail, model=model, namespace=nsid))
        if identity and _TRANSPORT.match(identity) and self.transport is not False:
            return self._finish(hctl, dev_type, _Identity(tail=tail, transport=identity))
        if identity:
            self.problems.append(
                "the columns are not where lsscsi prints them (re-spaced?): vendor, model and "
                f"revision {identity!r} not cut"
            )
        return self._finish(hctl, dev_type, _Identity(tail=tail))

    def _finish(self, hctl: str, dev_type: str, identity: _Identity) -> ScsiDevice | ProbeProblem:
        tokens = identity.tail.split()
        index = next((i for i, t in enumerate(tokens) if t.startswith("/") or t == "-"), None)
        if index is None:
            return self.fail("no device column (a /dev path or '-')")
        extra = list(tokens[:index])  # -w prints the WWN before the device
        device_text = tokens[index]
        major_minor: MajorMinor | None = None
        glued = _GLUED_MAJOR_MINOR.match(device_text)
        if glued:  # lsscsi drops the space after a 9-character name: /dev/loop0[7:0]
            device_text = glued.group("dev")
            major_minor = MajorMinor(int(glued.group("major")), int(glued.group("minor")))
        generic: str | None = None
        size: str | None = None
        for token in tokens[index + 1 :]:
            mm = _MAJOR_MINOR.match(token)
            if mm and major_minor is None and generic is None:
                major_minor = MajorMinor(int(mm.group("major")), int(mm.group("minor")))
            elif token == "[dev?]" and generic is None:
                self.problems.append("lsscsi -d found no major:minor ([dev?])")
            elif generic is None and _GENERIC.match(token):
                generic = token
            elif size is None and _SIZE.match(token):
                size = token
            elif token != "-":
                extra.append(token)
        return ScsiDevice(
            hctl=hctl,
            type=dev_type,
            vendor=identity.vendor,
            model=identity.model,
            rev=identity.rev,
            device=None if device_text == "-" else device_text,
            major_minor=major_minor,
            size=size,
            transport=identity.transport,
            extra=tuple(extra),
            generic=generic,
            namespace=identity.namespace,
            problem="; ".join(self.problems) or None,
        )


def _after(body: str, field: str) -> str:
    """The text of ``body`` after its first column ``field``."""
    return body[body.index(field) + len(field) :] if field else body


def read_lsscsi(text: str, *, transport: bool | None = None) -> LsscsiListing:
    """Read every row of ``lsscsi`` output, whatever its options; never raises.

    Vendor, model and revision are fixed-width columns that may hold spaces
    (``ATA      QEMU HARDDISK    2.5+``): they are cut at lsscsi's column positions,
    never split on blanks; a row whose columns were re-spaced (pasted through a chat)
    keeps its type, device and numbers, and says why its identity was not cut. With
    ``-t`` the transport replaces those columns; ``transport=None`` recognises it per
    row, ``True``/``False`` says whether ``-t`` was given (needed only when a transport
    column may be blank). NVMe rows give the model without lsscsi's ``__<nsid>`` suffix
    and the namespace id apart. ``-c`` (classic) blocks, ``-g``, ``-s``, ``-d``, ``-b``,
    ``-k`` and the indented lines of ``-v``/``-l``/``-L`` are read too.
    """
    devices: list[ScsiDevice] = []
    problems: list[ProbeProblem] = []
    classic: dict[str, str] | None = None

    def close_classic() -> None:
        nonlocal classic
        if classic is not None:
            devices.append(
                ScsiDevice(
                    hctl=classic["hctl"],
                    type=classic.get("type", ""),
                    vendor=classic.get("vendor", ""),
                    model=classic.get("model", ""),
                    rev=classic.get("rev", ""),
                    device=None,
                    generic=classic.get("generic"),
                    problem=classic.get("problem"),
                )
            )
        classic = None

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        host = _CLASSIC_HOST.match(line)
        if line.rstrip() == "Attached devices:":
            continue
        if host:
            close_classic()
            h, c, t, lun = (int(host.group(k)) for k in "hctl")
            classic = {"hctl": f"{h}:{c}:{t}:{lun}"}
            continue
        if classic is not None:
            identity = _CLASSIC_IDENTITY.match(line)
            kind = _CLASSIC_TYPE.match(line)
            if identity:
                classic.update({k: v.strip() for k, v in identity.groupdict().items()})
                continue
            if kind:
                long_type = kind.group("type").strip()
                classic["type"] = _CLASSIC_TYPES.get(long_type, long_type)
                continue
            if line.strip() == "-" or line.startswith("/dev/"):
                if line.strip() != "-":
                    classic["generic"] = line.strip()
                continue
            if line[:1].isspace():  # -v's "  dir: ..."
                continue
            close_classic()
        if line[:1].isspace() and devices and classic is None:
            last = devices[-1]
            devices[-1] = replace(last, details=(*last.details, line.strip()))
            continue
        row = _RowReader(number, line, transport).read()
        if isinstance(row, ProbeProblem):
            problems.append(row)
        else:
            devices.append(row)
    close_classic()
    return LsscsiListing(tuple(devices), tuple(problems))


def parse_lsscsi(text: str, *, transport: bool | None = None) -> list[ScsiDevice]:
    """The devices of ``lsscsi`` output (see :func:`read_lsscsi`).

    A row that cannot be read is left out (and one read in part carries a ``problem``),
    so one odd row never hides the others. Raises :class:`ProbeParseError` only when no
    line at all is an lsscsi row: that text is not lsscsi's output.
    """
    listing = read_lsscsi(text, transport=transport)
    if not listing.devices and listing.problems:
        raise listing.problems[0].error()
    return list(listing.devices)


def find_scsi_device(devices: Iterable[ScsiDevice], major_minor: MajorMinor) -> ScsiDevice | None:
    """The lsscsi device with that major:minor (lsscsi must have been run with -d)."""
    for device in devices:
        if device.major_minor == major_minor:
            return device
    return None


__all__ = [
    "LSSCSI",
    "LSSCSI_PLAIN",
    "LSSCSI_SIZE",
    "LSSCSI_TRANSPORT",
    "LsscsiListing",
    "ProbeParseError",
    "ScsiDevice",
    "find_scsi_device",
    "parse_lsscsi",
    "read_lsscsi",
]
