"""Validation of core/v1 kinds (pkg/apis/core/validation): Pods and pod templates'
containers, PersistentVolumeClaims, PersistentVolumes, Services and ConfigMaps."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from conformance.sim.api.defaulting.core import PERSISTENT_VOLUME_SOURCES, VOLUME_SOURCES
from conformance.sim.api.quantity import maybe_quantity
from conformance.sim.api.unstructured import Obj, as_dict, as_str, child, dicts
from conformance.sim.api.validation.field import (
    Cause,
    GoRepr,
    field_duplicate,
    field_forbidden,
    field_invalid,
    field_not_found,
    field_not_supported,
    field_required,
)
from conformance.sim.api.validation.meta import (
    IMMUTABLE,
    nonnegative,
    quantity_causes,
    semantic,
    spec_diff,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)
from conformance.sim.api.validation.names import (
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
)

PROTOCOLS = ("SCTP", "TCP", "UDP")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")


def _validate_container_ports(ports: object, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(dicts(ports)):
        ppath = f"{path}[{i}]"
        name = as_str(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                causes.extend(field_invalid(f"{ppath}.name", name, msg) for msg in msgs)
            elif name in names:
                causes.append(field_duplicate(f"{ppath}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            causes.append(field_required(f"{ppath}.containerPort"))
        else:
            causes.extend(
                field_invalid(f"{ppath}.containerPort", container_port, msg)
                for msg in is_valid_port_num(container_port)
            )
        protocol = as_str(port.get("protocol"))
        if not protocol:
            causes.append(field_required(f"{ppath}.protocol"))
        elif protocol not in PROTOCOLS:
            causes.append(field_not_supported(f"{ppath}.protocol", protocol, PROTOCOLS))
    return causes


def _by_name(items: object, key: str) -> dict[str, str]:
    """GetVolumeMountMap / GetVolumeDeviceMap: name -> mountPath or devicePath."""
    return {as_str(item.get("name")): as_str(item.get(key)) for item in dicts(items)}


def _validate_volume_mounts(
    mounts: object, devices: Mapping[str, str], volumes: Mapping[str, Obj] | None, path: str
) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, mount in enumerate(dicts(mounts)):
        mpath = f"{path}[{i}]"
        name = as_str(mount.get("name"))
        if not name:
            causes.append(field_required(f"{mpath}.name"))
        if volumes is not None and name not in volumes:
            causes.append(field_not_found(f"{mpath}.name", name))
        mount_path = as_str(mount.get("mountPath"))
        if not mount_path:
            causes.append(field_required(f"{mpath}.mountPath"))
        elif mount_path in seen:
            causes.append(field_invalid(f"{mpath}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
        if name in devices:  # a volume is a filesystem or a device in a container, not both
            causes.append(
                field_invalid(f"{mpath}.name", name, "must not already exist in volumeDevices")
            )
        if mount_path in devices.values():
            causes.append(
                field_invalid(
                    f"{mpath}.mountPath",
                    mount_path,
                    "must not already exist as a path in volumeDevices",
                )
            )
    return causes


def _validate_volume_devices(
    devices: object, mounts: Mapping[str, str], volumes: Mapping[str, Obj] | None, path: str
) -> list[Cause]:
    """ValidateVolumeDevices: each names a claim (PVC or ephemeral) volume of the pod, at
    a unique devicePath without backsteps, and no volumeMount uses its name or path."""
    causes: list[Cause] = []
    names: set[str] = set()
    paths: set[str] = set()
    for i, device in enumerate(dicts(devices)):
        dpath = f"{path}[{i}]"
        name = as_str(device.get("name"))
        device_path = as_str(device.get("devicePath"))
        if not name:
            causes.append(field_required(f"{dpath}.name"))
        if name in names:
            causes.append(field_invalid(f"{dpath}.name", name, "must be unique"))
        if volumes is not None:
            volume = volumes.get(name)
            if volume is None:
                causes.append(field_not_found(f"{dpath}.name", name))
            elif volume.get("persistentVolumeClaim") is None and volume.get("ephemeral") is None:
                causes.append(
                    field_invalid(
                        f"{dpath}.name",
                        name,
                        "can only use volume source type of PersistentVolumeClaim or "
                        "Ephemeral for block mode",
                    )
                )
        if not device_path:
            causes.append(field_required(f"{dpath}.devicePath"))
        if device_path in paths:
            causes.append(field_invalid(f"{dpath}.devicePath", device_path, "must be unique"))
        if device_path and ".." in device_path.split("/"):
            backsteps = "can not contain backsteps ('..')"
            causes.append(field_invalid(f"{dpath}.devicePath", device_path, backsteps))
        else:
            paths.add(device_path)
        if name in mounts:
            causes.append(
                field_invalid(f"{dpath}.name", name, "must not already exist in volumeMounts")
            )
        if device_path in mounts.values():
            causes.append(
                field_invalid(
                    f"{dpath}.devicePath",
                    device_path,
                    "must not already exist as a path in volumeMounts",
                )
            )
        if name:
            names.add(name)
    return causes


def validate_containers(
    containers: object,
    path: str,
    volumes: Mapping[str, Obj] | None,
    *,
    full: bool,
    required: bool,
) -> list[Cause]:
    """validateContainers: each needs a DNS-label name unique in the list and an image.

    ``full`` adds what only the Pod validation checks (ports, mounts, enums);
    ``volumes`` (the pod's, by name) None skips the mount-to-volume checks.
    """
    causes: list[Cause] = []
    items = list(dicts(containers))
    if not items and required:
        causes.append(field_required(path))
    names: set[str] = set()
    for i, c in enumerate(items):
        cpath = f"{path}[{i}]"
        name = as_str(c.get("name"))
        if not name:
            causes.append(field_required(f"{cpath}.name"))
        else:
            causes.extend(field_invalid(f"{cpath}.name", name, m) for m in is_dns1123_label(name))
        if not as_str(c.get("image")):
            causes.append(field_required(f"{cpath}.image"))
        if full:
            policy = as_str(c.get("terminationMessagePolicy"))
            if not policy:
                causes.append(field_required(f"{cpath}.terminationMessagePolicy"))
            elif policy not in _TERMINATION_MESSAGE_POLICIES:
                causes.append(
                    field_not_supported(
                        f"{cpath}.terminationMessagePolicy", policy, _TERMINATION_MESSAGE_POLICIES
                    )
                )
            causes.extend(_validate_container_ports(c.get("ports"), f"{cpath}.ports"))
            mounts = _by_name(c.get("volumeMounts"), "mountPath")
            devices = _by_name(c.get("volumeDevices"), "devicePath")
            causes.extend(
                _validate_volume_mounts(
                    c.get("volumeMounts"), devices, volumes, f"{cpath}.volumeMounts"
                )
            )
            causes.extend(
                _validate_volume_devices(
                    c.get("volumeDevices"), mounts, volumes, f"{cpath}.volumeDevices"
                )
            )
            pull = as_str(c.get("imagePullPolicy"))
            if not pull:
                causes.append(field_required(f"{cpath}.imagePullPolicy"))
            elif pull not in _PULL_POLICIES:
                causes.append(field_not_supported(f"{cpath}.imagePullPolicy", pull, _PULL_POLICIES))
        if name and name in names:
            causes.append(field_duplicate(f"{cpath}.name", name))
        elif name:
            names.add(name)
    return causes


def _validate_volumes(volumes: object, path: str) -> tuple[dict[str, Obj], list[Cause]]:
    causes: list[Cause] = []
    names: dict[str, Obj] = {}
    for i, volume in enumerate(dicts(volumes)):
        vpath = f"{path}[{i}]"
        errs: list[Cause] = []
        name = as_str(volume.get("name"))
        if not name:
            errs.append(field_required(f"{vpath}.name"))
        else:
            errs.extend(field_invalid(f"{vpath}.name", name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(field_duplicate(f"{vpath}.name", name))
        sources = [key for key in VOLUME_SOURCES if volume.get(key) is not None]
        if not sources:
            errs.append(field_required(vpath, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(
                field_forbidden(f"{vpath}.{extra}", "may not specify more than 1 volume type")
            )
        claim = volume.get("persistentVolumeClaim")
        if isinstance(claim, dict) and not as_str(claim.get("claimName")):
            errs.append(field_required(f"{vpath}.persistentVolumeClaim.claimName"))
        if errs:
            causes.extend(errs)
        else:
            names[name] = volume
    return names, causes


def _validate_pod_spec(spec: Mapping[str, Any], path: str) -> list[Cause]:
    volumes, causes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    causes.extend(
        validate_containers(
            spec.get("initContainers"), f"{path}.initContainers", volumes, full=True, required=False
        )
    )
    causes.extend(
        validate_containers(
            spec.get("containers"), f"{path}.containers", volumes, full=True, required=True
        )
    )
    restart = as_str(spec.get("restartPolicy"))
    if not restart:
        causes.append(field_required(f"{path}.restartPolicy"))
    elif restart not in _RESTART_POLICIES:
        causes.append(field_not_supported(f"{path}.restartPolicy", restart, _RESTART_POLICIES))
    dns = as_str(spec.get("dnsPolicy"))
    if not dns:
        causes.append(field_required(f"{path}.dnsPolicy"))
    elif dns not in _DNS_POLICIES:
        causes.append(field_not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES))
    causes.extend(
        nonnegative(
            spec.get("terminationGracePeriodSeconds"), f"{path}.terminationGracePeriodSeconds"
        )
    )
    causes.extend(validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector"))
    return causes


POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _mask_pod_spec(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> Obj:
    masked = copy.deepcopy(dict(spec))
    for key in ("containers", "initContainers"):
        for c in dicts(masked.get(key)):
            c.pop("image", None)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        masked.pop(key, None)
    if not old_spec.get("nodeName"):
        masked.pop("nodeName", None)  # binding (pods/binding) sets it once
    masked.pop("schedulingGates", None)  # gates may only be removed
    return masked


def validate_pod(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidatePodCreate / ValidatePodUpdate (only images and a few fields may change)."""
    spec = as_dict(obj.get("spec"))
    if old is not None:
        causes = validate_object_meta_update(obj, old)
        causes.extend(_validate_pod_spec(spec, "spec"))
        old_spec = as_dict(old.get("spec"))
        new_masked, old_masked = _mask_pod_spec(spec, old_spec), _mask_pod_spec(old_spec, old_spec)
        if semantic(new_masked) != semantic(old_masked):
            diff = spec_diff("core.PodSpec", old_masked, new_masked)
            causes.append(field_forbidden("spec", f"{POD_UPDATE_FORBIDDEN}\n{diff}"))
        return causes
    causes = validate_object_meta(obj, is_dns1123_subdomain)
    causes.extend(_validate_pod_spec(spec, "spec"))
    return causes


ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_PV_RECLAIM = ("Delete", "Recycle", "Retain")
PVC_UPDATE_FORBIDDEN = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)


def _validate_access_modes(modes: object, path: str, detail: str) -> list[Cause]:
    causes: list[Cause] = []
    items = modes if isinstance(modes, list) else []
    if not items:
        causes.append(field_required(path, detail))
    rwop = other = False
    for mode in items:
        if mode not in ACCESS_MODES:
            causes.append(field_not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        causes.append(field_forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _validate_pvc_spec(spec: Mapping[str, Any], path: str) -> list[Cause]:
    causes = _validate_access_modes(
        spec.get("accessModes"), f"{path}.accessModes", "at least 1 access mode is required"
    )
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes.extend(validate_label_selector(selector, f"{path}.selector"))
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    storage_path = f"{path}.resources[storage]"
    if requests.get("storage") is None:
        causes.append(field_required(storage_path))
    else:
        causes.extend(quantity_causes(requests["storage"], storage_path))
    class_name = as_str(spec.get("storageClassName"))
    if class_name:
        causes.extend(
            field_invalid(f"{path}.storageClassName", class_name, msg)
            for msg in is_dns1123_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        causes.append(field_not_supported(f"{path}.volumeMode", mode, _VOLUME_MODES))
    return causes


def _storage_of(resources: object, key: str) -> Fraction | None:
    return maybe_quantity(as_dict(resources).get(key))


def validate_pvc(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidatePersistentVolumeClaim(Update): spec immutable but for size on bound claims."""
    spec = as_dict(obj.get("spec"))
    causes = validate_object_meta(obj, is_dns1123_subdomain)
    if old is not None:
        causes = validate_object_meta_update(obj, old) + causes
    causes.extend(_validate_pvc_spec(spec, "spec"))
    if old is None:
        return causes
    old_spec = as_dict(old.get("spec"))
    new_clone, old_clone = copy.deepcopy(spec), copy.deepcopy(old_spec)
    if not old_spec.get("volumeName"):
        old_clone.pop("volumeName", None)  # the binder sets volumeName once
        new_clone.pop("volumeName", None)
    if old_spec.get("storageClassName") is None and spec.get("storageClassName"):
        new_clone.pop("storageClassName", None)  # retroactive default storage class
    bound = as_dict(old.get("status")).get("phase") == "Bound"
    if bound:
        new_requests = as_dict(as_dict(new_clone.get("resources")).get("requests"))
        old_storage = as_dict(as_dict(old_spec.get("resources")).get("requests")).get("storage")
        if "storage" in new_requests or old_storage is not None:
            new_requests["storage"] = old_storage
            child(new_clone, "resources")["requests"] = new_requests
        if new_clone.get("volumeAttributesClassName") is not None:
            new_clone["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    if semantic(new_clone) != semantic(old_clone):
        diff = spec_diff("core.PersistentVolumeClaimSpec", old_clone, new_clone)
        causes.append(field_forbidden("spec", f"{PVC_UPDATE_FORBIDDEN}\n{diff}"))
    new_size = _storage_of(as_dict(spec.get("resources")).get("requests"), "storage")
    old_size = _storage_of(as_dict(old_spec.get("resources")).get("requests"), "storage")
    status_size = _storage_of(as_dict(old.get("status")).get("capacity"), "storage")
    shrinking = new_size is not None and old_size is not None and new_size < old_size
    if shrinking and new_size is not None and new_size <= (status_size or 0):
        # RecoverVolumeExpansionFailure: shrinking is allowed down to above status.capacity
        causes.append(
            field_forbidden(
                "spec.resources.requests.storage", "field can not be less than status.capacity"
            )
        )
    if spec.get("volumeMode") != old_spec.get("volumeMode"):
        causes.append(field_invalid("volumeMode", spec.get("volumeMode"), IMMUTABLE))
    return causes


def _render_resource_list(resources: object) -> GoRepr:
    if not isinstance(resources, dict):
        return GoRepr("core.ResourceList(nil)")
    items = ", ".join(f"{json.dumps(k)}:{json.dumps(str(v))}" for k, v in sorted(resources.items()))
    return GoRepr(f"core.ResourceList{{{items}}}")


def _validate_pv_sources(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    sources = [key for key in PERSISTENT_VOLUME_SOURCES if spec.get(key) is not None]
    if not sources:
        return [field_required("spec", "must specify a volume type")]
    for extra in sources[1:]:
        causes.append(field_forbidden(f"spec.{extra}", "may not specify more than 1 volume type"))
    source = sources[0]
    body = as_dict(spec.get(source))
    required = {
        "hostPath": ("path",),
        "local": ("path",),
        "nfs": ("server", "path"),
        "csi": ("driver", "volumeHandle"),
    }.get(source, ())
    for key in required:
        if not as_str(body.get(key)):
            causes.append(field_required(f"spec.{source}.{key}"))
    if source == "local" and not spec.get("nodeAffinity"):
        causes.append(field_required("spec.nodeAffinity", "Local volume requires node affinity"))
    return causes


def validate_pv(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidatePersistentVolume(Update): one source, a storage capacity, immutable source."""
    spec = as_dict(obj.get("spec"))
    causes = validate_object_meta(obj, is_dns1123_subdomain)
    if old is not None:
        causes = validate_object_meta_update(obj, old) + causes
    causes.extend(_validate_access_modes(spec.get("accessModes"), "spec.accessModes", ""))
    capacity = spec.get("capacity")
    if not capacity:
        causes.append(field_required("spec.capacity"))
    if not isinstance(capacity, dict) or "storage" not in capacity or len(capacity) > 1:
        causes.append(
            field_not_supported("spec.capacity", _render_resource_list(capacity), ("storage",))
        )
    for resource, value in as_dict(capacity).items():
        causes.extend(quantity_causes(value, f"spec.capacity[{resource}]"))
    reclaim = as_str(spec.get("persistentVolumeReclaimPolicy"))
    if reclaim and reclaim not in _PV_RECLAIM:
        causes.append(
            field_not_supported("spec.persistentVolumeReclaimPolicy", reclaim, _PV_RECLAIM)
        )
    causes.extend(_validate_pv_sources(spec))
    class_name = as_str(spec.get("storageClassName"))
    if class_name:
        causes.extend(
            field_invalid("spec.storageClassName", class_name, msg)
            for msg in is_dns1123_subdomain(class_name)
        )
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        causes.append(field_not_supported("spec.volumeMode", mode, _VOLUME_MODES))
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        new_source = {k: spec.get(k) for k in PERSISTENT_VOLUME_SOURCES if spec.get(k) is not None}
        old_source = {
            k: old_spec.get(k) for k in PERSISTENT_VOLUME_SOURCES if old_spec.get(k) is not None
        }
        if new_source != old_source:
            diff = spec_diff("core.PersistentVolumeSource", old_source, new_source)
            causes.append(
                field_forbidden(
                    "spec.persistentvolumesource",
                    f"spec.persistentvolumesource is immutable after creation\n{diff}",
                )
            )
        if mode != old_spec.get("volumeMode"):
            causes.append(field_invalid("volumeMode", mode, IMMUTABLE))
    return causes


_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_SESSION_AFFINITIES = ("ClientIP", "None")


def _validate_target_port(target: object, path: str) -> list[Cause]:
    if isinstance(target, str):
        return [field_invalid(path, target, msg) for msg in is_valid_port_name(target)]
    if target is None:
        return []
    return [field_invalid(path, target, msg) for msg in is_valid_port_num(target)]


def validate_service(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """ValidateService(Update): ports, type, affinity; a cluster IP never changes."""
    spec = as_dict(obj.get("spec"))
    causes = validate_object_meta(obj, is_dns1035_label)
    if old is not None:
        causes = validate_object_meta_update(obj, old) + causes
    service_type = as_str(spec.get("type"))
    headless = spec.get("clusterIP") == "None"
    ports = list(dicts(spec.get("ports")))
    if not ports and not headless and service_type != "ExternalName":
        causes.append(field_required("spec.ports"))
    if service_type not in _SERVICE_TYPES:
        causes.append(field_not_supported("spec.type", service_type, _SERVICE_TYPES))
    if service_type == "ExternalName" and not as_str(spec.get("externalName")):
        causes.append(field_required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        ppath = f"spec.ports[{i}]"
        name = as_str(port.get("name"))
        if len(ports) > 1 and not name:
            causes.append(field_required(f"{ppath}.name"))
        elif name:
            causes.extend(field_invalid(f"{ppath}.name", name, m) for m in is_dns1123_label(name))
            if name in names:
                causes.append(field_duplicate(f"{ppath}.name", name))
            names.add(name)
        causes.extend(
            field_invalid(f"{ppath}.port", port.get("port"), msg)
            for msg in is_valid_port_num(port.get("port"))
        )
        protocol = as_str(port.get("protocol"))
        if not protocol:
            causes.append(field_required(f"{ppath}.protocol"))
        elif protocol not in PROTOCOLS:
            causes.append(field_not_supported(f"{ppath}.protocol", protocol, PROTOCOLS))
        causes.extend(_validate_target_port(port.get("targetPort"), f"{ppath}.targetPort"))
    causes.extend(validate_labels(spec.get("selector"), "spec.selector"))
    affinity = as_str(spec.get("sessionAffinity"))
    if affinity not in _SESSION_AFFINITIES:
        causes.append(field_not_supported("spec.sessionAffinity", affinity, _SESSION_AFFINITIES))
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        old_ips, new_ips = old_spec.get("clusterIPs") or [], spec.get("clusterIPs") or []
        changing_external = "ExternalName" in (service_type, old_spec.get("type"))
        if old_ips and new_ips and old_ips[0] != new_ips[0] and not changing_external:
            causes.append(field_invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return causes


def validate_config_map(obj: Mapping[str, Any]) -> list[Cause]:
    """ValidateConfigMap: keys usable as file names, none in both data maps."""
    causes = validate_object_meta(obj, is_dns1123_subdomain)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    for section, keys in (("data", data), ("binaryData", binary)):
        for key in keys:
            msgs = is_config_map_key(key)
            causes.extend(field_invalid(f"{section}[{key}]", key, msg) for msg in msgs)
    for key in binary:
        if key in data:
            causes.append(
                field_invalid(f"binaryData[{key}]", key, "duplicate of key present in data")
            )
    return causes
