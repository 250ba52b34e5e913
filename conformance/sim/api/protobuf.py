"""Decode the Kubernetes protobuf bodies that kubectl's generators POST.

``kubectl create namespace`` and ``kubectl create configmap`` (and the other generators)
send ``Content-Type: application/vnd.kubernetes.protobuf`` and do not retry as JSON after
a 415, so the server must read them. The envelope (k8s.io/apimachinery/pkg/runtime/
serializer/protobuf) is the 4-byte magic ``k8s\\x00`` followed by a ``runtime.Unknown``
message whose ``raw`` field holds the object's own protobuf encoding.

Field numbers below are copied from the upstream ``generated.proto`` files:

- k8s.io/apimachinery/pkg/runtime/generated.proto
    message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
    message Unknown  { optional TypeMeta typeMeta = 1; optional bytes raw = 2;
                       optional string contentEncoding = 3; optional string contentType = 4; }
- k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
    message ObjectMeta { name = 1; generateName = 2; namespace = 3; selfLink = 4; uid = 5;
                         resourceVersion = 6; int64 generation = 7; Time creationTimestamp = 8;
                         Time deletionTimestamp = 9; int64 deletionGracePeriodSeconds = 10;
                         map<string,string> labels = 11; map<string,string> annotations = 12;
                         repeated OwnerReference ownerReferences = 13;
                         repeated string finalizers = 14; ... }
    message OwnerReference { apiVersion = 5; kind = 1; name = 3; uid = 4;
                             bool controller = 6; bool blockOwnerDeletion = 7; }
    message Time { int64 seconds = 1; int32 nanos = 2; }
- k8s.io/api/core/v1/generated.proto
    message Namespace       { ObjectMeta metadata = 1; NamespaceSpec spec = 2;
                              NamespaceStatus status = 3; }
    message NamespaceSpec   { repeated string finalizers = 1; }
    message NamespaceStatus { optional string phase = 1; ... }
    message ConfigMap       { ObjectMeta metadata = 1; map<string,string> data = 2;
                              map<string,bytes> binaryData = 3; optional bool immutable = 4; }

A protobuf ``map<K,V>`` field is a repeated embedded message ``{K key = 1; V value = 2;}``.

Go's generated marshallers (gogo) emit every non-pointer field, so a real body carries
empty strings, ``generation: 0`` and empty spec/status messages. Empty strings and a zero
generation are dropped, as ``omitempty`` does in the JSON encoding; an empty spec or status
message becomes ``{}``, as in the JSON kubectl would have sent.

Only what is needed to rebuild the JSON form of those kinds is decoded; unknown fields are
skipped (managedFields, for instance, which generators never send). Any other kind raises
:class:`ProtobufError` naming it, so the server can answer 415 with a clear Status.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["CONTENT_TYPE", "MAGIC", "SUPPORTED_KINDS", "ProtobufError", "decode_object"]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# Wire types (https://protobuf.dev/programming-guides/encoding/#structure).
_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf envelope this server can decode."""


# --- wire format -----------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; return (value, next position)."""
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >> 64:
                raise ProtobufError("varint longer than 64 bits")
            return result, pos
    raise ProtobufError("varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of one message.

    Varints come back as unsigned ints; length-delimited fields as bytes; fixed-size
    fields as unsigned ints. Groups (long deprecated, never used by Kubernetes) are
    rejected.
    """
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0 is invalid")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _LEN:
            length, pos = _varint(buf, pos)
            end = pos + length
            if end > len(buf):
                raise ProtobufError(
                    f"field {number}: length {length} runs past the end of the message"
                )
            value, pos = buf[pos:end], end
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            if pos + size > len(buf):
                raise ProtobufError(f"field {number}: truncated fixed-size value")
            value, pos = int.from_bytes(buf[pos : pos + size], "little"), pos + size
        else:
            raise ProtobufError(f"field {number}: unsupported wire type {wire}")
        yield number, wire, value


def _expect_bytes(number: int, wire: int, value: int | bytes) -> bytes:
    if wire != _LEN or not isinstance(value, bytes):
        raise ProtobufError(f"field {number}: expected a length-delimited value, got wire {wire}")
    return value


def _expect_int(number: int, wire: int, value: int | bytes) -> int:
    if wire != _VARINT or not isinstance(value, int):
        raise ProtobufError(f"field {number}: expected a varint, got wire type {wire}")
    return value


def _string(number: int, wire: int, value: int | bytes) -> str:
    try:
        return _expect_bytes(number, wire, value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"field {number}: string is not valid UTF-8") from exc


def _int64(number: int, wire: int, value: int | bytes) -> int:
    raw = _expect_int(number, wire, value)
    return raw - (1 << 64) if raw >= 1 << 63 else raw  # two's complement int64/int32


def _bool(number: int, wire: int, value: int | bytes) -> bool:
    return _expect_int(number, wire, value) != 0


def _map_entry(
    number: int, wire: int, value: int | bytes, *, binary: bool = False
) -> tuple[str, str]:
    """One entry of a map<string,string> (or map<string,bytes>, base64 as JSON has it)."""
    key, val = "", ""
    for n, w, v in _fields(_expect_bytes(number, wire, value)):
        if n == 1:
            key = _string(n, w, v)
        elif n == 2:
            if binary:
                val = base64.b64encode(_expect_bytes(n, w, v)).decode("ascii")
            else:
                val = _string(n, w, v)
    return key, val


# --- messages ---------------------------------------------------------------------------


def _time(buf: bytes) -> str | None:
    """meta/v1 Time {1 seconds, 2 nanos} as RFC 3339; an empty message is the zero time."""
    seconds = nanos = 0
    for n, w, v in _fields(buf):
        if n == 1:
            seconds = _int64(n, w, v)
        elif n == 2:
            nanos = _int64(n, w, v)
    if seconds == 0 and nanos == 0:
        return None  # Go's zero time.Time marshals to nothing and reads back as null
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise ProtobufError(f"timestamp {seconds} out of range") from exc
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_reference(buf: bytes) -> dict[str, Any]:
    ref: dict[str, Any] = {}
    for n, w, v in _fields(buf):
        if n == 5:
            ref["apiVersion"] = _string(n, w, v)
        elif n == 1:
            ref["kind"] = _string(n, w, v)
        elif n == 3:
            ref["name"] = _string(n, w, v)
        elif n == 4:
            ref["uid"] = _string(n, w, v)
        elif n == 6:
            ref["controller"] = _bool(n, w, v)
        elif n == 7:
            ref["blockOwnerDeletion"] = _bool(n, w, v)
    return ref


_META_STRINGS = {
    1: "name",
    2: "generateName",
    3: "namespace",
    4: "selfLink",
    5: "uid",
    6: "resourceVersion",
}


def _object_meta(buf: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for n, w, v in _fields(buf):
        if n in _META_STRINGS:
            text = _string(n, w, v)
            if text:
                meta[_META_STRINGS[n]] = text
        elif n == 7:  # a plain int64 in Go: always sent, omitted from JSON when zero
            if generation := _int64(n, w, v):
                meta["generation"] = generation
        elif n in (8, 9):
            stamp = _time(_expect_bytes(n, w, v))
            if stamp is not None:
                meta["creationTimestamp" if n == 8 else "deletionTimestamp"] = stamp
        elif n == 10:
            meta["deletionGracePeriodSeconds"] = _int64(n, w, v)
        elif n in (11, 12):
            key, val = _map_entry(n, w, v)
            meta.setdefault("labels" if n == 11 else "annotations", {})[key] = val
        elif n == 13:
            meta.setdefault("ownerReferences", []).append(_owner_reference(_expect_bytes(n, w, v)))
        elif n == 14:
            meta.setdefault("finalizers", []).append(_string(n, w, v))
    return meta


def _namespace(buf: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for n, w, v in _fields(buf):
        if n == 1:
            obj["metadata"] = _object_meta(_expect_bytes(n, w, v))
        elif n == 2:  # NamespaceSpec {1 finalizers}
            spec: dict[str, Any] = obj.setdefault("spec", {})
            for n2, w2, v2 in _fields(_expect_bytes(n, w, v)):
                if n2 == 1:
                    spec.setdefault("finalizers", []).append(_string(n2, w2, v2))
        elif n == 3:  # NamespaceStatus {1 phase, 2 conditions (ignored)}
            status: dict[str, Any] = obj.setdefault("status", {})
            for n2, w2, v2 in _fields(_expect_bytes(n, w, v)):
                if n2 == 1 and (phase := _string(n2, w2, v2)):
                    status["phase"] = phase
    return obj


def _config_map(buf: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for n, w, v in _fields(buf):
        if n == 1:
            obj["metadata"] = _object_meta(_expect_bytes(n, w, v))
        elif n == 2:
            key, val = _map_entry(n, w, v)
            obj.setdefault("data", {})[key] = val
        elif n == 3:
            key, val = _map_entry(n, w, v, binary=True)
            obj.setdefault("binaryData", {})[key] = val
        elif n == 4:
            obj["immutable"] = _bool(n, w, v)
    return obj


_DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _config_map,
}

SUPPORTED_KINDS: tuple[str, ...] = tuple(f"{av} {kind}" for av, kind in _DECODERS)


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00`` + runtime.Unknown body into the object's JSON form (a dict).

    The result starts with ``apiVersion`` and ``kind`` from the envelope's TypeMeta and
    always has ``metadata``; fields the client left unset are absent. Raises
    :class:`ProtobufError` for anything that is not a well-formed envelope around a
    supported kind (see :data:`SUPPORTED_KINDS`).
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise ProtobufError(f"expected bytes, got {type(body).__name__}")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise ProtobufError(
            "body does not start with the Kubernetes protobuf magic number 'k8s\\x00'"
        )
    api_version = kind = content_encoding = content_type = ""
    raw: bytes | None = None
    for n, w, v in _fields(body[len(MAGIC) :]):
        if n == 1:  # TypeMeta
            for n2, w2, v2 in _fields(_expect_bytes(n, w, v)):
                if n2 == 1:
                    api_version = _string(n2, w2, v2)
                elif n2 == 2:
                    kind = _string(n2, w2, v2)
        elif n == 2:
            raw = _expect_bytes(n, w, v)
        elif n == 3:
            content_encoding = _string(n, w, v)
        elif n == 4:
            content_type = _string(n, w, v)
    if not kind:
        raise ProtobufError("protobuf envelope carries no kind in its TypeMeta")
    if content_encoding:
        raise ProtobufError(f"unsupported contentEncoding {content_encoding!r} for {kind}")
    if content_type and content_type != CONTENT_TYPE:
        raise ProtobufError(f"unsupported contentType {content_type!r} for {kind}")
    decoder = _DECODERS.get((api_version, kind))
    if decoder is None:
        supported = ", ".join(SUPPORTED_KINDS)
        raise ProtobufError(
            f"protobuf bodies for {api_version or '<no apiVersion>'} {kind} are not supported "
            f"by this server (supported: {supported}); send application/json instead"
        )
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    obj.update(decoder(raw or b""))
    obj.setdefault("metadata", {})
    return obj
