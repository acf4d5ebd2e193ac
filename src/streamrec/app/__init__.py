"""Long-running services: the embed worker and the metrics sidecar."""
