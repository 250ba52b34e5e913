"""Node runtimes: what the kubelet and provisioner drive. ``base`` is the interface,
``memory`` needs no root, ``kernel`` builds real nodes from namespaces and loop devices."""
