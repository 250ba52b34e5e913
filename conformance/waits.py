"""Wait for a condition on a set of Kubernetes objects by watching, never by sleeping.

A wait lists once, then follows a watch from the list's resourceVersion, resuming
after dropped streams and re-listing on 410 Gone. It ends when the predicate holds
for the objects seen, or fails with a description of what it last saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError, ProtocolError

from conformance import progress

T = TypeVar("T")

TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})
PROGRESS_TICK = 5  # seconds: a watch wakes at least this often to report progress


_WATCH: Any = watch.Watch  # the client's Watch is untyped


class WaitTimeout(AssertionError):
    """A wait that did not see its condition; the message says what it saw instead."""


@dataclass
class Seen(Generic[T]):
    """The objects a wait has seen, by name, plus the order of events (for ordering checks)."""

    objects: dict[str, T] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)  # (type, name)
    # (seconds since the epoch, name, created | ready | deleted): for timelines
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    # (type, name, Ready and not terminating) per event: for counting pods down at once
    availability: list[tuple[str, str, bool]] = field(default_factory=list)

    def _note(self, kind: str, name: str, obj: Any) -> None:
        states = {s for _, n, s in self.timeline if n == name}
        if kind == "ADDED" and "created" not in states:
            self.timeline.append((time.time(), name, "created"))
        if kind == "DELETED":
            self.timeline.append((time.time(), name, "deleted"))
        elif _is_ready(obj) and "ready" not in states:
            self.timeline.append((time.time(), name, "ready"))

    def items(self) -> list[T]:
        return [self.objects[name] for name in sorted(self.objects)]

    def order(self, event: str) -> list[str]:
        """Names in the order of their first ``event`` (ADDED, MODIFIED, DELETED)."""
        names: list[str] = []
        for kind, name in self.events:
            if kind == event and name not in names:
                names.append(name)
        return names


def _name(obj: Any) -> str:
    metadata = obj.metadata if hasattr(obj, "metadata") else obj["metadata"]
    return str(metadata.name if hasattr(metadata, "name") else metadata["name"])


def _rv(result: Any) -> str:
    metadata = result.metadata if hasattr(result, "metadata") else result["metadata"]
    value = (
        metadata.resource_version
        if hasattr(metadata, "resource_version")
        else metadata["resourceVersion"]
    )
    return str(value)


def wait_for(
    list_fn: Callable[..., Any],
    predicate: Callable[[Seen[Any]], bool],
    *,
    timeout: float,
    describe: Callable[[Seen[Any]], str] | None = None,
    what: str = "condition",
    seen: Seen[Any] | None = None,
    since: str | None = None,
    raise_on_timeout: bool = True,
    **list_kwargs: Any,
) -> Seen[Any]:
    """Follow ``list_fn`` (e.g. ``core.list_namespaced_pod``) until ``predicate(seen)`` holds.

    ``describe(seen)`` renders the last state for the timeout message; pass a ``seen``
    to keep one event history across several waits. ``since`` (a resourceVersion taken
    before acting) makes every change after it an event in ``seen.events``, even those
    that happened before the wait began: that is how creation order is judged.
    With ``raise_on_timeout=False`` a timeout returns what was seen, for a check to judge.
    """
    started = time.monotonic()
    deadline = started + timeout
    seen = seen if seen is not None else Seen()
    shown = progress.current()
    listed = _relist(list_fn, seen, deadline, list_kwargs)
    # With `since`, replay the events from then (for their order) without letting them
    # overwrite the newer state the list just gave.
    fresh_after = int(listed) if since and listed.isdigit() else 0
    resource_version = since or listed
    while not predicate(seen):
        remaining = deadline - time.monotonic()
        if shown is not None and time.monotonic() - started >= PROGRESS_TICK:
            shown.waiting(what, _pending(seen), time.monotonic() - started)
        if remaining <= 0:
            if shown is not None:
                shown.done()
            if not raise_on_timeout:
                return seen
            detail = describe(seen) if describe else _default_describe(seen)
            raise WaitTimeout(
                f"timed out after {timeout:.0f}s waiting for {what}; last seen:\n{detail}"
            )
        stream: Any = _WATCH()
        try:
            window = min(remaining, PROGRESS_TICK) if shown is not None else remaining
            for event in stream.stream(
                list_fn,
                resource_version=resource_version,
                timeout_seconds=max(1, int(window + 0.999)),
                _request_timeout=window + 5,
                **list_kwargs,
            ):
                kind = event["type"]
                obj = event["object"]
                if kind == "ERROR":
                    raw = event.get("raw_object") or {}
                    if raw.get("code") == 410:
                        resource_version = _relist(list_fn, seen, deadline, list_kwargs)
                        break
                    continue
                if kind == "BOOKMARK":
                    resource_version = str(stream.resource_version)
                    continue
                name = _name(obj)
                seen.events.append((kind, name))
                seen.availability.append((kind, name, kind != "DELETED" and _available(obj)))
                seen._note(kind, name, obj)
                resource_version = _rv(obj)
                if resource_version.isdigit() and int(resource_version) <= fresh_after:
                    continue  # already reflected in the list
                if kind == "DELETED":
                    seen.objects.pop(name, None)
                else:
                    seen.objects[name] = obj
                if predicate(seen) or time.monotonic() >= deadline:
                    break
        except ApiException as exc:
            if exc.status == 410:
                resource_version = _relist(list_fn, seen, deadline, list_kwargs)
            elif exc.status not in TRANSIENT_CODES:
                raise
        except (ProtocolError, HTTPError, ConnectionError):
            pass  # a dropped watch: resume from the last resourceVersion
        finally:
            stream.stop()
    if shown is not None:
        shown.done()
    return seen


def _relist(
    list_fn: Callable[..., Any], seen: Seen[Any], deadline: float, kwargs: dict[str, Any]
) -> str:
    """List (retrying transient errors until the deadline) and replace the seen objects."""
    backoff = 0.1
    while True:
        try:
            result = list_fn(**kwargs)
            break
        except ApiException as exc:
            if exc.status not in TRANSIENT_CODES or time.monotonic() >= deadline:
                raise
        except (ProtocolError, HTTPError, ConnectionError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(backoff)  # backoff before retrying a transient error, not synchronization
        backoff = min(backoff * 2, 2.0)
    items = result.items if hasattr(result, "items") else result["items"]
    seen.objects = {_name(item): item for item in items}
    return _rv(result)


def _is_ready(obj: Any) -> bool:
    status = getattr(obj, "status", None)
    conditions = getattr(status, "conditions", None) or []
    return any(
        getattr(c, "type", "") == "Ready" and getattr(c, "status", "") == "True" for c in conditions
    )


def _available(obj: Any) -> bool:
    metadata = getattr(obj, "metadata", None)
    return _is_ready(obj) and not getattr(metadata, "deletion_timestamp", None)


def _pending(seen: Seen[Any]) -> str:
    """A few words on the objects seen: ``web-1 ContainerCreating, data-web-2 Pending``."""
    words = []
    for name, obj in sorted(seen.objects.items()):
        status = getattr(obj, "status", None)
        phase = getattr(status, "phase", None)
        waiting = [
            s.state.waiting.reason
            for s in (getattr(status, "container_statuses", None) or [])
            if s.state is not None and s.state.waiting is not None
        ]
        if waiting or phase not in (None, "Running", "Bound"):
            words.append(f"{name} {waiting[0] if waiting else phase}")
    return ", ".join(words[:4]) + (" ..." if len(words) > 4 else "")


def _default_describe(seen: Seen[Any]) -> str:
    if not seen.objects:
        return "  (no objects)"
    lines = []
    for name, obj in sorted(seen.objects.items()):
        status = getattr(obj, "status", None)
        phase = getattr(status, "phase", None) if status is not None else None
        lines.append(f"  {name}: {phase or 'no phase'}")
    return "\n".join(lines)
