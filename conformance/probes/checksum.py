"""A random payload written with fsync, and ``sha256sum``/``md5sum`` reading it back."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.probes.common import ProbeParseError, lines_of

# The payload travels base64-encoded inside one `sh -c` argument; Linux caps one argument
# at 128 KiB (MAX_ARG_STRLEN), so payloads stay well under that.
MAX_PAYLOAD_BYTES = 64 * 1024
CHECKSUM_ALGORITHMS = {"sha256": 64, "md5": 32}  # hex digest lengths


@dataclass(frozen=True)
class Payload:
    """Bytes to write into a volume, and what their checksums must read back as."""

    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 0 < len(self.data) <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"a payload is 1 to {MAX_PAYLOAD_BYTES} bytes, got {len(self.data)}")

    @classmethod
    def from_bytes(cls, data: bytes) -> Payload:
        return cls(bytes(data))

    @classmethod
    def random(
        cls, size: int = 4096, *, source: Callable[[int], bytes] = secrets.token_bytes
    ) -> Payload:
        """``size`` random bytes (from ``secrets`` unless a ``source`` is given)."""
        return cls(source(size))

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    @property
    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def digest(self, algorithm: str) -> str:
        if algorithm == "sha256":
            return self.sha256
        if algorithm == "md5":
            return self.md5
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")

    def __str__(self) -> str:
        return f"{self.size}-byte payload sha256:{self.sha256[:16]}..."


def write_payload_command(path: str, payload: Payload) -> tuple[str, ...]:
    """``sh -c SCRIPT sh PATH``: write the payload to PATH with fsync, then check its size.

    The script base64-decodes the payload, ``dd conv=fsync`` writes and fsyncs it, and
    the file's size must be the payload's: it exits 0 only then (non-zero with a message
    on stderr otherwise). PATH travels as ``$1``, so it needs no quoting in the script.
    Works with coreutils and with busybox alone (sh, base64, dd, wc). Read it back with
    :func:`checksum_command` and compare with ``payload.sha256``.
    """
    if not path.startswith("/"):
        raise ValueError(f"write the payload to an absolute path, not {path!r}")
    script = (
        f"set -e; printf '%s' {shlex.quote(payload.b64)} | base64 -d"
        ' | dd of="$1" bs=65536 conv=fsync; '
        'n=$(wc -c < "$1"); '
        f"[ $n -eq {payload.size} ] || "
        f'{{ echo "$1: $n bytes written, expected {payload.size}" >&2; exit 1; }}'
    )
    return ("sh", "-c", script, "sh", path)


def checksum_command(path: str, algorithm: str = "sha256") -> tuple[str, ...]:
    """``sha256sum PATH`` (or ``md5sum``): prints ``<hex>  PATH``."""
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    return (f"{algorithm}sum", path)


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # "sha256" or "md5", from the digest's length
    digest: str  # lower-case hex
    path: str


_CHECKSUM_LINE = re.compile(r"^(?P<escaped>\\)?(?P<digest>[0-9a-fA-F]+) [ *](?P<path>.+)$")


def _unescape_checksum_path(path: str) -> str:
    # coreutils prefixes the line with "\" and writes "\\" and "\n" in such names
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), path)


def parse_checksum(text: str) -> Checksum:
    """Parse one line of ``sha256sum``/``md5sum`` (coreutils or busybox)."""
    lines = list(lines_of(text))
    if len(lines) != 1:
        raise ProbeParseError("checksum", f"expected one line, got {len(lines)}")
    number, line = lines[0]
    m = _CHECKSUM_LINE.match(line)
    if not m:
        raise ProbeParseError(
            "checksum", "expected '<hex digest>  <file>'", line_no=number, line=line
        )
    digest = m.group("digest").lower()
    algorithm = next((a for a, n in CHECKSUM_ALGORITHMS.items() if n == len(digest)), None)
    if algorithm is None:
        raise ProbeParseError(
            "checksum",
            f"a {len(digest)}-digit digest is neither sha256 (64) nor md5 (32)",
            line_no=number,
            line=line,
        )
    path = m.group("path")
    if m.group("escaped"):
        path = _unescape_checksum_path(path)
    return Checksum(algorithm, digest, path)


BLOCK = 4096  # raw writes go in whole blocks, so direct and buffered reads agree


def write_block_command(device: str, payload: Payload, *, offset_blocks: int) -> tuple[str, ...]:
    """Write the payload into a raw block device at ``offset_blocks`` x 4 KiB, synced
    (``conv=notrunc,fsync``): a Block volume has no filesystem to hold a file."""
    if payload.size % BLOCK:
        raise ValueError(f"a raw payload is whole {BLOCK}-byte blocks, got {payload.size} bytes")
    script = (
        f"set -e; printf '%s' {shlex.quote(payload.b64)} | base64 -d"
        f' | dd of="$1" bs={BLOCK} seek={offset_blocks} conv=notrunc,fsync 2>/dev/null'
    )
    return ("sh", "-c", script, "sh", device)


def read_block_command(
    device: str, *, offset_blocks: int, blocks: int, algorithm: str = "sha256"
) -> tuple[str, ...]:
    """The checksum of ``blocks`` x 4 KiB read from the device at ``offset_blocks``
    (prints ``<hex>  -``, as :func:`parse_checksum` reads)."""
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ValueError(f"unknown checksum {algorithm!r}")
    script = (
        f'set -e; dd if="$1" bs={BLOCK} skip={offset_blocks} count={blocks} 2>/dev/null'
        f" | {algorithm}sum"
    )
    return ("sh", "-c", script, "sh", device)
