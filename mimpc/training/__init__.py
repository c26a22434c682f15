"""Learning: datasets, policy networks and their integer heads, losses, the trainer, training
methods by name (:mod:`mimpc.training.methods`), checkpoints, open-loop evaluation, training support."""
