"""Events as the real components emit them (kubectl describe shows these).

:func:`record` correlates like client-go's event recorder (tools/record/events_cache.go),
so a kubelet retrying a failed mount every few seconds leaves one Event with a growing
``count`` rather than one object per retry:

- an event identical to an earlier one (same source, involved object and field path,
  type, reason and message) patches that Event: ``count`` + 1, a new ``lastTimestamp``;
- the eleventh distinct message within ten minutes for the same source, object, type
  and reason is recorded as ``(combined from similar events): <message>`` on one
  aggregate Event, which later ones of that group then bump.

Where it differs: client-go's per-object spam filter (25 events, then one per five
minutes) is not applied, so a long-lived simulated object never loses events; and the
correlation state lives with the store (one recorder for all components) instead of
one per component process, which is the same thing since each key names its source.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from conformance.sim.api import errors
from conformance.sim.api.kinds import Kind
from conformance.sim.api.store import Obj, Store, kind_named, now_rfc3339

EVENT: Kind = kind_named("Event")
V = TypeVar("V")

CACHE_ENTRIES = 4096  # client-go's maxLruCacheEntries
AGGREGATE_MAX_EVENTS = 10  # distinct messages before aggregation (defaultAggregateMaxEvents)
AGGREGATE_INTERVAL = 600.0  # seconds (defaultAggregateIntervalInSeconds)
COMBINED_PREFIX = "(combined from similar events): "


@dataclass
class _Similar:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass
class _Correlator:
    """client-go's EventAggregator + eventLogger for one store (LRU-bounded)."""

    similar: OrderedDict[tuple[str, ...], _Similar] = field(default_factory=OrderedDict)
    seen: OrderedDict[tuple[str, ...], tuple[str, str]] = field(default_factory=OrderedDict)


def _remember(cache: OrderedDict[tuple[str, ...], V], key: tuple[str, ...], value: V) -> None:
    """Put ``key`` in an LRU cache of CACHE_ENTRIES entries, as most recently used."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_ENTRIES:
        cache.popitem(last=False)


_CORRELATORS: weakref.WeakKeyDictionary[Store, _Correlator] = weakref.WeakKeyDictionary()


def record(
    store: Store,
    involved: Obj,
    reason: str,
    message: str,
    *,
    component: str,
    type_: str = "Normal",
    host: str | None = None,
    field_path: str = "",
) -> None:
    """Record a core/v1 Event about ``involved`` in its namespace (default for cluster objects).

    ``field_path`` names a part of the object, as the kubelet's container events do
    (``spec.containers{web}``). Best effort, as upstream: a refused write (e.g. in a
    terminating namespace) is dropped.
    """
    m = involved.get("metadata") or {}
    namespace = m.get("namespace") or "default"
    involved_ref = {
        "kind": involved.get("kind", ""),
        "namespace": m.get("namespace", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "apiVersion": involved.get("apiVersion", ""),
        "resourceVersion": m.get("resourceVersion", ""),
    }
    if field_path:
        involved_ref["fieldPath"] = field_path
    source = (component, host or "")
    subject = tuple(
        str(involved_ref.get(k, "")) for k in ("kind", "namespace", "name", "uid", "apiVersion")
    )
    correlator = _CORRELATORS.setdefault(store, _Correlator())
    now = time.monotonic()

    # aggregation: many distinct messages of one reason become one combined event
    group = (*source, *subject, type_, reason)
    similar = correlator.similar.get(group)
    if similar is None or now - similar.last > AGGREGATE_INTERVAL:
        similar = _Similar()
    similar.messages.add(message)
    similar.last = now
    _remember(correlator.similar, group, similar)
    if len(similar.messages) >= AGGREGATE_MAX_EVENTS:
        similar.messages.pop()  # never grow past the limit, as upstream
        message = COMBINED_PREFIX + message
        key = ("aggregate", *group)
    else:
        key = (*source, *subject, field_path, type_, reason, message)

    stamp = now_rfc3339()
    previous = correlator.seen.get(key)
    if previous is not None:
        event_namespace, event_name = previous

        def bump(event: Obj) -> None:
            event["count"] = int(event.get("count") or 1) + 1
            event["lastTimestamp"] = stamp
            event["message"] = message

        try:
            store.mutate(EVENT, event_namespace, event_name, bump)
            _remember(correlator.seen, key, previous)
            return
        except errors.ApiError:
            pass  # deleted meanwhile (namespace gone, TTL): record it anew
    event = {
        "metadata": {
            "name": f"{m.get('name', 'unknown')}.{secrets.token_hex(8)}",
            "namespace": namespace,
        },
        "involvedObject": involved_ref,
        "reason": reason,
        "message": message,
        "source": {"component": component, **({"host": host} if host else {})},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    with contextlib.suppress(errors.ApiError):
        created = store.create(EVENT, event, namespace)
        _remember(correlator.seen, key, (namespace, created["metadata"]["name"]))


__all__ = ["COMBINED_PREFIX", "EVENT", "record"]
