"""Manifests the sim tests apply: a headless Service and a StatefulSet with a claim template."""

from __future__ import annotations

from typing import Any

import yaml


def service(name: str = "web", app: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "clusterIP": "None",
            "selector": {"app": app},
            "ports": [{"port": 80, "name": "web"}],
        },
    }


def statefulset(
    name: str = "web",
    *,
    replicas: int = 3,
    policy: str = "OrderedReady",
    claim: str = "data",
    size: str = "1Gi",
    storage_class: str | None = None,
    retention: dict[str, str] | None = None,
    image: str = "registry.k8s.io/nginx-slim:0.27",
) -> dict[str, Any]:
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        claim_spec["storageClassName"] = storage_class
    spec: dict[str, Any] = {
        "serviceName": name,
        "replicas": replicas,
        "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "nginx",
                        "image": image,
                        "ports": [{"containerPort": 80, "name": "web"}],
                        "volumeMounts": [{"name": claim, "mountPath": "/data"}],
                    }
                ],
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": claim}, "spec": claim_spec}],
    }
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": spec,
    }


def as_yaml(*documents: dict[str, Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)
