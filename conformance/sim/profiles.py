"""Latency profiles: how long the simulated components take for each operation.

``fast`` keeps tests quick; ``realistic`` resembles a lab cluster so benchmarks and
timeouts meet real waiting. Delays are drawn from a seeded RNG so runs repeat.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Delay:
    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return self.low if self.high <= self.low else rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Profile:
    name: str
    schedule: Delay
    provision: Delay
    attach: Delay
    image_pull: Delay
    container_start: Delay
    container_stop: Delay
    # How long the kubelet waits for a pod's volumes before it reports "Unable to attach
    # or mount volumes" (upstream's podAttachAndMountTimeout, 2m3s), and its back-off
    # between restarts of a failed container (10s doubling to 5m upstream).
    mount_timeout: float = 123.0
    crash_backoff: float = 10.0
    crash_backoff_max: float = 300.0


PROFILES: dict[str, Profile] = {
    "fast": Profile(
        "fast",
        schedule=Delay(0.0, 0.0),
        provision=Delay(0.0, 0.0),
        attach=Delay(0.0, 0.0),
        image_pull=Delay(0.0, 0.0),
        container_start=Delay(0.0, 0.0),
        container_stop=Delay(0.3, 0.3),  # kubectl delete races a faster kubelet
        # shorter than upstream's, so tests see the timeout and restarts within seconds
        mount_timeout=10.0,
        crash_backoff=1.0,
        crash_backoff_max=30.0,
    ),
    "realistic": Profile(
        "realistic",
        schedule=Delay(0.05, 0.2),
        provision=Delay(1.0, 3.0),
        attach=Delay(1.0, 2.0),
        image_pull=Delay(0.2, 0.8),
        container_start=Delay(0.8, 1.2),
        container_stop=Delay(0.2, 0.5),
    ),
}


@dataclass
class Timing:
    """A profile plus the seeded RNG that draws its delays."""

    profile: Profile
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def delay(self, operation: str) -> float:
        value: Delay = getattr(self.profile, operation)
        return value.draw(self.rng)


def timing(name: str = "fast", seed: int = 0) -> Timing:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return Timing(PROFILES[name], seed)
