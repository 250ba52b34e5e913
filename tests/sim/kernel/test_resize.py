"""Growing a volume on the real kernel: the image and loop (losetup -c), the node's sysfs
size (lsscsi -s), and the filesystem online (xfs_growfs) or offline (ext4)."""

from __future__ import annotations

from conformance.sim.kernel import devices, resize
from conformance.sim.kernel.devices import ScsiIdentity
from tests.sim.kernel.test_devices import (  # noqa: F401 - fixtures
    MIB,
    NodeFactory,
    VolumeFactory,
    in_node,
    lsscsi,
    make_node,
    needs_root,
    volumes,
)


@needs_root
def test_a_grown_xfs_volume_shows_its_size_and_grows_online(
    volumes: VolumeFactory,  # noqa: F811
    make_node: NodeFactory,  # noqa: F811
) -> None:
    node = make_node("node-1")
    volume = volumes("pv-grow-0", 300 * MIB, "xfs")
    attachment = devices.attach(node, volume, ScsiIdentity())
    in_node(node, "mkdir", "-p", "/mnt/v")
    in_node(node, "mount", attachment.dev_path, "/mnt/v")
    try:
        grown = resize.grow_image(volume, 600 * MIB)
        assert grown.size_bytes == 600 * MIB
        assert in_node(node, "blockdev", "--getsize64", attachment.dev_path).strip() == str(
            600 * MIB
        )
        resize.show_size(node, attachment, grown.size_bytes)
        assert lsscsi(node, "-s")["11:0:0:0"]["size"] == "629MB"
        resize.grow_filesystem(
            node, fs_type="xfs", device=attachment.dev_path, mount_point="/mnt/v"
        )
        size, blocks = in_node(node, "stat", "-f", "-c", "%S %b", "/mnt/v").split()
        assert int(size) * int(blocks) > 500 * MIB  # 600 MiB less the log and AG headers
    finally:
        in_node(node, "umount", "/mnt/v")
        devices.detach(node, attachment)


@needs_root
def test_an_unmounted_ext4_volume_grows_offline(
    volumes: VolumeFactory,  # noqa: F811
    make_node: NodeFactory,  # noqa: F811
) -> None:
    node = make_node("node-1")
    volume = volumes("pv-grow-1", 100 * MIB, "ext4")
    attachment = devices.attach(node, volume, ScsiIdentity())
    try:
        resize.grow_image(volume, 200 * MIB)
        resize.grow_unmounted(node, device=attachment.dev_path)
        info = in_node(node, "dumpe2fs", "-h", attachment.dev_path)
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        block_count = int(fields["Block count"]) * int(fields["Block size"])
        assert block_count == 200 * MIB
    finally:
        devices.detach(node, attachment)
