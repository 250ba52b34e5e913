"""Controllers of the simulated cluster; each runs in the API server's event loop."""
