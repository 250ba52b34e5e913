"""Loads the conformance pytest plugin for suites/ and tests/."""

pytest_plugins = ["conformance.plugin"]
