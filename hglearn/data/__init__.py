"""Datasets: SynthPose (built in), MPII, LSP and FLIC, read into `PoseRecord`s and served as
training tensors by `PoseDataset`.

Taught in notebooks/00_pose_primer.ipynb.
"""
from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.records import DatasetError, PoseRecord
from hglearn.data.synth import SynthConfig, SynthPose

__all__ = ["DatasetError", "PoseDataset", "PoseRecord", "SynthConfig", "SynthPose", "file_image_reader"]
