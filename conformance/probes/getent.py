"""``getent hosts``: what a name resolves to, e.g. a StatefulSet peer's DNS record."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from conformance.probes.common import ProbeParseError, lines_of


def getent_hosts_command(name: str) -> tuple[str, ...]:
    """``getent hosts NAME``: exits 2 and prints nothing when NAME does not resolve."""
    if not name or name.startswith("-") or any(c.isspace() for c in name):
        raise ValueError(f"not a host name to look up: {name!r}")
    return ("getent", "hosts", name)


@dataclass(frozen=True)
class HostEntry:
    """One line of ``getent hosts``: an address and the names it has."""

    ip: str
    names: tuple[str, ...]


def parse_getent_hosts(text: str) -> list[HostEntry]:
    """Parse ``getent hosts`` (``10.244.1.5      web-0.web.ns.svc.cluster.local web-0``)."""
    entries = []
    for number, line in lines_of(text):
        tokens = line.split()
        try:
            ipaddress.ip_address(tokens[0])
        except ValueError:
            raise ProbeParseError(
                "getent hosts", f"{tokens[0]!r} is not an IP address", line_no=number, line=line
            ) from None
        if len(tokens) < 2:
            raise ProbeParseError(
                "getent hosts", "an address without a name", line_no=number, line=line
            )
        entries.append(HostEntry(tokens[0], tuple(tokens[1:])))
    return entries
