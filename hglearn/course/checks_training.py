"""Checks for notebooks/09_training_on_mpii.ipynb."""

__all__ = []
