"""``multipath -ll``: each multipath map, its path groups and the state of every path.

A multipath volume is one dm device over several SCSI paths (DESIGN §4); lsblk shows the
paths, and only multipath says whether each is active and ready::

    mpathm (3600140575bbe2d3c0c6493fb6e6ed84c) dm-8 LIO-ORG,TCMU device
    size=6.0G features='0' hwhandler='1 alua' wp=rw
    |-+- policy='service-time 0' prio=50 status=active
    | `- 2:0:0:30 sdz  65:144 active ready running
    `-+- policy='service-time 0' prio=10 status=enabled
      `- 3:0:0:30 sdy  65:128 active ready running

Without user_friendly_names the map is named by its WWID and the parentheses are left
out; the WWID may hold spaces (``(SIBM     3303      NVDIS73d7...)``); ``-d`` (dry run)
prefixes ``create:``/``reload:`` and may print ``undef`` for the dm device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from conformance.probes.common import MajorMinor, ProbeParseError, lines_of

MULTIPATH = ("multipath", "-ll")
PROBE = "multipath -ll"

_MAP = re.compile(
    r"^(?:(?P<action>[a-z]*): )?(?P<name>\S+)(?: \((?P<wwid>[^)]*)\))?"
    r" (?P<dm>dm-\d+|undef) (?P<vendor>[^,]*),(?P<product>.*)$"
)
_SETTINGS = re.compile(r"(?P<key>[a-z_]+)=(?:'(?P<quoted>[^']*)'|(?P<plain>\S*))")
_GROUP = re.compile(r"^[ |`]*[|`]-\+- (?P<settings>.*)$")
_PATH = re.compile(
    r"^[ |`]*[|`]- (?P<hctl>\d+:\d+:\d+:\d+) (?P<device>\S+)\s+(?P<mm>\d+:\d+)\s+(?P<states>.+)$"
)


@dataclass(frozen=True)
class MultipathPath:
    """One path of a map: ``2:0:0:30 sdz 65:144 active ready running``."""

    hctl: str
    device: str  # "sdz"
    major_minor: MajorMinor
    dm_state: str  # the kernel's view: "active", "failed"
    path_state: str  # the checker's: "ready", "faulty", "ghost", "shaky", "i/o pending"
    online_state: str  # the SCSI device's: "running", "offline"

    @property
    def healthy(self) -> bool:
        return (self.dm_state, self.path_state, self.online_state) == (
            "active",
            "ready",
            "running",
        )


@dataclass(frozen=True)
class PathGroup:
    """A priority group: ``policy='service-time 0' prio=50 status=active``."""

    policy: str | None
    prio: int | None
    status: str | None  # "active", "enabled", "disabled"
    paths: tuple[MultipathPath, ...] = ()


@dataclass(frozen=True)
class MultipathMap:
    """One map of ``multipath -ll`` with its groups and paths."""

    name: str  # the alias ("mpatha") or, without user_friendly_names, the WWID
    wwid: str  # the WWID (the name when no alias is printed)
    dm: str  # "dm-8"; "undef" in a dry run
    vendor: str
    product: str
    settings: tuple[tuple[str, str], ...] = ()  # size, features, hwhandler, wp as printed
    groups: tuple[PathGroup, ...] = field(default=())

    @property
    def size(self) -> str | None:
        return dict(self.settings).get("size")

    @property
    def paths(self) -> tuple[MultipathPath, ...]:
        return tuple(p for g in self.groups for p in g.paths)


def _settings(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (m.group("key"), m.group("quoted") if m.group("quoted") is not None else m.group("plain"))
        for m in _SETTINGS.finditer(text)
    )


def parse_multipath(text: str) -> list[MultipathMap]:
    """Parse ``multipath -ll`` (multipath-tools 0.4.9 and later) into maps."""
    maps: list[MultipathMap] = []
    for number, line in lines_of(text):

        def fail(reason: str, number: int = number, line: str = line) -> ProbeParseError:
            return ProbeParseError(PROBE, reason, line_no=number, line=line)

        head = _MAP.match(line)
        group = _GROUP.match(line)
        path = _PATH.match(line)
        if head and not line[:1].isspace() and not group and not path:
            wwid = head.group("wwid")
            name = head.group("name")
            maps.append(
                MultipathMap(
                    name=name,
                    wwid=(wwid if wwid is not None else name).strip(),
                    dm=head.group("dm"),
                    vendor=head.group("vendor").strip(),
                    product=head.group("product").strip(),
                )
            )
        elif not maps:
            raise fail("expected a map line: 'NAME (WWID) dm-N VENDOR,PRODUCT'")
        elif line.startswith("size="):
            maps[-1] = replace(maps[-1], settings=(*maps[-1].settings, *_settings(line)))
        elif group:
            settings = dict(_settings(group.group("settings")))
            prio = settings.get("prio")
            maps[-1] = replace(
                maps[-1],
                groups=(
                    *maps[-1].groups,
                    PathGroup(
                        policy=settings.get("policy"),
                        prio=int(prio) if prio and prio.lstrip("-").isdigit() else None,
                        status=settings.get("status"),
                    ),
                ),
            )
        elif path:
            if not maps[-1].groups:
                raise fail("a path before any path group ('-+- policy=...')")
            states = path.group("states").split()
            if len(states) < 3:
                raise fail("expected dm, checker and device states after major:minor")
            entry = MultipathPath(
                hctl=path.group("hctl"),
                device=path.group("device"),
                major_minor=MajorMinor.parse(path.group("mm")),
                dm_state=states[0],
                path_state=" ".join(states[1:-1]),
                online_state=states[-1],
            )
            last = maps[-1].groups[-1]
            groups = (*maps[-1].groups[:-1], replace(last, paths=(*last.paths, entry)))
            maps[-1] = replace(maps[-1], groups=groups)
        else:
            raise fail("neither a map, its size line, a path group nor a path")
    return maps
