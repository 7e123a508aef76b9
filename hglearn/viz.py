"""Drawing skeletons and heatmaps on images.

Taught in notebooks/00_pose_primer.ipynb and notebooks/06_heatmaps_pckh.ipynb.
"""
from pathlib import Path

import cv2
import numpy as np

from hglearn.files import atomic_path
from hglearn.joints import JointSet

LEFT, RIGHT, CENTRE = (40, 120, 255), (255, 80, 40), (250, 220, 40)  # RGB


def limb_color(joint_set: JointSet, a: int, b: int) -> tuple[int, int, int]:
    """Left limbs blue, right limbs red, the rest yellow, so that swapped sides show at a glance."""
    sides = {joint_set.names[a][:2], joint_set.names[b][:2]} & {"l_", "r_"}
    return CENTRE if len(sides) != 1 else LEFT if sides == {"l_"} else RIGHT


def draw_pose(image: np.ndarray, joints: np.ndarray, joint_set: JointSet, show: np.ndarray | None = None,
              thickness: int = 1) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 RGB image with the skeleton drawn; joints (J, 2) in its pixels.

    show: (J,) bool, the joints to draw (default all); a limb is drawn when both its ends are.
    """
    out = np.ascontiguousarray(image.copy())
    show = np.ones(len(joints), bool) if show is None else np.asarray(show, bool)
    points = [tuple(int(round(v)) for v in p) for p in np.nan_to_num(np.asarray(joints, float))]
    for a, b in joint_set.edges:
        if show[a] and show[b]:
            cv2.line(out, points[a], points[b], limb_color(joint_set, a, b), thickness, cv2.LINE_AA)
    for j in np.flatnonzero(show):
        cv2.circle(out, points[j], thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return out


def save_pose_grid(path: str | Path, images: list[np.ndarray], joints: list[np.ndarray], joint_set: JointSet,
                   columns: int = 8, size: int = 128) -> Path:
    """Save images with their skeletons as one PNG grid, each tile resized to size × size.

    Written atomically (hglearn.files.atomic_path): a reader sees the old file or the whole new one.
    """
    if not images:
        raise ValueError("save_pose_grid needs at least one image")
    tiles = []
    for image, pose in zip(images, joints):
        h, w = image.shape[:2]
        scaled = (np.asarray(pose, float) + 0.5) * [size / w, size / h] - 0.5  # pixel centres on integers
        tiles.append(draw_pose(cv2.resize(image, (size, size)), scaled, joint_set))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    path = Path(path)
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode the pose grid for {path} as PNG")
    with atomic_path(path) as tmp:  # a crash mid-write never leaves a truncated PNG
        tmp.write_bytes(png.tobytes())
    return path
