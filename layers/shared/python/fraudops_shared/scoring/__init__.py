"""Scoring-time code that runs with onnxruntime and numpy only: reason codes computed from the
ONNX model's own parameters (``explain``), read from its bytes by ``onnx_params``."""
