"""Events as client-go's recorder correlates them: repeats counted on one event, many
distinct messages of one reason combined."""

from __future__ import annotations

from conformance.sim.api.store import Obj, Store
from conformance.sim.controllers.events import COMBINED_PREFIX, record
from tests.sim.test_volumes import EVENT, NAMESPACE, POD


def _store() -> Store:
    store = Store()
    store.create(NAMESPACE, {"metadata": {"name": "default"}})
    return store


def _subject(store: Store) -> Obj:
    return store.create(
        POD,
        {
            "metadata": {"name": "web-0", "namespace": "default"},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    )


def _events(store: Store) -> list[Obj]:
    return sorted(store.list(EVENT), key=lambda e: int(e["metadata"]["resourceVersion"]))


def test_a_repeated_event_bumps_one_event_count_and_last_timestamp() -> None:
    store = _store()
    pod = _subject(store)
    for _ in range(3):
        record(store, pod, "FailedMount", "it failed", component="kubelet", type_="Warning")
    record(store, pod, "FailedMount", "it failed", component="kubelet", type_="Normal")
    first, other_type = _events(store)
    assert (first["reason"], first["message"], first["count"]) == ("FailedMount", "it failed", 3)
    assert first["firstTimestamp"] <= first["lastTimestamp"]
    assert other_type["count"] == 1  # another type is another event, as upstream's key has it


def test_the_eleventh_distinct_message_of_a_reason_is_combined() -> None:
    store = _store()
    pod = _subject(store)
    for n in range(12):
        record(store, pod, "FailedMount", f"failure {n}", component="kubelet", type_="Warning")
    events = _events(store)
    assert [e["message"] for e in events[:9]] == [f"failure {n}" for n in range(9)]
    (combined,) = events[9:]
    assert combined["message"] == COMBINED_PREFIX + "failure 11"
    assert combined["count"] == 3


def test_a_deleted_event_is_recorded_anew() -> None:
    store = _store()
    pod = _subject(store)
    record(store, pod, "Pulled", "pulled", component="kubelet")
    (event,) = _events(store)
    store.delete(EVENT, "default", event["metadata"]["name"])
    record(store, pod, "Pulled", "pulled", component="kubelet")
    (again,) = _events(store)
    assert again["count"] == 1
    assert again["metadata"]["name"] != event["metadata"]["name"]
