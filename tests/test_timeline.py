"""The pods' timeline as an SVG: one row per ordinal, in ordinal order, with Ready and
deletion marked where they happened."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.reporting.timeline import svg

NS = "{http://www.w3.org/2000/svg}"


def test_rows_by_ordinal_with_ready_and_deleted_marks() -> None:
    events = [
        (100.0, "web-10", "created"),
        (100.0, "web-2", "created"),
        (101.5, "web-2", "ready"),
        (103.0, "web-10", "ready"),
        (110.0, "web-10", "deleted"),
    ]
    root = ET.fromstring(svg(events, "scale up to 11"))
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert labels[:3] == ["scale up to 11", "web-2", "web-10"]  # 2 before 10
    titles = [t.text for t in root.iter(f"{NS}title")]
    assert "web-2 Ready at +1.5s" in titles
    assert "web-10 deleted at +10.0s" in titles
    assert not any("web-2 deleted" in t for t in titles)
    assert "10.0s in all" in labels[-1]


def test_nothing_seen_draws_nothing() -> None:
    assert svg([], "empty") == ""
