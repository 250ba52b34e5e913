"""No secret reaches reports/, the HTML report or the bundle: canary values are planted in
the kubeconfig, the inventory and the environment of a real run against the simulator,
and every file the run, `conformance report` and `conformance bundle` produce (and every
file inside the bundle) is searched for them, and for the simulator's own bearer token
and the nodes' SSH private key."""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.test_suites_fail_on_faults import needs_nodes

CANARIES = {
    "kubeconfig": "canary-kubeconfig-token-7f3a9c1e5b",
    "client key": "Y2FuYXJ5LWNsaWVudC1rZXktZGF0YS05ZDJl",
    "inventory": "canary-inventory-password-4c8e2a",
    "environment": "canary-environment-secret-b61d0f",
}


def plant(state: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """The hand-started simulator's inventory, with canaries in its kubeconfig (a second
    user the context does not use), in a StorageClass parameter, and the secrets the
    simulator hands out (its token, the nodes' key) listed to search for too."""
    kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
    kubeconfig["users"].append(
        {
            "name": "canary",
            "user": {
                "token": CANARIES["kubeconfig"],
                "client-key-data": CANARIES["client key"],
            },
        }
    )
    planted = tmp_path / "kubeconfig"
    planted.write_text(yaml.safe_dump(kubeconfig))
    inventory = yaml.safe_load((state / "inventory.yaml").read_text())
    inventory["cluster"]["kubeconfig"] = str(planted)
    inventory["storage"] = inventory["storage"][:1]
    inventory["storage"][0]["parameters"]["password"] = CANARIES["inventory"]
    inventory["workload"]["pod_management_policy"] = ["OrderedReady"]
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory))
    token = next(u["user"]["token"] for u in kubeconfig["users"] if u["name"] != "canary")
    key = (state / "id_ed25519").read_text().splitlines()[1]  # a line of the key's body
    return path, [*CANARIES.values(), token, key]


def produced(reports: Path) -> dict[str, bytes]:
    """Every file under reports/, and every file inside each bundle there."""
    files: dict[str, bytes] = {}
    for path in reports.rglob("*"):
        if not path.is_file():
            continue
        files[str(path.relative_to(reports))] = path.read_bytes()
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        files[f"{path.name}!{member.name}"] = extracted.read()
    return files


@needs_nodes
def test_no_planted_secret_appears_in_anything_the_run_produced(tmp_path: Path) -> None:
    state = tmp_path / "sim"
    up = run(sys.executable, "-m", "conformance", "sim", "up", "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    try:
        inventory, secrets = plant(state, tmp_path)
        reports = tmp_path / "reports"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
        env["CONFORMANCE_TEST_SECRET"] = CANARIES["environment"]
        suites = run(
            sys.executable,
            "-m",
            "pytest",
            "suites/test_provisioning.py",
            "suites/test_node_storage.py",
            "suites/test_container_mounts.py",
            "-p",
            "no:cacheprovider",
            "--conformance-inventory",
            str(inventory),
            "--conformance-reports",
            str(reports),
            f"--alluredir={reports / 'allure-results'}",
            f"--junitxml={reports / 'junit.xml'}",
            env=env,
            timeout=600,
        )
        assert suites.returncode == 0, suites.stdout[-3000:]
        if shutil.which("npm"):
            report = run(
                sys.executable,
                "-m",
                "conformance",
                "report",
                "--results",
                str(reports / "allure-results"),
                "--out",
                str(reports / "html"),
            )
            assert report.returncode == 0, report.stdout + report.stderr
        bundled = run(sys.executable, "-m", "conformance", "bundle", "--reports", str(reports))
        assert bundled.returncode == 0, bundled.stderr
    finally:
        run(sys.executable, "-m", "conformance", "sim", "down", "--state-dir", str(state))
    files = produced(reports)
    assert any(name.endswith("-result.json") for name in files), sorted(files)[:20]
    found = [
        f"{name} holds {secret[:12]}..."
        for name, data in files.items()
        for secret in secrets
        if secret.encode() in data
    ]
    assert found == [], "\n".join(found)
    assert len(files) > 20  # the search covered a real run's output


def test_the_search_would_find_a_planted_secret(tmp_path: Path) -> None:
    """The canary search is not vacuous: a secret written into a report is found."""
    (tmp_path / "leak.txt").write_text(f"token: {CANARIES['kubeconfig']}\n")
    files = produced(tmp_path)
    assert CANARIES["kubeconfig"].encode() in files["leak.txt"]


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
