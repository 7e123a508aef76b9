"""The crop and its augmentation as one affine matrix, shared by the image, the joints and the predictions.

The person box (a square of side 200·scale px around `center`, MPII's convention), the random
scale, rotation and mirror are folded into a single 2×3 matrix M. `cv2.warpAffine` applies M to
the image, `apply_affine` applies the same M to the joints, and its inverse maps predictions back
to the original image, so image, targets and predictions cannot drift apart.

Coordinates are 0-based with pixel centres on integers: an image n pixels wide spans [−0.5, n − 0.5].

Taught in notebooks/06_heatmaps_pckh.ipynb.
"""
from dataclasses import dataclass

import cv2
import numpy as np
import torch


def crop_matrix(center: np.ndarray, scale: float, out_size: int | tuple[int, int],
                rotation_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """Affine map (2, 3) from original-image pixels to crop pixels (the crop of Newell et al.'s code).

    The square of side s = 200·scale px around c = center fills the crop of out_size = (w, h):

        p_crop = F(k ⊙ R(θ)(p_img − c) + m),   k = (w/s, h/s),   m = ((w − 1)/2, (h − 1)/2),
        R(θ) = [[cos θ, sin θ], [−sin θ, cos θ]],   F(x, y) = (w − 1 − x, y) when flip, else the identity.

    m puts the box centre on the crop's centre: a w-pixel crop spans [−0.5, w − 0.5]. Newell et al.'s
    code and most ports put it on w/2 instead, half a pixel off under this convention; with (w − 1)/2
    the crop, the heatmap and the mirror agree exactly (the "unbiased" choice of Huang et al. 2020).
    θ = rotation_deg > 0 turns the image content counter-clockwise as displayed (the sense of
    cv2.getRotationMatrix2D).
    out_size is (w, h) as cv2 sizes are, or an int for a square crop.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    w, h = (out_size, out_size) if isinstance(out_size, int) else out_size
    cx, cy = np.asarray(center, dtype=np.float64)
    side = 200.0 * scale
    cos, sin = np.cos(np.deg2rad(rotation_deg)), np.sin(np.deg2rad(rotation_deg))
    # Composed right to left on homogeneous points (x, y, 1).
    to_box_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    rotate = np.array([[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]])
    resize = np.diag([w / side, h / side, 1.0])
    to_crop_centre = np.array([[1, 0, (w - 1) / 2], [0, 1, (h - 1) / 2], [0, 0, 1]])
    mirror = np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]]) if flip else np.eye(3)
    return (mirror @ to_crop_centre @ resize @ rotate @ to_box_centre)[:2]  # (2, 3)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points (..., 2) through the affine matrix [A | t] (2, 3): p' = A·p + t."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse affine map [A⁻¹ | −A⁻¹·t] (2, 3), via cv2.invertAffineTransform."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def warp_image(image: np.ndarray, matrix: np.ndarray, out_size: int | tuple[int, int]) -> np.ndarray:
    """The crop: out(p) = image(M⁻¹·p), bilinear, black outside the image.

    image (H, W, 3) uint8; matrix M (2, 3) from `crop_matrix`; out_size (w, h) or an int.
    Returns (h, w, 3). cv2 also puts pixel centres on integers, so it agrees with `apply_affine`.
    """
    w, h = (out_size, out_size) if isinstance(out_size, int) else out_size
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def heatmap_to_image(coords_hm: torch.Tensor, matrices: torch.Tensor, input_res: int,
                     out_res: int) -> torch.Tensor:
    """Decoded heatmap coordinates back to original-image pixels.

        p_in = (p_hm + 0.5)·input_res/out_res − 0.5      (heatmap and input crop cover the same square)
        p_img = A⁻¹(p_in − t)                           (matrix = [A | t], the image → input crop map)

    coords_hm (B, J, 2); matrices (B, 2, 3) as in PoseDataset's meta["matrix"]. Returns (B, J, 2)
    in the dtype of coords_hm; the inverse is computed in float64 because image coordinates reach
    thousands of pixels.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    coords_in = (coords_hm.double() + 0.5) * (input_res / out_res) - 0.5  # (B, J, 2)
    a, t = matrices.double()[:, :, :2], matrices.double()[:, :, 2]  # (B, 2, 2), (B, 2)
    coords_img = (coords_in - t[:, None, :]) @ torch.linalg.inv(a).transpose(1, 2)  # (B, J, 2)
    return coords_img.to(coords_hm.dtype)


@dataclass
class Augmentation:
    """Random training augmentation, drawn by `sample_augmentation` (PyTorch ports of Newell et al. 2016).

    scale_factor: the box scale is multiplied by U(1 − s, 1 + s).
    rotation, rotation_prob: with probability rotation_prob the crop turns by U(−rotation, rotation)°.
    flip_prob: probability of a horizontal mirror; left and right joints then swap.
    color_jitter: each RGB channel is multiplied by U(1 − c, 1 + c).

    The defaults are the common PyTorch variant (scale 0.75-1.25, rotation ±30° 60% of the time,
    colour ×0.8-1.2, flip 1/2). The Torch original drew scale 2^clamp(N(0, 0.25²), ±0.5), rotation
    clamp(N(0, 30²), ±60)° 40% of the time and colour ×U(0.6, 1.4). Draws here are uniform over the
    stated ranges; some ports draw clamped normals instead, which favours small changes.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """

    scale_factor: float = 0.25
    rotation: float = 30.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    color_jitter: float = 0.2


def sample_augmentation(aug: Augmentation, rng: np.random.Generator) -> tuple[float, float, bool, np.ndarray]:
    """One draw of (scale_mult, rotation_deg, flip, color (3,)), a step per line in this order."""
    scale_mult = rng.uniform(1 - aug.scale_factor, 1 + aug.scale_factor)
    rotation_deg = rng.uniform(-aug.rotation, aug.rotation) if rng.random() < aug.rotation_prob else 0.0
    flip = bool(rng.random() < aug.flip_prob)
    color = rng.uniform(1 - aug.color_jitter, 1 + aug.color_jitter, size=3)
    return float(scale_mult), float(rotation_deg), flip, color
