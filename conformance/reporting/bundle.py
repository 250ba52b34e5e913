"""A results bundle a vendor can hand to a customer, and a way to check it was not changed.

``conformance bundle`` packs what a run left under reports/ (junit, Allure results, the
HTML report, summary, fingerprint, the effective inventory with secrets redacted) with
the harness's version and git commit, and a SHA-256 manifest of every file;
``conformance verify BUNDLE`` recomputes it: one changed byte fails, naming the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from conformance import evidence

MANIFEST = "MANIFEST.sha256"
ABOUT = "harness.json"
PARTS = (
    "junit.xml",
    "summary.json",
    "fingerprint.json",
    "inventory.yaml",
    "allure-results",
    "html",
)
TEXT_SUFFIXES = (".json", ".xml", ".yaml", ".yml", ".txt", ".html", ".log", ".csv", ".svg")


class BundleError(Exception):
    """The bundle cannot be made or does not verify; the message names the file."""


def _files(reports: Path) -> Iterator[tuple[str, Path]]:
    for part in PARTS:
        path = reports / part
        if path.is_file():
            yield part, path
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                yield str(file.relative_to(reports)), file


def _commit(root: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown (not a git checkout)"


def make(reports: Path, out: Path, *, root: Path) -> Path:
    """Write the bundle; text files pass through the evidence redaction once more."""
    found = list(_files(reports))
    if not any(name == "junit.xml" or name.startswith("allure-results/") for name, _ in found):
        raise BundleError(
            f"{reports} holds no run results (junit.xml, allure-results/): run the suites first"
        )
    summary = (
        json.loads((reports / "summary.json").read_text())
        if (reports / "summary.json").exists()
        else {}
    )
    run = summary.get("run", time.strftime("%Y%m%d%H%M%S"))
    target = out / f"conformance-{run}.tar.gz" if out.is_dir() or not out.suffix else out
    about = {
        "harness_version": _version(),
        "git_commit": _commit(root),
        "run": run,
        "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    contents: list[tuple[str, bytes]] = [(ABOUT, (json.dumps(about, indent=2) + "\n").encode())]
    for name, path in found:
        data = path.read_bytes()
        if name.endswith(TEXT_SUFFIXES):
            data = evidence.redact(data.decode("utf-8", errors="replace")).encode()
        contents.append((name, data))
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in contents)
    contents.append((MANIFEST, manifest.encode()))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for name, data in contents:
            info = tarfile.TarInfo(f"conformance-{run}/{name}")
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return target


def _version() -> str:
    try:
        return metadata.version("conformance")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Verified:
    files: int
    summary: dict[str, object]
    about: dict[str, object]


def verify(bundle: Path) -> Verified:
    """Check every file against the manifest; BundleError names the first that differs."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            members = {
                m.name.split("/", 1)[1]: tar.extractfile(m) for m in tar.getmembers() if m.isfile()
            }
            contents = {name: f.read() for name, f in members.items() if f is not None}
    except (OSError, tarfile.TarError, EOFError, IndexError) as exc:
        raise BundleError(f"{bundle}: not a readable bundle ({exc})") from None
    manifest = contents.pop(MANIFEST, None)
    if manifest is None:
        raise BundleError(f"{bundle}: no {MANIFEST} in it")
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.decode(errors="replace").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise BundleError(f"{bundle}: {MANIFEST} line {number} is not '<sha256>  <file>'")
        listed[name] = digest
    for name in sorted(set(listed) | set(contents)):
        if name not in contents:
            raise BundleError(f"{name}: listed in the manifest but missing from the bundle")
        if name not in listed:
            raise BundleError(f"{name}: in the bundle but not in the manifest")
        if hashlib.sha256(contents[name]).hexdigest() != listed[name]:
            raise BundleError(f"{name}: its SHA-256 differs from the manifest: it was changed")
    summary = json.loads(contents.get("summary.json", b"{}") or b"{}")
    about = json.loads(contents.get(ABOUT, b"{}") or b"{}")
    return Verified(len(listed), summary, about)
