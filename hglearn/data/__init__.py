"""Datasets: SynthPose (built in), MPII, LSP and FLIC, read into `PoseRecord`s and served as
training tensors by `PoseDataset`. `hglearn.data.catalog` lists them all.

The names below are imported on first use, so that `hglearn.data.catalog` (read by the command
line before it needs torch) does not pull in the data pipeline.

Taught in notebooks/00_pose_primer.ipynb.
"""
import importlib

_HOMES = {"PoseDataset": "dataset", "file_image_reader": "dataset", "DatasetError": "records",
          "PoseRecord": "records", "SynthConfig": "synth", "SynthPose": "synth"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'hglearn.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hglearn.data.{_HOMES[name]}"), name)
