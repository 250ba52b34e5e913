"""hostPath volumes: the kubelet's set-up of each one on the node, before the pod binds it.

What ``MountVolume.SetUp`` of the kubelet's hostPath plugin (pkg/volume/hostpath) does,
run inside the node (its mount namespace and root, so paths resolve as on the node):

- a path with a ``..`` element is refused;
- by ``type``: ``Directory``, ``File``, ``Socket``, ``CharDevice``, ``BlockDevice``
  must exist as that; ``DirectoryOrCreate`` makes a missing directory (0755, with its
  parents), ``FileOrCreate`` a missing file (0644; its parent must exist); anything
  else is an invalid type (the API server refuses those first; we check again);
- unset (``""``): no check. The container runtime then binds the path and, as
  containerd does, creates a missing one as a directory (0755).

A failure raises :class:`RuntimeFailure` with the kubelet's event reason
(``FailedMount``) and message, e.g.
``MountVolume.SetUp failed for volume "x" : hostPath type check failed: /nope is not a
directory``. The pod then binds the path at each of its mount paths
(:class:`pods.VolumeBind`), rprivate, like a volumeMount without mountPropagation.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import Sequence
from typing import NamedTuple

from conformance.sim.kernel.model import NodeHost, enter
from conformance.sim.runtimes.base import RuntimeFailure

TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
FAILED_MOUNT = "FailedMount"  # the kubelet's event reason for volume set-up failures
RUNTIME_FAILED = "Failed"  # the kubelet's event reason when the runtime cannot start it

# argv: triples of (volume name, path, type). The first failure prints
# "<reason>\t<message>" on stdout and exits 1.
_SET_UP = r"""fail() { printf '%s\t%s\n' "$1" "$2"; exit 1; }
check() { fail FailedMount "MountVolume.SetUp failed for volume \"$name\" : $1"; }
typed() { check "hostPath type check failed: $path is not a $1"; }
made() { err=$("$@" 2>&1) || check "$(printf '%s' "$err" | head -n 1)"; }
while [ "$#" -ge 3 ]; do
  name=$1 path=$2 type=$3
  shift 3
  case $type in
    '')
      if [ ! -e "$path" ]; then
        err=$(mkdir -p -m 0755 "$path" 2>&1) || fail Failed "failed to mkdir \"$path\": $err"
      fi ;;
    DirectoryOrCreate)
      if [ ! -e "$path" ]; then made mkdir -p -m 0755 "$path"; fi
      [ -d "$path" ] || typed directory ;;
    Directory) [ -d "$path" ] || typed directory ;;
    FileOrCreate)
      if [ ! -e "$path" ]; then
        [ -d "$(dirname "$path")" ] || check "open $path: no such file or directory"
        made sh -c 'umask 022; : > "$1"' sh "$path"
      fi
      [ -f "$path" ] || typed file ;;
    File) [ -f "$path" ] || typed file ;;
    Socket) [ -S "$path" ] || typed 'socket file' ;;
    CharDevice) [ -c "$path" ] || typed 'character device' ;;
    BlockDevice) [ -b "$path" ] || typed 'block device' ;;
    *) check "$type is an invalid volume type" ;;
  esac
done
"""


class HostPathVolume(NamedTuple):
    """A pod's ``spec.volumes[]`` entry with a ``hostPath`` source."""

    name: str
    path: str
    type: str = ""


def _failed_mount(volume: HostPathVolume, error: str) -> RuntimeFailure:
    return RuntimeFailure(
        f'MountVolume.SetUp failed for volume "{volume.name}" : {error}', reason=FAILED_MOUNT
    )


def validate(volume: HostPathVolume) -> str:
    """The path the pod binds (normalized); RuntimeFailure when the kubelet refuses it."""
    if ".." in volume.path.split("/"):
        raise _failed_mount(volume, f"invalid HostPath `{volume.path}`: must not contain '..'")
    if not volume.path.startswith("/"):
        raise RuntimeFailure(
            f'failed to mount volume "{volume.name}": hostPath {volume.path!r} is not absolute',
            reason=RUNTIME_FAILED,
        )
    return posixpath.normpath(volume.path)


async def set_up(
    node: NodeHost, volumes: Sequence[HostPathVolume], *, timeout: float = 30.0
) -> None:
    """Type-check (and create) each volume's path inside ``node``, as the kubelet does."""
    if not volumes:
        return
    argv = [*enter(node.pid, net=False), "/bin/sh", "-c", _SET_UP, "cfsim-hostpath"]
    for volume in volumes:
        argv += [volume.name, validate(volume), volume.type]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise RuntimeFailure(
            f"hostPath set-up on node {node.name} did not end within {timeout:g}s",
            reason=FAILED_MOUNT,
        ) from None
    if process.returncode == 0:
        return
    reason, _, message = out.decode(errors="replace").strip().partition("\t")
    if not message:  # not our script's failure (e.g. the node is gone)
        detail = err.decode(errors="replace").strip() or f"exit {process.returncode}"
        raise RuntimeFailure(
            f"cannot set up hostPath volumes on node {node.name}: {detail}", reason=FAILED_MOUNT
        )
    raise RuntimeFailure(message, reason=reason)


__all__ = ["FAILED_MOUNT", "TYPES", "HostPathVolume", "set_up", "validate"]
