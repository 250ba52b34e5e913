"""Device stacks under a volume: a SCSI disk, dm-multipath over SCSI paths, an NVMe
namespace, a Ceph RBD device, each shaped in the node's /sys, /dev and udev database
the way the real kernel and udev shape them, so the real ``lsblk -s``, ``lsscsi`` and
readers of ``/sys/dev/block/M:m/...`` see what they see on real nodes.

This kernel has loop devices but no device-mapper, no NVMe and no rbd driver, so those
are *emulated*: every device the kubelet mounts is a loop device on the volume's sparse
image (:mod:`devices`), presented under another name with a synthesized sysfs entry,
exactly as the SCSI disks are. What differs from the real thing, and why:

- major:minor is always the loop's (7:N), where a real node has 8:x for sd, 253:x (or
  another dynamic major) for dm, 259:x for NVMe namespaces, a dynamic major for rbd: the
  kernel must find the device it mounts, and only loop devices are real here.
- dm-multipath (``kind="multipath"``): the map ``dm-N`` is the volume's own loop device
  (mounted as ``/dev/mapper/<name>``); each of its paths ``sdX`` is an extra *read-only*
  loop device on the same image, made at attach and freed at detach, with a SCSI device
  of its own (own host, own iSCSI session / FC rport / SAS end device, same LUN WWN).
  ``slaves/`` of the map and ``holders/`` of each path point at each other, ``dm/name``
  is ``mpatha``... (``userFriendlyNames: "false"``: the WWID ``3<wwn>``), ``dm/uuid`` is
  ``mpath-3<wwn>``. No I/O goes through the paths: a path marked ``offline`` (fault
  multipath-path-down) changes only what sysfs and lsblk say, and no multipathd runs
  (``multipath -ll`` is not available).
- NVMe (``kind="nvme"``): a controller ``nvmeX`` (its own PCI function, or under
  ``virtual/nvme-fabrics`` for tcp/rdma/fc) with ``model``, ``serial``,
  ``firmware_rev``, ``transport``, ``state``, and its namespace ``nvmeXn1``
  (``device -> ../../nvmeX``, ``wwid``, ``nsid``). There is no ``/dev/nvmeX`` character
  device (nothing could answer its ioctls) and so no ``dev`` attribute on the
  controller; ``nvme list`` would not work.
- RBD (``kind="rbd"``): ``/sys/devices/rbd/N`` with ``pool``, ``name``, ``image_id``...
  (also ``/sys/bus/rbd/devices/N``), the block device ``rbdN`` under it, and
  ``/dev/rbd/<pool>/<image>`` as Ceph's udev rule makes it; no Ceph cluster behind it.
- udev: entries are written to the node's /run/udev/data as udevd would (see udev.py,
  also for why lsblk needs ``SYSTEMD_DEVICE_VERIFY_SYSFS=0``, which node SSH sessions
  have).

Identifiers (WWN, serial) derive from the volumeHandle (:mod:`conformance.sim.stackspec`)
unless the fault wrong-serial asks for another volume's.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import uuid
from dataclasses import replace
from pathlib import Path

from conformance.sim.kernel import devices, udev
from conformance.sim.kernel.devices import Attachment, DeviceError, ScsiIdentity, Volume
from conformance.sim.kernel.model import NodeHost, enter, run
from conformance.sim.stackspec import (
    StackParameters,
    nvme_serial,
    unit_serial,
    unrelated_key,
    wwn_for,
)

NODE_ROOT_VOLUMES = "/var/lib/volumes"  # fault volume-on-node-root: dirs on the node's root
FIRST_NVME_CONTROLLER = 1  # nvme0 is the root disk on EC2
_DM_NAME = re.compile(r"^dm-(\d+)$")
_NVME_CTRL = re.compile(r"^nvme(\d+)$")
# PCI identity of the NVMe function: (vendor, device, subsystem vendor, subsystem device)
_NVME_PCI_IDS = {"Amazon Elastic Block Store": (0x1D0F, 0x8061, 0x1D0F, 0x1D0F)}
_QEMU_PCI_IDS = (0x1B36, 0x0010, 0x1AF4, 0x1100)


def _rdev(path: str) -> tuple[int, int]:
    st = os.stat(path)
    if not stat.S_ISBLK(st.st_mode):
        raise DeviceError(f"{path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def _block_entry(
    directory: Path,
    sys_dir: Path,
    name: str,
    major: int,
    minor: int,
    size_bytes: int,
    extra: dict[str, str] | None = None,
) -> None:
    """A block device's own sysfs directory and its class/block, block and dev/block links."""
    devices.write_attributes(
        directory,
        {
            "dev": f"{major}:{minor}",
            "size": str(size_bytes // 512),
            "ro": "0",
            "removable": "0",
            "hidden": "0",
            "uevent": f"MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk",
            "queue/logical_block_size": "512",
            "queue/physical_block_size": "512",
            "queue/rotational": "0",
            **(extra or {}),
        },
    )
    (directory / "holders").mkdir(exist_ok=True)
    (directory / "slaves").mkdir(exist_ok=True)
    devices.symlink(directory / "subsystem", sys_dir / "class/block")
    devices.symlink(sys_dir / "class/block" / name, directory)
    devices.symlink(sys_dir / "block" / name, directory)
    devices.symlink(sys_dir / "dev/block" / f"{major}:{minor}", directory)


def _remove_block(node: NodeHost, name: str, major: int, minor: int, subtree: Path) -> None:
    """Undo a non-SCSI device: sysfs links and tree, udev entry, /dev links and node."""
    for link in (
        node.sys_dir / "dev/block" / f"{major}:{minor}",
        node.sys_dir / "block" / name,
        node.sys_dir / "class/block" / name,
    ):
        if link.is_symlink():
            link.unlink()
    devices.unlink_links_into(node.sys_dir, subtree)
    shutil.rmtree(subtree, ignore_errors=True)
    udev.remove_entry(node, major, minor)
    devices.remove_dev_links(node, name)
    path = node.dev_dir / name
    with contextlib.suppress(FileNotFoundError):
        st = path.lstat()
        if stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(major, minor):
            path.unlink()


def _has_device(node: NodeHost, volume: Volume) -> str | None:
    """The /dev name the node already has for this volume, if any."""
    if not node.dev_dir.is_dir():
        return None
    wanted = os.makedev(volume.major, volume.minor)
    for path in node.dev_dir.iterdir():
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if stat.S_ISBLK(st.st_mode) and st.st_rdev == wanted:
                return path.name
    return None


# ---------------------------------------------------------------------------------------
# dm-multipath over SCSI paths
# ---------------------------------------------------------------------------------------


def _friendly_name(index: int) -> str:
    """0 -> mpatha, 25 -> mpathz, 26 -> mpathaa (multipathd's user_friendly_names)."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "mpath" + letters


def _free_dm_index(node: NodeHost) -> int:
    used = {
        int(m.group(1))
        for directory in (node.dev_dir, node.sys_dir / "block")
        if directory.is_dir()
        for entry in directory.iterdir()
        if (m := _DM_NAME.match(entry.name))
    }
    return next(i for i in range(len(used) + 1) if i not in used)


def _free_map_name(node: NodeHost) -> str:
    mapper = node.dev_dir / "mapper"
    used = {p.name for p in mapper.iterdir()} if mapper.is_dir() else set()
    return next(_friendly_name(i) for i in range(len(used) + 1) if _friendly_name(i) not in used)


def _backing_file(major: int, minor: int) -> str:
    with contextlib.suppress(OSError):
        return (
            Path(f"/sys/dev/block/{major}:{minor}/loop/backing_file")
            .read_text()
            .rstrip("\n")
            .removesuffix(devices.DELETED)
        )
    return ""


def _attach_multipath(
    node: NodeHost,
    volume: Volume,
    parameters: StackParameters,
    *,
    wwn: str,
    serial: str,
    path_down: bool,
) -> Attachment:
    identity = ScsiIdentity(parameters.vendor, parameters.model, parameters.rev)
    wwid = f"3{wwn}"
    paths: list[Attachment] = []
    loops: list[str] = []
    fs = udev.filesystem_properties(volume.fs_type, volume.fs_uuid)
    dm = ""
    with devices.node_lock(node):
        if (name := _has_device(node, volume)) is not None:
            raise DeviceError(f"{node.name} already has {volume.pv_name} as /dev/{name}")
        try:
            for index in range(parameters.multipath):
                # read-only: nothing is ever written through a path, so the page cache of
                # the map (the volume's loop) is the only one holding writes
                loop = run(
                    ["losetup", "-f", "--show", "--read-only", str(volume.image)], timeout=30
                ).stdout.strip()
                loops.append(loop)
                major, minor = _rdev(loop)
                down = path_down and index == parameters.multipath - 1
                path, _ = devices.add_scsi_disk(
                    node,
                    major=major,
                    minor=minor,
                    size_bytes=volume.size_bytes,
                    identity=identity,
                    transport=parameters.transport,
                    wwn=wwn,
                    serial=serial,
                    state="offline" if down else "running",
                    portal=index,
                    identity_links=False,
                    extra_properties={
                        "ID_FS_TYPE": "mpath_member",
                        "DM_MULTIPATH_DEVICE_PATH": "1",
                        "SYSTEMD_READY": "0",
                    },
                )
                paths.append(replace(path, loop_device=loop))
            index = _free_dm_index(node)
            dm = f"dm-{index}"
            map_name = _free_map_name(node) if parameters.friendly_names else wwid
            dm_dir = node.sys_dir / "devices/virtual/block" / dm
            _block_entry(
                dm_dir,
                node.sys_dir,
                dm,
                volume.major,
                volume.minor,
                volume.size_bytes,
                {
                    "range": "1",
                    "ext_range": "1",
                    "dm/name": map_name,
                    "dm/uuid": f"mpath-{wwid}",
                    "dm/suspended": "0",
                    "dm/use_blk_mq": "1",
                    "dm/rq_based_seq_io_merge_deadline": "0",
                },
            )
            for path in paths:
                link = node.sys_dir / "block" / path.device_name
                path_dir = Path(os.path.normpath(link.parent / os.readlink(link)))
                devices.symlink(dm_dir / "slaves" / path.device_name, path_dir)
                devices.symlink(path_dir / "holders" / dm, dm_dir)
            devices.mknod(node.dev_dir / dm, volume.major, volume.minor)
            links = [
                f"mapper/{map_name}",
                f"disk/by-id/dm-name-{map_name}",
                f"disk/by-id/dm-uuid-mpath-{wwid}",
                f"disk/by-id/scsi-{wwid}",
                f"disk/by-id/wwn-0x{wwn}",
            ]
            if fs.get("ID_FS_UUID"):
                links.append(f"disk/by-uuid/{fs['ID_FS_UUID']}")
            devices.dev_links(node, dm, links)
            udev.write_entry(
                node,
                volume.major,
                volume.minor,
                {
                    "DM_UDEV_DISABLE_LIBRARY_FALLBACK_FLAG": "1",
                    "DM_UDEV_PRIMARY_SOURCE_FLAG": "1",
                    "DM_UDEV_RULES_VSN": "2",
                    "DM_ACTIVATION": "1",
                    "DM_NAME": map_name,
                    "DM_UUID": f"mpath-{wwid}",
                    "DM_SUSPENDED": "0",
                    "MPATH_DEVICE_READY": "1",
                    "MPATH_SBIN_PATH": "/sbin",
                    "ID_SERIAL": wwid,
                    "ID_WWN": f"0x{wwn[:16]}",
                    "ID_WWN_WITH_EXTENSION": f"0x{wwn}",
                    **fs,
                },
                links,
            )
        except BaseException:
            attachment = Attachment(dm, "", volume.major, volume.minor, "", False, "multipath")
            _remove_multipath(node, replace(attachment, paths=tuple(paths)))
            for loop in loops[len(paths) :]:
                devices.detach_loop(loop, volume.image)
            raise
    return Attachment(
        dm,
        "",
        volume.major,
        volume.minor,
        f"/dev/mapper/{map_name}",
        False,
        kind="multipath",
        paths=tuple(paths),
    )


def _remove_multipath(node: NodeHost, attachment: Attachment) -> None:
    """Remove the map (first: nothing may point at paths that are gone), then its paths
    and their loops. Call with the node lock held."""
    backing = _backing_file(attachment.major, attachment.minor)
    if attachment.device_name:
        dm_dir = node.sys_dir / "devices/virtual/block" / attachment.device_name
        _remove_block(node, attachment.device_name, attachment.major, attachment.minor, dm_dir)
    for path in attachment.paths:
        devices.remove_scsi_disk(node, path)
        if path.loop_device and backing:  # else close()'s sweep of the state dir frees it
            devices.detach_loop(path.loop_device, backing)


# ---------------------------------------------------------------------------------------
# NVMe
# ---------------------------------------------------------------------------------------


def _nvme_wwid(vendor_id: int, serial: str, model: str, nsid: int = 1) -> str:
    """The namespace's ``wwid`` when it reports no EUI-64/NGUID (EBS): the kernel's
    ``nvme.<vid>-<serial hex>-<model hex>-<nsid>``, trailing blanks trimmed."""
    return (
        f"nvme.{vendor_id:04x}-{serial.rstrip().encode().hex()}-"
        f"{model.rstrip().encode().hex()}-{nsid:08x}"
    )


def _controller_dir(node: NodeHost, index: int, transport: str) -> tuple[Path, str]:
    """(the controller's directory, its ``address``): one PCI function per controller, as
    EC2 gives each EBS volume (nvme1 at 0000:00:1f.0, nvme2 at 0000:00:1e.0, ...), or the
    fabrics controller of a tcp/rdma/fc connection."""
    if transport == "pcie":
        address = f"0000:00:{(0x20 - index) & 0xFF:02x}.0"
        return node.sys_dir / "devices/pci0000:00" / address / "nvme" / f"nvme{index}", address
    directory = node.sys_dir / "devices/virtual/nvme-fabrics/ctl" / f"nvme{index}"
    return directory, f"traddr=192.0.2.{20 + index},trsvcid=4420"


def _attach_nvme(
    node: NodeHost, volume: Volume, parameters: StackParameters, *, serial: str
) -> Attachment:
    model = parameters.model
    pci_ids = _NVME_PCI_IDS.get(model, _QEMU_PCI_IDS)
    vendor_id = pci_ids[0]
    with devices.node_lock(node):
        if (name := _has_device(node, volume)) is not None:
            raise DeviceError(f"{node.name} already has {volume.pv_name} as /dev/{name}")
        classes = node.sys_dir / "class/nvme"
        used = {
            int(m.group(1))
            for entry in (classes.iterdir() if classes.is_dir() else ())
            if (m := _NVME_CTRL.match(entry.name))
        }
        index = next(i for i in range(FIRST_NVME_CONTROLLER, 10_000) if i not in used)
        controller, address = _controller_dir(node, index, parameters.transport)
        name = f"nvme{index}n1"
        namespace = controller / name
        try:
            devices.write_attributes(
                controller,
                {
                    "model": model.ljust(40),
                    "serial": serial.ljust(20),
                    "firmware_rev": "1.0".ljust(8),
                    "transport": parameters.transport,
                    "state": "live",
                    "cntlid": "0",
                    "address": address,
                    "queue_count": "3",
                    "sqsize": "1023",
                    "subsysnqn": (
                        f"nqn.2014.08.org.nvmexpress:{vendor_id:04x}{vendor_id:04x}"
                        f"{serial.ljust(20)}{model.ljust(40)}"
                    ),
                    "uevent": f"NVME_TRTYPE={parameters.transport}",
                },
            )
            devices.symlink(controller / "subsystem", node.sys_dir / "class/nvme")
            if parameters.transport == "pcie":  # the PCI function (lsscsi -t prints its ids)
                function = controller.parent.parent
                devices.write_attributes(
                    function,
                    {
                        name: f"0x{value:04x}"
                        for name, value in zip(
                            ("vendor", "device", "subsystem_vendor", "subsystem_device"),
                            pci_ids,
                            strict=True,
                        )
                    }
                    | {"class": "0x010802"},  # mass storage, NVM, NVMe
                )
                devices.symlink(controller / "device", function)
            wwid = _nvme_wwid(vendor_id, serial, model)
            _block_entry(
                namespace,
                node.sys_dir,
                name,
                volume.major,
                volume.minor,
                volume.size_bytes,
                {"range": "0", "ext_range": "256", "nsid": "1", "wwid": wwid},
            )
            devices.symlink(namespace / "device", controller)
            devices.symlink(classes / f"nvme{index}", controller)
            devices.mknod(node.dev_dir / name, volume.major, volume.minor)
            model_id = model.strip().replace(" ", "_")
            fs = udev.filesystem_properties(volume.fs_type, volume.fs_uuid)
            id_path = (
                f"pci-{address}-nvme-1"
                if parameters.transport == "pcie"
                else f"nvme-{parameters.transport}-nvme{index}-1"
            )
            links = [
                f"disk/by-id/nvme-{model_id}_{serial}",
                f"disk/by-id/nvme-{wwid}",
                f"disk/by-path/{id_path}",
            ]
            if fs.get("ID_FS_UUID"):
                links.append(f"disk/by-uuid/{fs['ID_FS_UUID']}")
            devices.dev_links(node, name, links)
            udev.write_entry(
                node,
                volume.major,
                volume.minor,
                {
                    "ID_SERIAL_SHORT": serial,
                    "ID_SERIAL": f"{model_id}_{serial}",
                    "ID_MODEL": model.strip(),
                    "ID_REVISION": "1.0",
                    "ID_WWN": wwid,
                    "ID_NSID": "1",
                    "ID_PATH": id_path,
                    "ID_PATH_TAG": re.sub(r"[^0-9A-Za-z]", "_", id_path),
                    **fs,
                },
                links,
            )
        except BaseException:
            _remove_nvme(node, Attachment(name, "", volume.major, volume.minor, "", False))
            raise
    return Attachment(name, "", volume.major, volume.minor, f"/dev/{name}", False, kind="nvme")


def _remove_nvme(node: NodeHost, attachment: Attachment) -> None:
    ctrl = attachment.device_name.rsplit("n", 1)[0]  # nvme1n1 -> nvme1
    link = node.sys_dir / "class/nvme" / ctrl
    if link.is_symlink():
        controller = Path(os.path.normpath(link.parent / os.readlink(link)))
    else:
        controller = node.sys_dir / "devices/virtual/nvme-fabrics/ctl" / ctrl
        for candidate in node.sys_dir.glob(f"devices/pci0000:00/*/nvme/{ctrl}"):
            controller = candidate
    _remove_block(node, attachment.device_name, attachment.major, attachment.minor, controller)
    if controller.parent.name == "nvme":  # the controller's PCI function goes with it
        shutil.rmtree(controller.parent.parent, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Ceph RBD
# ---------------------------------------------------------------------------------------


def _rbd_image(handle: str) -> str:
    """ceph-csi's image name for a volume: ``csi-vol-<uuid>`` (the handle's uuid)."""
    found = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", handle)
    return f"csi-vol-{found.group(0) if found else uuid.uuid5(uuid.NAMESPACE_URL, handle)}"


def _attach_rbd(
    node: NodeHost, volume: Volume, parameters: StackParameters, *, handle: str
) -> Attachment:
    image = _rbd_image(handle)
    with devices.node_lock(node):
        if (name := _has_device(node, volume)) is not None:
            raise DeviceError(f"{node.name} already has {volume.pv_name} as /dev/{name}")
        bus = node.sys_dir / "bus/rbd/devices"
        used = {int(p.name) for p in bus.iterdir() if p.name.isdigit()} if bus.is_dir() else set()
        number = next(i for i in range(len(used) + 1) if i not in used)
        name = f"rbd{number}"
        device = node.sys_dir / "devices/rbd" / str(number)
        try:
            devices.write_attributes(
                device,
                {
                    "pool": parameters.pool,
                    "pool_id": "2",
                    "pool_ns": "",
                    "name": image,
                    "image_id": uuid.uuid5(uuid.NAMESPACE_URL, image).hex[:12],
                    "size": str(volume.size_bytes),
                    "major": str(volume.major),
                    "minor": str(volume.minor),
                    "client_id": "client.14163",
                    "cluster_fsid": str(uuid.uuid5(uuid.NAMESPACE_URL, "cfsim-ceph")),
                    "current_snap": "-",
                    "snap_id": str(2**64 - 2),  # CEPH_NOSNAP: the image head
                    "features": "0x3d",
                    "uevent": "",
                },
            )
            devices.symlink(device / "subsystem", node.sys_dir / "bus/rbd")
            devices.symlink(bus / str(number), device)
            block = device / "block" / name
            _block_entry(
                block,
                node.sys_dir,
                name,
                volume.major,
                volume.minor,
                volume.size_bytes,
                {"range": "16", "ext_range": "16"},
            )
            devices.symlink(block / "device", device)
            devices.mknod(node.dev_dir / name, volume.major, volume.minor)
            fs = udev.filesystem_properties(volume.fs_type, volume.fs_uuid)
            links = [f"rbd/{parameters.pool}/{image}"]
            if fs.get("ID_FS_UUID"):
                links.append(f"disk/by-uuid/{fs['ID_FS_UUID']}")
            devices.dev_links(node, name, links)
            udev.write_entry(node, volume.major, volume.minor, fs, links)
        except BaseException:
            _remove_rbd(node, Attachment(name, "", volume.major, volume.minor, "", False))
            raise
    return Attachment(name, "", volume.major, volume.minor, f"/dev/{name}", False, kind="rbd")


def _remove_rbd(node: NodeHost, attachment: Attachment) -> None:
    number = attachment.device_name.removeprefix("rbd")
    device = node.sys_dir / "devices/rbd" / number
    _remove_block(node, attachment.device_name, attachment.major, attachment.minor, device)


# ---------------------------------------------------------------------------------------
# The stack a class asks for
# ---------------------------------------------------------------------------------------


def attach(
    node: NodeHost,
    volume: Volume,
    parameters: StackParameters,
    volume_handle: str,
    *,
    wrong_serial: bool = False,
    path_down: bool = False,
    no_scsi_device: bool = False,
) -> Attachment:
    """Give ``node`` the volume as the class's parameters shape it (see the module doc).

    Identifiers derive from ``volume_handle``; ``wrong_serial`` (fault) derives them
    from another volume's instead; ``path_down`` (fault multipath-path-down) marks one
    path of a multipath map offline; ``no_scsi_device`` (fault) applies to plain SCSI
    disks only.
    """
    key = unrelated_key(volume_handle) if wrong_serial else volume_handle
    node.dev_dir.mkdir(parents=True, exist_ok=True)
    node.sys_dir.mkdir(parents=True, exist_ok=True)
    if parameters.device == "nvme":
        return _attach_nvme(node, volume, parameters, serial=nvme_serial(key))
    if parameters.device == "rbd":
        return _attach_rbd(node, volume, parameters, handle=volume_handle)
    wwn = wwn_for(parameters.vendor, key)
    if parameters.multipath:
        return _attach_multipath(
            node, volume, parameters, wwn=wwn, serial=unit_serial(key), path_down=path_down
        )
    return devices.attach(
        node,
        volume,
        ScsiIdentity(parameters.vendor, parameters.model, parameters.rev),
        no_scsi_device=no_scsi_device,
        transport=parameters.transport,
        wwn=wwn,
        serial=unit_serial(key),
    )


def detach(node: NodeHost, attachment: Attachment) -> None:
    """Take the stack away again (paths' loop devices freed); mounts are not touched.
    Idempotent."""
    with devices.node_lock(node):
        if attachment.kind == "multipath":
            _remove_multipath(node, attachment)
        elif attachment.kind == "nvme":
            _remove_nvme(node, attachment)
        elif attachment.kind == "rbd":
            _remove_rbd(node, attachment)
        else:
            devices.remove_scsi_disk(node, attachment)


# ---------------------------------------------------------------------------------------
# Fault volume-on-node-root: a "volume" that is a directory on the node's own disk
# ---------------------------------------------------------------------------------------


def publish_node_directory(
    node: NodeHost,
    *,
    pod_uid: str,
    pv_name: str,
    plugin_dir: str,
    driver: str = "",
    volume_handle: str = "",
    timeout: float = 60,
) -> str:
    """Bind ``/var/lib/volumes/<pv>`` of the node's root filesystem at the pod's kubelet
    path instead of mounting the volume, as a driver that lost track of its disk and
    "mounts" a local directory does: the pod's data then lands on the node's own disk,
    on the device of the node's / and of the pod's /etc/hosts. Returns the path."""
    layout = devices.KubeletLayout(pod_uid, pv_name, plugin_dir, driver, volume_handle)
    target = layout.publish_path
    if any(m.mount_point == target for m in devices.node_mounts(node)):
        return target
    directory = f"{NODE_ROOT_VOLUMES}/{pv_name}"
    in_node = [*enter(node.pid, net=False)]
    run([*in_node, "mkdir", "-p", directory, target], timeout=timeout)
    run([*in_node, "mount", "--bind", directory, target], timeout=timeout)
    return target
