"""A Block volume (volumeMode: Block) is a device node in the container at its devicePath,
the same device the kubelet maps for the pod on the node."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # observe imports deployments, which phrases its failures with checks
    from conformance.observe import BlockViews


def block_device(views: BlockViews) -> list[str]:
    path = views.device_path
    if views.container is None:
        return [f"{views.pod}: nothing is at {path} in the container ({views.container_error})"]
    if not views.container.is_block_device:
        return [
            f"{views.pod}: {path} in the container is a {views.container.type}, not a block device"
        ]
    if views.node_paths is None:
        return []
    mapped = [s for s in views.node_paths if s.is_block_device]
    if not mapped:
        return [
            f"{views.pod} on {views.node}: the kubelet has not mapped {views.pv} for the pod: "
            f"none of {', '.join(views.looked_for)} is a block device on the node"
        ]
    return [
        f"{views.pod}: {path} is device {views.container.major_minor} in the container, but the "
        f"kubelet maps {views.pv} to {node.major_minor} at {node.path} on {views.node}"
        for node in mapped
        if node.major_minor != views.container.major_minor
    ]
