"""Training: the loop, its checkpoints and the distributed wrapper."""
