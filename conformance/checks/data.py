"""Data on the volume: a write succeeds, and what is read back is what was written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.probes import Payload

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import ReadBack, Written


def written(write: Written) -> list[str]:
    if write.exit_code == 0:
        return []
    return [f"{write.pod}: writing {write.path} failed (exit {write.exit_code}): {write.stderr}"]


def payload_intact(read: ReadBack, payload: Payload) -> list[str]:
    """The file reads back with the sha256 of the payload written to it."""
    if read.digest is None:
        return [f"{read.pod}: {read.path} cannot be read (exit {read.exit_code}): {read.stderr}"]
    if read.digest != payload.sha256:
        return [
            f"{read.pod}: {read.path} reads back sha256 {read.digest[:16]}..., "
            f"wrote {payload.sha256[:16]}... (the data changed on the volume)"
        ]
    return []
