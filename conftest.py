"""The harness's pytest plugin loads through its ``pytest11`` entry point (pyproject.toml);
nothing to register here. Suites and tests get their fixtures from conformance.plugin."""
