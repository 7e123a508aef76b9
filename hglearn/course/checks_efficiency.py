"""Checks for notebooks/10_efficiency.ipynb."""

__all__ = []
