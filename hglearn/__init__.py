"""hglearn: stacked hourglass networks for human pose estimation, the library behind the course.

The papers it follows: Newell, Yang & Deng, "Stacked Hourglass Networks for Human Pose Estimation"
(ECCV 2016); Kim & Lee, "Lightweight Stacked Hourglass Network for Human Pose Estimation"
(Applied Sciences 2020); Gao, Zhu et al., "SADI-Net" (2023).
"""
__version__ = "0.1.0"
