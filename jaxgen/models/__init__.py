"""Flax linen modules only: networks, no losses, optimizers or randomness policy."""
