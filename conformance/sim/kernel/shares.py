"""Network file shares: a storage server on the node bridge, mounted on nodes with sshfs.

Real ReadWriteMany storage is a server on the network (an NFS filer, an SMB share, a
CephFS cluster): a pod's files live there, not on its node, so pods on different nodes
see each other's writes. The simulator serves shares the same way, over a real
network protocol that FUSE can mount without kernel modules we lack (nfsd):

- the *server* is a node-shaped host (:func:`host.start_node_sync`: its own network
  namespace ``cfsim-<k>-share-server`` on the node bridge at ``10.251.<k>.250``, own
  mount/UTS/PID namespaces and root, a real sshd). Its exports live on a filesystem of
  their own, as on a filer: a loop-device ext4 mounted at ``/exports`` inside the
  server. Each volume is a directory ``/exports/<pv>`` (created on provisioning,
  removed on deletion, as csi-driver-nfs does with its per-volume subdirectories);
- a node *publishes* a volume for a pod as a CSI node plugin without staging would
  (csi-driver-nfs has no NodeStage): ``sshfs root@<server>:/exports/<pv>
  <root>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount`` run inside the node, so the
  node's mountinfo shows ``fuse.sshfs`` with the source ``root@10.251.<k>.250:/exports/
  <pv>`` and no block device (an anonymous ``0:NN``). The pod then binds that path at
  its mount path. The node authenticates with a key the simulator gives it (the node
  plugin's credential, where a real driver takes one from a node-publish Secret);
- *unpublishing* unmounts; sshfs and its ssh connection end by themselves.

Everything is named like the nodes (``cfsim`` prefix, node records, the agent tag), so
``conformance sim clean`` finds a crashed simulator's server as it finds its nodes.
The exports image lies in the simulator's state directory: its loop device is found
there too.

Differences from csi-driver-nfs: no quota (neither has it), a share cannot be resized,
and the protocol is SFTP, not NFS; ``fs_type`` is ``fuse.sshfs``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conformance.sim.kernel import devices, host
from conformance.sim.kernel.model import NodeCommandError, NodeHost, enter, run

SERVER_NAME = "share-server"
SERVER_INDEX = 249  # address <subnet>.250, far above the nodes (1..16 -> .2 .. .17)
EXPORTS = "/exports"
EXPORTS_SIZE = 8 * 1024**3  # sparse; lazily initialised ext4 costs a few MB
FS_TYPE = "fuse.sshfs"
FUSE_DEVICE = (10, 229)  # /dev/fuse, a misc character device
NODE_CREDENTIALS = f"{host.NODE_RUN}/share"  # inside each node: key and known_hosts
MOUNT_TIMEOUT = 30.0


class ShareError(RuntimeError):
    """A share could not be served, mounted or unmounted; the message is for an event."""


@dataclass(frozen=True)
class ShareServer:
    node: NodeHost  # the server, a node-shaped host (agent, netns, root, sshd)
    client_key: Path  # host path of the private key nodes mount with
    exports: devices.Volume  # the filesystem of /exports
    attachment: devices.Attachment

    @property
    def address(self) -> str:
        return self.node.address


def export_path(pv_name: str) -> str:
    """Where a volume's files live on the server."""
    if not pv_name or "/" in pv_name or pv_name in (".", ".."):
        raise ValueError(f"bad volume name {pv_name!r}")
    return f"{EXPORTS}/{pv_name}"


def source(server_address: str, share: str) -> str:
    """The mount source as sshfs gives it (and mountinfo shows it)."""
    return f"root@{server_address}:{share}"


def _in(node: NodeHost, *argv: str, net: bool = False, timeout: float = 60) -> str:
    return run([*enter(node.pid, net=net), *argv], timeout=timeout).stdout


def start_server(network: host.NodeNetwork, state_dir: Path) -> ShareServer:
    """Start the storage server and mount its exports filesystem (blocking, ~1 s)."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    key, public = host.generate_client_key(state_dir / "node_share_ed25519")
    node = host.start_node_sync(network, SERVER_NAME, SERVER_INDEX, state_dir / "server", public)
    exports: devices.Volume | None = None
    try:
        exports = devices.create_volume(state_dir, "exports", EXPORTS_SIZE, "ext4")
        identity = devices.ScsiIdentity("LIO-ORG", "EXPORTS", "4.0")
        attachment = devices.attach(node, exports, identity)
        _in(node, "mkdir", "-p", EXPORTS)
        _in(node, "mount", "-t", "ext4", attachment.dev_path, EXPORTS)
        _in(node, "chmod", "0755", EXPORTS)
    except BaseException:
        host.stop_node_sync(node, grace=0)
        if exports is not None:
            devices.delete_volume(exports)
        raise
    return ShareServer(node, key, exports, attachment)


def stop_server(server: ShareServer) -> None:
    """Stop the server (its mount of /exports goes with its namespaces) and free the disk."""
    host.stop_node_sync(server.node, grace=0)
    devices.delete_volume(server.exports)


def create_export(server: ShareServer, pv_name: str) -> str:
    """CreateVolume: the volume's directory on the server (mode 0777, as
    nfs-subdir-external-provisioner makes them, so any pod user may write)."""
    path = export_path(pv_name)
    _in(server.node, "mkdir", "-p", "-m", "0777", path)
    _in(server.node, "chmod", "0777", path)
    return path


def delete_export(server: ShareServer, pv_name: str) -> None:
    """DeleteVolume: remove the volume's directory and everything in it."""
    _in(server.node, "rm", "-rf", "--one-file-system", export_path(pv_name))


def _node_file(node: NodeHost, path: str) -> Path:
    return Path(f"/proc/{node.pid}/root") / path.lstrip("/")


def _give_node_access(node: NodeHost, server: ShareServer) -> tuple[str, str]:
    """/dev/fuse, and the key and known_hosts the node's sshfs uses (paths in the node)."""
    fuse = node.dev_dir / "fuse"
    if not fuse.exists():
        with contextlib.suppress(FileExistsError):
            os.mknod(fuse, stat.S_IFCHR | 0o666, os.makedev(*FUSE_DEVICE))
        os.chmod(fuse, 0o666)
    directory = _node_file(node, NODE_CREDENTIALS)
    directory.mkdir(mode=0o700, exist_ok=True)
    key = f"{NODE_CREDENTIALS}/id_ed25519"
    known = f"{NODE_CREDENTIALS}/known_hosts"
    key_file = _node_file(node, key)
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(server.client_key.read_bytes())
    _node_file(node, known).write_text(host.known_hosts_line(server.node) + "\n")
    return key, known


def publish(
    node: NodeHost,
    server: ShareServer,
    *,
    share: str,
    layout: devices.KubeletLayout,
    read_only: bool = False,
    local_only: bool = False,
    node_name: str | None = None,
) -> str:
    """NodePublishVolume of a share: sshfs it at the pod's CSI path; return that path.

    ``local_only`` (fault share-not-shared): make the path a plain directory on the
    node instead, so the pod writes to its node's disk. The kubelet's vol_data.json
    is written as for any CSI volume. Idempotent for a path already mounted.
    """
    target = layout.publish_path
    _in(node, "mkdir", "-p", target)
    _write_vol_data(node, layout, node_name or node.name)
    if local_only or _mounted(node, target):
        return target
    key, known = _give_node_access(node, server)
    options = [
        "allow_other",  # the pod's processes are not the mounting process's user session
        f"IdentityFile={key}",
        f"UserKnownHostsFile={known}",
        "StrictHostKeyChecking=yes",
        "BatchMode=yes",
        "ConnectTimeout=10",
        "ServerAliveInterval=15",
    ]
    if read_only:
        options.append("ro")
    argv = [
        *enter(node.pid),
        "sshfs",
        "-F",
        "/dev/null",
        "-o",
        ",".join(options),
        source(server.address, share),
        target,
    ]
    # sshfs returns once mounted and connected; its ssh child inherits stderr, so that goes
    # to a file (a pipe would stay open as long as the mount lives)
    log_path = node.state_dir / f"sshfs-{layout.pod_uid}-{layout.pv_name}.log"
    with log_path.open("wb") as log:
        try:
            code = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=MOUNT_TIMEOUT
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    said = log_path.read_text(errors="replace").strip()
    if code != 0 or not _mounted(node, target):
        with contextlib.suppress(NodeCommandError):
            _in(node, "rmdir", target)
        detail = said.splitlines()[-1] if said else f"sshfs exited {code}"
        raise ShareError(f"mount failed: {shlex.join(argv[argv.index('sshfs') :])}: {detail}")
    log_path.unlink(missing_ok=True)
    return target


def _write_vol_data(node: NodeHost, layout: devices.KubeletLayout, node_name: str) -> None:
    """The kubelet's record of a CSI volume of a pod, next to its mount directory."""
    vol_data = {
        # the kubelet names it whether or not the driver needs attaching (getAttachmentName)
        "attachmentID": "csi-"
        + hashlib.sha256(f"{layout.volume_handle}{layout.driver}{node_name}".encode()).hexdigest(),
        "driverName": layout.driver,
        "nodeName": node_name,
        "specVolID": layout.pv_name,
        "volumeHandle": layout.volume_handle,
        "volumeLifecycleMode": "Persistent",
    }
    _node_file(node, f"{layout.volume_dir}/vol_data.json").write_text(json.dumps(vol_data))


def _mounted(node: NodeHost, path: str) -> bool:
    return any(m.mount_point == path for m in devices.node_mounts(node))


__all__ = [
    "EXPORTS",
    "FS_TYPE",
    "SERVER_NAME",
    "ShareError",
    "ShareServer",
    "create_export",
    "delete_export",
    "export_path",
    "publish",
    "source",
    "start_server",
    "stop_server",
]
