"""The failing check of tests/data/allure-sample: a report needs a red one (see make.sh).

Shaped like a harness check: steps, command attachments, the storage entry as the
``storage`` parameter (as conformance.evidence.parameters records it).
"""

import allure


@allure.title("data written before a pod restart reads back after it [local-ssd]")
def test_data_survives_pod_restart() -> None:
    allure.dynamic.parameter("storage", "local-ssd")
    with allure.step("write 4 KiB to /data/probe in pod web-0"):
        allure.attach(
            "$ dd if=/dev/urandom of=/data/probe bs=4k count=1\n# exit code 0\n",
            "web-0: dd",
            allure.attachment_type.TEXT,
        )
    with allure.step("delete pod web-0 and wait for it to be Ready again"):
        pass
    with allure.step("read /data/probe in pod web-0"):
        allure.attach(
            "$ sha256sum /data/probe\n# exit code 1\n--- stderr\n"
            "sha256sum: /data/probe: No such file or directory\n",
            "web-0: sha256sum",
            allure.attachment_type.TEXT,
        )
        raise AssertionError(
            "/data/probe is gone after web-0 restarted: the volume was not reattached"
        )
