#!/usr/bin/env bash
# Regenerates the captures in this directory: real lsscsi, findmnt, mount, cat
# /proc/self/mountinfo, hostname, getent, sha256sum/md5sum (coreutils and busybox) run in a
# throw-away "node": a private mount+UTS namespace chrooted into a tmpfs root (read-only
# /usr bound in, its own /dev and /etc), with a synthesized SCSI sysfs bound at /sys the way
# conformance/sim/kernel/devices.py makes one, two loop-device volumes (xfs, ext4) mounted at
# kubelet paths (flexvolume datera~iscsi; CSI staged + bind-mounted), tmpfs mounts at
# directories whose names hold a space, a tab, a newline and a backslash, and two "pods"
# (nested mount+UTS namespaces, each its own root, the volume bound at /data).
#
# Needs root, util-linux, lsscsi, xfsprogs, e2fsprogs, busybox, python3 (repo importable).
# Run from anywhere:  sudo bash tests/data/local-node/capture.sh
# Everything it makes (namespaces, loop devices, temp files) is gone when it exits.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
W=$(mktemp -d /tmp/probes-capture.XXXXXX)
LOOPS=()
cleanup() {
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT

DATE=$(date -u +%Y-%m-%d)
TOOLS="lsscsi $(lsscsi -V 2>&1 | awk '{print $2}'), $(findmnt -V), \
$(getent --version | head -1), coreutils $(sha256sum --version | head -1 | awk '{print $NF}'), \
$(busybox | head -1 | awk '{print $1, $2}'), Linux $(uname -r)"
export DATE TOOLS HERE W REPO

# two volumes: xfs (pv-datera-0, flexvolume) and ext4 (a CSI PV)
truncate -s 300M "$W/pv0.img"
truncate -s 64M "$W/pv1.img"
L0=$(losetup -f --show "$W/pv0.img"); LOOPS+=("$L0")
L1=$(losetup -f --show "$W/pv1.img"); LOOPS+=("$L1")
mkfs.xfs -q -f "$L0"
mkfs.ext4 -q -F "$L1"
devnum() { printf '%d %d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"; }
read -r MAJ0 MIN0 <<<"$(devnum "$L0")"
read -r MAJ1 MIN1 <<<"$(devnum "$L1")"
export MAJ0 MIN0 MAJ1 MIN1

# the SCSI sysfs: root disk sda (ATA, 0:0:0:0), sdb/sdc (DATERA IBLOCK over iSCSI, the
# volumes), sdaa (SAS, a 9-character /dev name: lsscsi glues "[65:160]" to it) and sdd
# (LIO-ORG "TCMU device", no /dev node: lsscsi prints "-", no transport: blank with -t)
PYTHONPATH="$REPO" python3 - "$W/sys" <<'EOF'
import os
import sys
from pathlib import Path

from conformance.sim.kernel import devices as d

sys_dir = Path(sys.argv[1])
maj0, min0, maj1, min1 = (int(os.environ[k]) for k in ("MAJ0", "MIN0", "MAJ1", "MIN1"))
disks = [
    ("0:0:0:0", "sda", 8, 0, 100 * 1024**3, d.ScsiIdentity("ATA", "QEMU HARDDISK", "2.5+"), "ahci"),
    ("11:0:0:0", "sdb", maj0, min0, 300 * 1024**2, d.ScsiIdentity("DATERA", "IBLOCK", "4.0"), "iscsi_tcp"),
    ("12:0:0:0", "sdc", maj1, min1, 64 * 1024**2, d.ScsiIdentity("DATERA", "IBLOCK", "4.0"), "iscsi_tcp"),
    ("13:0:0:0", "sdaa", 65, 160, 4000787030016, d.ScsiIdentity("SEAGATE", "ST4000NM0023", "0004"), "mpt3sas"),
    ("14:0:0:0", "sdd", 8, 48, 1024**3, d.ScsiIdentity("LIO-ORG", "TCMU device", "0002"), "tcm_loop"),
]
for hctl, name, major, minor, size, identity, proc_name in disks:
    d._synthesize(sys_dir, hctl, name, major, minor, size, identity, proc_name=proc_name, serial=name)

def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)

# iSCSI sessions for hosts 11 and 12 (lsscsi -t: "<targetname>,t,0x<tpgt>")
for host, session, target in ((11, 1, "pv-datera-0"), (12, 2, "pvc-1b4e28ba")):
    link = sys_dir / f"class/iscsi_host/host{host}/device"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(sys_dir / f"devices/platform/host{host}", link.parent))
    iqn = f"iqn.2013-05.com.daterainc:tc:01:sn:{target}"
    write(sys_dir / f"class/iscsi_session/session{session}/targetname", iqn + "\n")
    write(sys_dir / f"class/iscsi_session/session{session}/tpgt", "1\n")
# SAS for host 13 (lsscsi -t: "sas:<sas_address>")
(sys_dir / "class/sas_host/host13").mkdir(parents=True)
write(sys_dir / "class/sas_device/session3/sas_address", "0x5000c5008e1b2f41\n")
EOF

unshare -m -u --propagation private bash -s <<'NODE'
set -euo pipefail
R=$W/root
mkdir -p "$R"
mount -t tmpfs -o mode=755 node-root "$R"
mkdir -p "$R"/{usr,etc,proc,sys,dev,tmp,var/lib/kubelet,mnt}
mount --bind /usr "$R/usr"
mount -o remount,bind,ro "$R/usr"
for l in bin sbin lib lib64; do [ -L "/$l" ] && ln -s "usr/$l" "$R/$l"; done
cp /etc/passwd /etc/group /etc/ld.so.cache "$R/etc/"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$R/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n10.251.0.11\ttlx243\n' > "$R/etc/hosts"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 660 "$R/dev/sda" b 8 0
mknod -m 660 "$R/dev/sdb" b "$MAJ0" "$MIN0"
mknod -m 660 "$R/dev/sdc" b "$MAJ1" "$MIN1"
mknod -m 660 "$R/dev/sdaa" b 65 160
mount --bind "$W/sys" "$R/sys"
mount -t proc proc "$R/proc"
hostname tlx243

U0=6b99bd2a-628e-11e6-8463-0cc47ab41442
U1=a8f0e9c4-3b1d-4e55-9f2a-6c7d8e9f0a1b
PVC=pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427
HANDLE=$(printf %s "$PVC" | sha256sum | cut -d' ' -f1)
FLEX=/var/lib/kubelet/pods/$U0/volumes/datera~iscsi/pv-datera-0
GLOBAL=/var/lib/kubelet/plugins/kubernetes.io/csi/dsp.csi.daterainc.io/$HANDLE/globalmount
CSI=/var/lib/kubelet/pods/$U1/volumes/kubernetes.io~csi/$PVC/mount
# as on a real node, /var/lib/kubelet is a shared mount (shared:N in mountinfo)
mount --bind "$R/var/lib/kubelet" "$R/var/lib/kubelet"
mount --make-rshared "$R/var/lib/kubelet"
chroot "$R" /bin/sh -ec "
  mkdir -p '$FLEX' '$GLOBAL' '$CSI' /var/lib/kubelet/pods/$U0/etc-hosts.d
  mount -t xfs /dev/sdb '$FLEX'
  mount -t ext4 /dev/sdc '$GLOBAL'
  mount --bind '$GLOBAL' '$CSI'
  mkdir -p '/mnt/with space' \"\$(printf '/mnt/tab\\there')\" \"\$(printf '/mnt/new\\nline')\" '/mnt/back\\slash'
  mount -t tmpfs 'scratch space' '/mnt/with space'
  mount -t tmpfs tmpfs \"\$(printf '/mnt/tab\\there')\"
  mount -t tmpfs tmpfs \"\$(printf '/mnt/new\\nline')\"
  mount -t tmpfs tmpfs '/mnt/back\\slash'
"

# cap NAME DESCRIPTION ROOT CMD...: run CMD chrooted into ROOT, keep stdout as NAME.txt
# and write NAME.origin (command, exit code, where, date, tool versions)
cap() {
    local name=$1 where=$2 root=$3 rc=0
    shift 3
    chroot "$root" "$@" > "$HERE/$name.txt" 2> "$W/stderr" || rc=$?
    {
        printf 'command: %s\n' "${LABEL:-$*}"
        printf 'exit code: %s\n' "$rc"
        [ -s "$W/stderr" ] && printf 'stderr: %s\n' "$(tr '\n' ' ' < "$W/stderr")"
        printf 'where: %s\n' "$where"
        printf 'made by: tests/data/local-node/capture.sh (real tools; synthesized sysfs, loop-device volumes)\n'
        printf 'date: %s\n' "$DATE"
        printf 'tools: %s\n' "$TOOLS"
    } > "$HERE/$name.origin"
}
NODEWHERE="node tlx243: tmpfs root in a private mount+UTS namespace, SCSI sysfs bound at /sys"
cap node-lsscsi "$NODEWHERE" "$R" lsscsi
cap node-lsscsi-d "$NODEWHERE" "$R" lsscsi -d
cap node-lsscsi-s "$NODEWHERE" "$R" lsscsi -s
cap node-lsscsi-t "$NODEWHERE" "$R" lsscsi -t
cap node-lsscsi-dst "$NODEWHERE" "$R" lsscsi -d -s -t
cap node-mountinfo "$NODEWHERE" "$R" cat /proc/self/mountinfo
cap node-findmnt-J "$NODEWHERE" "$R" findmnt -J
cap node-findmnt-J-majmin "$NODEWHERE" "$R" findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN
cap node-findmnt-J-mountpoint-missing "$NODEWHERE" "$R" findmnt -J -o TARGET,SOURCE,FSTYPE,OPTIONS,MAJ:MIN --mountpoint /data
cap node-mount "$NODEWHERE" "$R" mount
cap node-busybox-mount "$NODEWHERE" "$R" busybox mount
cap node-hostname "$NODEWHERE" "$R" hostname

# pod NAME UID VOLUME-PATH [ro]: a container root for NAME with the kubelet path bound at
# /data, kubelet-style /etc/hosts, then the captures of that container's view
pod() {
    local name=$1 uid=$2 volume=$3 mode=${4:-rw}
    export name uid volume mode
    unshare -m -u --propagation slave bash -s <<'POD'
set -euo pipefail
P=$R/tmp/pods/$name
mkdir -p "$P"
mount -t tmpfs -o mode=755 "pod-$name" "$P"
mkdir -p "$P"/{usr,etc,proc,dev,data,tmp}
mount --bind /usr "$P/usr"
mount -o remount,bind,ro "$P/usr"
for l in bin sbin lib lib64; do [ -L "/$l" ] && ln -s "usr/$l" "$P/$l"; done
cp /etc/passwd /etc/group /etc/ld.so.cache "$P/etc/"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$P/etc/nsswitch.conf"
mknod -m 666 "$P/dev/null" c 1 3
hosts=$R/var/lib/kubelet/pods/$uid/etc-hosts
printf '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.244.1.5\t%s.web.default.svc.cluster.local\t%s\n' "$name" "$name" > "$hosts"
touch "$P/etc/hosts"
mount --bind "$hosts" "$P/etc/hosts"
mount --bind "$R$volume" "$P/data"
[ "$mode" = ro ] && mount -o remount,bind,ro "$P/data"
mount -t proc proc "$P/proc"
hostname "$name"
WHERE="container $name (pod $uid): own tmpfs root in a nested mount+UTS namespace, /data bound from $volume ($mode)"
cap "$name-mountinfo" "$WHERE" "$P" cat /proc/self/mountinfo
cap "$name-mount" "$WHERE" "$P" mount
cap "$name-findmnt-J" "$WHERE" "$P" findmnt -J
cap "$name-hostname" "$WHERE" "$P" hostname
cap "$name-getent-hosts" "$WHERE" "$P" getent hosts "$name.web.default.svc.cluster.local"
cap "$name-getent-hosts-localhost" "$WHERE" "$P" getent hosts localhost
cap "$name-getent-hosts-missing" "$WHERE" "$P" getent hosts web-9.web.default.svc.cluster.local
if [ "$mode" = rw ]; then
    # the payload probe, run for real with the coreutils and the busybox tools
    cmd=$(cd "$REPO" && python3 -c 'import shlex; from conformance import probes as p; print(p.write_payload_command("/data/payload.bin", p.Payload.from_bytes(bytes(range(256)) * 16))[2])')
    LABEL="sh -c <write_payload_command script for bytes(range(256)) * 16> sh /data/payload.bin" \
        cap "$name-write-payload" "$WHERE" "$P" sh -c "$cmd" sh /data/payload.bin
    cap "$name-sha256sum" "$WHERE" "$P" sha256sum /data/payload.bin
    cap "$name-md5sum" "$WHERE" "$P" md5sum /data/payload.bin
    # busybox alone: its applets first on PATH, its sh running the same script
    mkdir "$P/bb"
    chroot "$P" /usr/bin/busybox --install -s /bb
    LABEL="PATH=/bb busybox sh -c <the same script> sh /data/busybox.bin" \
        cap "$name-busybox-write-payload" "$WHERE" "$P" /usr/bin/env PATH=/bb /bb/sh -c "$cmd" sh /data/busybox.bin
    cap "$name-busybox-sha256sum" "$WHERE" "$P" /bb/sha256sum /data/busybox.bin
    cap "$name-busybox-md5sum" "$WHERE" "$P" /bb/md5sum /data/busybox.bin
    printf x > "$P/data/back\\slash"
    cap "$name-sha256sum-escaped" "$WHERE" "$P" sha256sum '/data/back\slash'
fi
POD
}
export -f cap
export R REPO NODEWHERE
pod web-0 "$U0" "$FLEX"
pod web-1 "$U1" "$CSI" ro
NODE
echo "captured into $HERE"
