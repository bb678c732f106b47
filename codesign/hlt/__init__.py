"""HLT anomaly detection on the CPU/ONNX path (issue 15): Linformer encoder, GMM score, rates after AXOL1TL."""
