"""Workload builders and the legacy PetSet converter (conformance/workloads.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from conformance import workloads as wl
from conformance.inventory import PodManagementPolicy, Storage, Workload
from tests.conftest import ROOT

SEED = Path(__file__).parent / "data" / "seed" / "seed-petset.yaml"
SEED_REL = "tests/data/seed/seed-petset.yaml"

RUN, WORKER = "r20240501-ab12", "gw1"

FLEX = Storage.model_validate(
    {
        "name": "datera-iscsi",
        "provisioner": "sim.conformance.io/flex",
        "parameters": {"vendor": "DATERA", "model": "IBLOCK"},
        "fs_type": "xfs",
        "size": "2Gi",
        "reclaim_policy": "Retain",
        "volume_binding_mode": "WaitForFirstConsumer",
        "kubelet_plugin_dir": "datera~iscsi",
    }
)
CSI = Storage.model_validate(
    {"name": "sim-csi-ext4", "provisioner": "csi.sim.conformance.io", "fs_type": "ext4"}
)
EXISTING = Storage.model_validate({"name": "gold", "storage_class": "datera-gold"})

SEED_WARNINGS = [
    "apiVersion apps/v1alpha1 -> apps/v1",
    "kind PetSet -> StatefulSet",
    "spec.selector added from spec.template.metadata.labels (app=nginx)",
    "pod.alpha.kubernetes.io/initialized annotation dropped from the pod template "
    "(the OrderedReady pod management policy replaces it)",
    "volume.alpha.kubernetes.io/storage-class annotation on claim template pv-claim dropped: "
    "it meant 'provision with the default class' whatever its value (ignored since "
    "Kubernetes 1.6), so the claim gets no storageClassName and the cluster's default "
    "class applies",
]


def deserialize(obj: dict[str, Any], kind: str) -> Any:
    """What the official client makes of the object (kubernetes v37 signature)."""
    return client.ApiClient().deserialize(json.dumps(obj), kind, "application/json")


def seed_documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(SEED.read_text()))


def seed_petset() -> dict[str, Any]:
    return next(doc for doc in seed_documents() if doc["kind"] == "PetSet")


def build_set(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "name": "web",
        "service_name": "web",
        "storage": FLEX,
        "class_name": "datera-iscsi-r1-gw1",
        "workload": Workload(),
        "replicas": 3,
        "policy": PodManagementPolicy.PARALLEL,
        "labels": wl.labels(RUN, WORKER),
    }
    arguments.update(overrides)
    return wl.statefulset(**arguments)


# --- labels and storage classes --------------------------------------------------------------


def test_labels_carry_run_and_worker() -> None:
    assert wl.labels(RUN, WORKER) == {wl.LABEL_RUN: RUN, wl.LABEL_WORKER: WORKER}


@pytest.mark.parametrize(("run_id", "worker"), [("", "gw0"), ("run/1", "gw0"), ("r1", "x" * 64)])
def test_labels_refuse_values_kubernetes_would_reject(run_id: str, worker: str) -> None:
    with pytest.raises(ValueError, match="label value"):
        wl.labels(run_id, worker)


def test_storage_class_for_a_flex_provisioner() -> None:
    sc = wl.storage_class(FLEX, run_id=RUN, worker=WORKER)
    assert sc is not None
    model = deserialize(sc, "V1StorageClass")
    assert model.metadata.name == "datera-iscsi-r20240501-ab12-gw1"
    assert model.metadata.labels == {wl.LABEL_RUN: RUN, wl.LABEL_WORKER: WORKER}
    assert model.provisioner == "sim.conformance.io/flex"
    assert model.reclaim_policy == "Retain"
    assert model.volume_binding_mode == "WaitForFirstConsumer"
    # not a CSI driver name (it has a '/'): the plain key, and only that one
    assert model.parameters == {"vendor": "DATERA", "model": "IBLOCK", "fsType": "xfs"}


def test_storage_class_for_a_csi_driver_uses_the_prefixed_key_only() -> None:
    sc = wl.storage_class(CSI, run_id=RUN, worker=WORKER)
    assert sc is not None
    # the CSI external-provisioner refuses a class with both fstype keys
    assert sc["parameters"] == {wl.CSI_FSTYPE_KEY: "ext4"}
    assert sc["reclaimPolicy"] == "Delete"
    assert sc["volumeBindingMode"] == "Immediate"


def test_storage_class_keeps_a_fstype_the_entry_already_gives() -> None:
    entry = CSI.model_copy(update={"parameters": {"fstype": "ext4"}})
    sc = wl.storage_class(entry, run_id=RUN, worker=WORKER)
    assert sc is not None
    assert sc["parameters"] == {"fstype": "ext4"}


def test_storage_class_names_never_collide_across_runs_and_workers() -> None:
    names = {
        wl.storage_class_name(FLEX, run_id=run, worker=worker)
        for run in ("r1", "r2")
        for worker in ("gw0", "gw1")
    }
    assert len(names) == 4
    assert wl.class_name_for(FLEX, run_id="R_1.x", worker="gw0") == "datera-iscsi-r-1-x-gw0"


def test_no_storage_class_for_an_existing_one() -> None:
    assert wl.storage_class(EXISTING, run_id=RUN, worker=WORKER) is None
    assert wl.class_name_for(EXISTING, run_id=RUN, worker=WORKER) == "datera-gold"


# --- service and statefulset ------------------------------------------------------------------


def test_headless_service() -> None:
    svc = wl.headless_service("web", "web", wl.labels(RUN, WORKER))
    model = deserialize(svc, "V1Service")
    assert model.metadata.name == "web"
    assert model.spec.cluster_ip == "None"
    assert model.spec.selector == {"app": "web"}
    assert model.metadata.labels == {wl.LABEL_RUN: RUN, wl.LABEL_WORKER: WORKER, "app": "web"}
    assert model.spec.ports is None
    with_port = wl.headless_service("web", "web", {}, port=80)
    assert with_port["spec"]["ports"] == [{"name": "web", "port": 80}]


def test_statefulset_deserializes_with_names_labels_selector_and_claims() -> None:
    sts = build_set(retention={"whenDeleted": "Retain", "whenScaled": "Delete"})
    model = deserialize(sts, "V1StatefulSet")
    assert model.api_version == "apps/v1"
    assert model.metadata.name == "web"
    spec = model.spec
    assert spec.service_name == "web"
    assert spec.replicas == 3
    assert spec.pod_management_policy == "Parallel"
    template_labels = spec.template.metadata.labels
    assert spec.selector.match_labels == {"app": "web"}
    assert spec.selector.match_labels.items() <= template_labels.items()
    assert template_labels[wl.LABEL_RUN] == RUN
    assert template_labels[wl.LABEL_WORKER] == WORKER
    pod = spec.template.spec
    assert pod.termination_grace_period_seconds == 1
    (container,) = pod.containers
    assert container.image == Workload().image
    assert container.command == list(wl.DEFAULT_COMMAND)
    assert [(m.name, m.mount_path) for m in container.volume_mounts] == [("data", "/data")]
    (claim,) = spec.volume_claim_templates
    assert claim.metadata.name == "data"
    assert claim.metadata.labels == {wl.LABEL_RUN: RUN, wl.LABEL_WORKER: WORKER}
    assert claim.spec.access_modes == ["ReadWriteOnce"]
    assert claim.spec.resources.requests == {"storage": "2Gi"}
    assert claim.spec.storage_class_name == "datera-iscsi-r1-gw1"
    retention = spec.persistent_volume_claim_retention_policy
    assert (retention.when_deleted, retention.when_scaled) == ("Retain", "Delete")


def test_statefulset_overrides() -> None:
    sts = build_set(
        workload=Workload(mount_path="/srv/disk"),
        claim_template="pv-claim",
        image="busybox:1.36",
        command=["sleep", "infinity"],
        policy=PodManagementPolicy.ORDERED_READY,
    )
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert "persistentVolumeClaimRetentionPolicy" not in spec
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "busybox:1.36"
    assert container["command"] == ["sleep", "infinity"]
    assert container["volumeMounts"] == [{"name": "pv-claim", "mountPath": "/srv/disk"}]
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "pv-claim"
    assert "command" not in build_set(command=[])["spec"]["template"]["spec"]["containers"][0]


def test_statefulset_refuses_an_unknown_retention_policy() -> None:
    with pytest.raises(ValueError, match="whenDeleted"):
        build_set(retention={"whenDeleted": "Keep"})


# --- PetSet conversion ------------------------------------------------------------------------


def test_seed_petset_converts_to_an_apps_v1_statefulset() -> None:
    original = seed_petset()
    untouched = copy.deepcopy(original)
    sts, warnings = wl.convert_petset(original)
    assert original == untouched
    assert warnings == SEED_WARNINGS
    assert (sts["apiVersion"], sts["kind"]) == ("apps/v1", "StatefulSet")
    spec = sts["spec"]
    assert spec["selector"] == {"matchLabels": {"app": "nginx"}}
    assert spec["replicas"] == 2
    assert spec["serviceName"] == "test-service"
    assert "annotations" not in spec["template"]["metadata"]
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"] == {"name": "pv-claim"}
    assert "storageClassName" not in claim["spec"]
    assert "alpha" not in json.dumps(sts)
    # everything else is kept as it was
    assert spec["template"]["spec"] == original["spec"]["template"]["spec"]
    assert claim["spec"] == original["spec"]["volumeClaimTemplates"][0]["spec"]
    model = deserialize(sts, "V1StatefulSet")
    assert model.spec.template.spec.containers[0].volume_mounts[0].mount_path == "/data"


def test_a_paused_petset_is_named_in_the_warning() -> None:
    petset = seed_petset()
    petset["spec"]["template"]["metadata"]["annotations"][wl.INITIALIZED_ANNOTATION] = "false"
    sts, warnings = wl.convert_petset(petset)
    (warning,) = [w for w in warnings if wl.INITIALIZED_ANNOTATION in w]
    assert "paused" in warning
    assert "all 2 replicas" in warning
    assert sts["spec"]["replicas"] == 2
    assert "annotations" not in sts["spec"]["template"]["metadata"]


def test_other_annotations_and_an_explicit_class_are_kept() -> None:
    petset = seed_petset()
    petset["spec"]["template"]["metadata"]["annotations"]["team"] = "qa"
    claim = petset["spec"]["volumeClaimTemplates"][0]
    claim["spec"]["storageClassName"] = "gold"
    sts, warnings = wl.convert_petset(petset)
    assert sts["spec"]["template"]["metadata"]["annotations"] == {"team": "qa"}
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "gold"
    assert any("keeps its storageClassName 'gold'" in w for w in warnings)


def test_the_alpha_class_value_never_becomes_a_class_name() -> None:
    petset = seed_petset()
    annotations = petset["spec"]["volumeClaimTemplates"][0]["metadata"]["annotations"]
    annotations[wl.ALPHA_CLASS_ANNOTATION] = "fast-ssd"
    sts, _ = wl.convert_petset(petset)
    assert "fast-ssd" not in json.dumps(sts)


def test_init_container_annotation_moves_to_the_field() -> None:
    petset = seed_petset()
    init = [{"name": "init", "image": "busybox", "command": ["true"]}]
    annotations = petset["spec"]["template"]["metadata"]["annotations"]
    annotations["pod.alpha.kubernetes.io/init-containers"] = json.dumps(init)
    sts, warnings = wl.convert_petset(petset)
    assert sts["spec"]["template"]["spec"]["initContainers"] == init
    assert any("moved to spec.template.spec.initContainers" in w for w in warnings)


def test_an_existing_selector_is_kept_and_checked() -> None:
    petset = seed_petset()
    petset["spec"]["selector"] = {"matchLabels": {"app": "nginx"}}
    sts, warnings = wl.convert_petset(petset)
    assert sts["spec"]["selector"] == {"matchLabels": {"app": "nginx"}}
    assert not any("spec.selector" in w for w in warnings)
    petset["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(wl.ConversionError, match="does not match"):
        wl.convert_petset(petset)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["spec"].pop("template"), "spec.template is required"),
        (lambda p: p.pop("spec"), "spec is required"),
        (
            lambda p: p["spec"]["template"]["metadata"].pop("labels"),
            "spec.template.metadata.labels is required",
        ),
        (lambda p: p.update(kind="Deployment"), "not a PetSet"),
    ],
    ids=["no-template", "no-spec", "no-template-labels", "not-a-petset"],
)
def test_unconvertible_petsets(edit: Any, message: str) -> None:
    petset = seed_petset()
    edit(petset)
    with pytest.raises(wl.ConversionError, match=message):
        wl.convert_petset(petset)


def test_convert_documents_passes_other_objects_through() -> None:
    text, warnings = wl.convert_documents(SEED.read_text())
    service, sts = yaml.safe_load_all(text)
    assert service == seed_documents()[0]
    assert sts == wl.convert_petset(seed_petset())[0]
    assert warnings == [f"PetSet test-petset: {w}" for w in SEED_WARNINGS]
    assert text.count("\n---\n") == 1


def test_convert_documents_gives_each_warning_once_per_object() -> None:
    petset = seed_petset()
    other = copy.deepcopy(petset)
    other["metadata"]["name"] = "other"
    text = yaml.safe_dump_all([petset, petset, other])
    _, warnings = wl.convert_documents(text)
    assert len(warnings) == 2 * len(SEED_WARNINGS)
    assert len(set(warnings)) == len(warnings)


def test_convert_documents_keeps_timestamps_as_written() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
        "  creationTimestamp: 2016-10-01T12:00:00Z\n---\n"
    )
    out, _ = wl.convert_documents(text)
    # written quoted, so YAML readers get the same string back, never a datetime
    assert yaml.safe_load(out)["metadata"]["creationTimestamp"] == "2016-10-01T12:00:00Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2\n", "not valid YAML"),
        ("- 1\n- 2\n", "document 1 is not a Kubernetes object"),
        ("", "no Kubernetes objects"),
    ],
)
def test_convert_documents_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(wl.ConversionError, match=message) as caught:
        wl.convert_documents(text)
    assert "\n" not in str(caught.value)


# --- the simulated API server accepts what we build ---------------------------------------------


def _sim_accepts(obj: dict[str, Any]) -> None:
    kinds = pytest.importorskip("conformance.sim.api.kinds")
    defaulting = pytest.importorskip("conformance.sim.api.defaulting")
    validation = pytest.importorskip("conformance.sim.api.validation")
    kind = kinds.of(obj["apiVersion"], obj["kind"])
    obj = copy.deepcopy(obj)
    if kind.namespaced:
        obj["metadata"].setdefault("namespace", "default")
    defaulting.apply_defaults(kind, obj)
    assert validation.validate(kind, obj, None) == []


def test_sim_accepts_the_converted_seed() -> None:
    text, _ = wl.convert_documents(SEED.read_text())
    for document in yaml.safe_load_all(text):
        _sim_accepts(document)


def test_sim_rejects_a_set_without_the_selector_the_converter_adds() -> None:
    """The sim check above is not vacuous: without the translated selector it fails."""
    kinds = pytest.importorskip("conformance.sim.api.kinds")
    defaulting = pytest.importorskip("conformance.sim.api.defaulting")
    validation = pytest.importorskip("conformance.sim.api.validation")
    sts, _ = wl.convert_petset(seed_petset())
    del sts["spec"]["selector"]
    kind = kinds.of("apps/v1", "StatefulSet")
    defaulting.apply_defaults(kind, sts)
    causes = validation.validate(kind, sts, None)
    assert any(cause["field"] == "spec.selector" for cause in causes)


def test_sim_accepts_the_built_objects() -> None:
    sc = wl.storage_class(FLEX, run_id=RUN, worker=WORKER)
    assert sc is not None
    _sim_accepts(sc)
    _sim_accepts(wl.headless_service("web", "web", wl.labels(RUN, WORKER)))
    _sim_accepts(build_set(retention={"whenDeleted": "Delete", "whenScaled": "Retain"}))


# --- the command ------------------------------------------------------------------------------


def test_cli_converts_the_seed(conformance_cli: Any) -> None:
    result = conformance_cli("convert-petset", SEED_REL)
    assert result.returncode == 0, result.stderr
    service, sts = yaml.safe_load_all(result.stdout)
    assert service == seed_documents()[0]
    assert (sts["apiVersion"], sts["kind"]) == ("apps/v1", "StatefulSet")
    assert sts["spec"]["selector"] == {"matchLabels": {"app": "nginx"}}
    lines = result.stderr.splitlines()
    assert lines == [f"warning: PetSet test-petset: {w}" for w in SEED_WARNINGS]


def test_cli_reads_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "convert-petset", "-"],
        input=SEED.read_text(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "kind: StatefulSet" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("kind: [oops\n", "not valid YAML"),
        (
            "apiVersion: apps/v1alpha1\nkind: PetSet\nmetadata: {name: p}\nspec: {replicas: 1}\n",
            "document 1 (PetSet p): spec.template is required",
        ),
        ("just text\n", "document 1 is not a Kubernetes object"),
    ],
)
def test_cli_errors_are_one_line(
    conformance_cli: Any, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "manifest.yaml"
    if content is not None:
        path.write_text(content)
    result = conformance_cli("convert-petset", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("conformance convert-petset: ")
    assert message in line
