"""The offline HTML report: Allure Report 3 (npm) in single-file mode, behind a cover.

Vendors hand the report to customers, who open it from a file with no network, perhaps
years later. So the report is one ``index.html`` that loads nothing remote: Allure's
single-file mode inlines its scripts and fonts, and what Allure adds that would still
load from the internet (its Google Analytics tag; font links) is stripped, then the
page is scanned and refused if anything remote is left. The cover (verdict per storage
entry, failures, the cluster fingerprint) is plain HTML placed before Allure's app,
because that is what was certified and Allure has no place that shows it on one screen.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from conformance.evidence import redact

ALLURE_PACKAGE = "allure"
# The version package.json pins; `npx` fetches this one when the project has no node_modules.
ALLURE_VERSION = "3.18.0"
GENERATE_TIMEOUT = 300.0

INSTALL_HINT = f"""\
The HTML report is made by Allure Report 3 (npm package `{ALLURE_PACKAGE}`), which needs
Node.js. Install Node.js and npm, then the Allure the project pins, and run it again:

  apt-get install nodejs npm    # Debian/Ubuntu; elsewhere https://nodejs.org (Node.js 18+)
  npm ci                        # in the harness checkout (package.json, package-lock.json)

Outside a checkout, `conformance report` fetches {ALLURE_PACKAGE}@{ALLURE_VERSION} with npx, or
set CONFORMANCE_ALLURE to an installed one (.../node_modules/.bin/allure).
reports/junit.xml and reports/allure-results/ are written without any of this."""


class ReportError(Exception):
    """The report could not be made; the message says why, for a person, in one screen."""


class ToolMissing(ReportError):
    """Node.js, npm or Allure is not installed."""


@dataclass(frozen=True)
class Report:
    """What ``build`` wrote: the page, what was stripped from Allure's output, and timing."""

    index: Path
    stripped: list[str]
    seconds: float
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Allure
# ---------------------------------------------------------------------------------------


def _checkout() -> Path:
    """The source tree this module runs from (a checkout or an editable install)."""
    return Path(__file__).resolve().parents[2]


def find_allure(start: Path | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """The command that runs Allure 3: the project's pinned one first, so reports are alike.

    Order: $CONFORMANCE_ALLURE; ``node_modules/.bin/allure`` in ``start`` (default: the
    working directory) or a parent, or in the harness checkout; else ``npx`` fetching the
    pinned version. Raises ToolMissing, with what to install, when none can run.
    """
    env = os.environ if env is None else env
    node = shutil.which("node", path=env.get("PATH"))
    chosen = env.get("CONFORMANCE_ALLURE")
    if chosen:
        if not Path(chosen).is_file():
            raise ToolMissing(f"CONFORMANCE_ALLURE={chosen}: no such file\n\n{INSTALL_HINT}")
        return [chosen]
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, _checkout()):
        local = folder / "node_modules" / ".bin" / ALLURE_PACKAGE
        if local.is_file():
            if node is None:
                raise ToolMissing(f"{local} is installed but Node.js is not\n\n{INSTALL_HINT}")
            return [str(local)]
    npx = shutil.which("npx", path=env.get("PATH"))
    if npx is not None and node is not None:
        return [npx, "--yes", f"{ALLURE_PACKAGE}@{ALLURE_VERSION}"]
    missing = "Node.js" if node is None else "npx"
    raise ToolMissing(f"{missing} is not installed\n\n{INSTALL_HINT}")


def _run(command: Sequence[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a tool in its own process group, and leave none of it behind, also on timeout."""
    env = {**os.environ, "ALLURE_NO_ANALYTICS": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        raise ReportError(
            f"{' '.join(command[:3])} did not finish in {timeout:.0f} s:\n{_tail(out)}"
        ) from None
    finally:
        _kill_group(proc)
    return subprocess.CompletedProcess(list(command), proc.returncode, out, "")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait()


def _tail(text: str | None, lines: int = 15) -> str:
    kept = (text or "").strip().splitlines()[-lines:]
    return "\n".join(f"  {line}" for line in kept) or "  (it printed nothing)"


def _allurerc(name: str, variables: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "variables": dict(variables),
        "plugins": {
            "awesome": {"options": {"singleFile": True, "reportName": name, "reportLanguage": "en"}}
        },
    }


# ---------------------------------------------------------------------------------------
# What the run left: summary.json, fingerprint.json, the raw Allure results
# ---------------------------------------------------------------------------------------


def _read_json(path: Path | None, what: str, notes: list[str]) -> dict[str, Any] | None:
    """A JSON object from the run, or None with a note saying why it is not on the cover."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        notes.append(f"{path} could not be read ({exc}); the cover shows no {what}")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path} is not a JSON object; the cover shows no {what}")
        return None
    return data


@dataclass(frozen=True)
class Result:
    """One test as Allure recorded it: enough to count verdicts and to link a failure."""

    uuid: str
    name: str
    full_name: str
    status: str
    message: str
    suite: str
    entry: str | None
    stop: int
    history: str


def _unquote(value: str) -> str:
    """allure-pytest stores parameter values as repr(): 'local-ssd' with its quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_results(results: Path) -> list[Result]:
    """The latest attempt of every test in an Allure results directory (retries collapse)."""
    latest: dict[str, Result] = {}
    for path in sorted(results.glob("*-result.json")):
        try:
            raw = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(raw, dict):
            continue
        labels = {
            str(label.get("name")): str(label.get("value"))
            for label in raw.get("labels") or []
            if isinstance(label, dict)
        }
        params = {
            str(p.get("name")): _unquote(str(p.get("value")))
            for p in raw.get("parameters") or []
            if isinstance(p, dict)
        }
        details = raw.get("statusDetails") or {}
        message = str(details.get("message") or "") if isinstance(details, dict) else ""
        result = Result(
            uuid=str(raw.get("uuid") or path.name.removesuffix("-result.json")),
            name=str(raw.get("name") or ""),
            full_name=str(raw.get("fullName") or ""),
            status=str(raw.get("status") or "unknown"),
            message=message.strip().splitlines()[0] if message.strip() else "",
            suite=labels.get("suite") or labels.get("feature") or "",
            entry=params.get("storage"),
            stop=int(raw.get("stop") or 0),
            history=str(raw.get("historyId") or raw.get("uuid") or path.name),
        )
        kept = latest.get(result.history)
        if kept is None or result.stop >= kept.stop:
            latest[result.history] = result
    return list(latest.values())


def _bucket(status: str) -> str:
    return {"passed": "passed", "failed": "failed", "broken": "failed"}.get(status, "skipped")


def summary_from_results(results: Sequence[Result]) -> dict[str, Any]:
    """A summary.json-shaped verdict counted from Allure results, for runs that wrote none."""
    entries: dict[str, Any] = {}
    failures: list[dict[str, str]] = []
    for result in results:
        entry = entries.setdefault(result.entry or "(no storage entry)", {"suites": {}})
        counts = entry["suites"].setdefault(
            result.suite or "(no suite)", {"passed": 0, "failed": 0, "skipped": 0}
        )
        counts[_bucket(result.status)] += 1
        if _bucket(result.status) == "failed":
            failures.append(
                {
                    "test": result.name,
                    "entry": result.entry or "",
                    "suite": result.suite,
                    "message": result.message,
                    "_uuid": result.uuid,
                }
            )
    for entry in entries.values():
        failed = any(c["failed"] for c in entry["suites"].values())
        entry["verdict"] = "failed" if failed else "passed"
    verdict = "failed" if failures else ("passed" if results else "no tests")
    return {"verdict": verdict, "entries": entries, "failures": failures}


def _nodeid_names(nodeid: str) -> tuple[str, str]:
    """(allure fullName, test name) of a pytest node id, the way allure-pytest makes them."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::") if rest else [""]
    module = path.removesuffix(".py").replace("/", ".").replace("\\", ".")
    test = parts[-1]
    classes = "".join(f".{name}" for name in parts[:-1])
    return f"{module}{classes}#{test.split('[', 1)[0]}", test


def _allure_ids(out: Path) -> set[str]:
    try:
        data = json.loads((out / "test-results.json").read_text("utf-8"))
        return set(data.get("byId", {}))
    except (OSError, ValueError, AttributeError):
        return set()


def _link_failures(
    failures: list[Any], results: Sequence[Result], known: set[str]
) -> dict[int, str]:
    """Which failure on the cover opens which test in Allure (``#<id>``), where certain.

    Allure 3 names a test result md5(uuid); a link is made only when that id is in the
    report, so a change in Allure costs the links, never a broken one.
    """
    links: dict[int, str] = {}
    unsound = ("passed", "skipped")
    for index, failure in enumerate(failures):
        if not isinstance(failure, dict):
            continue
        uuid = failure.get("_uuid")
        if not uuid:
            full, name = _nodeid_names(str(failure.get("test") or ""))
            candidates = [r for r in results if r.full_name == full and r.status not in unsound]
            if len(candidates) > 1:
                candidates = [r for r in candidates if r.name == name]
            uuid = candidates[0].uuid if len(candidates) == 1 else None
        if uuid:
            allure_id = hashlib.md5(str(uuid).encode()).hexdigest()
            if allure_id in known:
                links[index] = allure_id
    return links


# ---------------------------------------------------------------------------------------
# The cover
# ---------------------------------------------------------------------------------------

_COVER_CSS = """
#conformance-cover{all:initial;display:block;box-sizing:border-box;max-width:1120px;
 margin:24px auto 8px;padding:24px 28px;background:#fff;color:#1f2328;border-radius:12px;
 border:1px solid #d0d7de;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Arial,sans-serif}
#conformance-cover[hidden]{display:none}
#conformance-cover *{box-sizing:border-box;font:inherit;color:inherit}
#conformance-cover h1{font-size:22px;font-weight:600;margin:0 0 4px}
#conformance-cover h2{display:block;font-size:16px;font-weight:600;margin:20px 0 6px}
#conformance-cover p{display:block;margin:4px 0}
#conformance-cover .cv-meta{color:#57606a}
#conformance-cover .cv-verdict{display:inline-block;padding:2px 12px;border-radius:999px;
 font-weight:700;text-transform:uppercase;letter-spacing:.04em;margin-left:8px;font-size:14px}
#conformance-cover .cv-passed{background:#dafbe1;color:#116329}
#conformance-cover .cv-failed{background:#ffebe9;color:#a40e26}
#conformance-cover .cv-other{background:#eaeef2;color:#424a53}
#conformance-cover table{display:table;border-collapse:collapse;width:100%;margin:4px 0}
#conformance-cover th,#conformance-cover td{display:table-cell;text-align:left;
 vertical-align:top;padding:4px 8px;border-bottom:1px solid #d8dee4}
#conformance-cover th{font-weight:600;background:#f6f8fa}
#conformance-cover tr{display:table-row}
#conformance-cover code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
 font-size:12.5px;word-break:break-all}
#conformance-cover a{color:#0969da;text-decoration:underline;cursor:pointer}
#conformance-cover ul{display:block;margin:4px 0;padding-left:20px}
#conformance-cover li{display:list-item;margin:2px 0}
#conformance-cover .cv-warn{color:#9a6700}
#conformance-cover .cv-n0{color:#8c959f}
"""

# The cover is for the report's first screen; a test opened in Allure (#<route>) gets
# the whole window, and going back to Allure's overview brings the cover back.
_COVER_JS = """
(function(){var c=document.getElementById("conformance-cover");if(!c)return;
function s(){c.hidden=location.hash.replace(/^#\\/?/,"")!=="";}
window.addEventListener("hashchange",s);s();
var b=document.getElementById("conformance-cover-jump");
if(b)b.addEventListener("click",function(e){e.preventDefault();
var a=document.getElementById("app");if(a)a.scrollIntoView();});})();
"""


def _e(value: object) -> str:
    return html.escape(redact(str(value)), quote=True)


def _verdict(value: object) -> str:
    text = str(value or "unknown")
    kind = {"passed": "cv-passed", "failed": "cv-failed"}.get(text, "cv-other")
    return f'<span class="cv-verdict {kind}">{_e(text)}</span>'


def _duration(seconds: object) -> str:
    try:
        total = round(float(str(seconds)))
    except ValueError:
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _count(counts: Mapping[str, Any], key: str) -> str:
    value = counts.get(key, 0)
    return f'<span class="cv-n0">{_e(value)}</span>' if not value else _e(value)


def _entries_html(summary: Mapping[str, Any]) -> str:
    entries = summary.get("entries")
    if not isinstance(entries, dict) or not entries:
        return "<p>No storage entry was tested.</p>"
    suites = sorted(
        {s for e in entries.values() if isinstance(e, dict) for s in e.get("suites") or {}}
    )
    rows = []
    for name, entry in entries.items():
        entry = entry if isinstance(entry, dict) else {}
        cells = [f"<strong>{_e(name)}</strong>", _verdict(entry.get("verdict"))]
        per_suite = entry.get("suites")
        per_suite = per_suite if isinstance(per_suite, dict) else {}
        for suite in suites:
            counts = per_suite.get(suite)
            if not isinstance(counts, dict):
                cells.append('<span class="cv-n0">not run</span>')
                continue
            cells.append(
                f"{_count(counts, 'passed')} passed · {_count(counts, 'failed')} failed"
                f" · {_count(counts, 'skipped')} skipped"
            )
        rows.append(cells)
    return _table(["Storage entry", "Verdict", *suites], rows)


def _failures_html(failures: list[Any], links: Mapping[int, str]) -> str:
    if not failures:
        return ""
    items = []
    for index, failure in enumerate(failures):
        if not isinstance(failure, dict):
            continue
        test = _e(failure.get("test", ""))
        if index in links:
            test = f'<a href="#{_e(links[index])}">{test}</a>'
        where = " / ".join(_e(failure[k]) for k in ("entry", "suite") if failure.get(k))
        message = _e(failure.get("message", ""))
        items.append(
            f"<li><code>{test}</code>{f' ({where})' if where else ''}"
            f"{f': {message}' if message else ''}</li>"
        )
    return f"<h2>Failures ({len(items)})</h2><ul>{''.join(items)}</ul>"


def _params(value: object) -> str:
    if not isinstance(value, dict) or not value:
        return ""
    return "<br>".join(
        f"<code>{_e(k)}={_e(v if isinstance(v, str) else json.dumps(v))}</code>"
        for k, v in sorted(value.items())
    )


def _fingerprint_html(fp: Mapping[str, Any] | None) -> str:
    if fp is None:
        return (
            '<h2>Cluster fingerprint</h2><p class="cv-warn">No fingerprint.json came with '
            "these results: this report does not say which cluster it certifies.</p>"
        )
    nodes = _dicts(fp.get("nodes"))
    classes = _dicts(fp.get("storage_classes"))
    drivers = _dicts(fp.get("csi_drivers"))
    images = _dicts(fp.get("driver_images"))
    parts = [
        "<h2>Cluster fingerprint</h2>",
        f"<p>Kubernetes server <strong>{_e(fp.get('server_version') or 'unknown')}</strong>; "
        f"{len(nodes)} node{'s' * (len(nodes) != 1)}, {len(classes)} StorageClass"
        f"{'es' * (len(classes) != 1)}, {len(drivers)} CSIDriver{'s' * (len(drivers) != 1)}, "
        f"{len(images)} driver image{'s' * (len(images) != 1)}.</p>",
    ]
    if nodes:
        keys = ("name", "os_image", "kernel", "kubelet", "container_runtime")
        parts.append(
            _table(
                ["Node", "OS image", "Kernel", "Kubelet", "Container runtime"],
                ([_e(n.get(k, "")) for k in keys] for n in nodes),
            )
        )
    if classes:
        parts.append(
            _table(
                ["StorageClass", "Provisioner", "Parameters"],
                (
                    [
                        _e(c.get("name", "")),
                        _e(c.get("provisioner", "")),
                        _params(c.get("parameters")),
                    ]
                    for c in classes
                ),
            )
        )
    if drivers:
        parts.append(
            _table(
                ["CSIDriver", "Spec"],
                (
                    [_e(d.get("name", "")), _params({k: v for k, v in d.items() if k != "name"})]
                    for d in drivers
                ),
            )
        )
    if images:
        parts.append(
            _table(
                ["Driver pod", "Image", "Image ID (digest)"],
                (
                    [
                        _e(i.get("pod", "")),
                        f"<code>{_e(i.get('image', ''))}</code>",
                        f"<code>{_e(i.get('image_id', ''))}</code>",
                    ]
                    for i in images
                ),
            )
        )
    unreadable = fp.get("unreadable")
    if isinstance(unreadable, list) and unreadable:
        items = "".join(f"<li>{_e(u)}</li>" for u in unreadable)
        parts.append(f'<p class="cv-warn">Not read from the cluster:</p><ul>{items}</ul>')
    return "".join(parts)


def _harness_version() -> str:
    try:
        return metadata.version("conformance")
    except metadata.PackageNotFoundError:
        return "unknown"


def render_cover(
    summary: Mapping[str, Any],
    fingerprint: Mapping[str, Any] | None,
    *,
    links: Mapping[int, str] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The cover as one self-contained HTML section: verdicts first, then the cluster.

    Everything shown passes through ``redact`` and is escaped: the inputs come from the
    cluster and the inventory, and the report goes to other people.
    """
    failures = summary.get("failures") if isinstance(summary.get("failures"), list) else []
    meta = []
    if summary.get("run"):
        meta.append(f"run <code>{_e(summary['run'])}</code>")
    if summary.get("started"):
        meta.append(f"started {_e(summary['started'])}")
    if summary.get("duration") is not None:
        meta.append(f"took {_e(_duration(summary['duration']))}")
    if summary.get("inventory"):
        meta.append(f"inventory <code>{_e(summary['inventory'])}</code>")
    meta.append(f"harness {_e(_harness_version())}")
    note_html = "".join(f'<p class="cv-warn">{_e(n)}</p>' for n in notes)
    return (
        f"<style>{_COVER_CSS}</style>"
        '<section id="conformance-cover" aria-label="Conformance verdict and cluster">'
        f"<h1>Storage conformance {_verdict(summary.get('verdict'))}</h1>"
        f'<p class="cv-meta">{" · ".join(meta)}</p>{note_html}'
        f"<h2>Verdict per storage entry</h2>{_entries_html(summary)}"
        f"{_failures_html(failures or [], links or {})}"
        f"{_fingerprint_html(fingerprint)}"
        '<p class="cv-meta" style="margin-top:16px">Every check, its steps and evidence: '
        '<a id="conformance-cover-jump" href="#">the Allure report below</a> '
        "(open a failure above to go straight to it).</p>"
        f"</section><script>{_COVER_JS}</script>"
    )


# ---------------------------------------------------------------------------------------
# Nothing remote at view time
# ---------------------------------------------------------------------------------------

_REMOTE = r"""(?:https?:)?//"""
_REMOTE_ATTR = re.compile(
    r"""\b(src|href|data|poster|srcset|background)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""",
    re.I,
)
_LOADING_TAGS = re.compile(
    r"<(script|link|img|iframe|frame|embed|object|source|audio|video|track|image|use|input|"
    r"body|table|td)\b[^>]*>",
    re.I,
)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.I | re.S)
_LINK = re.compile(r"<link\b[^>]*>", re.I)
_CSS_IMPORT = re.compile(rf"""@import\s+(?:url\()?\s*["']?{_REMOTE}[^;]*;?""", re.I)
_CSS_URL = re.compile(rf"""url\(\s*(?:\\?["'])?\s*({_REMOTE}[^)"'\\]+)""", re.I)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I)
_DATA_CODE = re.compile(
    r"""data:(text/javascript|application/javascript|text/css)(?:;[\w=-]+)*;base64,([A-Za-z0-9+/=]+)""",
    re.I,
)
# Hosts that are only ever loaded from, never linked to: analytics, tag managers, web fonts.
_TRACKERS = re.compile(
    r"googletagmanager\.com|google-analytics\.com|fonts\.googleapis\.com|fonts\.gstatic\.com|"
    r"use\.typekit\.net|\bgtag\(|(?-i:\bdataLayer\b)",
    re.I,
)


def strip_remote(page: str) -> tuple[str, list[str]]:
    """Remove what would load from the internet and is safe to drop; say what went.

    Dropped: ``<script src=remote>`` (Allure's Google Analytics loader), inline scripts
    that drive analytics (its ``gtag`` config), ``<link href=remote>`` (web fonts,
    preconnects), and remote ``@import``/``@font-face`` rules in ``<style>``. Anything else
    remote is left for ``remote_loads`` to refuse.
    """
    stripped: list[str] = []

    def script(match: re.Match[str]) -> str:
        attrs, body = match.group(1), match.group(2)
        src = re.search(rf"""\bsrc\s*=\s*["']?({_REMOTE}[^"'\s>]+)""", attrs, re.I)
        if src:
            stripped.append(f"<script src={src.group(1)}>")
            return ""
        if not re.search(r"\bsrc\s*=", attrs, re.I) and _TRACKERS.search(body):
            first = next((ln.strip() for ln in body.splitlines() if "gtag(" in ln), "")
            stripped.append(f"inline analytics <script> ({first or 'dataLayer'})")
            return ""
        return match.group(0)

    def link(match: re.Match[str]) -> str:
        href = re.search(rf"""\bhref\s*=\s*["']?({_REMOTE}[^"'\s>]+)""", match.group(0), re.I)
        if not href:
            return match.group(0)
        rel = re.search(r"""\brel\s*=\s*["']?([^"'>]+)""", match.group(0), re.I)
        stripped.append(f"<link rel={rel.group(1) if rel else '?'} href={href.group(1)}>")
        return ""

    def style(match: re.Match[str]) -> str:
        css = match.group(1)

        def drop(rule: re.Match[str]) -> str:
            if rule.group(0).startswith("@font-face") and not _CSS_URL.search(rule.group(0)):
                return rule.group(0)
            stripped.append(f"CSS {' '.join(rule.group(0).split())[:120]}")
            return ""

        new = _FONT_FACE.sub(drop, _CSS_IMPORT.sub(drop, css))
        return match.group(0) if new == css else match.group(0).replace(css, new)

    page = _SCRIPT.sub(script, page)
    page = _LINK.sub(link, page)
    page = _STYLE.sub(style, page)
    return page, stripped


def remote_loads(page: str) -> list[str]:
    """Everything in the page that would make the browser fetch from the network.

    Looks at loading tags' attributes, CSS (``<style>``, ``style=``, and CSS inside the
    inlined code bundles), inline scripts, and the inlined bundles for analytics and
    web-font hosts. Links people click (``<a href>``) are not loads and are not listed.
    """
    found: list[str] = []
    for tag in _LOADING_TAGS.finditer(page):
        for attr, url in _REMOTE_ATTR.findall(tag.group(0)):
            found.append(f"<{tag.group(1).lower()} {attr}={url}>")
    for css in [*_STYLE.findall(page), *re.findall(r"""\bstyle\s*=\s*"([^"]*)""", page, re.I)]:
        found += [f"CSS url({url})" for url in _CSS_URL.findall(css)]
        found += [f"CSS {m.group(0)[:120]}" for m in _CSS_IMPORT.finditer(css)]
    for _attrs, body in _SCRIPT.findall(page):
        tracker = _TRACKERS.search(body)
        if tracker:
            found.append(f"inline <script> using {tracker.group(0)}")
    for kind, data in _DATA_CODE.findall(page):
        try:
            code = base64.b64decode(data).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        found += [f"url({url}) in an inlined {kind}" for url in _CSS_URL.findall(code)]
        found += [f"{m.group(0)} in an inlined {kind}" for m in _TRACKERS.finditer(code)]
    return found


# ---------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------


def _place_cover(page: str, cover: str) -> str:
    body = re.search(r"<body\b[^>]*>", page, re.I)
    if body is None:
        raise ReportError("Allure's index.html has no <body>: the cover has nowhere to go")
    return page[: body.end()] + cover + page[body.end() :]


def build(
    results: Path,
    out: Path,
    *,
    summary: Path | None = None,
    fingerprint: Path | None = None,
    allure: Sequence[str] | None = None,
    timeout: float = GENERATE_TIMEOUT,
) -> Report:
    """Write ``out/index.html``: the cover, then Allure's report of ``results``, offline.

    ``summary``/``fingerprint`` default to ``summary.json``/``fingerprint.json`` beside the
    results directory (``reports/``). Raises ToolMissing without Node.js/Allure, and
    ReportError when Allure fails or the page would still load something remote.
    """
    began = time.monotonic()
    results = results.resolve()
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ReportError(
            f"no Allure results in {results}: run the suites first "
            "(python3 -m tox -e conformance, or pytest suites --alluredir=reports/allure-results)"
        )
    command = list(allure) if allure is not None else find_allure()
    notes: list[str] = []
    summary = summary if summary is not None else results.parent / "summary.json"
    fingerprint = fingerprint if fingerprint is not None else results.parent / "fingerprint.json"
    run_summary = _read_json(summary, "per-entry verdict", notes)
    run_fingerprint = _read_json(fingerprint, "cluster fingerprint", notes)
    raw = read_results(results)
    if run_summary is None:
        notes.append(f"No {summary}: verdicts counted from the Allure results.")
        run_summary = summary_from_results(raw)
    name = "Storage conformance" + (f" {run_summary['run']}" if run_summary.get("run") else "")
    variables = {"Verdict": str(run_summary.get("verdict", "unknown"))}
    if run_fingerprint and run_fingerprint.get("server_version"):
        variables["Kubernetes"] = str(run_fingerprint["server_version"])
    entries = run_summary.get("entries")
    for entry, data in entries.items() if isinstance(entries, dict) else []:
        if isinstance(data, dict):
            variables[f"Entry {entry}"] = str(data.get("verdict", "unknown"))

    with tempfile.TemporaryDirectory(prefix="conformance-report-") as tmp:
        work = Path(tmp)
        config = work / "allurerc.json"
        shown = {redact(key): redact(value) for key, value in variables.items()}
        config.write_text(json.dumps(_allurerc(redact(name), shown), indent=2), "utf-8")
        generated = work / "out"
        done = _run(
            [*command, "generate", str(results), "-o", str(generated), "--config", str(config)],
            cwd=work,
            timeout=timeout,
        )
        index = generated / "index.html"
        if done.returncode != 0 or not index.is_file():
            raise ReportError(
                f"Allure could not generate the report (exit {done.returncode}):\n"
                f"{_tail(done.stdout)}\n\nIf Allure is missing or too old for this Node.js:"
                f"\n\n{INSTALL_HINT}"
            )
        page = index.read_text("utf-8")
        failures = run_summary.get("failures")
        links = _link_failures(
            failures if isinstance(failures, list) else [], raw, _allure_ids(generated)
        )
        cover = render_cover(run_summary, run_fingerprint, links=links, notes=notes)
        page, stripped = strip_remote(_place_cover(page, cover))
        left = remote_loads(page)
        if left:
            more = f"\n  ... and {len(left) - 12} more" if len(left) > 12 else ""
            raise ReportError(
                "the generated report would still load from the network, so it was not "
                "written:\n" + "\n".join(f"  {item}" for item in left[:12]) + more
            )
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    partial = out / ".index.html.partial"
    partial.write_text(page, "utf-8")
    os.replace(partial, target)
    return Report(index=target, stripped=stripped, seconds=time.monotonic() - began, notes=notes)
