"""``findmnt -J``: util-linux's JSON view of the mount tree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conformance.probes.common import MajorMinor, ProbeParseError

FINDMNT = ("findmnt", "-J")
FINDMNT_DEVNUM = ("findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN")


def findmnt_command(mount_point: str | None = None) -> tuple[str, ...]:
    """``findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN [--mountpoint PATH]``.

    findmnt exits 1 and prints nothing when nothing is mounted at PATH.
    """
    if mount_point is None:
        return FINDMNT_DEVNUM
    return (*FINDMNT_DEVNUM, "--mountpoint", mount_point)


@dataclass(frozen=True)
class FindmntEntry:
    """One filesystem of ``findmnt -J``, flattened out of the ``children`` tree."""

    target: str
    source: str  # "/dev/sdb", or "/dev/vda[/usr]" for a bind of a directory
    fstype: str
    options: tuple[str, ...]
    major_minor: MajorMinor | None = None  # when MAJ:MIN was among the columns
    parent: str | None = None  # the parent's target; None at the top
    depth: int = 0

    @property
    def device(self) -> str:
        """The source without findmnt's ``[fsroot]`` suffix."""
        return self.source.split("[", 1)[0] if self.source.endswith("]") else self.source

    @property
    def fsroot(self) -> str:
        """The directory of the filesystem mounted here (findmnt's ``[...]``), else "/"."""
        if self.source.endswith("]") and "[" in self.source:
            return self.source[self.source.index("[") + 1 : -1]
        return "/"


def _findmnt_string(value: object, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    raise ProbeParseError("findmnt -J", f"{key!r} is a {type(value).__name__}, not a string")


def parse_findmnt_json(text: str) -> list[FindmntEntry]:
    """Parse ``findmnt -J`` (any columns) into a flat list, parents before children."""
    try:
        document = json.loads(text) if text.strip() else {"filesystems": []}
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        shown = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise ProbeParseError(
            "findmnt -J", f"not JSON ({exc.msg})", line_no=exc.lineno, line=shown
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("filesystems"), list):
        raise ProbeParseError("findmnt -J", "no top-level 'filesystems' list")
    entries: list[FindmntEntry] = []

    def walk(nodes: list[Any], parent: str | None, depth: int) -> None:
        for node in nodes:
            if not isinstance(node, dict) or "target" not in node:
                raise ProbeParseError(
                    "findmnt -J", f"a filesystem without 'target' (under {parent or 'the top'})"
                )
            target = _findmnt_string(node["target"], "target")
            mm_text = _findmnt_string(node.get("maj:min"), "maj:min")
            try:
                major_minor = MajorMinor.parse(mm_text) if mm_text else None
            except ValueError:
                raise ProbeParseError(
                    "findmnt -J", f"{target}: 'maj:min' {mm_text!r} is not major:minor"
                ) from None
            options = _findmnt_string(node.get("options"), "options")
            entries.append(
                FindmntEntry(
                    target=target,
                    source=_findmnt_string(node.get("source"), "source"),
                    fstype=_findmnt_string(node.get("fstype"), "fstype"),
                    options=tuple(o for o in options.split(",") if o),
                    major_minor=major_minor,
                    parent=parent,
                    depth=depth,
                )
            )
            children = node.get("children", [])
            if not isinstance(children, list):
                raise ProbeParseError("findmnt -J", f"{target}: 'children' is not a list")
            walk(children, target, depth + 1)

    walk(document["filesystems"], None, 0)
    return entries
