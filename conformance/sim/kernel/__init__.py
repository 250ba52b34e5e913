"""Kernel-backed nodes: namespaces with a real sshd, loop-device disks, pods, exec."""
