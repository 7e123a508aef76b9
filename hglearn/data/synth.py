"""SynthPose: articulated figures in MPII's 16-joint layout, drawn with OpenCV on the fly.

The built-in dataset, so that the notebooks and the default training run work on a CPU with no
download. Every image is a pure function of (seed, index): `np.random.default_rng([seed, index])`
is split into three streams, one for the pose, one for the occluders and one for the look
(colours, background, noise). Turning occluders on or off therefore leaves the figure and the
background unchanged, and a record can be computed without drawing its image.

How an image is made:
1. Pose. A 2-D kinematic chain in body units (one unit = a mean head length, upper neck to head
   top), with the proportions of an adult about 7.7 heads from head top to ankle (the artists'
   eight-head canon without the feet), each segment varied by ±10% per figure. Shoulders and hips
   narrow as the body turns away from the camera; a limb pointing at the camera is shortened.
   Joint angles, measured from hanging straight down: upper arms -50°..175° (negative crosses the
   body), elbows ±150°, thighs -35°..90°, knees mostly within ±80°, neck and head tilts of ±30°.
2. Placement. A global rotation (upright ± a few degrees mostly, any angle for 15% of figures),
   a size of 50-90% of the image side and a position that keeps the whole drawn figure, and so
   every joint, inside the image: joints are never outside it, `annotated` is always True.
3. Drawing. Background, then limb-like distractors, legs, torso, neck, head, arms, occluders,
   noise and blur; limbs are thick anti-aliased lines with a darker rim, in skin and clothing
   colours (sleeves and trousers of random length).

Left and right. A figure faces the camera (70%) or turns its back to it, and two marks show which:
a face (skin, two eyes) framed by hair and a V-neckline of skin below the neck, or only hair and a
closed collar from behind. Facing the camera, the person's
right side is on the image's left when upright; from behind, on the right. This is the cue real
photographs give, and it survives a horizontal flip: a mirrored figure is still a plausible person
whose left and right have swapped, which is what the training flip augmentation assumes. A colour
code (left limbs lighter, say) would be easier to learn but would contradict every flipped image.

Visibility. A joint is not `visible` when an occluder covers its pixel (the joint rounded to the
nearest pixel); it stays `annotated`. Limbs are never hidden by the figure's own body: arms are
drawn over the torso, which reads as arms in front of the chest, or behind the back when the
figure faces away.

Difficulty levels, each adding to the one before:
0 "plain": a solid colour or a linear gradient, no occluders.
1 "textured": low-frequency colour texture, random shapes, mild pixel noise.
2 "cluttered" (default): distractor strokes shaped and coloured like limbs, stronger noise, some
  blur; one or two occluders (rectangles and ellipses over the figure) on 30% of images.
3 "occluded": as cluttered, with one to three occluders on every image.

Taught in notebooks/00_pose_primer.ipynb.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from hglearn.errors import ConfigError
from hglearn.data.mpii import BOX_PAD, BOX_SHIFT
from hglearn.data.records import PoseRecord
from hglearn.files import atomic_path
from hglearn.joints import MPII

DIFFICULTIES = ("plain", "textured", "cluttered", "occluded")
# The chance that an image gets occluders at each level, unless SynthConfig.occluder_prob says otherwise.
LEVEL_OCCLUDER_PROB = (0.0, 0.0, 0.3, 1.0)

# Segment lengths and half-widths in body units (a mean head length), after the eight-head canon.
LENGTHS = {"head": 1.0, "neck": 0.45, "torso": 2.4, "shoulder": 0.85, "hip": 0.5,
           "upper_arm": 1.45, "forearm": 1.25, "thigh": 1.95, "shin": 1.9}
# Drawn limb thickness (diameter) in body units.
THICKNESS = {"upper_arm": 0.46, "forearm": 0.38, "thigh": 0.68, "shin": 0.5, "neck": 0.4,
             "hand": 0.4, "foot": 0.4}
PAD = 0.6  # body units around the joints that hold the drawn head, limbs, hands and feet
MARGIN = 0.02  # fraction of the image side kept free around the drawn figure

# Skin tones, RGB, from light to dark; hair is drawn at most half as bright as the skin so the face
# stands out, whatever the pair.
SKIN = np.array([(255, 224, 196), (241, 194, 150), (224, 172, 125), (198, 134, 90),
                 (160, 105, 65), (120, 75, 45), (90, 56, 37)], dtype=float)
HAIR = np.array([(20, 16, 14), (55, 38, 28), (90, 60, 35), (40, 35, 35), (110, 80, 50)], dtype=float)
SIDES = np.array([-1.0, 1.0])  # right, left: facing the camera, the person's right is at -x
# MPII indices of (hip, knee, ankle) and (shoulder, elbow, wrist), right then left.
LEGS = [[MPII.index(f"{side}_{part}") for part in ("hip", "knee", "ankle")] for side in "rl"]
ARMS = [[MPII.index(f"{side}_{part}") for part in ("shoulder", "elbow", "wrist")] for side in "rl"]
FIXED = 16  # sub-pixel drawing: OpenCV's `shift` of 4 bits


@dataclass(frozen=True)
class SynthConfig:
    """What SynthPose draws. Saved in training checkpoints, so plain data only.

    difficulty: a name from DIFFICULTIES or its index 0..3 (stored as the name).
    occluder_prob: chance that an image gets occluders; None takes the level's (LEVEL_OCCLUDER_PROB).
    """

    image_size: int = 128
    difficulty: str = "cluttered"
    occluder_prob: float | None = None
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.difficulty, int) and 0 <= self.difficulty < len(DIFFICULTIES):
            object.__setattr__(self, "difficulty", DIFFICULTIES[self.difficulty])
        if self.difficulty not in DIFFICULTIES:
            raise ConfigError(f"SynthPose difficulty (TrainConfig.synth_difficulty) {self.difficulty!r} is not one of "
                              f"{', '.join(DIFFICULTIES)} or 0..3")
        if self.image_size < 32:
            raise ConfigError(f"image_size {self.image_size} is too small to draw a figure (32 px at least)")
        if self.occluder_prob is not None and not 0.0 <= self.occluder_prob <= 1.0:
            raise ConfigError(f"occluder_prob {self.occluder_prob} is not a probability")

    @property
    def level(self) -> int:
        return DIFFICULTIES.index(self.difficulty)


@dataclass(frozen=True)
class Figure:
    """One figure's geometry in image pixels.

    joints: (16, 2) MPII joints; torso: (6, 2) outline of the torso polygon; unit_px: pixels per
    body unit; box: (2, 2) [[x1, y1], [x2, y2]] around everything drawn; facing_camera: see above.
    """

    joints: np.ndarray
    torso: np.ndarray
    unit_px: float
    box: np.ndarray
    facing_camera: bool


@dataclass(frozen=True)
class Occluder:
    """A filled polygon drawn over the figure: (K, 2) int32 pixel vertices and an RGB colour."""

    polygon: np.ndarray
    color: tuple[int, int, int]


@dataclass(frozen=True)
class SynthSample:
    """Everything `render` makes: the image, its record, the pixels occluders cover, the geometry."""

    image: np.ndarray
    record: PoseRecord
    occluder_mask: np.ndarray
    figure: Figure


# ---------------------------------------------------------------------------------------------
# Pose and placement


def direction(degrees: np.ndarray | float) -> np.ndarray:
    """Unit vectors at `degrees` from straight down (y grows downward), turning toward +x:
    0° → (0, 1), 90° → (1, 0), 180° → (0, -1)."""
    radians = np.radians(degrees)
    return np.stack([np.sin(radians), np.cos(radians)], axis=-1)


def rotation_matrix(degrees: float) -> np.ndarray:
    """(2, 2) rotation of points by `degrees`, clockwise on screen since y grows downward."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, -s], [s, c]])


def uniform_mixture(rng: np.random.Generator, ranges: list[tuple[float, float]], weights: list[float],
                    size: int = 2) -> np.ndarray:
    """`size` draws, each uniform in one of `ranges` picked with probability `weights`."""
    lows, highs = np.array(ranges, dtype=float).T
    pick = rng.choice(len(ranges), size=size, p=weights)
    return rng.uniform(lows[pick], highs[pick])


def sample_pose(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """MPII joints (16, 2) and torso outline (6, 2) in body units around the pelvis, and the facing.

    Angles are per side (right, left), measured from hanging down, positive away from the body.
    """
    size = dict(zip(LENGTHS, np.array(list(LENGTHS.values())) * rng.uniform(0.9, 1.1, len(LENGTHS))))
    width = rng.uniform(0.35, 1.0)  # shoulders and hips narrow as the body turns from the camera
    shorten = np.where(rng.random(8) < 0.2, rng.uniform(0.55, 1.0, 8), 1.0)  # limbs toward the camera
    arm = uniform_mixture(rng, [(5, 100), (100, 175), (-50, 5)], [0.6, 0.25, 0.15])
    elbow = rng.uniform(-150, 150, 2)  # forearm relative to the upper arm
    leg = uniform_mixture(rng, [(-10, 35), (35, 90), (-35, -10)], [0.75, 0.15, 0.1])
    knee = np.clip(rng.normal(0, 40, 2), -140, 140)  # shin relative to the thigh
    swing = rng.normal(0, 10)  # both legs together: the body bends at the hips
    neck_tilt, head_tilt = np.clip(rng.normal(0, [10, 15]), -30, 30)

    pelvis, thorax = np.zeros(2), np.array([0.0, -size["torso"]])
    upper_neck = thorax + size["neck"] * direction(180 + neck_tilt)
    head_top = upper_neck + size["head"] * direction(180 + neck_tilt + head_tilt)
    shoulders = thorax + np.outer(SIDES, [size["shoulder"] * width, 0])  # (2, 2) right, left
    elbows = shoulders + (size["upper_arm"] * shorten[0:2])[:, None] * direction(SIDES * arm)
    wrists = elbows + (size["forearm"] * shorten[2:4])[:, None] * direction(SIDES * (arm + elbow))
    hips = np.outer(SIDES, [size["hip"] * width, 0])
    knees = hips + (size["thigh"] * shorten[4:6])[:, None] * direction(SIDES * leg + swing)
    ankles = knees + (size["shin"] * shorten[6:8])[:, None] * direction(SIDES * (leg + knee) + swing)
    joints = np.stack([ankles[0], knees[0], hips[0], hips[1], knees[1], ankles[1], pelvis, thorax,
                       upper_neck, head_top, wrists[0], elbows[0], shoulders[0], shoulders[1],
                       elbows[1], wrists[1]])  # MPII order

    # The torso keeps some width seen from the side; it reaches below the hips to cover the crotch.
    top, bottom = max(size["shoulder"] * width, 0.45) + 0.15, max(size["hip"] * width, 0.4) + 0.25
    waist, shoulder_y = 0.42 * (top + bottom), -size["torso"] - 0.05
    torso = np.array([(-top, shoulder_y), (top, shoulder_y), (waist, -0.45 * size["torso"]),
                      (bottom, 0.3), (-bottom, 0.3), (-waist, -0.45 * size["torso"])])

    facing_camera = rng.random() < 0.7
    if not facing_camera:  # seen from behind, the person's right side is on the image's right
        joints, torso = joints * [-1, 1], torso * [-1, 1]
    return joints, torso, facing_camera


def sample_figure(rng: np.random.Generator, image_size: int) -> Figure:
    """A posed figure, rotated, sized and placed so that everything drawn lies inside the image.

    Placement is drawn in image-side fractions, so the same (seed, index) gives the same figure at
    every image size: x_px = x_fraction · image_size − 0.5 (pixel centres on integers).
    """
    joints, torso, facing_camera = sample_pose(rng)
    angle = rng.uniform(-180, 180) if rng.random() < 0.15 else np.clip(rng.normal(0, 12), -45, 45)
    rotation = rotation_matrix(angle)
    joints, torso = joints @ rotation.T, torso @ rotation.T

    low, high = joints.min(axis=0) - PAD, joints.max(axis=0) + PAD  # the drawn figure, body units
    unit = rng.uniform(0.5, 0.9) / (high - low).max()  # image fraction per body unit
    corner = rng.uniform(MARGIN, 1 - MARGIN - (high - low) * unit)  # top-left of the figure box

    def to_pixels(points):
        return ((points - low) * unit + corner) * image_size - 0.5

    box = to_pixels(np.stack([low, high]))
    return Figure(to_pixels(joints), to_pixels(torso), unit * image_size, box, bool(facing_camera))


def head_box(joints: np.ndarray) -> np.ndarray:
    """A square around the head, sized like MPII's: 0.6 × its diagonal = ‖head_top − upper_neck‖.

    Centred on the midpoint of the two joints, with half-side 0.59·d for d = ‖head_top − upper_neck‖,
    so both joints (d/2 from the centre) lie inside at any rotation, and PCKh's head size is the
    head length, as it is for MPII's hand-drawn boxes.
    """
    neck, top = joints[MPII.index("upper_neck")], joints[MPII.index("head_top")]
    half = np.linalg.norm(top - neck) / (0.6 * np.sqrt(2)) / 2
    middle = (neck + top) / 2
    return np.stack([middle - half, middle + half])


# ---------------------------------------------------------------------------------------------
# Occluders and the record


def sample_occluders(rng: np.random.Generator, figure: Figure, cfg: SynthConfig) -> list[Occluder]:
    """Rectangles and ellipses over the figure, each centred near a random point of a random limb."""
    prob = LEVEL_OCCLUDER_PROB[cfg.level] if cfg.occluder_prob is None else cfg.occluder_prob
    if rng.random() >= prob:
        return []
    occluders = []
    for _ in range(rng.integers(1, 4 if cfg.level == 3 else 3)):
        a, b = MPII.edges[rng.integers(len(MPII.edges))]
        centre = figure.joints[a] + rng.random() * (figure.joints[b] - figure.joints[a])
        centre = centre + rng.normal(0, 0.4, 2) * figure.unit_px
        half = rng.uniform(0.5, 1.4, 2) * figure.unit_px  # half-sides or semi-axes
        if rng.random() < 0.5:
            outline = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * half
        else:
            t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            outline = np.stack([np.cos(t), np.sin(t)], axis=1) * half
        polygon = centre + outline @ rotation_matrix(rng.uniform(0, 180)).T
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        occluders.append(Occluder(np.round(polygon).astype(np.int32), color))
    return occluders


def occluder_mask(occluders: list[Occluder], image_size: int) -> np.ndarray:
    """(H, W) bool, the pixels the occluders cover (drawn without anti-aliasing)."""
    mask = np.zeros((image_size, image_size), np.uint8)
    if occluders:
        cv2.fillPoly(mask, [o.polygon for o in occluders], 1)
    return mask.astype(bool)


def make_record(index: int, figure: Figure, mask: np.ndarray) -> PoseRecord:
    """The figure's PoseRecord: visible unless an occluder covers the joint's pixel.

    center and scale: the crop square of side 200·scale is `mpii.BOX_PAD` × the drawn figure's longer
    side, MPII's padding of the person box, so that a SynthPose crop looks like an MPII one.
    """
    pixel = np.round(figure.joints).astype(int)  # inside the image by construction
    visible = ~mask[pixel[:, 1], pixel[:, 0]]
    return PoseRecord(
        image=f"images/{index:06d}.png",
        joints=figure.joints,
        visible=visible,
        annotated=np.ones(len(figure.joints), dtype=bool),
        center=figure.box.mean(axis=0),
        scale=BOX_PAD * float((figure.box[1] - figure.box[0]).max()) / 200,
        head_box=head_box(figure.joints),
    )


def layout(index: int, cfg: SynthConfig) -> tuple[Figure, list[Occluder], np.ndarray, np.random.Generator]:
    """The geometry of image `index`: figure, occluders, their mask, and the stream for the look."""
    pose_rng, occluder_rng, look_rng = np.random.default_rng([cfg.seed, index]).spawn(3)
    figure = sample_figure(pose_rng, cfg.image_size)
    occluders = sample_occluders(occluder_rng, figure, cfg)
    return figure, occluders, occluder_mask(occluders, cfg.image_size), look_rng


# ---------------------------------------------------------------------------------------------
# Drawing


def fixed(point: np.ndarray) -> tuple[int, int]:
    """A pixel position as OpenCV's fixed-point integers (`shift` = 4 bits)."""
    return int(round(point[0] * FIXED)), int(round(point[1] * FIXED))


def random_color(rng: np.random.Generator) -> np.ndarray:
    """Any RGB colour, uniformly: clothes, shapes and backgrounds owe nothing to each other."""
    return rng.uniform(0, 255, 3)


def draw_chain(image: np.ndarray, points: list[np.ndarray], colors: list, thickness: list[float]) -> None:
    """Limb segments points[k] → points[k+1], anti-aliased, with a darker rim drawn first for the
    whole chain so the rim shows at the limb's edges but not across its joints."""
    ends = [tuple(p) for p in np.round(np.asarray(points) * FIXED).astype(int).tolist()]
    widths = [max(1, round(t)) for t in thickness]
    for k, color in enumerate(colors):
        rim = tuple(0.6 * np.asarray(color))
        cv2.line(image, ends[k], ends[k + 1], rim, widths[k] + max(1, widths[k] // 3), cv2.LINE_AA, 4)
    for k, color in enumerate(colors):
        cv2.line(image, ends[k], ends[k + 1], tuple(color), widths[k], cv2.LINE_AA, 4)


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float32: one colour (half the time) or a linear blend of two at a random angle.

    The blend t = (a·x + b·y − min) / range is separable, so the image is a row ramp plus a column ramp.
    """
    start, end = random_color(rng), random_color(rng)
    if rng.random() < 0.5:
        end = start
    a, b = direction(rng.uniform(0, 360))
    spread = (end - start) / (abs(a) + abs(b))  # colour change per unit of a·x + b·y
    ramp = np.linspace(0.0, 1.0, size)[:, None]  # (size, 1)
    offset = start - (min(a, 0) + min(b, 0)) * spread
    rows, columns = (b * ramp * spread).astype(np.float32), (a * ramp * spread).astype(np.float32)  # (size, 3)
    return offset.astype(np.float32) + rows[:, None, :] + columns[None, :, :]  # (size, size, 3)


def add_texture(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Low-frequency colour blotches: a coarse random grid blown up with bicubic interpolation."""
    cells = rng.integers(3, 12)
    coarse = rng.uniform(-1, 1, (cells, cells, 3)).astype(np.float32)
    size = image.shape[0]
    return image + cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) * rng.uniform(15, 50)


def draw_shapes(rng: np.random.Generator, image: np.ndarray, count: int) -> None:
    """Filled rectangles and ellipses of random colour, size and place."""
    size = image.shape[0]
    for _ in range(count):
        centre = rng.uniform(0, size, 2)
        axes = rng.uniform(0.03, 0.25, 2) * size
        color = tuple(random_color(rng))
        if rng.random() < 0.5:
            cv2.rectangle(image, fixed(centre - axes), fixed(centre + axes), color, -1, cv2.LINE_AA, 4)
        else:
            cv2.ellipse(image, fixed(centre), fixed(axes), rng.uniform(0, 180), 0, 360, color, -1,
                        cv2.LINE_AA, 4)


def draw_distractors(rng: np.random.Generator, image: np.ndarray, unit_px: float, count: int) -> None:
    """Jointed strokes shaped, sized and coloured like the figure's limbs, behind the figure."""
    size = image.shape[0]
    for _ in range(count):
        segments = rng.integers(2, 4)
        heading = rng.uniform(0, 360)
        points = [rng.uniform(0, size, 2)]
        for _ in range(segments):
            heading += rng.uniform(-120, 120)
            points.append(points[-1] + rng.uniform(1.2, 2.2) * unit_px * direction(heading))
        color = SKIN[rng.integers(len(SKIN))] if rng.random() < 0.5 else random_color(rng)
        draw_chain(image, points, [color] * segments, [rng.uniform(0.3, 0.6) * unit_px] * segments)


def background(rng: np.random.Generator, level: int, size: int, unit_px: float) -> np.ndarray:
    """The scene behind the figure at a difficulty level (see the module docstring), uint8 RGB."""
    image = gradient(rng, size)
    if level >= 1:
        image = add_texture(rng, image)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if level >= 1:
        draw_shapes(rng, image, rng.integers(3, 9) if level == 1 else rng.integers(6, 13))
    if level >= 2:
        draw_distractors(rng, image, unit_px, rng.integers(2, 6))
    return image


def draw_neckline(image: np.ndarray, figure: Figure, skin: np.ndarray) -> None:
    """Facing the camera, a V of skin below the neck: a second, larger cue to the facing than the face."""
    pelvis, thorax = figure.joints[MPII.index("pelvis")], figure.joints[MPII.index("thorax")]
    down = (pelvis - thorax) / max(float(np.linalg.norm(pelvis - thorax)), 1e-6)
    across = np.array([-down[1], down[0]])
    unit = figure.unit_px
    corners = np.stack([thorax - 0.3 * unit * across, thorax + 0.3 * unit * across, thorax + 0.6 * unit * down])
    cv2.fillConvexPoly(image, np.round(corners * FIXED).astype(np.int32), tuple(skin), cv2.LINE_AA, 4)


def draw_head(image: np.ndarray, figure: Figure, skin: np.ndarray, hair: np.ndarray) -> None:
    """Hair all over from behind; facing the camera, a face with two eyes framed by hair."""
    neck, top = figure.joints[MPII.index("upper_neck")], figure.joints[MPII.index("head_top")]
    axis = top - neck
    length = float(np.linalg.norm(axis))
    angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
    middle = (neck + top) / 2
    cv2.ellipse(image, fixed(middle), fixed((0.58 * length, 0.42 * length)), angle, 0, 360,
                tuple(hair), -1, cv2.LINE_AA, 4)
    if not figure.facing_camera:
        return
    face = middle - 0.1 * axis  # hair stays on the crown and the sides
    cv2.ellipse(image, fixed(face), fixed((0.45 * length, 0.32 * length)), angle, 0, 360,
                tuple(skin), -1, cv2.LINE_AA, 4)
    if length >= 10:  # eyes are sub-pixel on smaller heads
        across = np.array([-axis[1], axis[0]]) / length
        radius = max(1.0, 0.06 * length)
        for side in SIDES:
            eye = face + 0.08 * axis + side * 0.14 * length * across
            cv2.circle(image, fixed(eye), round(radius * FIXED), tuple(0.3 * hair), -1, cv2.LINE_AA, 4)


def extend(start: np.ndarray, end: np.ndarray, length: float) -> np.ndarray:
    """The point `length` pixels beyond `end` on the line from `start`: where a hand or foot ends."""
    step = end - start
    return end + length * step / max(float(np.linalg.norm(step)), 1e-6)


def draw_figure(image: np.ndarray, rng: np.random.Generator, figure: Figure) -> None:
    """Legs, torso, neck, head, then arms (over the torso), in skin and clothing colours."""
    skin = np.clip(SKIN[rng.integers(len(SKIN))] + rng.normal(0, 8, 3), 0, 255)
    hair = np.minimum(HAIR[rng.integers(len(HAIR))], 0.5 * skin)
    shirt, trousers, shoes = random_color(rng), random_color(rng), random_color(rng) * 0.5
    sleeves = rng.integers(0, 3)  # 0 bare arms, 1 short sleeves, 2 long sleeves
    shins = trousers if rng.random() < 0.7 else skin  # long trousers or shorts
    unit, j = figure.unit_px, figure.joints

    for side in rng.permutation(2):  # which leg, and later which arm, is drawn on top
        hip, knee, ankle = j[LEGS[side]]
        draw_chain(image, [hip, knee, ankle, extend(knee, ankle, 0.3 * unit)], [trousers, shins, shoes],
                   [THICKNESS["thigh"] * unit, THICKNESS["shin"] * unit, THICKNESS["foot"] * unit])
    cv2.fillPoly(image, [np.round(figure.torso * FIXED).astype(np.int32)], tuple(shirt), cv2.LINE_AA, 4)
    if figure.facing_camera:
        draw_neckline(image, figure, skin)
    draw_chain(image, [j[MPII.index("thorax")], j[MPII.index("upper_neck")]], [skin], [THICKNESS["neck"] * unit])
    draw_head(image, figure, skin, hair)
    upper, lower = (shirt if sleeves >= 1 else skin), (shirt if sleeves == 2 else skin)
    for side in rng.permutation(2):
        shoulder, elbow, wrist = j[ARMS[side]]
        draw_chain(image, [shoulder, elbow, wrist, extend(elbow, wrist, 0.2 * unit)], [upper, lower, skin],
                   [THICKNESS["upper_arm"] * unit, THICKNESS["forearm"] * unit, THICKNESS["hand"] * unit])


def add_noise(rng: np.random.Generator, image: np.ndarray, level: int) -> np.ndarray:
    """Pixel noise, uniform within ±(up to 10) grey levels when textured, ±(3 to 17) when cluttered,
    and a slight blur on 30% of cluttered images. Uniform integer noise: Gaussian noise costs 5×
    more to draw and a network does not tell the two apart."""
    amplitude = rng.integers(0, 11) if level == 1 else rng.integers(3, 18)
    noisy = image + rng.integers(-amplitude, amplitude + 1, image.shape, dtype=np.int16)
    image = np.clip(noisy, 0, 255).astype(np.uint8)
    if level >= 2 and rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.0))
    return image


# ---------------------------------------------------------------------------------------------
# The dataset


def render(index: int, cfg: SynthConfig) -> SynthSample:
    """Image `index` with its record, occluder mask and geometry (see the module docstring)."""
    figure, occluders, mask, look_rng = layout(index, cfg)
    image = background(look_rng, cfg.level, cfg.image_size, figure.unit_px)
    draw_figure(image, look_rng, figure)
    for occluder in occluders:
        cv2.fillPoly(image, [occluder.polygon], occluder.color, cv2.LINE_AA)
    if cfg.level >= 1:
        image = add_noise(look_rng, image, cfg.level)
    return SynthSample(image, make_record(index, figure, mask), mask, figure)


def generate(index: int, cfg: SynthConfig) -> tuple[np.ndarray, PoseRecord]:
    """Image `index` of SynthPose under cfg: ((H, W, 3) uint8 RGB, PoseRecord)."""
    sample = render(index, cfg)
    return sample.image, sample.record


class SynthPose:
    """`length` SynthPose images under one config: records without drawing, images on demand.

    `records()` and `read_image` plug into `PoseDataset(records, read_image, MPII)`.
    """

    def __init__(self, cfg: SynthConfig = SynthConfig(), length: int = 10_000):
        self.cfg, self.length = cfg, length

    def __len__(self) -> int:
        return self.length

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.length:
            raise IndexError(f"SynthPose index {index} out of range 0..{self.length - 1}")

    def record(self, index: int) -> PoseRecord:
        """Record `index`, computed from the geometry alone, without drawing the image."""
        self._check_index(index)
        figure, _, mask, _ = layout(index, self.cfg)
        return make_record(index, figure, mask)

    def records(self) -> list[PoseRecord]:
        return [self.record(i) for i in range(self.length)]

    def image(self, index: int) -> np.ndarray:
        self._check_index(index)
        return render(index, self.cfg).image

    def read_image(self, index: int, record: PoseRecord) -> np.ndarray:
        """The image reader PoseDataset calls; the image depends on the index alone."""
        return self.image(index)


# ---------------------------------------------------------------------------------------------
# Export to mmpose's MPII JSON layout


def export_entry(record: PoseRecord, file_name: str) -> dict:
    """One annotation in mmpose's MPII JSON layout (1-based), see `export`."""
    scale_raw = record.scale / BOX_PAD  # `mpii.person_box` multiplies the stored scale by BOX_PAD ...
    center_raw = record.center - (0, BOX_SHIFT * scale_raw)  # ... and moves the centre down BOX_SHIFT·scale
    return {
        "image": file_name,
        "center": (center_raw + 1).tolist(),
        "scale": scale_raw,
        "joints": (record.joints + 1).tolist(),
        "joints_vis": record.annotated.astype(int).tolist(),
        "is_visible": record.visible.astype(int).tolist(),
        "head_box": (record.head_box + 1).tolist(),
    }


def export(synth: SynthPose, out_dir: str | Path, split_name: str = "train", progress: bool = True) -> Path:
    """Write synth's images and annotations as an MPII dataset in mmpose's layout; return the JSON's path.

    Files: out_dir/images/000000.png ... (RGB PNG, lossless) and out_dir/mpii_<split_name>.json (mmpose's
    file name; read it with `hglearn.data.mpii.load_mpii_json`),
    a list with one object per image:
        image       file name under images/ ("000000.png"; the record's image is "images/000000.png")
        center      [x, y] 1-based, stored the MPII way: the record's centre − (0, 15·scale)
        scale       the record's scale / 1.25, so that MPII loaders' (center + (0, 15·scale),
                    1.25·scale) gives back the SynthPose crop box
        joints      16 × [x, y], 1-based, in MPII order (SynthPose has no missing joints; mmpose
                    writes [-1, -1] for those)
        joints_vis  16 × 0/1, annotated, as in mmpose's files (1 for every SynthPose joint)
        is_visible  16 × 0/1, not occluded: MPII's per-point flag, which mmpose's files leave out
        head_box    [[x1, y1], [x2, y2]] 1-based; mmpose keeps head boxes in mpii_gt_val.mat instead
    Every file is written under a temporary name and renamed, and the JSON last: an interrupted
    export leaves no half-written file, and no new annotation file.
    """
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    entries = []
    for index in tqdm(range(len(synth)), desc=f"SynthPose {split_name}", disable=not progress):
        sample = render(index, synth.cfg)
        file_name = Path(sample.record.image).name
        ok, png = cv2.imencode(".png", cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f"could not encode image {index} as PNG")
        with atomic_path(out_dir / "images" / file_name) as tmp:
            tmp.write_bytes(png.tobytes())
        entries.append(export_entry(sample.record, file_name))
    annotation_path = out_dir / f"mpii_{split_name}.json"
    with atomic_path(annotation_path) as tmp:
        tmp.write_text(json.dumps(entries))
    return annotation_path
