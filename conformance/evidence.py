"""Evidence for reports: Allure steps and attachments, with secrets redacted first.

Everything a check did (manifests applied, commands and their output, events and pod
descriptions on failure) is attached, so a vendor can hand the report to a customer.
Nothing passes to a report without going through ``redact``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import allure
import yaml

REDACTED = "<redacted>"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?im)^(\s*(?:token|password|client-key-data|client-certificate-data)\s*:\s*).+$"),
    re.compile(r"(?i)(\"(?:token|password)\"\s*:\s*\")[^\"]*"),
    re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)"),
)


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    """Remove tokens, passwords and private keys (and any given secret strings)."""
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(rf"\1{REDACTED}\2", text)
        else:
            text = pattern.sub(rf"\1{REDACTED}", text)
    return text


# Work done ahead of its test (a set deployed in a background thread) has no test to
# report to yet: its evidence is recorded and replayed into the first test that uses it.
_recording = threading.local()


@dataclass
class Recording:
    """Evidence kept for later: (kind, title or name, body) in the order it happened."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)

    def replay(self, title: str) -> None:
        """Attach what was recorded, once, as one step of the current test."""
        entries, self.entries = self.entries, []
        if not entries:
            return
        with allure.step(redact(title)):
            for kind, name, body in entries:
                if kind == "step":
                    with allure.step(name):
                        pass
                else:
                    allure.attach(body, name=name, attachment_type=_TYPES[kind])


_TYPES = {"text": allure.attachment_type.TEXT, "yaml": allure.attachment_type.YAML}


@contextmanager
def recording() -> Iterator[Recording]:
    """Keep this thread's evidence for :meth:`Recording.replay` instead of reporting it."""
    kept = Recording()
    _recording.current = kept
    try:
        yield kept
    finally:
        _recording.current = None


def _kept() -> Recording | None:
    return getattr(_recording, "current", None)


@contextmanager
def step(title: str) -> Iterator[None]:
    """One action of a check, as an Allure step."""
    kept = _kept()
    if kept is not None:
        kept.entries.append(("step", redact(title), ""))
        yield
        return
    with allure.step(redact(title)):
        yield


def attach_text(name: str, text: str) -> None:
    kept = _kept()
    if kept is not None:
        kept.entries.append(("text", name, redact(text)))
        return
    allure.attach(redact(text), name=name, attachment_type=allure.attachment_type.TEXT)


def attach_yaml(name: str, obj: Any) -> None:
    text = yaml.safe_dump(obj, sort_keys=False) if not isinstance(obj, str) else obj
    kept = _kept()
    if kept is not None:
        kept.entries.append(("yaml", name, redact(text)))
        return
    allure.attach(redact(text), name=name, attachment_type=allure.attachment_type.YAML)


def attach_svg(name: str, svg: str) -> None:
    """A picture (no secrets in it: it is drawn from object names and times)."""
    if not svg or _kept() is not None:
        return
    allure.attach(svg, name=name, attachment_type=allure.attachment_type.SVG)


def attach_command(where: str, command: str, exit_code: int, stdout: str, stderr: str) -> None:
    """A command run on a node or in a container, with everything it printed."""
    body = f"$ {command}\n# exit code {exit_code}\n--- stdout\n{stdout}--- stderr\n{stderr}"
    attach_text(f"{where}: {command[:60]}", body)


def label_suite(feature: str, story: str) -> None:
    allure.dynamic.feature(feature)
    allure.dynamic.story(story)


def parameters(**values: object) -> None:
    for key, value in values.items():
        allure.dynamic.parameter(key, str(value))


FIGURES_PREFIX = "conformance_figures_"


def record_figures(item: Any, kind: str, figures: Any) -> None:
    """Figures a test measured (e.g. fio's), for the run's summary: they travel with the
    test's report (also from pytest-xdist workers), so they must be plain JSON data."""
    item.user_properties.append((FIGURES_PREFIX + kind, figures))
