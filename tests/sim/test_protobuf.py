"""Decoding the protobuf bodies kubectl's generators POST (create namespace / configmap).

Bodies are built by hand with the small encoder below, and one is the real body kubectl
v1.32 sent (tests/data/kubectl-create-namespace.pb; see the .txt beside it). When kubectl
is on the PATH, further bodies are captured live from a stub on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conformance.sim.api.protobuf import CONTENT_TYPE, MAGIC, ProtobufError, decode_object

DATA = Path(__file__).resolve().parent.parent / "data"
CAPTURED_NAMESPACE = DATA / "kubectl-create-namespace.pb"

# --- a minimal protobuf encoder (test-only) -------------------------------------------


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def ld(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or embedded message)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def vi(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def map_entries(number: int, mapping: dict[str, str] | dict[str, bytes]) -> bytes:
    return b"".join(ld(number, ld(1, k) + ld(2, v)) for k, v in mapping.items())


def object_meta(
    name: str = "",
    *,
    namespace: str = "",
    generate_name: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    # Field order and the always-present empty fields mimic Go's generated marshaller.
    return (
        ld(1, name)
        + ld(2, generate_name)
        + ld(3, namespace)
        + ld(4, "")
        + ld(5, "")
        + ld(6, "")
        + vi(7, 0)
        + ld(8, b"")
        + map_entries(11, labels or {})
        + map_entries(12, annotations or {})
    )


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = ld(1, api_version) + ld(2, kind)
    return MAGIC + ld(1, type_meta) + ld(2, raw) + ld(3, "") + ld(4, "")


def namespace_body(name: str, labels: dict[str, str] | None = None) -> bytes:
    # Namespace {1 metadata, 2 spec, 3 status{1 phase}}
    raw = ld(1, object_meta(name, labels=labels)) + ld(2, b"") + ld(3, ld(1, ""))
    return envelope("v1", "Namespace", raw)


# --- hand-built bodies -----------------------------------------------------------------


def test_namespace_with_labels_and_annotations() -> None:
    raw = (
        ld(
            1,
            object_meta("demo", labels={"team": "storage", "tier": "db"}, annotations={"a/b": "c"}),
        )
        + ld(2, b"")
        + ld(3, ld(1, ""))
    )
    assert decode_object(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "demo",
            "labels": {"team": "storage", "tier": "db"},
            "annotations": {"a/b": "c"},
        },
        "spec": {},
        "status": {},
    }


def test_namespace_like_create_namespace_dry_run() -> None:
    obj = decode_object(namespace_body("demo"))
    assert obj == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "demo"},
        "spec": {},
        "status": {},
    }
    json.dumps(obj)  # JSON-serialisable as is


def test_namespace_spec_finalizers_and_status_phase() -> None:
    raw = ld(1, ld(2, "ns-")) + ld(2, ld(1, "kubernetes")) + ld(3, ld(1, "Active"))
    assert decode_object(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"generateName": "ns-"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def test_configmap_with_data_binary_data_and_immutable() -> None:
    raw = (
        ld(1, object_meta("settings", namespace="demo", labels={"app": "web"}))
        + map_entries(2, {"a": "1", "config.yaml": "x: y\n"})
        + map_entries(3, {"blob": b"\x00\xff\x10"})
        + vi(4, 1)
    )
    assert decode_object(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "demo", "labels": {"app": "web"}},
        "data": {"a": "1", "config.yaml": "x: y\n"},
        "binaryData": {"blob": base64.b64encode(b"\x00\xff\x10").decode()},
        "immutable": True,
    }


def test_configmap_without_data() -> None:
    raw = ld(1, object_meta("empty", namespace="demo"))
    assert decode_object(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "empty", "namespace": "demo"},
    }


def test_metadata_extras_and_unknown_fields_are_tolerated() -> None:
    owner = ld(5, "apps/v1") + ld(1, "StatefulSet") + ld(3, "web") + ld(4, "u1") + vi(6, 1)
    meta = (
        ld(1, "x")
        + vi(7, 3)
        + ld(8, vi(1, 1_700_000_000))
        + ld(13, owner)
        + ld(14, "a/b")
        + ld(17, "future field")  # unknown: skipped
        + tag(19, 5)
        + b"\x01\x02\x03\x04"  # unknown fixed32: skipped
    )
    obj = decode_object(envelope("v1", "ConfigMap", ld(1, meta) + ld(99, b"junk")))
    assert obj["metadata"] == {
        "name": "x",
        "generation": 3,
        "creationTimestamp": "2023-11-14T22:13:20Z",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": "web",
                "uid": "u1",
                "controller": True,
            }
        ],
        "finalizers": ["a/b"],
    }


def test_empty_raw_still_has_metadata() -> None:
    assert decode_object(MAGIC + ld(1, ld(1, "v1") + ld(2, "Namespace"))) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {},
    }


def test_explicit_protobuf_content_type_is_accepted() -> None:
    raw = ld(1, ld(1, "demo"))
    body = MAGIC + ld(1, ld(1, "v1") + ld(2, "Namespace")) + ld(2, raw) + ld(4, CONTENT_TYPE)
    assert decode_object(body)["metadata"] == {"name": "demo"}


# --- errors ------------------------------------------------------------------------------


def test_unknown_kind_is_named() -> None:
    body = envelope("apps/v1", "StatefulSet", ld(1, object_meta("web")))
    with pytest.raises(ProtobufError, match=r"apps/v1 StatefulSet") as info:
        decode_object(body)
    assert isinstance(info.value, ValueError)
    assert "v1 Namespace" in str(info.value)  # says what is supported


def test_missing_kind() -> None:
    with pytest.raises(ProtobufError, match="no kind"):
        decode_object(MAGIC + ld(2, b""))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{}", id="json"),
        pytest.param(b'{"apiVersion":"v1","kind":"Namespace"}', id="json-object"),
        pytest.param(b"k8s", id="short-magic"),
        pytest.param(b"\x00" * 16, id="zeros"),
    ],
)
def test_bodies_without_the_magic(body: bytes) -> None:
    with pytest.raises(ProtobufError, match="magic"):
        decode_object(body)


def test_every_truncation_of_a_real_body_raises_or_decodes_cleanly() -> None:
    body = namespace_body("demo", labels={"team": "storage"})
    for cut in range(len(MAGIC), len(body)):
        try:
            obj = decode_object(body[:cut])
        except ProtobufError:
            continue
        # A cut that happens to fall on a field boundary is a valid (smaller) message.
        assert obj["kind"] == "Namespace"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(MAGIC + b"\x0a\x7f\x0a\x02v1", id="length-past-end"),
        pytest.param(MAGIC + b"\x08" + b"\xff" * 11, id="endless-varint"),
        pytest.param(MAGIC + b"\x0a", id="truncated-length"),
        pytest.param(MAGIC + b"\x00\x01", id="field-zero"),
        pytest.param(MAGIC + b"\x0b\x0c", id="group-wire-type"),
        pytest.param(MAGIC + b"\x0f", id="wire-type-7"),
        pytest.param(MAGIC + b"\x08\x01", id="typemeta-as-varint"),
        pytest.param(MAGIC + b"\x0d\x01\x02", id="truncated-fixed32"),
        pytest.param(MAGIC + ld(1, ld(1, "v1") + ld(2, b"Name\xffspace")), id="kind-not-utf8"),
        pytest.param(envelope("v1", "Namespace", ld(1, ld(1, b"\xc3"))), id="name-not-utf8"),
        pytest.param(envelope("v1", "Namespace", vi(1, 5)), id="metadata-as-varint"),
        pytest.param(
            envelope("v1", "ConfigMap", ld(2, ld(1, "k") + b"\x12\x05ab")),
            id="map-value-past-end",
        ),
        pytest.param(
            MAGIC + ld(1, ld(1, "v1") + ld(2, "Namespace")) + ld(3, "gzip"),
            id="content-encoding",
        ),
        pytest.param(
            MAGIC + ld(1, ld(1, "v1") + ld(2, "Namespace")) + ld(4, "application/json"),
            id="content-type-json",
        ),
        pytest.param(MAGIC + b"\xff\xff\xff", id="garbage"),
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(ProtobufError):
        decode_object(body)


def test_random_garbage_never_escapes_as_another_exception() -> None:
    rng = random.Random(1234)
    seed = namespace_body("demo", labels={"a": "b"})
    for _ in range(2000):
        mutated = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(MAGIC), len(mutated))] = rng.randrange(256)
        with contextlib.suppress(ProtobufError):
            decode_object(bytes(mutated))


# --- real kubectl bodies ---------------------------------------------------------------


def test_captured_kubectl_create_namespace_body() -> None:
    body = CAPTURED_NAMESPACE.read_bytes()
    assert body.startswith(MAGIC)
    assert decode_object(body) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "demo"},
        # kubectl (gogo protobuf) always sends the empty spec and status messages.
        "spec": {},
        "status": {},
    }


@dataclass
class Capture:
    """What a stub API server on 127.0.0.1 saw while one kubectl command ran."""

    returncode: int
    stdout: str
    stderr: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, type
    posts: list[bytes] = field(default_factory=list)


class _StubHandler(BaseHTTPRequestHandler):
    """Answers /version, legacy discovery, and records POST bodies (201 with a stub object)."""

    protocol_version = "HTTP/1.1"
    capture: Capture

    def _json(self, code: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.capture.requests.append(("GET", self.path, self.headers.get("Content-Type", "")))
        path = self.path.split("?", 1)[0]
        if path == "/version":
            self._json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        elif path == "/api":
            self._json(200, {"kind": "APIVersions", "versions": ["v1"]})
        elif path == "/apis":
            self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            verbs = ["create", "get", "list"]
            self._json(
                200,
                {
                    "kind": "APIResourceList",
                    "groupVersion": "v1",
                    "resources": [
                        {
                            "name": "namespaces",
                            "namespaced": False,
                            "kind": "Namespace",
                            "verbs": verbs,
                            "shortNames": ["ns"],
                        },
                        {
                            "name": "configmaps",
                            "namespaced": True,
                            "kind": "ConfigMap",
                            "verbs": verbs,
                            "shortNames": ["cm"],
                        },
                    ],
                },
            )
        else:
            self._json(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": "not found",
                },
            )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.capture.requests.append(("POST", self.path, self.headers.get("Content-Type", "")))
        self.capture.posts.append(body)
        kind = "ConfigMap" if "/configmaps" in self.path else "Namespace"
        self._json(
            201,
            {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": {"name": "stub", "uid": "0", "resourceVersion": "1"},
            },
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[tuple[int, Capture]]:
    capture = Capture(returncode=-1, stdout="", stderr="")
    handler = type("Handler", (_StubHandler,), {"capture": capture})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], capture
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run_kubectl(port: int, capture: Capture, workdir: Path, *args: str) -> Capture:
    """Run the real kubectl against the stub on 127.0.0.1:port (plain http, no credentials).

    HOME, the kubeconfig and --cache-dir all live in ``workdir``, so neither the
    dispatcher's /version cache nor the discovery cache leak in or out.
    """
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: stub\n  cluster:\n    server: http://127.0.0.1:{port}\n"
        "users:\n- name: stub\n  user: {}\n"
        "contexts:\n- name: stub\n  context:\n    cluster: stub\n    user: stub\n"
        "current-context: stub\n"
    )
    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(workdir / "cache"),
            "--request-timeout=10s",
            *args,
        ],
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    capture.returncode, capture.stdout, capture.stderr = (
        result.returncode,
        result.stdout,
        result.stderr,
    )
    return capture


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on PATH")


@needs_kubectl
def test_live_kubectl_create_namespace(stub_server: tuple[int, Capture], tmp_path: Path) -> None:
    port, capture = stub_server
    run_kubectl(port, capture, tmp_path, "create", "namespace", "demo")
    assert capture.returncode == 0, capture.stderr
    posts = [(path, ctype) for method, path, ctype in capture.requests if method == "POST"]
    assert len(posts) == 1
    path, ctype = posts[0]
    assert path.startswith("/api/v1/namespaces?fieldManager=kubectl-create&fieldValidation=Strict")
    assert ctype == CONTENT_TYPE
    (body,) = capture.posts
    assert body == CAPTURED_NAMESPACE.read_bytes()  # same kubectl, same bytes
    assert decode_object(body)["metadata"] == {"name": "demo"}


@needs_kubectl
def test_live_kubectl_create_configmap(stub_server: tuple[int, Capture], tmp_path: Path) -> None:
    port, capture = stub_server
    run_kubectl(
        port,
        capture,
        tmp_path,
        "create",
        "configmap",
        "settings",
        "-n",
        "demo",
        "--from-literal=a=1",
        "--from-literal=b=two words",
    )
    assert capture.returncode == 0, capture.stderr
    (body,) = capture.posts
    assert capture.requests[-1][2] == CONTENT_TYPE
    assert decode_object(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "demo"},
        "data": {"a": "1", "b": "two words"},
    }


@needs_kubectl
def test_live_kubectl_create_configmap_from_a_binary_file(
    stub_server: tuple[int, Capture], tmp_path: Path
) -> None:
    blob = bytes(range(256))  # not UTF-8, so kubectl puts it in binaryData
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "note.txt").write_text("hello\n")
    port, capture = stub_server
    run_kubectl(
        port,
        capture,
        tmp_path,
        "create",
        "configmap",
        "files",
        "-n",
        "demo",
        f"--from-file={tmp_path / 'blob.bin'}",
        f"--from-file={tmp_path / 'note.txt'}",
    )
    assert capture.returncode == 0, capture.stderr
    (body,) = capture.posts
    obj = decode_object(body)
    assert obj["data"] == {"note.txt": "hello\n"}
    assert base64.b64decode(obj["binaryData"]["blob.bin"]) == blob
