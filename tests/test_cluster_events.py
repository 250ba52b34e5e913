"""What a timeout message shows of a namespace's events: the reason a pod cannot start,
not ten copies of a routine event."""

from __future__ import annotations

from types import SimpleNamespace

from conformance.cluster import _event_lines


def event(kind: str, reason: str, message: str, at: str, count: int = 1) -> SimpleNamespace:
    return SimpleNamespace(
        type=kind,
        reason=reason,
        message=message,
        last_timestamp=at,
        event_time=None,
        count=count,
        involved_object=SimpleNamespace(kind="Pod", name="web-0"),
    )


def test_repeats_fold_and_warnings_survive_a_flood_of_normal_events() -> None:
    pulled = 'Container image "nginx-slim:0.27" already present on machine'
    events = [event("Normal", "Pulled", pulled, f"2026-12-01T00:00:{n:02d}Z") for n in range(10)]
    events.insert(
        3,
        event(
            "Warning",
            "FailedMount",
            'MountVolume.MountDevice failed for volume "pvc-1" : mount failed: exit status 32',
            "2026-12-01T00:00:03Z",
            count=4,
        ),
    )
    events += [
        event("Normal", f"Step{n}", "routine", f"2026-12-01T00:01:{n:02d}Z") for n in range(8)
    ]
    assert _event_lines(events) == [
        '  event Warning FailedMount Pod/web-0: MountVolume.MountDevice failed for volume "pvc-1" '
        ": mount failed: exit status 32 (x4)",
        *[f"  event Normal Step{n} Pod/web-0: routine" for n in range(3, 8)],
    ]


def test_the_routine_event_repeated_shows_once_with_its_count() -> None:
    pulled = 'Container image "nginx-slim:0.27" already present on machine'
    events = [event("Normal", "Pulled", pulled, f"2026-12-01T00:00:{n:02d}Z") for n in range(10)]
    assert _event_lines(events) == [f"  event Normal Pulled Pod/web-0: {pulled} (x10)"]


def test_an_exec_handshake_answered_429_counts_as_throttling() -> None:
    """The client reports a refused WebSocket upgrade as status 0, the answer in the reason."""
    from kubernetes.client.exceptions import ApiException

    from conformance.cluster import _status

    assert _status(ApiException(status=0, reason="Handshake status 429 Too Many Requests")) == 429
    assert _status(ApiException(status=503, reason="Service Unavailable")) == 503
    assert _status(ApiException(status=0, reason="connection reset")) == 0
