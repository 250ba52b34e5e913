"""The embedded simulated cluster: a Kubernetes API, controllers and nodes on the real kernel."""
