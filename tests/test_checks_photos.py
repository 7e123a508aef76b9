"""The check of notebook 11 (heatmap coordinates back onto a photo) and the predict-then-check helper."""
import numpy as np
import pytest

from hglearn import course
from hglearn.data.transforms import crop_matrix, heatmap_to_image
from hglearn.course.checks_photos import heatmap_to_photo
from hglearn.predict import Prediction, predict_pose


def by_formula(coords_hm, box, out_res):
    """Right, written out: p = c + (p_hm − (R − 1)/2) · s / R, s = 1.25 · the box's longer side."""
    x0, y0, x1, y1 = box
    side = 1.25 * max(x1 - x0, y1 - y0)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    return center + (np.asarray(coords_hm, dtype=float) - (out_res - 1) / 2) * side / out_res


def by_loop(coords_hm, box, out_res):
    """Right, one joint at a time through the library's torch mapping."""
    import torch

    x0, y0, x1, y1 = box
    center, scale = ((x0 + x1) / 2, (y0 + y1) / 2), 1.25 * max(x1 - x0, y1 - y0) / 200
    matrix = torch.from_numpy(crop_matrix(np.array(center), scale, out_res))[None]
    rows = [heatmap_to_image(torch.tensor([[list(map(float, p))]], dtype=torch.float64), matrix, out_res, out_res)[0, 0]
            for p in coords_hm]
    return np.stack([r.numpy() for r in rows])


def half_pixel_off(coords_hm, box, out_res):  # the crop's centre at R/2 (Newell et al.'s code)
    x0, y0, x1, y1 = box
    side = 1.25 * max(x1 - x0, y1 - y0)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + (coords_hm - out_res / 2) * side / out_res


def per_axis_scale(coords_hm, box, out_res):  # x by the box's width, y by its height: no square crop
    x0, y0, x1, y1 = box
    sides = 1.25 * np.array([x1 - x0, y1 - y0])
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + (coords_hm - (out_res - 1) / 2) * sides / out_res


def no_padding(coords_hm, box, out_res):  # the crop as large as the box, not 1.25 times
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + (coords_hm - (out_res - 1) / 2) * side / out_res


def from_the_corner(coords_hm, box, out_res):  # heatmap pixels counted from the box's top-left corner
    side = 1.25 * max(box[2] - box[0], box[3] - box[1])
    return np.array(box[:2]) + (coords_hm + 0.5) * side / out_res


def swapped(coords_hm, box, out_res):
    return by_formula(coords_hm, box, out_res)[:, ::-1]


def in_place(coords_hm, box, out_res):  # right numbers, but written into the caller's array
    coords_hm *= 1.0
    coords_hm[:] = by_formula(coords_hm, box, out_res)
    return coords_hm


def as_list(coords_hm, box, out_res):
    return by_formula(coords_hm, box, out_res).tolist()


def shorter_side(coords_hm, box, out_res):
    x0, y0, x1, y1 = box
    side = 1.25 * min(x1 - x0, y1 - y0)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + (coords_hm - (out_res - 1) / 2) * side / out_res


def test_check_heatmap_to_photo_accepts_right_answers_written_differently():
    for right in (by_formula, by_loop, heatmap_to_photo):
        assert course.check_heatmap_to_photo(right), right.__name__


@pytest.mark.parametrize("wrong, message", [
    (half_pixel_off, "off by half a heatmap pixel"), (per_axis_scale, "values differ"), (no_padding, "values differ"),
    (from_the_corner, "values differ"), (swapped, "x and y swapped"), (in_place, "changed its input"),
    (as_list, "returned list"), (shorter_side, "values differ")])
def test_check_heatmap_to_photo_rejects_plausible_mistakes(wrong, message, verdict_fails):
    verdict_fails(course.check_heatmap_to_photo(wrong), message)


def test_the_reference_is_what_hglearn_predict_does():
    """A model whose heatmap peaks at a known pixel: predict_pose's joint is heatmap_to_photo of it."""
    import torch

    class Peak(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):  # (B, 1 stack, 16 joints, 8, 8), every joint's peak at (x, y) = (5, 2)
            maps = torch.zeros(x.shape[0], 1, 16, 8, 8)
            maps[..., 2, 5] = 1.0
            return maps

    from hglearn.joints import MPII

    box = (10.0, 20.0, 90.0, 220.0)
    pose: Prediction = predict_pose(Peak(), np.zeros((240, 120, 3), np.uint8), input_res=32, joint_set=MPII, box=box)
    expected = heatmap_to_photo(np.array([[5.0, 2.0]]), box, 8)
    assert np.allclose(pose.joints, expected)  # no sub-pixel shift: the neighbours are equal


def test_check_prediction_says_right_wrong_or_not_attempted_and_always_why():
    choices = ("higher", "about the same", "lower")
    right = course.check_prediction(lambda: "Lower ", choices=choices, measured="lower", why="Because.")
    assert right and "Because." in repr(right)
    wrong = course.check_prediction(lambda: "higher", choices=choices, measured="lower", why="Because.")
    assert not wrong and wrong.attempted and "Because." in repr(wrong) and "'lower'" in repr(wrong)
    odd = course.check_prediction(lambda: "much", choices=choices, measured="lower", why="Because.")
    assert not odd and "not one of" in repr(odd)

    def stub():
        raise NotImplementedError("Exercise 3 (my_prediction): your code here")

    unanswered = course.check_prediction(stub, choices=choices, measured="lower", why="Because.")
    assert not unanswered and not unanswered.attempted and "not attempted" in repr(unanswered)
    with pytest.raises(ValueError, match="not one of the choices"):
        course.check_prediction(lambda: "lower", choices=choices, measured="none", why="")


def test_the_notebook_goes_on_with_the_students_function_only_when_it_passes(capsys):
    chosen = course.yours_or_reference(by_formula, heatmap_to_photo, course.check_heatmap_to_photo)
    assert chosen is by_formula and "your by_formula" in capsys.readouterr().out
    chosen = course.yours_or_reference(swapped, heatmap_to_photo, course.check_heatmap_to_photo)
    assert chosen is heatmap_to_photo and "hglearn's heatmap_to_photo" in capsys.readouterr().out

    def stub(*args):
        raise NotImplementedError("Exercise 1 (heatmap_to_photo): your code here")

    assert course.yours_or_reference(stub, heatmap_to_photo, course.check_heatmap_to_photo) is heatmap_to_photo
    assert "not attempted" in capsys.readouterr().out
