"""Checks for the notebooks (placeholder until written)."""
__all__: list[str] = []
