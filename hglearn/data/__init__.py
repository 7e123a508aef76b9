"""Datasets: SynthPose (built in), MPII, LSP and FLIC, read into `PoseRecord`s.

Taught in notebooks/00_pose_primer.ipynb.
"""
from hglearn.data.records import DatasetError, PoseRecord

__all__ = ["DatasetError", "PoseRecord"]
