"""The probes' parsers against real output of the real tools (tests/data/, origins beside).

- tests/data/seed/: the seed example's lines from a real 2016 cluster (``.origin`` sidecars);
- tests/data/sim-node/: captured inside a simulated node (first line is the header);
- tests/data/local-node/: made by tests/data/local-node/capture.sh with real lsscsi,
  findmnt, mount, getent, coreutils and busybox in a namespaced node and two pods
  (``.origin`` sidecars: command, exit code, date, tool versions).

Cases marked "derived" edit real lines to make a fault the tools would not print here.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance import probes
from conformance.probes import (
    MajorMinor,
    Payload,
    ProbeParseError,
    ScsiDevice,
)

DATA = Path(__file__).parent / "data"
FLEX_UID = "6b99bd2a-628e-11e6-8463-0cc47ab41442"
CSI_UID = "a8f0e9c4-3b1d-4e55-9f2a-6c7d8e9f0a1b"
CSI_PV = "pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427"
FLEX_PATH = f"/var/lib/kubelet/pods/{FLEX_UID}/volumes/datera~iscsi/pv-datera-0"
CSI_PATH = f"/var/lib/kubelet/pods/{CSI_UID}/volumes/kubernetes.io~csi/{CSI_PV}/mount"


def capture(name: str) -> str:
    """A capture's text as the tool printed it (the sim-node header line dropped)."""
    text = (DATA / name).read_text()
    if text.startswith("# captured"):
        text = text.split("\n", 1)[1]
    return text


def test_every_capture_says_where_it_came_from() -> None:
    captures = sorted((DATA / "seed").glob("*.txt")) + sorted((DATA / "local-node").glob("*.txt"))
    assert len(captures) > 30
    for path in captures:
        origin = path.with_suffix(".origin")
        assert origin.is_file(), f"{path} has no {origin.name}"
        assert origin.read_text().startswith("command: "), origin
    for path in sorted((DATA / "sim-node").glob("*.txt")):
        assert path.read_text().startswith("# captured "), path


# ---------------------------------------------------------------------------------------
# lsscsi
# ---------------------------------------------------------------------------------------


def test_lsscsi_commands() -> None:
    assert probes.LSSCSI == ("lsscsi", "-d")
    assert "-s" in probes.LSSCSI_SIZE
    assert "-d" in probes.LSSCSI_SIZE
    assert "-t" in probes.LSSCSI_TRANSPORT


def test_lsscsi_seed_lines() -> None:
    devices = probes.parse_lsscsi(capture("seed/lsscsi.txt"))
    assert devices == [
        ScsiDevice("0:2:0:0", "disk", "SMC", "SMC2208", "3.24", "/dev/sda"),
        ScsiDevice("11:0:0:0", "disk", "DATERA", "IBLOCK", "4.0", "/dev/sdb"),
    ]
    assert devices[1].host == 11


def test_lsscsi_sim_node_plain_keeps_vendor_model_with_spaces() -> None:
    devices = probes.parse_lsscsi(capture("sim-node/lsscsi.txt"))
    assert [(d.vendor, d.model, d.rev, d.device) for d in devices] == [
        ("ATA", "QEMU HARDDISK", "2.5+", "/dev/sda"),
        ("DATERA", "IBLOCK", "4.0", "/dev/sdb"),
        ("DATERA", "IBLOCK", "4.0", "/dev/sdc"),
    ]
    assert all(d.major_minor is None and d.size is None for d in devices)


def test_lsscsi_sim_node_d_has_major_minor() -> None:
    devices = probes.parse_lsscsi(capture("sim-node/lsscsi-d.txt"))
    assert [str(d.major_minor) for d in devices] == ["8:0", "7:0", "7:1"]
    assert devices[0].model == "QEMU HARDDISK"


def test_lsscsi_sim_node_s_has_size() -> None:
    devices = probes.parse_lsscsi(capture("sim-node/lsscsi-s.txt"))
    assert [d.size for d in devices] == ["107GB", "107GB", "107GB"]
    assert [d.device for d in devices] == ["/dev/sda", "/dev/sdb", "/dev/sdc"]


def test_lsscsi_d_glued_name_and_missing_dev_node() -> None:
    devices = {d.hctl: d for d in probes.parse_lsscsi(capture("local-node/node-lsscsi-d.txt"))}
    # "/dev/sdaa[65:160]": lsscsi drops the space after a 9-character name
    assert devices["13:0:0:0"].device == "/dev/sdaa"
    assert devices["13:0:0:0"].major_minor == MajorMinor(65, 160)
    assert (devices["13:0:0:0"].vendor, devices["13:0:0:0"].model) == ("SEAGATE", "ST4000NM0023")
    # "-        [8:48]": no /dev node, but the device number is known
    assert devices["14:0:0:0"].device is None
    assert devices["14:0:0:0"].major_minor == MajorMinor(8, 48)
    assert devices["14:0:0:0"].model == "TCMU device"
    assert devices["14:0:0:0"].rev == "0002"
    assert devices["11:0:0:0"].major_minor == MajorMinor(7, 0)


def test_lsscsi_d_long_names_and_a_wide_hctl() -> None:
    devices = probes.parse_lsscsi(capture("local-node/host-lsscsi-y-d.txt"))
    assert [(d.hctl, d.device, str(d.major_minor)) for d in devices] == [
        ("0:0:0:0", None, "8:0"),
        ("11:0:0:0", "/dev/loop0", "7:0"),
        ("12:0:0:0", "/dev/loop1", "7:1"),
        ("20:0:0:1234567", None, "7:9"),
    ]
    assert (devices[3].vendor, devices[3].model, devices[3].rev) == ("LIO-ORG", "x", "1")


def test_lsscsi_s_sizes() -> None:
    devices = probes.parse_lsscsi(capture("local-node/node-lsscsi-s.txt"))
    assert [(d.device, d.size) for d in devices] == [
        ("/dev/sda", "107GB"),
        ("/dev/sdb", "314MB"),
        ("/dev/sdc", "67.1MB"),
        ("/dev/sdaa", "4.00TB"),
        (None, "1.07GB"),
    ]


def test_lsscsi_t_transports() -> None:
    devices = probes.parse_lsscsi(capture("local-node/node-lsscsi-t.txt"), transport=True)
    assert [d.transport for d in devices] == [
        "sata:6001405dcd789434d890685da841b8db",
        "iqn.2013-05.com.daterainc:tc:01:sn:pv-datera-0,t,0x1",
        "iqn.2013-05.com.daterainc:tc:01:sn:pvc-1b4e28ba,t,0x1",
        "sas:0x5000c5008e1b2f41",
        "",
    ]
    assert [d.device for d in devices] == ["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdaa", None]
    assert all(d.vendor == d.model == d.rev == "" for d in devices)


def test_lsscsi_t_recognised_without_being_told() -> None:
    devices = probes.parse_lsscsi(capture("local-node/node-lsscsi-t.txt"))
    assert devices[1].transport == "iqn.2013-05.com.daterainc:tc:01:sn:pv-datera-0,t,0x1"
    assert devices[3].transport == "sas:0x5000c5008e1b2f41"
    # a blank transport column cannot be told from blank vendor/model columns
    assert devices[4].transport is None
    assert devices[4].vendor == ""


def test_lsscsi_d_s_t_together() -> None:
    devices = probes.parse_lsscsi(capture("local-node/node-lsscsi-dst.txt"))
    assert [(d.device, str(d.major_minor), d.size) for d in devices] == [
        ("/dev/sda", "8:0", "107GB"),
        ("/dev/sdb", "7:0", "314MB"),
        ("/dev/sdc", "7:1", "67.1MB"),
        ("/dev/sdaa", "65:160", "4.00TB"),
        (None, "8:48", "1.07GB"),
    ]
    assert devices[2].transport == "iqn.2013-05.com.daterainc:tc:01:sn:pvc-1b4e28ba,t,0x1"


def test_lsscsi_spaced_device_number_and_generic_column() -> None:
    # derived from the seed line: `lsscsi -d -g` shapes
    line = "[11:0:0:0]   disk    DATERA   IBLOCK           4.0   /dev/sdb [8:16]  /dev/sg1"
    (device,) = probes.parse_lsscsi(line)
    assert device.major_minor == MajorMinor(8, 16)
    assert device.generic == "/dev/sg1"
    assert device.extra == ()
    assert device.describe() == "[11:0:0:0] DATERA IBLOCK 4.0 /dev/sdb 8:16"


def test_find_scsi_device() -> None:
    devices = probes.parse_lsscsi(capture("local-node/node-lsscsi-d.txt"))
    found = probes.find_scsi_device(devices, MajorMinor(7, 1))
    assert found is not None
    assert found.hctl == "12:0:0:0"
    assert probes.find_scsi_device(devices, MajorMinor(7, 9)) is None


@pytest.mark.parametrize(
    ("text", "line_no", "reason"),
    [
        ("[0:2:0:0]    disk    SMC      SMC2208          3.24  /dev/sda\nnot lsscsi", 2, "H:C:T:L"),
        ("[11:0:0:0]   disk    DATERA   IBLOCK           4.0   sdb", 1, "no device column"),
        ("[11:0:0:0]   disk    DATERA   IBLOCK", 1, "no device column"),
        ("[11:0:0:0]   disk    DATERA   IBLOCK           4.0   ", 1, "no device column"),
        ("[11:0:0:0]", 1, "no device type"),
    ],
)
def test_lsscsi_unreadable_rows_are_problems_beside_the_others(
    text: str, line_no: int, reason: str
) -> None:
    seed = "[0:2:0:0]    disk    SMC      SMC2208          3.24  /dev/sda\n"
    listing = probes.read_lsscsi(seed + text)
    assert [d.device for d in listing.devices] == ["/dev/sda"] * (1 + text.startswith("[0:2"))
    (problem,) = listing.problems
    assert problem.line_no == line_no + 1
    assert reason in problem.reason
    assert problem.line == text.splitlines()[line_no - 1]
    # alone, a row lsscsi could not have printed is not lsscsi output: the strict parse says so
    with pytest.raises(ProbeParseError) as info:
        probes.parse_lsscsi(text.splitlines()[line_no - 1])
    assert info.value.probe == "lsscsi"
    assert "line 1: " in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        # the seed line squeezed to single spaces (copied through a chat, say)
        ("[11:0:0:0] disk DATERA IBLOCK 4.0 /dev/sdb", "'DATERA IBLOCK 4.0' not cut"),
        ("[11:0:0:0]   disk    DATERA IBLOCK 4.0 /dev/sdb", "'DATERA IBLOCK 4.0' not cut"),
        ("[11:0:0:0]disk    DATERA   IBLOCK           4.0   /dev/sdb", "no space after"),
        ("[11:0:0:0]   diskette DATERA   IBLOCK           4.0   /dev/sdb", "'diskette' is not"),
        ("[11:0:0:0]   disk    DATERA   IBLOCK           4.0.1 /dev/sdb", "wider than the 4"),
    ],
)
def test_lsscsi_rows_read_in_part_keep_device_and_say_why(line: str, problem: str) -> None:
    (device,) = probes.parse_lsscsi(line)
    assert device.hctl == "11:0:0:0"
    assert device.device == "/dev/sdb"
    assert device.problem is not None
    assert problem in device.problem


def test_lsscsi_transport_forced_on_vendor_columns_is_a_problem() -> None:
    devices = probes.parse_lsscsi(capture("seed/lsscsi.txt"), transport=True)
    assert [d.device for d in devices] == ["/dev/sda", "/dev/sdb"]
    assert all("is not a transport" in (d.problem or "") for d in devices)


# ---------------------------------------------------------------------------------------
# mountinfo
# ---------------------------------------------------------------------------------------


def test_mountinfo_sim_node() -> None:
    mounts = probes.parse_mountinfo(capture("sim-node/mountinfo.txt"))
    assert len(mounts) == 9
    root = mounts[0]
    assert (root.mount_id, root.parent_id, root.mount_point, root.fs_type) == (67, 43, "/", "tmpfs")
    assert root.source == "cfsim-node-root"
    assert root.options == ("rw", "relatime")
    assert root.super_options == ("rw", "mode=755")
    flex = probes.find_mount(mounts, FLEX_PATH)
    assert flex is not None
    assert flex.major_minor == MajorMinor(7, 0)
    assert (flex.fs_type, flex.source, flex.root) == ("xfs", "/dev/sdb", "/")
    assert "logbsize=32k" in flex.super_options
    dev = probes.find_mount(mounts, "/dev")
    assert dev is not None
    assert dev.root.endswith("/nodes/node-1/dev")


def test_mountinfo_decodes_octal_escapes() -> None:
    mounts = probes.parse_mountinfo(capture("local-node/node-mountinfo.txt"))
    points = {m.mount_point: m for m in mounts}
    for name in ("/mnt/with space", "/mnt/tab\there", "/mnt/new\nline", "/mnt/back\\slash"):
        assert name in points, sorted(points)
    assert points["/mnt/with space"].source == "scratch space"
    assert probes.find_mount(mounts, "/mnt/new\nline") is points["/mnt/new\nline"]


def test_mountinfo_optional_fields() -> None:
    node = probes.parse_mountinfo(capture("local-node/node-mountinfo.txt"))
    kubelet = probes.find_mount(node, "/var/lib/kubelet")
    assert kubelet is not None
    assert kubelet.optional_fields == ("shared:2",)
    assert kubelet.root == "/var/lib/kubelet"
    container = probes.parse_mountinfo(capture("local-node/web-0-mountinfo.txt"))
    data = probes.find_mount(container, "/data")
    assert data is not None
    assert data.optional_fields == ("master:3",)
    root = probes.find_mount(container, "/")
    assert root is not None
    assert root.optional_fields == ()


def test_find_mount_and_read_write_in_containers() -> None:
    web0 = probes.parse_mountinfo(capture("local-node/web-0-mountinfo.txt"))
    data = probes.find_mount(web0, "/data/")
    assert data is not None
    assert (str(data.major_minor), data.fs_type, data.source) == ("7:0", "xfs", "/dev/sdb")
    assert probes.is_read_write(data)
    web1 = probes.parse_mountinfo(capture("local-node/web-1-mountinfo.txt"))
    ro = probes.find_mount(web1, "/data")
    assert ro is not None
    assert ro.options[0] == "ro"
    assert not probes.is_read_write(ro)
    usr = probes.find_mount(web1, "/usr")
    assert usr is not None
    assert not probes.is_read_write(usr)
    assert probes.find_mount(web1, "/nothing") is None


def test_read_write_bind_of_a_read_only_filesystem_is_not_writable() -> None:
    # derived: web-0's /data line with the superblock read-only
    line = "114 111 7:0 / /data rw,relatime master:3 - xfs /dev/sdb ro,inode64,noquota"
    (mount,) = probes.parse_mountinfo(line)
    assert not probes.is_read_write(mount)


def test_find_mount_takes_the_top_of_stacked_mounts() -> None:
    # derived: a second filesystem mounted over /data (id 120, parent 114), listed first
    text = "120 114 7:9 / /data rw,relatime - ext4 /dev/sdz rw\n" + capture(
        "local-node/web-0-mountinfo.txt"
    )
    mounts = probes.parse_mountinfo(text)
    top = probes.find_mount(mounts, "/data")
    assert top is not None
    assert top.major_minor == MajorMinor(7, 9)


def test_mount_containing() -> None:
    web0 = probes.parse_mountinfo(capture("local-node/web-0-mountinfo.txt"))
    on = probes.mount_containing(web0, "/data/payload.bin")
    assert on is not None
    assert on.mount_point == "/data"
    on = probes.mount_containing(web0, "/database")
    assert on is not None
    assert on.mount_point == "/"
    assert probes.mount_containing([], "/data") is None


def test_mount_describe() -> None:
    web0 = probes.parse_mountinfo(capture("local-node/web-0-mountinfo.txt"))
    hosts = probes.find_mount(web0, "/etc/hosts")
    assert hosts is not None
    assert hosts.describe() == (
        f"0:39 tmpfs node-root [/var/lib/kubelet/pods/{FLEX_UID}/etc-hosts] at /etc/hosts "
        "(rw,relatime)"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("114 111 7:0 / /data rw,relatime master:3 xfs /dev/sdb rw", "separator"),
        ("114 111 7:0 / /data rw,relatime - xfs /dev/sdb", "3 fields"),
        ("114 111 7:0 / /data rw,relatime - xfs /dev/sdb rw extra", "3 fields"),
        ("114 x 7:0 / /data rw,relatime - xfs /dev/sdb rw", "not numbers"),
        ("114 111 sdb / /data rw,relatime - xfs /dev/sdb rw", "major:minor"),
        ("114 111 7:0 / data rw,relatime - xfs /dev/sdb rw", "mount point"),
        ("114 111 7:0 / /data rw,relatime -  /dev/sdb rw", "filesystem type"),
        ("/dev/sdb on /data type xfs (rw,relatime,attr2,inode64,noquota)", "separator"),
    ],
)
def test_mountinfo_malformed(line: str, reason: str) -> None:
    text = capture("local-node/web-0-mountinfo.txt") + line + "\n"
    with pytest.raises(ProbeParseError) as info:
        probes.parse_mountinfo(text)
    assert info.value.line_no == 6
    assert reason in info.value.reason
    assert "mountinfo output line 6" in str(info.value)
    assert repr(line) in str(info.value)


def test_mountinfo_empty_source_is_kept() -> None:
    # derived: the kernel prints an empty source as nothing between two spaces
    (mount,) = probes.parse_mountinfo("73 65 0:41 / /mnt rw - tmpfs  rw")
    assert mount.source == ""
    assert mount.super_options == ("rw",)


# ---------------------------------------------------------------------------------------
# findmnt -J
# ---------------------------------------------------------------------------------------


def test_findmnt_sim_node_flattens_children() -> None:
    entries = probes.parse_findmnt_json(capture("sim-node/findmnt-J.txt"))
    assert len(entries) == 9
    assert (entries[0].target, entries[0].parent, entries[0].depth) == ("/", None, 0)
    assert all(e.parent == "/" and e.depth == 1 for e in entries[1:])
    usr = next(e for e in entries if e.target == "/usr")
    assert (usr.source, usr.device, usr.fsroot) == ("/dev/vda[/usr]", "/dev/vda", "/usr")
    flex = next(e for e in entries if e.target == FLEX_PATH)
    assert (flex.device, flex.fsroot, flex.fstype) == ("/dev/sdb", "/", "xfs")
    assert flex.options[:2] == ("rw", "relatime")
    assert flex.major_minor is None


def test_findmnt_nested_and_major_minor_column() -> None:
    entries = probes.parse_findmnt_json(capture("local-node/node-findmnt-J-majmin.txt"))
    by_target = {e.target: e for e in entries}
    flex = by_target[FLEX_PATH]
    assert (flex.parent, flex.depth, flex.major_minor) == ("/var/lib/kubelet", 2, MajorMinor(7, 0))
    assert by_target[CSI_PATH].major_minor == MajorMinor(7, 1)
    assert by_target["/mnt/tab\there"].source == "tmpfs"
    assert by_target["/mnt/with space"].source == "scratch space"


@pytest.mark.parametrize("where", ["local-node/node", "local-node/web-0", "local-node/web-1"])
def test_findmnt_and_mountinfo_agree(where: str) -> None:
    found = probes.parse_findmnt_json(capture(f"{where}-findmnt-J.txt"))
    mounts = probes.parse_mountinfo(capture(f"{where}-mountinfo.txt"))
    assert [e.target for e in found] == [m.mount_point for m in mounts]
    assert [e.fstype for e in found] == [m.fs_type for m in mounts]


def test_findmnt_nothing_mounted_prints_nothing() -> None:
    assert capture("local-node/node-findmnt-J-mountpoint-missing.txt") == ""
    assert probes.parse_findmnt_json("") == []
    assert probes.findmnt_command("/data")[-2:] == ("--mountpoint", "/data")
    assert probes.findmnt_command() == probes.FINDMNT_DEVNUM


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"filesystems": [\n  {"target": "/", }\n]}', "not JSON"),
        ('{"mounts": []}', "filesystems"),
        ('{"filesystems": [{"source": "/dev/sdb"}]}', "without 'target'"),
        ('{"filesystems": [{"target": "/data", "maj:min": "sdb"}]}', "not major:minor"),
        ('{"filesystems": [{"target": "/", "children": {}}]}', "not a list"),
        ('{"filesystems": [{"target": "/", "options": ["rw"]}]}', "'options' is a list"),
    ],
)
def test_findmnt_malformed(text: str, reason: str) -> None:
    with pytest.raises(ProbeParseError, match=reason) as info:
        probes.parse_findmnt_json(text)
    assert info.value.probe == "findmnt -J"


def test_findmnt_malformed_json_names_the_line() -> None:
    with pytest.raises(ProbeParseError) as info:
        probes.parse_findmnt_json('{"filesystems": [\n  {"target": "/", }\n]}')
    assert info.value.line_no == 2
    assert info.value.line == '  {"target": "/", }'


# ---------------------------------------------------------------------------------------
# mount
# ---------------------------------------------------------------------------------------


def test_mount_seed_lines() -> None:
    (node,) = probes.parse_mount(capture("seed/mount-node.txt"))
    assert (node.source, node.target, node.fs_type) == ("/dev/sdb", FLEX_PATH, "xfs")
    assert node.options == ("rw", "relatime", "attr2", "inode64", "noquota")
    (container,) = probes.parse_mount(capture("seed/mount-container.txt"))
    assert (container.source, container.target, container.fs_type) == ("/dev/sdb", "/data", "xfs")


def test_mount_sim_node() -> None:
    lines = probes.parse_mount(capture("sim-node/mount.txt"))
    assert len(lines) == 9
    assert lines[0] == probes.MountLine(
        "cfsim-node-root", "/", "tmpfs", ("rw", "relatime", "mode=755")
    )
    assert lines[-1].target == CSI_PATH.replace(CSI_PV, "pv-datera-1")


@pytest.mark.parametrize("where", ["node", "web-0", "web-1"])
def test_mount_and_mountinfo_agree(where: str) -> None:
    lines = probes.parse_mount(capture(f"local-node/{where}-mount.txt"))
    mounts = probes.parse_mountinfo(capture(f"local-node/{where}-mountinfo.txt"))
    printable = [m for m in mounts if "\t" not in m.mount_point and "\n" not in m.mount_point]
    assert [line.target for line in lines if "?" not in line.target] == [
        m.mount_point for m in printable
    ]
    assert [line.source for line in lines if "?" not in line.target] == [
        m.source for m in printable
    ]


def test_mount_util_linux_spaces_and_backslashes_as_printed() -> None:
    lines = probes.parse_mount(capture("local-node/node-mount.txt"))
    targets = {line.target: line for line in lines}
    assert targets["/mnt/with space"].source == "scratch space"
    assert "/mnt/back\\slash" in targets
    assert "/mnt/tab?here" in targets  # util-linux prints unprintable characters as '?'


def test_mount_busybox_newline_in_a_name_breaks_the_line() -> None:
    text = capture("local-node/node-busybox-mount.txt")
    with pytest.raises(ProbeParseError) as info:
        probes.parse_mount(text)
    assert info.value.line == "tmpfs on /mnt/new"
    assert info.value.line_no == 11
    # the lines before it parse, a raw tab included
    head = "\n".join(text.splitlines()[:10])
    assert probes.parse_mount(head)[-1].target == "/mnt/tab\there"


def test_mount_label() -> None:
    # derived: `mount -l` appends the filesystem label
    (line,) = probes.parse_mount("/dev/sdb on /data type xfs (rw,relatime) [pv-datera-0]")
    assert (line.target, line.label) == ("/data", "pv-datera-0")


@pytest.mark.parametrize(
    "line",
    [
        "/dev/sdb /data xfs rw,relatime 0 0",  # /proc/mounts, not mount
        "/dev/sdb on data type xfs (rw)",
        "/dev/sdb on /data type xfs rw,relatime",
    ],
)
def test_mount_malformed(line: str) -> None:
    with pytest.raises(ProbeParseError, match="SOURCE on TARGET") as info:
        probes.parse_mount(capture("seed/mount-container.txt") + line)
    assert info.value.line_no == 2


# ---------------------------------------------------------------------------------------
# kubelet volume paths
# ---------------------------------------------------------------------------------------


def test_kubelet_volume_path_shapes() -> None:
    assert probes.kubelet_volume_path(FLEX_UID, "datera~iscsi", "pv-datera-0") == FLEX_PATH
    assert probes.kubelet_volume_path(CSI_UID, "kubernetes.io~csi", CSI_PV) == CSI_PATH
    assert (
        probes.kubelet_volume_path("u1", "kubernetes.io~iscsi", "pv1", root="/var/data/kubelet/")
        == "/var/data/kubelet/pods/u1/volumes/kubernetes.io~iscsi/pv1"
    )


@pytest.mark.parametrize(
    ("uid", "plugin", "pv"),
    [("", "datera~iscsi", "pv"), ("u/1", "datera~iscsi", "pv"), ("u", "iscsi", "pv")],
)
def test_kubelet_volume_path_rejects_bad_parts(uid: str, plugin: str, pv: str) -> None:
    with pytest.raises(ValueError, match=r"plugin_dir|pod_uid"):
        probes.kubelet_volume_path(uid, plugin, pv)


def test_parse_kubelet_volume_path() -> None:
    (seed,) = probes.parse_mount(capture("seed/mount-node.txt"))
    parsed = probes.parse_kubelet_volume_path(seed.target)
    assert parsed == probes.KubeletVolumePath(FLEX_UID, "datera~iscsi", "pv-datera-0")
    assert parsed is not None
    assert not parsed.csi
    assert parsed.path == seed.target
    csi = probes.parse_kubelet_volume_path(CSI_PATH)
    assert csi is not None
    assert (csi.csi, csi.pv_name, csi.path) == (True, CSI_PV, CSI_PATH)
    snap = "/var/snap/microk8s/common/var/lib/kubelet/pods/u/volumes/kubernetes.io~iscsi/pv"
    other_root = probes.parse_kubelet_volume_path(snap)
    assert other_root is not None
    assert other_root.root == "/var/snap/microk8s/common/var/lib/kubelet"
    # not the shapes: a CSI volume dir without /mount, a flexvolume path with /mount,
    # the CSI staging path, a pod's etc-hosts
    assert probes.parse_kubelet_volume_path(CSI_PATH.removesuffix("/mount")) is None
    assert probes.parse_kubelet_volume_path(FLEX_PATH + "/mount") is None
    assert (
        probes.parse_kubelet_volume_path(
            "/var/lib/kubelet/plugins/kubernetes.io/csi/d/abc/globalmount"
        )
        is None
    )
    assert probes.parse_kubelet_volume_path(f"/var/lib/kubelet/pods/{FLEX_UID}/etc-hosts") is None


def test_match_kubelet_mount_sim_node() -> None:
    mounts = probes.parse_mountinfo(capture("sim-node/mountinfo.txt"))
    flex = probes.match_kubelet_mount(mounts, FLEX_UID, "pv-datera-0")
    assert flex is not None
    assert (flex.mount_point, str(flex.major_minor)) == (FLEX_PATH, "7:0")
    csi = probes.match_kubelet_mount(mounts, CSI_UID, "pv-datera-1")
    assert csi is not None
    assert csi.mount_point.endswith("/kubernetes.io~csi/pv-datera-1/mount")
    assert str(csi.major_minor) == "7:1"
    assert probes.match_kubelet_mount(mounts, CSI_UID, "pv-datera-0") is None
    assert probes.match_kubelet_mount(mounts, "other", "pv-datera-1") is None


def test_kubelet_volume_mounts_local_node() -> None:
    mounts = probes.parse_mountinfo(capture("local-node/node-mountinfo.txt"))
    found = probes.kubelet_volume_mounts(mounts)
    assert [(p.pod_uid, p.plugin_dir, p.pv_name, str(m.major_minor)) for p, m in found] == [
        (FLEX_UID, "datera~iscsi", "pv-datera-0", "7:0"),
        (CSI_UID, "kubernetes.io~csi", CSI_PV, "7:1"),
    ]


# ---------------------------------------------------------------------------------------
# hostname and DNS
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("local-node/node-hostname.txt", "tlx243"), ("local-node/web-1-hostname.txt", "web-1")],
)
def test_hostname(name: str, expected: str) -> None:
    assert probes.HOSTNAME == ("hostname",)
    assert probes.parse_hostname(capture(name)) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "one line"), ("web-0\nweb-1\n", "one line"), ("web 0\n", "not a hostname")],
)
def test_hostname_malformed(text: str, reason: str) -> None:
    with pytest.raises(ProbeParseError, match=reason):
        probes.parse_hostname(text)


def test_getent_hosts() -> None:
    assert probes.getent_hosts_command("web-0.web") == ("getent", "hosts", "web-0.web")
    (entry,) = probes.parse_getent_hosts(capture("local-node/web-0-getent-hosts.txt"))
    assert entry == probes.HostEntry("10.244.1.5", ("web-0.web.default.svc.cluster.local", "web-0"))
    (local,) = probes.parse_getent_hosts(capture("local-node/web-1-getent-hosts-localhost.txt"))
    assert local.ip == "::1"
    assert local.names == ("localhost", "ip6-localhost", "ip6-loopback")
    assert probes.parse_getent_hosts(capture("local-node/web-0-getent-hosts-missing.txt")) == []


@pytest.mark.parametrize("name", ["", "-s", "a b"])
def test_getent_hosts_command_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="host name"):
        probes.getent_hosts_command(name)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.244.1.5      web-0\nweb-1.web 10.244.1.6\n", "not an IP address"),
        ("10.244.1.5      web-0\n10.244.1.6\n", "without a name"),
        ("10.244.1.5      web-0\n10.244.1.666   web-1\n", "not an IP address"),
    ],
)
def test_getent_hosts_malformed(text: str, reason: str) -> None:
    with pytest.raises(ProbeParseError, match=reason) as info:
        probes.parse_getent_hosts(text)
    assert info.value.line_no == 2


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------

CAPTURED_PAYLOAD = Payload.from_bytes(bytes(range(256)) * 16)  # what capture.sh wrote


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("local-node/web-0-sha256sum.txt", "/data/payload.bin"),
        ("local-node/web-0-md5sum.txt", "/data/payload.bin"),
        ("local-node/web-0-busybox-sha256sum.txt", "/data/busybox.bin"),
        ("local-node/web-0-busybox-md5sum.txt", "/data/busybox.bin"),
    ],
)
def test_checksums_of_the_payload_written_in_the_container(name: str, path: str) -> None:
    checksum = probes.parse_checksum(capture(name))
    assert checksum.path == path
    assert checksum.digest == CAPTURED_PAYLOAD.digest(checksum.algorithm)
    assert checksum.algorithm == ("md5" if "md5" in name else "sha256")


def test_checksum_escaped_file_name() -> None:
    checksum = probes.parse_checksum(capture("local-node/web-0-sha256sum-escaped.txt"))
    assert checksum.path == "/data/back\\slash"
    assert checksum.digest == hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "one line"),
        ("ab  /a\ncd  /b\n", "one line"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709  /data/x\n", "40-digit"),
        ("sha256sum: /data/x: No such file or directory\n", "<hex digest>"),
        ("c8f5d0341d54d951a71b136e6e2afcb1\n", "<hex digest>"),
    ],
)
def test_checksum_malformed(text: str, reason: str) -> None:
    with pytest.raises(ProbeParseError, match=reason):
        probes.parse_checksum(text)


def test_checksum_command() -> None:
    assert probes.checksum_command("/data/x") == ("sha256sum", "/data/x")
    assert probes.checksum_command("/data/x", "md5") == ("md5sum", "/data/x")
    with pytest.raises(ValueError, match="algorithm"):
        probes.checksum_command("/data/x", "sha1")


def test_payload() -> None:
    assert CAPTURED_PAYLOAD.size == 4096
    assert CAPTURED_PAYLOAD.sha256 == hashlib.sha256(bytes(range(256)) * 16).hexdigest()
    assert "4096-byte payload" in str(CAPTURED_PAYLOAD)
    assert "\\x00" not in repr(CAPTURED_PAYLOAD)
    a, b = Payload.random(32), Payload.random(32)
    assert a.size == 32
    assert a != b
    assert Payload.random(3, source=lambda n: b"z" * n).data == b"zzz"
    with pytest.raises(ValueError, match="1 to 65536"):
        Payload.from_bytes(b"")
    with pytest.raises(ValueError, match="1 to 65536"):
        Payload.random(probes.MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(ValueError, match="algorithm"):
        a.digest("sha1")


def test_write_payload_command_shape() -> None:
    command = probes.write_payload_command("/data/a b", Payload.from_bytes(b"hi"))
    assert command[:2] == ("sh", "-c")
    assert command[3:] == ("sh", "/data/a b")
    assert "conv=fsync" in command[2]
    assert "aGk=" in command[2]
    with pytest.raises(ValueError, match="absolute"):
        probes.write_payload_command("data/x", Payload.from_bytes(b"hi"))


@pytest.fixture(params=["coreutils", "busybox"])
def tools_path(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A PATH with only coreutils' tools, or only busybox's applets."""
    bindir = tmp_path / f"bin-{request.param}"
    bindir.mkdir()
    if request.param == "busybox":
        busybox = shutil.which("busybox")
        if busybox is None:
            pytest.skip("busybox is not installed")
        for applet in ("sh", "base64", "dd", "wc", "sha256sum", "md5sum", "printf", "echo"):
            (bindir / applet).symlink_to(busybox)
    else:
        for tool in ("sh", "base64", "dd", "wc", "sha256sum", "md5sum", "printf", "echo"):
            found = shutil.which(tool)
            assert found is not None, tool
            (bindir / tool).symlink_to(found)
    return str(bindir)


def _run(argv: tuple[str, ...], path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [f"{path}/{argv[0]}", *argv[1:]],
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("name", ["payload.bin", 'it\'s a "file" $HOME `x`.bin'])
def test_write_payload_and_read_it_back(tools_path: str, tmp_path: Path, name: str) -> None:
    payload = Payload.from_bytes(bytes(range(256)) * 100 + b"\n\0end")
    target = tmp_path / name
    written = _run(probes.write_payload_command(str(target), payload), tools_path)
    assert written.returncode == 0, written.stderr
    assert target.read_bytes() == payload.data
    read = _run(probes.checksum_command(str(target)), tools_path)
    assert read.returncode == 0, read.stderr
    checksum = probes.parse_checksum(read.stdout)
    assert checksum.digest == payload.sha256
    md5 = probes.parse_checksum(
        _run(probes.checksum_command(str(target), "md5"), tools_path).stdout
    )
    assert md5.digest == payload.md5


def test_write_payload_fails_loudly(tools_path: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "payload.bin"
    result = _run(probes.write_payload_command(str(missing), Payload.random(16)), tools_path)
    assert result.returncode != 0
    assert "no-such-dir" in result.stderr
