"""The simulated cluster's API server: REST, watch, patch, discovery, OpenAPI, Tables."""
