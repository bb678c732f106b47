"""Training: quantization-aware training of the zoo models from their cards."""
