"""SUEP detection at the HLT with a convolutional autoencoder on the CPU/ONNX path (issue 16)."""
