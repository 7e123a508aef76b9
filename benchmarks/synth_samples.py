"""Save a grid of SynthPose samples with their skeletons, one row per difficulty level.

Left limbs are drawn in blue, right limbs in orange, the spine and head in green; a joint that an
occluder hides is a hollow ring. The picture is for checking by eye that the figures look like
people and that the annotations sit on the drawn limbs.

    python benchmarks/synth_samples.py [--columns 6] [--size 128] [--seed 0]

Writes data/synthpose_samples.png at the repository root and prints its path.
"""
import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hglearn.data.synth import DIFFICULTIES, SynthConfig, render
from hglearn.joints import MPII

LEFT, RIGHT, CENTRE = (40, 110, 255), (255, 120, 0), (0, 200, 60)


def limb_color(a: int, b: int) -> tuple[int, int, int]:
    """Blue for a limb of the person's left side, orange for the right, green for the spine."""
    sides = {MPII.names[a][:2], MPII.names[b][:2]}  # "l_", "r_", or the start of a centre joint's name
    return LEFT if "l_" in sides else RIGHT if "r_" in sides else CENTRE


def draw_skeleton(image: np.ndarray, joints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """A copy of image with the MPII skeleton over it: limbs as thin lines, joints as dots or rings."""
    out = image.copy()
    points = [tuple(p) for p in np.round(joints * 2).astype(int).tolist()]  # 1 bit of sub-pixel precision
    for a, b in MPII.edges:
        cv2.line(out, points[a], points[b], limb_color(a, b), 1, cv2.LINE_AA, 1)
    for point, seen in zip(points, visible):
        cv2.circle(out, point, 3, (255, 255, 255), -1 if seen else 1, cv2.LINE_AA, 1)  # radius 1.5 px
    return out


def sample_grid(columns: int, size: int, seed: int) -> np.ndarray:
    """(rows·size, columns·size, 3) RGB: row r holds images r·columns ... (r + 1)·columns − 1 of
    difficulty level r, so that every tile shows a different figure."""
    rows = []
    for level, difficulty in enumerate(DIFFICULTIES):
        cfg = SynthConfig(image_size=size, difficulty=difficulty, seed=seed)
        tiles = []
        for index in range(level * columns, (level + 1) * columns):
            sample = render(index, cfg)
            tiles.append(draw_skeleton(sample.image, sample.record.joints, sample.record.visible))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    grid = sample_grid(args.columns, args.size, args.seed)
    out_path = Path(__file__).resolve().parents[1] / "data" / "synthpose_samples.png"
    out_path.parent.mkdir(exist_ok=True)
    # A dithered 256-colour palette keeps the noisy tiles under 200 kB instead of 650 kB.
    image = Image.fromarray(grid)
    image.quantize(palette=image.quantize(256), dither=Image.Dither.FLOYDSTEINBERG).save(out_path, optimize=True)
    print(out_path)


if __name__ == "__main__":
    main()
