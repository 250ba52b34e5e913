"""Reports never carry secrets: tokens, passwords and private keys are redacted."""

from __future__ import annotations

from conformance.evidence import REDACTED, redact


def test_bearer_tokens_are_redacted() -> None:
    text = "GET /api -H 'Authorization: Bearer abcdefghijklmnop1234'"
    assert "abcdefghijklmnop1234" not in redact(text)
    assert REDACTED in redact(text)


def test_kubeconfig_secrets_are_redacted() -> None:
    kubeconfig = "users:\n- name: admin\n  user:\n    token: s3cr3t-t0ken\n    password: hunter2\n"
    cleaned = redact(kubeconfig)
    assert "s3cr3t-t0ken" not in cleaned
    assert "hunter2" not in cleaned
    assert "name: admin" in cleaned


def test_private_keys_are_redacted() -> None:
    key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----"
    )
    cleaned = redact(f"key file:\n{key}\nafter")
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in cleaned
    assert cleaned.endswith("after")


def test_given_secrets_are_redacted_and_plain_text_is_kept() -> None:
    assert redact("the token is xyz123", ("xyz123",)) == f"the token is {REDACTED}"
    assert redact("lsscsi -d on sim-node-1") == "lsscsi -d on sim-node-1"
