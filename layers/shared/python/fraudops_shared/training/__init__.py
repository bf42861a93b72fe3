"""Training: config, the time-split dataset, candidates (scikit-learn, ONNX export), evaluation
and the gate, artifacts, the state machine's documents and its steps."""
