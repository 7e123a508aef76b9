"""Checks for notebooks/08_sadinet_attention.ipynb."""

__all__ = []
