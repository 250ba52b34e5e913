"""`conformance report`: the offline HTML report, opened from file:// in headless Chromium.

The report is built from tests/data/allure-sample/ (three real passing tests and one
failing synthetic check; origin/make.sh remakes it) with a summary.json and a
fingerprint.json as the harness writes them, then rendered by real Chromium with every
host name unresolvable: what a customer sees offline is what is asserted.
"""

from __future__ import annotations

import contextlib
import hashlib
import html as htmllib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.reporting import html

SAMPLE = Path(__file__).parent / "data" / "allure-sample"
FAILED_CHECK = "data written before a pod restart reads back after it [local-ssd]"
FAILED_NODEID = "tests/data/allure-sample/origin/synthetic_check.py::test_data_survives_pod_restart"
PASSED_CHECK = "test_lsscsi_seed_lines"
SERVER = "v1.31.4-sample.7"
DIGEST = "registry.example/csi/hostpath@sha256:" + "ab" * 32
WINDOW = (1280, 1000)

SUMMARY: dict[str, Any] = {
    "run": "c0ffee42",
    "inventory": "inventories/sample.yaml",
    "started": "2026-03-01T10:00:00+00:00",
    "duration": 754.2,
    "verdict": "failed",
    "entries": {
        "local-ssd": {
            "verdict": "failed",
            "suites": {
                "test_stateful_volumes": {"passed": 11, "failed": 1, "skipped": 0},
                "test_node_storage": {"passed": 3, "failed": 0, "skipped": 1},
            },
        },
        "nfs-shared": {
            "verdict": "passed",
            "suites": {"test_shares": {"passed": 6, "failed": 0, "skipped": 0}},
        },
    },
    "failures": [
        {
            "test": FAILED_NODEID,
            "entry": "local-ssd",
            "suite": "test_stateful_volumes",
            "message": "AssertionError: /data/probe is gone after web-0 restarted",
        }
    ],
}
FINGERPRINT: dict[str, Any] = {
    "server_version": SERVER,
    "nodes": [
        {
            "name": "worker-sample-1",
            "os_image": "Debian GNU/Linux 12 (bookworm)",
            "kernel": "6.1.0-31-amd64",
            "kubelet": "v1.31.4",
            "container_runtime": "containerd://1.7.24",
        }
    ],
    "storage_classes": [
        {"name": "local-ssd", "provisioner": "hostpath.csi.k8s.io", "parameters": {"fs": "xfs"}}
    ],
    "csi_drivers": [{"name": "hostpath.csi.k8s.io", "attachRequired": False}],
    "driver_images": [{"pod": "csi-hostpath-0", "image": "hostpath:v1.15", "image_id": DIGEST}],
    "unreadable": ["CSIDriver nfs.csi.k8s.io: forbidden (no RBAC for csidrivers)"],
}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _need_tools() -> str:
    """Chromium's path; skips only where CI would not have installed the tools (not root)."""
    missing = []
    chromium = _chromium()
    if chromium is None:
        missing.append("chromium (apt-get install chromium)")
    try:
        html.find_allure()
    except html.ToolMissing:
        missing.append("Node.js/npm and Allure (apt-get install nodejs npm; npm ci)")
    if missing:
        reason = "missing: " + "; ".join(missing)
        if os.geteuid() != 0:
            pytest.skip(reason + " (not root, so not installable here)")
        pytest.fail(reason + ": .ci/run installs them on a fresh machine")
    assert chromium is not None
    return chromium


def _run(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run in a process group of its own and kill the group after: Chromium forks."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _browse(chromium: str, profile: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Open ``url`` in headless Chromium with no network at all (every name unresolvable)."""
    return _run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--virtual-time-budget=8000",
            *args,
            url,
        ]
    )


def _text(dom: str) -> str:
    """What a person reads: the DOM without scripts, styles and tags."""
    dom = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", dom, flags=re.S | re.I)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report, made by the real command from the sample run's reports/ folder."""
    chromium = _need_tools()
    reports = tmp_path_factory.mktemp("reports")
    shutil.copytree(SAMPLE, reports / "allure-results", ignore=shutil.ignore_patterns("origin"))
    (reports / "summary.json").write_text(json.dumps(SUMMARY))
    (reports / "fingerprint.json").write_text(json.dumps(FINGERPRINT))
    out = reports / "html"
    done = _run(
        [
            sys.executable,
            "-m",
            "conformance",
            "report",
            "--results",
            str(reports / "allure-results"),
            "--out",
            str(out),
        ]
    )
    assert done.returncode == 0, done.stderr
    return {
        "chromium": chromium,
        "index": out / "index.html",
        "stdout": done.stdout,
        "tmp": reports,
    }


def test_report_is_one_file_that_loads_nothing_remote(built: dict[str, Any]) -> None:
    index: Path = built["index"]
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.html"]
    page = index.read_text("utf-8")
    assert html.remote_loads(page) == []
    for remote in ("googletagmanager", "google-analytics", "fonts.googleapis", "fonts.gstatic"):
        assert remote not in page
    assert not re.search(r"<(script|img|iframe)\b[^>]*\bsrc=[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"<link\b[^>]*\bhref=[\"']?(https?:)?//", page, re.I)
    # the command says what it took out of Allure's page
    assert (
        "stripped (would load from the network): <script src=https://www.googletagmanager"
        in (built["stdout"])
    )
    # single-file mode: Allure's code is inlined, nothing is loaded from beside the page
    loads = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']?([^\"'\s>]+)", page, re.I)
    assert loads
    assert all(url.startswith("data:") for url in loads), loads


def test_first_screen_shows_verdicts_fingerprint_and_checks(built: dict[str, Any]) -> None:
    profile = built["tmp"] / "profile-main"
    shot = built["tmp"] / "first-screen.png"
    url = built["index"].as_uri()
    dom = _browse(built["chromium"], profile, url, "--dump-dom").stdout
    assert 'id="allure-app-loader"' not in dom, "Allure's app never replaced its spinner"
    assert 'data-testid="tree-leaf"' in dom
    cover = re.search(r'<section id="conformance-cover"[^>]*>', dom)
    assert cover is not None
    assert "hidden" not in cover.group(0)
    text = _text(dom)
    assert "Storage conformance FAILED" in text.replace("failed", "FAILED")
    for expected in (
        "local-ssd",
        "nfs-shared",
        "test_stateful_volumes",
        "11 passed · 1 failed · 0 skipped",
        "run c0ffee42",
        "took 12m 34s",
        f"Kubernetes server {SERVER}",
        "worker-sample-1",
        "6.1.0-31-amd64",
        "containerd://1.7.24",
        DIGEST,
        "fs=xfs",
        "forbidden (no RBAC for csidrivers)",
        FAILED_NODEID,
        FAILED_CHECK,  # Allure's tree opens the group with a failure
    ):
        assert expected in text, expected
    entries = re.search(r"Verdict per storage entry(.*?)Failures", text)
    assert entries is not None
    assert re.search(r"local-ssd failed .*nfs-shared passed", entries.group(1), re.I)

    _browse(built["chromium"], built["tmp"] / "profile-shot", url, f"--screenshot={shot}")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == WINDOW
    assert len(png) > 30_000, "a screenshot that small is a blank page"


def test_cover_links_a_failure_to_its_check_and_checks_open_by_route(
    built: dict[str, Any],
) -> None:
    page = built["index"].read_text("utf-8")
    link = re.search(r'<a href="#([0-9a-f]{32})">' + re.escape(FAILED_NODEID), page)
    assert link is not None, "the cover's failure does not link into Allure"
    dom = _browse(
        built["chromium"],
        built["tmp"] / "profile-failed",
        f"{built['index'].as_uri()}#{link[1]}",
        "--dump-dom",
    ).stdout
    text = _text(dom)
    assert FAILED_CHECK in text
    assert "read /data/probe in pod web-0" in text
    assert "the volume was not reattached" in text
    assert re.search(r'<section id="conformance-cover"[^>]*\bhidden', dom), "cover stays over it"

    # a passing check, by Allure 3's route to it (its id is md5 of the result's uuid)
    uuids = [
        json.loads(p.read_text())["uuid"]
        for p in SAMPLE.glob("*-result.json")
        if json.loads(p.read_text())["name"] == PASSED_CHECK
    ]
    route = hashlib.md5(uuids[0].encode()).hexdigest()
    dom = _browse(
        built["chromium"],
        built["tmp"] / "profile-passed",
        f"{built['index'].as_uri()}#{route}",
        "--dump-dom",
    ).stdout
    text = _text(dom)
    assert PASSED_CHECK in text
    assert "Passed" in text


def test_without_node_the_command_says_what_to_install(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    shutil.copytree(SAMPLE, results, ignore=shutil.ignore_patterns("origin"))
    bare = tmp_path / "bin"  # a PATH with neither node nor npm nor npx
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CONFORMANCE_ALLURE"}
    env["PATH"] = str(bare)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "report",
            "--results",
            str(results),
            "--out",
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "apt-get install nodejs npm" in done.stderr
    assert "npm ci" in done.stderr
    assert len(done.stderr.splitlines()) <= 20, "more than one screen"
    assert not (tmp_path / "html").exists()


def test_without_results_the_command_says_how_to_make_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance import cli

    code = cli.main(["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "no Allure results in" in err
    assert "tox -e conformance" in err


def _fake_allure(tmp_path: Path, page: str) -> list[str]:
    """A stand-in for Allure that writes ``page`` and keeps the config it was given."""
    script = tmp_path / "fake_allure.py"
    script.write_text(
        "import pathlib, shutil, sys\n"
        "args = sys.argv[1:]\n"
        "out = pathlib.Path(args[args.index('-o') + 1]); out.mkdir(parents=True)\n"
        f"(out / 'index.html').write_text({page!r})\n"
        f"shutil.copy(args[args.index('--config') + 1], {str(tmp_path / 'config.json')!r})\n"
    )
    return [sys.executable, str(script)]


FONTS_AND_TAGS = """<!DOCTYPE html><html><head>
<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>
<link href="https://fonts.googleapis.com/css2?family=Inter&display=swap" rel="stylesheet">
<style>@import url("https://fonts.googleapis.com/css?family=Roboto");
@font-face{font-family:X;src:url(https://fonts.gstatic.com/x.woff2) format("woff2")}
@font-face{font-family:Y;src:url(data:font/woff2;base64,AAAA) format("woff2")}
body{margin:0}</style>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}
gtag('config','G-1');</script>
<script>window.allure={};</script>
</head><body><a href="https://allurereport.org">Powered by</a>
<svg xmlns="http://www.w3.org/2000/svg"></svg><div id="app"></div></body></html>"""


def test_fonts_and_analytics_are_stripped_and_named(tmp_path: Path) -> None:
    page, stripped = html.strip_remote(FONTS_AND_TAGS)
    assert html.remote_loads(page) == []
    assert len(stripped) == 6, stripped
    assert any("googletagmanager.com/gtag/js" in s for s in stripped)
    assert any(s.startswith("<link rel=stylesheet href=https://fonts.googleapis") for s in stripped)
    # what is not a load stays: links people click, namespaces, inlined fonts, Allure's own
    for kept in ('href="https://allurereport.org"', "http://www.w3.org/2000/svg", "font-family:Y"):
        assert kept in page
    assert "window.allure={}" in page


def test_a_remote_load_that_cannot_be_stripped_fails_the_report(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    shutil.copytree(SAMPLE, results, ignore=shutil.ignore_patterns("origin"))
    page = FONTS_AND_TAGS.replace(
        '<div id="app">', '<img src="https://tracker.example/p.gif"><div id="app">'
    )
    with pytest.raises(html.ReportError, match=r"<img src=https://tracker\.example/p\.gif>"):
        html.build(results, tmp_path / "html", allure=_fake_allure(tmp_path, page))
    assert not (tmp_path / "html" / "index.html").exists()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["plugins"]["awesome"]["options"]["singleFile"] is True


def test_cover_escapes_and_redacts_what_the_cluster_said() -> None:
    cover = html.render_cover(
        {"verdict": "passed", "entries": {"<b>x</b>": {"verdict": "passed", "suites": {}}}},
        {
            "server_version": "v1.30.0",
            "storage_classes": [
                {"name": "sc", "provisioner": "p", "parameters": {"opts": "password: hunter2"}}
            ],
        },
    )
    assert "<b>x</b>" not in cover
    assert "&lt;b&gt;x&lt;/b&gt;" in cover
    assert "hunter2" not in cover
    assert "http" not in cover.lower()


def test_pinned_allure_matches_package_json() -> None:
    root = Path(__file__).parent.parent
    package = json.loads((root / "package.json").read_text())
    assert package["devDependencies"][html.ALLURE_PACKAGE] == html.ALLURE_VERSION
    lock = json.loads((root / "package-lock.json").read_text())
    assert lock["packages"][f"node_modules/{html.ALLURE_PACKAGE}"]["version"] == html.ALLURE_VERSION


def test_without_summary_json_the_cover_counts_the_results() -> None:
    summary = html.summary_from_results(html.read_results(SAMPLE))
    assert summary["verdict"] == "failed"
    assert summary["entries"]["local-ssd"] == {
        "suites": {"synthetic_check": {"passed": 0, "failed": 1, "skipped": 0}},
        "verdict": "failed",
    }
    assert summary["entries"]["(no storage entry)"]["verdict"] == "passed"
    assert [f["test"] for f in summary["failures"]] == [FAILED_CHECK]
