"""Label and field selectors behave as k8s.io/apimachinery's parsers do."""

from __future__ import annotations

import pytest

from conformance.sim.api.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    from_label_selector_object,
    parse_field_selector,
    parse_label_selector,
    to_string,
)

WEB = {"app": "web", "tier": "db", "version": "3"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=web", WEB, True),
        ("app==web", WEB, True),
        ("app=api", WEB, False),
        ("app!=api", WEB, True),
        ("app!=web", WEB, False),
        ("missing!=x", WEB, True),  # != matches an absent label
        ("tier in (db,cache)", WEB, True),
        ("tier in (cache)", WEB, False),
        ("missing in (a)", WEB, False),
        ("tier notin (cache)", WEB, True),
        ("tier notin (db)", WEB, False),
        ("missing notin (db)", WEB, True),  # notin matches an absent label
        ("app", WEB, True),
        ("missing", WEB, False),
        ("!missing", WEB, True),
        ("!app", WEB, False),
        ("version>2", WEB, True),
        ("version<3", WEB, False),
        ("app>1", WEB, False),  # a non-integer label never satisfies gt/lt
        ("missing<9", WEB, False),
        ("app=web,tier=db", WEB, True),
        ("app=web,tier=cache", WEB, False),  # requirements are ANDed
        ("  app  =  web ,  tier  in  ( db , cache ) , ! missing ", WEB, True),
        ("app=", {"app": ""}, True),  # empty value after '=' is the empty string
        ("app=", WEB, False),
        ("example.com/role=primary", {"example.com/role": "primary"}, True),
        ("k in (a,)", {"k": ""}, True),  # upstream: an empty entry is the empty value
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_label_selector_selects_everything(text: str) -> None:
    selector = parse_label_selector(text)
    assert selector.empty
    assert selector.matches({})
    assert selector.matches(WEB)
    assert selector.matches(None)
    assert str(selector) == ""


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("tier in (db,cache),app=web,!canary", "app=web,!canary,tier in (cache,db)"),
        ("b notin ( y , x ),a", "a,b notin (x,y)"),
        ("k==v", "k==v"),
        ("n>5", "n>5"),
    ],
)
def test_label_selector_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical
    assert str(parse_label_selector(canonical)) == canonical  # round trip


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("app=web,", "identifier after ','"),
        (",app=web", "expected: identifier"),
        ("app web", "expected: one of"),
        ("app=web tier", "',' or end of string"),
        ("in=x", "expected: identifier"),
        ("app in web", "'('"),
        ("app in (web", "')'"),
        ("app in (a b)", "')'"),
        ("!app=web", "',' or end of string"),
        ("app=@web", "invalid label value"),
        ("app=" + "v" * 64, "invalid label value"),
        ("a/b/c=x", "at most one '/'"),
        ("/name=x", "prefix part must be non-empty"),
        ("Example.COM/name=x", "prefix must be a lowercase DNS subdomain"),
        ("example.com/=x", "name part must be non-empty"),
        ("-app=x", "invalid label key"),
        ("k" * 64 + "=x", "invalid label key"),
        ("n>five", "integer"),
        ("app===web", "expected: identifier"),
    ],
)
def test_bad_label_selectors_raise(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError, match="label") as info:
        parse_label_selector(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)  # the server maps ValueErrors to 400


def test_label_key_limits_are_exact() -> None:
    assert parse_label_selector("k" * 63 + "=v").matches({"k" * 63: "v"})
    assert parse_label_selector(f"{'a' * 253}/{'n' * 63}").matches({f"{'a' * 253}/{'n' * 63}": ""})
    with pytest.raises(SelectorError):
        parse_label_selector(f"{'a' * 254}/n")


def test_label_selector_object_matches_like_statefulset_selector() -> None:
    selector = from_label_selector_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["db", "cache"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "version", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches(WEB)
    assert not selector.matches({**WEB, "canary": "yes"})
    assert not selector.matches({**WEB, "env": "prod"})
    assert not selector.matches({"app": "web", "tier": "db"})  # version missing
    assert isinstance(selector, LabelSelector)


def test_empty_label_selector_object_selects_everything() -> None:
    assert from_label_selector_object({}).matches(WEB)
    assert to_string({}) == ""


@pytest.mark.parametrize(
    ("sel", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, "app=web"),
        ({"matchLabels": {"tier": "db", "app": "web"}}, "app=web,tier=db"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["b", "a"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "beta", "operator": "Exists"},
                ],
            },
            "app=web,beta,!canary,zone in (a,b)",
        ),
    ],
)
def test_to_string_renders_scale_status_selector(sel: dict[str, object], expected: str) -> None:
    assert to_string(sel) == expected


@pytest.mark.parametrize(
    ("sel", "fragment"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "operator"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "empty"),
        ({"matchLabels": {"bad key": "x"}}, "invalid label key"),
        ({"matchLabels": {"app": "no spaces"}}, "invalid label value"),
        ({"matchLabels": {"app": 3}}, "must be a string"),
    ],
)
def test_bad_label_selector_objects_raise(sel: dict[str, object], fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        from_label_selector_object(sel)
    assert fragment in str(info.value)


POD = {
    "metadata": {"name": "web-0", "namespace": "demo", "uid": "u-1"},
    "spec": {"nodeName": "node-1", "unschedulable": False, "priority": 5},
    "status": {"phase": "Running"},
}
EVENT = {
    "metadata": {"name": "web-0.17", "namespace": "demo"},
    "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "demo", "uid": "u-1"},
    "type": "Normal",
    "reason": "Scheduled",
}
PV = {"metadata": {"name": "pv-0"}, "spec": {"claimRef": {"name": "data-web-0"}}}


@pytest.mark.parametrize(
    ("text", "obj", "expected"),
    [
        ("metadata.name=web-0", POD, True),
        ("metadata.name==web-0", POD, True),
        ("metadata.name=web-1", POD, False),
        ("metadata.name!=web-1", POD, True),
        ("metadata.name=web-0,metadata.namespace=demo", POD, True),
        ("metadata.name=web-0,metadata.namespace=other", POD, False),
        ("spec.nodeName=node-1,status.phase!=Pending", POD, True),
        ("spec.nodeName=", {"metadata": {"name": "p"}}, True),  # a missing field is ""
        ("spec.nodeName!=", {"metadata": {"name": "p"}}, False),
        ("metadata.namespace=", {"metadata": {"name": "node-1"}}, True),  # cluster-scoped
        ("spec.unschedulable=false", POD, True),  # booleans compare as true/false
        ("spec.priority=5", POD, True),
        (
            "involvedObject.name=web-0,involvedObject.namespace=demo,involvedObject.uid=u-1",
            EVENT,
            True,
        ),
        ("involvedObject.kind=StatefulSet", EVENT, False),
        ("type=Normal,reason=Scheduled", EVENT, True),
        ("spec.claimRef.name=data-web-0", PV, True),
        ("spec.claimRef.name.deeper=x", PV, False),  # through a string: missing
        (" metadata.name = web-0 ", POD, True),
        ("metadata.name=web-0,,", POD, True),  # empty terms are skipped
        (r"metadata.name=a\,b\=c\\d", {"metadata": {"name": r"a,b=c\d"}}, True),
    ],
)
def test_field_selector_matches(text: str, obj: dict[str, object], expected: bool) -> None:
    assert parse_field_selector(text).matches(obj) is expected


def test_empty_field_selector_selects_everything() -> None:
    selector = parse_field_selector("")
    assert selector.empty
    assert selector.matches(POD)
    assert selector.fields() == frozenset()


def test_field_selector_exposes_fields_for_the_server_to_check() -> None:
    selector = parse_field_selector("metadata.name=web-0,status.phase!=Running,spec.x==1")
    assert selector.fields() == frozenset({"metadata.name", "status.phase", "spec.x"})
    assert isinstance(selector, FieldSelector)


def test_field_selector_values_override_paths() -> None:
    selector = parse_field_selector("source=kubelet")
    assert not selector.matches(EVENT)
    assert selector.matches(EVENT, values={"source": "kubelet"})


def test_field_selector_string_is_sorted_and_escaped() -> None:
    assert str(parse_field_selector(r"b!=2,a=x\,y")) == r"a=x\,y,b!=2"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metadata.name", "can't understand"),
        ("metadata.name=a=b", "unescaped '='"),
        (r"metadata.name=a\x", "invalid escape"),
        ("metadata.name=a\\", "invalid escape"),
        ("=web-0", "bad field name"),
        ("meta data=x", "bad field name"),
    ],
)
def test_bad_field_selectors_raise(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError, match="field selector") as info:
        parse_field_selector(text)
    assert fragment in str(info.value)
