"""SynthPose: determinism, geometry, visibility, difficulty levels and the MPII-style export."""
import json

import cv2
import numpy as np
import pytest

from hglearn.data import synth
from hglearn.data.synth import DIFFICULTIES, SynthConfig, SynthPose, export, generate, layout, render
from hglearn.joints import MPII


def assert_same_record(a, b):
    assert a.image == b.image
    for field in ("joints", "visible", "annotated", "center", "head_box"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert a.scale == b.scale


def inside(points, size):
    return ((points >= 0) & (points <= size - 1)).all()


def test_same_seed_and_index_give_the_same_sample_and_others_differ():
    cfg = SynthConfig(image_size=64)
    image, record = generate(7, cfg)
    again_image, again_record = generate(7, cfg)
    np.testing.assert_array_equal(image, again_image)
    assert_same_record(record, again_record)
    for other_index, other_cfg in [(8, cfg), (7, SynthConfig(image_size=64, seed=1))]:
        other_image, other_record = generate(other_index, other_cfg)
        assert not np.array_equal(image, other_image)
        assert not np.allclose(record.joints, other_record.joints)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_image_size_is_honoured_and_every_joint_lies_inside(size):
    for index in range(8):
        image, record = generate(index, SynthConfig(image_size=size, difficulty="occluded"))
        assert image.shape == (size, size, 3) and image.dtype == np.uint8
        assert record.joints.shape == (MPII.num_joints, 2)
        assert record.annotated.all()
        assert inside(record.joints, size)  # visible ones included: figures are kept inside the image


def test_joints_and_boxes_scale_with_the_image_size():
    small, large = SynthPose(SynthConfig(image_size=64)), SynthPose(SynthConfig(image_size=256))
    for index in range(5):
        a, b = small.record(index), large.record(index)
        # Pixel centres on integers: x_256 = (x_64 + 0.5) · 4 − 0.5.
        np.testing.assert_allclose((a.joints + 0.5) * 4 - 0.5, b.joints, atol=1e-9)
        np.testing.assert_allclose((a.center + 0.5) * 4 - 0.5, b.center, atol=1e-9)
        np.testing.assert_allclose((a.head_box + 0.5) * 4 - 0.5, b.head_box, atol=1e-9)
        assert b.scale == pytest.approx(4 * a.scale)


def test_person_box_holds_the_figure_with_a_margin():
    for index in range(30):
        record = SynthPose(SynthConfig(image_size=128)).record(index)
        side = 200 * record.scale
        assert np.abs(record.joints - record.center).max() <= 0.4 * side  # 10% of the side spare


def test_head_box_holds_head_top_and_upper_neck_and_gives_the_head_length():
    neck, top = MPII.index("upper_neck"), MPII.index("head_top")
    for index in range(30):
        record = SynthPose(SynthConfig(image_size=128)).record(index)
        (x1, y1), (x2, y2) = record.head_box
        for x, y in record.joints[[neck, top]]:
            assert x1 < x < x2 and y1 < y < y2
        head_size = 0.6 * np.hypot(x2 - x1, y2 - y1)
        assert head_size == pytest.approx(np.linalg.norm(record.joints[top] - record.joints[neck]))


def test_left_and_right_follow_the_facing():
    """Facing the camera, the person's left shoulder lies on the +x side of the body's own frame."""
    facings = set()
    for index in range(40):
        sample = render(index, SynthConfig(image_size=64, difficulty="plain"))
        j = sample.record.joints
        up = j[MPII.index("thorax")] - j[MPII.index("pelvis")]
        body_x = np.array([-up[1], up[0]])  # the image's +x when the figure is upright
        across = j[MPII.index("l_shoulder")] - j[MPII.index("r_shoulder")]
        assert (across @ body_x > 0) == sample.figure.facing_camera
        facings.add(sample.figure.facing_camera)
    assert facings == {True, False}


def test_occluders_hide_exactly_the_joints_they_cover():
    """Same index with and without occluders: same figure and scene, pixels changed only under the
    occluders, and the joints under them (and only those) marked not visible but annotated."""
    hidden = 0
    for index in range(30):
        occluded = render(index, SynthConfig(image_size=64, difficulty="occluded"))
        clear = render(index, SynthConfig(image_size=64, difficulty="occluded", occluder_prob=0.0))
        np.testing.assert_array_equal(occluded.record.joints, clear.record.joints)
        assert clear.record.visible.all() and not clear.occluder_mask.any()
        assert occluded.occluder_mask.any() and occluded.record.annotated.all()

        pixel = np.round(occluded.record.joints).astype(int)
        covered = occluded.occluder_mask[pixel[:, 1], pixel[:, 0]]
        np.testing.assert_array_equal(occluded.record.visible, ~covered)

        change = np.abs(occluded.image.astype(int) - clear.image.astype(int)).max(axis=2)  # (H, W)
        # Anti-aliasing and the blur (σ ≤ 1, a 7-pixel kernel) reach a few pixels past the mask.
        near = cv2.dilate(occluded.occluder_mask.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
        assert not change[~near].any()
        for x, y in pixel[covered]:
            assert change[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max() > 0
        hidden += covered.sum()
    assert hidden >= 10


def occluder_share(difficulty, count):
    """The fraction of images with occluders (the drawn pixels are checked above)."""
    cfg = SynthConfig(image_size=64, difficulty=difficulty)
    return np.mean([len(layout(i, cfg)[1]) > 0 for i in range(count)])


def test_occluders_appear_at_each_level_as_documented():
    assert occluder_share("plain", 100) == 0 and occluder_share("textured", 100) == 0
    assert 0.22 <= occluder_share("cluttered", 400) <= 0.38  # 30% expected, ±3.5σ
    assert occluder_share("occluded", 100) == 1


def background_roughness(sample) -> float:
    """Mean absolute difference between horizontal neighbours, away from the drawn figure."""
    image = sample.image.astype(float)
    (x1, y1), (x2, y2) = np.round(sample.figure.box).astype(int)
    outside = np.ones(image.shape[:2], bool)
    outside[max(y1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = False
    change = np.abs(np.diff(image, axis=1)).mean(axis=2)  # (H, W - 1)
    return float(change[outside[:, 1:] & outside[:, :-1]].mean())


def test_difficulty_levels_add_clutter():
    roughness = {difficulty: [background_roughness(render(i, SynthConfig(image_size=128, difficulty=difficulty)))
                              for i in range(15)]
                 for difficulty in DIFFICULTIES[:3]}
    assert max(roughness["plain"]) <= 2.0  # a gradient changes by at most 255 over 127 pixels
    assert np.median(roughness["textured"]) > 2 * np.median(roughness["plain"])
    assert np.median(roughness["cluttered"]) > np.median(roughness["textured"])


def test_config_takes_level_numbers_and_rejects_bad_values():
    assert SynthConfig(difficulty=3).difficulty == "occluded"
    assert SynthConfig(difficulty="plain").level == 0
    for bad in ({"difficulty": "hard"}, {"difficulty": 4}, {"image_size": 16}, {"occluder_prob": 1.5}):
        with pytest.raises(ValueError):
            SynthConfig(**bad)


def test_dataset_records_match_the_rendered_samples():
    dataset = SynthPose(SynthConfig(image_size=64, difficulty="occluded"), length=4)
    assert len(dataset) == 4 and len(dataset.records()) == 4
    for index, record in enumerate(dataset.records()):
        image, expected = generate(index, dataset.cfg)
        assert_same_record(record, expected)
        assert record.image == f"images/{index:06d}.png"
        np.testing.assert_array_equal(dataset.read_image(index, record), image)
    with pytest.raises(IndexError):
        dataset.record(4)


def test_export_reads_back_the_mpii_way(tmp_path):
    dataset = SynthPose(SynthConfig(image_size=64, difficulty="occluded"), length=5)
    path = export(dataset, tmp_path, "val", progress=False)
    assert path == tmp_path / "mpii_val.json"
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"{i:06d}.png" for i in range(5)]
    assert not list(tmp_path.rglob("*.tmp"))

    entries = json.loads(path.read_text())
    assert len(entries) == 5
    for index, entry in enumerate(entries):
        record = dataset.record(index)
        saved = cv2.cvtColor(cv2.imread(str(tmp_path / "images" / entry["image"])), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(saved, dataset.image(index))
        np.testing.assert_allclose(np.array(entry["joints"]) - 1, record.joints, atol=1e-9)  # 1-based
        np.testing.assert_allclose(np.array(entry["head_box"]) - 1, record.head_box, atol=1e-9)
        assert entry["joints_vis"] == [1] * MPII.num_joints
        np.testing.assert_array_equal(np.array(entry["is_visible"], bool), record.visible)
        # MPII loaders: centre + (0, 15·scale), then 1-based → 0-based; side 200 · 1.25 · scale.
        center = np.array(entry["center"]) + (0, 15 * entry["scale"]) - 1
        np.testing.assert_allclose(center, record.center, atol=1e-9)
        assert 1.25 * entry["scale"] == pytest.approx(record.scale)
    assert not all(all(entry["is_visible"]) for entry in entries)  # occlusion made the round trip


def test_interrupted_export_leaves_no_annotation_file(tmp_path, monkeypatch):
    real_render = synth.render

    def failing_render(index, cfg):
        if index == 2:
            raise KeyboardInterrupt
        return real_render(index, cfg)

    monkeypatch.setattr(synth, "render", failing_render)
    with pytest.raises(KeyboardInterrupt):
        export(SynthPose(SynthConfig(image_size=64), length=4), tmp_path, progress=False)
    assert not (tmp_path / "mpii_train.json").exists()
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["000000.png", "000001.png"]
