"""Defaulting of storage.k8s.io/v1 kinds (pkg/apis/storage/v1/defaults.go): StorageClass."""

from __future__ import annotations

from conformance.sim.api.unstructured import Obj, set_default


def default_storage_class(obj: Obj) -> None:
    """SetDefaults_StorageClass: reclaim Delete, binding Immediate."""
    set_default(obj, "reclaimPolicy", "Delete")
    set_default(obj, "volumeBindingMode", "Immediate")
