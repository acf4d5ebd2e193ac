"""Text embedders: a small protocol, the torch and ONNX backends, a cache."""
