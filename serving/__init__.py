"""The inference server (Open Inference Protocol v2): model loading, data plane, REST routes."""
