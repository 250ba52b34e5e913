"""Where the cluster under test comes from: a kubeconfig, or a provider that starts one.

An inventory names either ``cluster.kubeconfig``/``cluster.context`` (a cluster that
exists) or a provider section such as ``cluster.sim:`` (a cluster started for the run).
Providers are found through the ``conformance.providers`` entry point group, so the
harness never imports one: the embedded simulator registers itself as ``sim`` and is
loaded only when an inventory asks for it (``pip install 'conformance[sim]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

ENTRY_POINT_GROUP = "conformance.providers"

Location = tuple[str | int, ...]  # a path inside the provider's settings, e.g. ("faults", "x")


class ProviderError(Exception):
    """A provider cannot be loaded or cannot start its cluster; the message says what to do."""


@dataclass(frozen=True)
class Started:
    """A cluster a provider started: where its inventory is, and how to stop it."""

    inventory: Path  # an inventory for the started cluster (kubeconfig, node access)
    state_dir: Path
    logs: tuple[Path, ...] = field(default_factory=tuple)  # kept as evidence when a run fails


class Provider(Protocol):
    """What a cluster provider offers the harness."""

    def problems(self, settings: Mapping[str, Any]) -> list[tuple[Location, str]]:
        """What is wrong with the inventory's section for this provider (empty: fine)."""
        ...

    def settings_schema(self) -> dict[str, Any]:
        """The JSON Schema of the provider's inventory section, for editors."""
        ...

    def start(
        self,
        settings: Mapping[str, Any],
        base_inventory: Mapping[str, Any],
        *,
        state_dir: Path,
        owner_pid: int | None,
    ) -> Started:
        """Start a cluster; with ``owner_pid`` it must stop by itself once that process dies."""
        ...

    def stop(self, started: Started) -> None: ...


def names() -> list[str]:
    """The providers installed, by the name their inventory section has."""
    return sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def get(name: str) -> Provider:
    """The provider registered as ``name``; ProviderError names what to install."""
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise ProviderError(
            f"no cluster provider named {name!r} is installed (installed: "
            f"{', '.join(names()) or 'none'}); for the embedded simulator run "
            "pip install 'conformance[sim]'"
        )
    try:
        provider: Provider = found[0].load()
    except ImportError as exc:
        raise ProviderError(
            f"the cluster provider {name!r} cannot be loaded ({exc}); "
            f"pip install 'conformance[{name}]' installs what it needs"
        ) from None
    return provider


@contextlib.contextmanager
def started(
    name: str,
    settings: Mapping[str, Any],
    base_inventory: Mapping[str, Any],
    *,
    state_dir: Path,
    owner_pid: int | None,
) -> Iterator[Started]:
    """A provider's cluster for the duration of the block, stopped afterwards."""
    provider = get(name)
    running = provider.start(settings, base_inventory, state_dir=state_dir, owner_pid=owner_pid)
    try:
        yield running
    finally:
        provider.stop(running)


__all__ = [
    "ENTRY_POINT_GROUP",
    "Location",
    "Provider",
    "ProviderError",
    "Started",
    "get",
    "names",
    "started",
]
