"""The kinds the simulated API server serves, and how each is addressed.

One table drives routing, discovery, OpenAPI documents, and Table output, so a kind
added here is served consistently everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # e.g. ("status", "scale")
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    categories: tuple[str, ...] = ()
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_version_path(self) -> str:
        """URL prefix: /api/v1 or /apis/apps/v1."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def resource_name(self) -> str:
        """`statefulsets.apps` as used in Status messages; `pods` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


KINDS: tuple[Kind, ...] = (
    Kind(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        ("status", "finalize"),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    ),
    Kind("", "v1", "Node", "nodes", False, ("no",), ("status",)),
    Kind(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        ("status", "log", "exec", "binding", "eviction"),
        categories=("all",),
    ),
    Kind("", "v1", "Service", "services", True, ("svc",), ("status",), categories=("all",)),
    Kind("", "v1", "Endpoints", "endpoints", True, ("ep",), singular="endpoints"),
    Kind("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), ("status",)),
    Kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), ("status",)),
    Kind("", "v1", "Event", "events", True, ("ev",)),
    Kind("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Kind(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        ("status", "scale"),
        categories=("all",),
    ),
    Kind("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    Kind("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
)

BY_PLURAL: dict[tuple[str, str, str], Kind] = {(k.group, k.version, k.plural): k for k in KINDS}
BY_KIND: dict[tuple[str, str], Kind] = {(k.api_version, k.kind): k for k in KINDS}


def lookup(group: str, version: str, plural: str) -> Kind | None:
    return BY_PLURAL.get((group, version, plural))


def of(api_version: str, kind: str) -> Kind:
    """The Kind of an object's apiVersion/kind; KeyError if not served."""
    return BY_KIND[(api_version, kind)]


def group_versions() -> list[tuple[str, str]]:
    """Served (group, version) pairs in a stable order, core first."""
    seen: list[tuple[str, str]] = []
    for k in KINDS:
        if (k.group, k.version) not in seen:
            seen.append((k.group, k.version))
    return seen
