"""Latency profiles: fast is instant, realistic draws repeatable delays in documented ranges."""

from __future__ import annotations

import pytest

from conformance.sim import profiles


def test_fast_profile_never_waits() -> None:
    timing = profiles.timing("fast")
    assert {timing.delay(op) for op in ("provision", "attach", "container_start")} == {0.0}
    assert timing.delay("container_stop") < 0.5


def test_realistic_profile_is_repeatable_from_its_seed() -> None:
    first = [profiles.timing("realistic", seed=7).delay("provision") for _ in range(3)]
    again = [profiles.timing("realistic", seed=7).delay("provision") for _ in range(3)]
    assert first == again
    other = profiles.timing("realistic", seed=8).delay("provision")
    assert other != first[0]
    timing = profiles.timing("realistic", seed=1)
    draws = [timing.delay("provision") for _ in range(50)]
    assert all(1.0 <= d <= 3.0 for d in draws)
    assert max(draws) - min(draws) > 0.5


def test_unknown_profile_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="fast, realistic"):
        profiles.timing("turbo")
