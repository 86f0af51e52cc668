"""Training: the loop, checkpoints, device selection."""
