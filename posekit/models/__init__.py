"""Plain PyTorch networks whose ``state_dict()`` keys equal the upstream checkpoints'."""
