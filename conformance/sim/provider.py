"""The simulator as a cluster provider: what the harness loads for an inventory's ``sim:``.

Registered as the ``sim`` entry point of ``conformance.providers``; the harness reaches
the simulator only through this object, so a run against a real cluster never imports
the simulator or its server stack (aiohttp, cryptography, the patch libraries).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from conformance.providers import Location, ProviderError, Started
from conformance.sim import faults

# What the simulator's daemon imports beyond the harness's own dependencies (the extra).
SERVER_MODULES = ("aiohttp", "cryptography", "jsonpatch", "json_merge_patch")


class Profile(str, Enum):
    FAST = "fast"
    REALISTIC = "realistic"


class SimSettings(BaseModel):
    """The inventory's ``cluster.sim`` section: the embedded cluster started for the run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: Annotated[int, Field(ge=1, le=16)] = 3
    profile: Profile = Profile.FAST
    seed: int = 0
    faults: dict[str, float | bool | None] = Field(default_factory=dict)

    @field_validator("faults")
    @classmethod
    def _known_faults(cls, value: dict[str, float | bool | None]) -> dict[str, float | bool | None]:
        for name, setting in value.items():
            try:
                faults.check_value(name, setting)
            except ValueError as exc:
                raise ValueError(f"@{name}: {exc}") from None
        return value


class SimProvider:
    """Starts a simulator per run (or per pytest-xdist worker) and stops it afterwards."""

    def problems(self, settings: Mapping[str, Any]) -> list[tuple[Location, str]]:
        try:
            SimSettings.model_validate(dict(settings))
        except ValidationError as exc:
            return [_problem(error) for error in exc.errors()]
        return []

    def settings_schema(self) -> dict[str, Any]:
        return SimSettings.model_json_schema()

    def start(
        self,
        settings: Mapping[str, Any],
        base_inventory: Mapping[str, Any],
        *,
        state_dir: Path,
        owner_pid: int | None,
    ) -> Started:
        missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
        if missing:
            raise ProviderError(
                f"the embedded simulator needs {', '.join(missing)}, which are not installed: "
                "pip install 'conformance[sim]' (or point cluster.kubeconfig at a real cluster)"
            )
        from conformance.sim import lifecycle
        from conformance.sim.control_plane import SimConfig

        chosen = SimSettings.model_validate(dict(settings))
        config = SimConfig(
            nodes=chosen.nodes,
            profile=chosen.profile.value,
            seed=chosen.seed,
            faults=dict(chosen.faults),
            state_dir=str(state_dir),
            base_inventory={
                key: base_inventory[key]
                for key in ("nodes", "storage", "workload", "timeouts")
                if key in base_inventory
            },
        )
        try:
            running = lifecycle.up(config, owner_pid=owner_pid)
        except lifecycle.SimError as exc:
            raise ProviderError(f"cannot start the embedded simulated cluster: {exc}") from None
        return Started(
            inventory=running.inventory,
            state_dir=running.state_dir,
            logs=(running.state_dir / lifecycle.LOG_FILE,),
        )

    def stop(self, started: Started) -> None:
        from conformance.sim import lifecycle

        lifecycle.down(started.state_dir)


def _problem(error: Any) -> tuple[Location, str]:
    loc: Location = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("@"):  # a fault name: "@api-429: takes a rate ..."
        sub, _, message = message[1:].partition(": ")
        loc = (*loc, sub)
    elif error["type"] == "extra_forbidden":
        message = f"unknown key; allowed here: {', '.join(SimSettings.model_fields)}"
    given = error.get("input")
    if error["type"] not in ("value_error", "extra_forbidden") and isinstance(
        given, (str, int, float, bool)
    ):
        message += f"; got {given!r}"
    return loc, message


provider = SimProvider()

__all__ = ["Profile", "SimProvider", "SimSettings", "provider"]
