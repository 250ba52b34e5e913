"""What the harness deploys: StorageClass, headless Service and StatefulSet manifests,
and the conversion of legacy PetSet manifests (apps/v1alpha1) to apps/v1 StatefulSets.

Pure: every function builds or rewrites plain dicts (the JSON the API server takes);
nothing here talks to a cluster. Every object the harness creates carries the labels
``conformance.io/run`` and ``conformance.io/worker`` so leftovers can be swept by label.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from conformance.inventory import PodManagementPolicy, Storage, VolumeMode, Workload

Manifest = dict[str, Any]

LABEL_RUN = "conformance.io/run"
LABEL_WORKER = "conformance.io/worker"
APP_LABEL = "app"  # selects a set's pods, as in the seed's manifests
HOSTNAME_LABEL = "kubernetes.io/hostname"  # well-known node label: the node's name
CONTAINER_NAME = "workload"
TERMINATION_GRACE_SECONDS = 1
# Keeps the pod running with any image that has a POSIX shell and exits at once on
# SIGTERM (a shell as PID 1 ignores it otherwise). The sleep is the payload, not a wait.
DEFAULT_COMMAND: tuple[str, ...] = (
    "sh",
    "-c",
    "trap 'exit 0' TERM; while true; do sleep 1; done",
)
RETENTION_POLICIES = ("Retain", "Delete")

# Parameter keys for the filesystem of a provisioned volume. The CSI external-provisioner
# refuses a class that carries both (an "fstype" key in any case and the prefixed one), so
# a class gets exactly one: the prefixed key for CSI drivers, the plain one otherwise.
CSI_FSTYPE_KEY = "csi.storage.k8s.io/fstype"
PLAIN_FSTYPE_KEY = "fsType"

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


# --- labels and names ----------------------------------------------------------------------


def labels(run_id: str, worker: str) -> dict[str, str]:
    """The labels every object of one run and one (xdist) worker carries."""
    for key, value in ((LABEL_RUN, run_id), (LABEL_WORKER, worker)):
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            raise ValueError(
                f"{key}={value!r}: a label value must be 1-63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit"
            )
    return {LABEL_RUN: run_id, LABEL_WORKER: worker}


def _name_part(text: str) -> str:
    return _NOT_NAME.sub("-", text.lower()).strip("-")


def storage_class_name(entry: Storage, *, run_id: str, worker: str) -> str:
    """The name of the class the harness creates for ``entry`` in this run and worker.

    StorageClasses are cluster-scoped, so the name carries the run id (parallel runs)
    and the worker (xdist workers of one run each create and delete their own).
    """
    parts = (_name_part(entry.name), _name_part(run_id), _name_part(worker))
    return "-".join(part for part in parts if part)[:253].rstrip("-")


def class_name_for(entry: Storage, *, run_id: str, worker: str) -> str:
    """The storageClassName claims of ``entry`` use: the existing class, or the one we create."""
    if entry.storage_class:
        return entry.storage_class
    return storage_class_name(entry, run_id=run_id, worker=worker)


def is_csi_driver(provisioner: str) -> bool:
    """CSI driver names are DNS subdomains (``ebs.csi.aws.com``); in-tree and other external
    provisioners are ``domain/name`` (``kubernetes.io/aws-ebs``, ``example.com/nfs``)."""
    return "/" not in provisioner


# --- builders ------------------------------------------------------------------------------


def storage_class(entry: Storage, *, run_id: str, worker: str) -> Manifest | None:
    """The StorageClass to create for ``entry``; None when it names an existing class."""
    if entry.storage_class or not entry.provisioner:
        return None
    parameters = dict(entry.parameters)
    if not any(key.lower() == "fstype" or key == CSI_FSTYPE_KEY for key in parameters):
        key = CSI_FSTYPE_KEY if is_csi_driver(entry.provisioner) else PLAIN_FSTYPE_KEY
        parameters[key] = entry.fs_type
    manifest: Manifest = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": storage_class_name(entry, run_id=run_id, worker=worker),
            "labels": labels(run_id, worker),
        },
        "provisioner": entry.provisioner,
        "parameters": parameters,
        "reclaimPolicy": entry.reclaim_policy.value,
        "volumeBindingMode": entry.volume_binding_mode.value,
    }
    if entry.capabilities.expansion:  # claims of the class may then be resized
        manifest["allowVolumeExpansion"] = True
    if entry.allowed_topologies:  # one term: a node must match every key
        expressions = [
            {"key": key, "values": list(values)} for key, values in entry.allowed_topologies.items()
        ]
        manifest["allowedTopologies"] = [{"matchLabelExpressions": expressions}]
    return manifest


def headless_service(
    name: str, app_label: str, labels: Mapping[str, str], *, port: int | None = None
) -> Manifest:
    """A headless Service (clusterIP None) giving each pod of the set its DNS record.

    Without ``port`` it has no ports: DNS records need none, and nothing listens.
    """
    spec: Manifest = {"clusterIP": "None", "selector": {APP_LABEL: app_label}}
    if port is not None:
        spec["ports"] = [{"name": "web", "port": port}]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {**labels, APP_LABEL: app_label}},
        "spec": spec,
    }


def _check_retention(retention: Mapping[str, str]) -> None:
    for key, value in retention.items():
        if key not in ("whenDeleted", "whenScaled"):
            raise ValueError(
                f"persistentVolumeClaimRetentionPolicy: unknown key {key!r} "
                "(whenDeleted, whenScaled)"
            )
        if value not in RETENTION_POLICIES:
            raise ValueError(
                f"persistentVolumeClaimRetentionPolicy.{key}: {value!r} is not Retain or Delete"
            )


def statefulset(
    *,
    name: str,
    service_name: str,
    storage: Storage,
    class_name: str,
    workload: Workload,
    replicas: int,
    policy: PodManagementPolicy,
    labels: Mapping[str, str],
    retention: Mapping[str, str] | None = None,
    claim_template: str | None = None,
    image: str | None = None,
    command: Sequence[str] | None = None,
) -> Manifest:
    """An apps/v1 StatefulSet: one container mounting one claim template at the mount path.

    Pods are selected by ``app=<name>`` and carry ``labels`` too, as do the claims.
    ``command`` defaults to ``DEFAULT_COMMAND``; pass ``[]`` to run the image's own.
    """
    claim = claim_template or workload.claim_template
    selector = {APP_LABEL: name}
    pod_labels = {**labels, **selector}
    container: Manifest = {"name": CONTAINER_NAME, "image": image or workload.image}
    if storage.volume_mode is VolumeMode.BLOCK:  # a raw device node, not a filesystem
        container["volumeDevices"] = [{"name": claim, "devicePath": storage.device_path}]
    else:
        container["volumeMounts"] = [{"name": claim, "mountPath": workload.mount_path}]
    command = DEFAULT_COMMAND if command is None else command
    if command:
        container["command"] = list(command)
    spec: Manifest = {
        "serviceName": service_name,
        "replicas": replicas,
        "podManagementPolicy": policy.value,
        "selector": {"matchLabels": dict(selector)},
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                "containers": [container],
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": claim, "labels": dict(labels)},
                "spec": {
                    "accessModes": [mode.value for mode in storage.access_modes],
                    "resources": {"requests": {"storage": storage.size}},
                    "storageClassName": class_name,
                    "volumeMode": storage.volume_mode.value,
                },
            }
        ],
    }
    if retention is not None:
        _check_retention(retention)
        spec["persistentVolumeClaimRetentionPolicy"] = dict(retention)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": pod_labels},
        "spec": spec,
    }


def claim_pod(
    name: str,
    claim: str,
    *,
    workload: Workload,
    labels: Mapping[str, str],
    avoid_node: str | None = None,
    node: str | None = None,
    device_path: str | None = None,
    image: str | None = None,
) -> Manifest:
    """A plain pod mounting an existing claim at the mount path (or, with ``device_path``,
    a Block claim's device there), kept off ``avoid_node`` or on ``node`` (through the
    scheduler: node affinity, never spec.nodeName): a second pod of a claim, or a tool
    (``image``) beside the pod that has it."""
    container: Manifest = {
        "name": CONTAINER_NAME,
        "image": image or workload.image,
        "command": list(DEFAULT_COMMAND),
    }
    if device_path:
        container["volumeDevices"] = [{"name": "claim", "devicePath": device_path}]
    else:
        container["volumeMounts"] = [{"name": "claim", "mountPath": workload.mount_path}]
    spec: Manifest = {
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "containers": [container],
        "volumes": [{"name": "claim", "persistentVolumeClaim": {"claimName": claim}}],
    }
    if avoid_node or node:
        term = (
            {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}
            if node
            else {"key": HOSTNAME_LABEL, "operator": "NotIn", "values": [avoid_node]}
        )
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [term]}]
                }
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": spec,
    }


# --- legacy PetSet conversion ----------------------------------------------------------------

INITIALIZED_ANNOTATION = "pod.alpha.kubernetes.io/initialized"
ALPHA_CLASS_ANNOTATION = "volume.alpha.kubernetes.io/storage-class"
INIT_CONTAINER_ANNOTATIONS = (
    "pod.alpha.kubernetes.io/init-containers",
    "pod.beta.kubernetes.io/init-containers",
)
# strconv.ParseBool's false spellings: the PetSet controller treated these as "not yet
# initialized" and waited; anything it could not parse was ignored (as if absent).
_GO_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


class ConversionError(ValueError):
    """A manifest that cannot be converted; the message is one line, naming the field."""


def _mapping(value: Any, path: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        what = "is required" if value is None else "must be a mapping"
        raise ConversionError(f"{path} {what}")
    return value


def _with_key_before(mapping: dict[str, Any], key: str, value: Any, before: str) -> dict[str, Any]:
    """A copy of ``mapping`` with ``key`` inserted just before ``before`` (for readable YAML)."""
    result: dict[str, Any] = {}
    for existing, item in mapping.items():
        if existing == before:
            result[key] = value
        result[existing] = item
    result.setdefault(key, value)
    return result


def _drop_annotation(meta: dict[str, Any], key: str) -> None:
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(key, None)
        if not annotations:
            del meta["annotations"]


def _convert_selector(spec: dict[str, Any], template_meta: dict[str, Any]) -> tuple[Any, str]:
    template_labels = template_meta.get("labels")
    selector = spec.get("selector")
    if selector is not None:
        match = _mapping(selector, "spec.selector").get("matchLabels") or {}
        have = template_labels if isinstance(template_labels, dict) else {}
        if any(have.get(k) != v for k, v in dict(match).items()):
            raise ConversionError(
                "spec.selector.matchLabels does not match spec.template.metadata.labels"
            )
        return selector, ""
    if not isinstance(template_labels, dict) or not template_labels:
        raise ConversionError(
            "spec.template.metadata.labels is required: apps/v1 needs spec.selector, "
            "which the PetSet defaulted from those labels"
        )
    text = ",".join(f"{k}={v}" for k, v in template_labels.items())
    warning = f"spec.selector added from spec.template.metadata.labels ({text})"
    return {"matchLabels": dict(template_labels)}, warning


def _convert_initialized(template_meta: dict[str, Any], replicas: Any) -> str:
    annotations = template_meta.get("annotations")
    if not isinstance(annotations, dict) or INITIALIZED_ANNOTATION not in annotations:
        return ""
    value = str(annotations[INITIALIZED_ANNOTATION])
    _drop_annotation(template_meta, INITIALIZED_ANNOTATION)
    if value in _GO_FALSE:
        return (
            f'{INITIALIZED_ANNOTATION} annotation "{value}" dropped from the pod template: '
            "it paused the PetSet (each pet waited to be marked initialized, so the set "
            "stopped after its first pet); apps/v1 has no such pause, so the StatefulSet "
            f"creates all {replicas} replicas in order (OrderedReady): scale spec.replicas "
            "to hold it back"
        )
    return (
        f"{INITIALIZED_ANNOTATION} annotation dropped from the pod template "
        "(the OrderedReady pod management policy replaces it)"
    )


def _convert_init_containers(template: dict[str, Any], template_meta: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    annotations = template_meta.get("annotations")
    if not isinstance(annotations, dict):
        return warnings
    pod_spec = _mapping(template.get("spec"), "spec.template.spec")
    for key in [key for key in INIT_CONTAINER_ANNOTATIONS if key in annotations]:
        raw = annotations[key]
        try:
            containers = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise ConversionError(f"{key} annotation is not JSON: {exc}") from None
        if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
            raise ConversionError(f"{key} annotation must be a JSON list of containers")
        _drop_annotation(template_meta, key)
        if pod_spec.get("initContainers"):
            warnings.append(
                f"{key} annotation dropped from the pod template: spec.initContainers is "
                "already set and took precedence"
            )
        else:
            pod_spec["initContainers"] = containers
            warnings.append(
                f"{key} annotation moved to spec.template.spec.initContainers "
                "(the annotation is ignored since Kubernetes 1.8)"
            )
    return warnings


def _convert_claim_templates(spec: dict[str, Any]) -> list[str]:
    warnings: list[str] = []
    templates = spec.get("volumeClaimTemplates")
    if templates is None:
        return warnings
    if not isinstance(templates, list):
        raise ConversionError("spec.volumeClaimTemplates must be a list")
    for index, claim in enumerate(templates):
        path = f"spec.volumeClaimTemplates[{index}]"
        meta = _mapping(_mapping(claim, path).get("metadata"), f"{path}.metadata")
        annotations = meta.get("annotations")
        if not isinstance(annotations, dict) or ALPHA_CLASS_ANNOTATION not in annotations:
            continue
        _drop_annotation(meta, ALPHA_CLASS_ANNOTATION)
        name = meta.get("name", f"#{index}")
        claim_spec = claim.get("spec")
        if isinstance(claim_spec, dict) and claim_spec.get("storageClassName") is not None:
            outcome = f"the claim keeps its storageClassName {claim_spec['storageClassName']!r}"
        else:
            outcome = (
                "so the claim gets no storageClassName and the cluster's default class applies"
            )
        warnings.append(
            f"{ALPHA_CLASS_ANNOTATION} annotation on claim template {name} dropped: it meant "
            "'provision with the default class' whatever its value (ignored since "
            f"Kubernetes 1.6), {outcome}"
        )
    return warnings


def is_petset(manifest: Mapping[str, Any]) -> bool:
    return manifest.get("kind") == "PetSet"


def convert_petset(manifest: Mapping[str, Any]) -> tuple[Manifest, list[str]]:
    """An apps/v1 StatefulSet equivalent to a legacy PetSet, and one warning per translated
    field. Everything not listed in the warnings is kept as it was; ``manifest`` is not
    modified.

    - apiVersion (apps/v1alpha1) becomes apps/v1, kind PetSet becomes StatefulSet;
    - spec.selector, which the PetSet defaulted, is written out from the template labels;
    - ``pod.alpha.kubernetes.io/initialized`` is dropped: OrderedReady (the apps/v1
      default) gives the ordering it controlled. When it was "false" the PetSet was
      paused; apps/v1 has no pause, the replicas are kept and the warning says so;
    - ``volume.alpha.kubernetes.io/storage-class`` on a claim template is dropped and no
      storageClassName is set: whatever its value, it meant "the default class";
    - the init-containers annotations of that era move to spec.initContainers.
    """
    if not isinstance(manifest, Mapping) or not is_petset(manifest):
        raise ConversionError("not a PetSet (kind: PetSet)")
    result: Manifest = copy.deepcopy(dict(manifest))
    warnings: list[str] = []

    api_version = result.get("apiVersion")
    if api_version != "apps/v1":
        warnings.append(f"apiVersion {api_version} -> apps/v1")
        result["apiVersion"] = "apps/v1"
    warnings.append("kind PetSet -> StatefulSet")
    result["kind"] = "StatefulSet"

    spec = _mapping(result.get("spec"), "spec")
    template = _mapping(spec.get("template"), "spec.template")
    template_meta = _mapping(template.get("metadata"), "spec.template.metadata", required=False)
    _mapping(template.get("spec"), "spec.template.spec")

    selector, selector_warning = _convert_selector(spec, template_meta)
    if selector_warning:
        spec = _with_key_before(spec, "selector", selector, before="template")
        result["spec"] = spec
        warnings.append(selector_warning)

    initialized = _convert_initialized(template_meta, spec.get("replicas", 1))
    if initialized:
        warnings.append(initialized)
    warnings.extend(_convert_init_containers(template, template_meta))
    warnings.extend(_convert_claim_templates(spec))
    return result, list(dict.fromkeys(warnings))


# --- multi-document YAML -------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, so passed-through documents keep
    values such as ``creationTimestamp: 2016-10-01T12:00:00Z`` exactly."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _describe(document: Mapping[str, Any]) -> str:
    meta = document.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{document.get('kind')} {name or '(unnamed)'}"


def convert_documents(text: str) -> tuple[str, list[str]]:
    """Convert every PetSet in multi-document YAML; other objects (the Service) pass through.

    Returns the documents as YAML separated by ``---`` and the warnings, each prefixed
    with the object it concerns and given once. Raises ConversionError (one line) for
    invalid YAML, a document that is not a Kubernetes object, or an unconvertible PetSet.
    """
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConversionError(f"not valid YAML{where}: {problem}") from None
    output: list[str] = []
    warnings: list[str] = []
    for index, document in enumerate(documents, start=1):
        if document is None:
            continue
        if not isinstance(document, dict) or not all(
            isinstance(document.get(key), str) and document.get(key)
            for key in ("apiVersion", "kind")
        ):
            raise ConversionError(
                f"document {index} is not a Kubernetes object (a mapping with apiVersion and kind)"
            )
        if is_petset(document):
            try:
                converted, found = convert_petset(document)
            except ConversionError as exc:
                raise ConversionError(f"document {index} ({_describe(document)}): {exc}") from None
            warnings.extend(f"{_describe(document)}: {warning}" for warning in found)
            document = converted
        output.append(
            yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
        )
    if not output:
        raise ConversionError("no Kubernetes objects in the input")
    return "---\n".join(output), list(dict.fromkeys(warnings))


__all__ = [
    "ALPHA_CLASS_ANNOTATION",
    "APP_LABEL",
    "CONTAINER_NAME",
    "DEFAULT_COMMAND",
    "INITIALIZED_ANNOTATION",
    "LABEL_RUN",
    "LABEL_WORKER",
    "ConversionError",
    "Manifest",
    "class_name_for",
    "convert_documents",
    "convert_petset",
    "headless_service",
    "is_csi_driver",
    "labels",
    "statefulset",
    "storage_class",
    "storage_class_name",
]
