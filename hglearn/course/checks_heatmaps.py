"""Checks for notebooks/06_heatmaps_pckh.ipynb."""

__all__ = []
