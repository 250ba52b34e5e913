"""Suites get their fixtures from conformance.plugin (loaded by the root conftest.py)."""
