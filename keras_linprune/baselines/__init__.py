"""Methods we compare with, kept out of the engine: activation-based
importance pruning (`prune.prune_by_activation`)."""
