"""What a long wait shows: a live line on a terminal, a line now and then in a CI log."""

from __future__ import annotations

from conformance.progress import LIVE_WIDTH, Progress


def test_a_terminal_gets_one_line_rewritten_in_place_and_cleared() -> None:
    out: list[str] = []
    shown = Progress(out.append, live=True, label="datera-iscsi-r2")
    shown.waiting("2 pod(s) Ready", "web-1 ContainerCreating", 14.2)
    shown.waiting("2 pod(s) Ready", "web-1 ContainerCreating", 15.0)
    shown.done()
    assert out[
        0
    ] == "\r" + "[datera-iscsi-r2] waiting 14s for 2 pod(s) Ready: web-1 ContainerCreating".ljust(
        LIVE_WIDTH
    )
    assert len(out) == 3
    assert out[-1].strip() == ""
    assert "\n" not in "".join(out)


def test_a_log_gets_plain_lines_at_most_once_per_interval() -> None:
    out: list[str] = []
    shown = Progress(out.append, live=False, interval=3600)
    shown.waiting("claims Bound", "data-web-0 Pending", 5)
    shown.waiting("claims Bound", "data-web-0 Pending", 10)
    shown.done()
    assert out == ["waiting 5s for claims Bound: data-web-0 Pending\n"]
