"""The checks of notebook 06 pass right answers and fail plausible wrong ones with a hint."""
from functools import partial

import numpy as np
import torch

from hglearn import course


# --- quarter-offset decoding -----------------------------------------------------------------------


def quarter_offset(heatmaps, toward=1.0, wrap=False, swap_xy=False):
    """Argmax, then a quarter pixel toward the larger neighbour, as a student would write it with
    loops; `toward=-1` steps toward the smaller one, `wrap` reads the neighbours of border pixels
    from the opposite border (torch.roll) instead of making no step, `swap_xy` returns (y, x)."""
    b, j, h, w = heatmaps.shape
    coords = torch.zeros(b, j, 2)
    for n in range(b):
        for k in range(j):
            hm = heatmaps[n, k]
            index = int(hm.argmax())
            y, x = divmod(index, w)
            dx = dy = 0.0
            if wrap:
                dx = float(torch.sign(hm[y, (x + 1) % w] - hm[y, x - 1]))
                dy = float(torch.sign(hm[(y + 1) % h, x] - hm[y - 1, x]))
            else:
                if 0 < x < w - 1:
                    dx = float(torch.sign(hm[y, x + 1] - hm[y, x - 1]))
                if 0 < y < h - 1:
                    dy = float(torch.sign(hm[y + 1, x] - hm[y - 1, x]))
            point = (x + 0.25 * toward * dx, y + 0.25 * toward * dy)
            coords[n, k] = torch.tensor(point[::-1] if swap_xy else point)
    return coords


def test_check_decode_quarter_offset(verdict_fails):
    assert course.check_decode_quarter_offset(quarter_offset)
    verdict_fails(course.check_decode_quarter_offset(lambda hm: quarter_offset(hm, toward=-1.0)), "values differ")
    verdict_fails(course.check_decode_quarter_offset(lambda hm: quarter_offset(hm, wrap=True)), "values differ")
    verdict_fails(course.check_decode_quarter_offset(lambda hm: quarter_offset(hm, swap_xy=True)), "values differ")

    def plain_argmax(hm):
        return quarter_offset(hm, toward=0.0)

    verdict_fails(course.check_decode_quarter_offset(plain_argmax), "values differ")
    verdict_fails(course.check_decode_quarter_offset(lambda hm: quarter_offset(hm)[0]), "shape")


# --- PCKh and PCK ----------------------------------------------------------------------------------


def percent_correct(pred, gt, annotated, norm, threshold, strict=True, count_all=False):
    """Per-joint percentages as a student would write them with numpy."""
    distance = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=2) / np.asarray(norm)[:, None]  # (N, J)
    with np.errstate(invalid="ignore"):
        hit = distance < threshold if strict else distance <= threshold
    correct = (hit & annotated).sum(axis=0)
    total = len(annotated) if count_all else annotated.sum(axis=0)
    return 100.0 * correct / total


def pckh(pred, gt, annotated, head_boxes, threshold=0.5, factor=0.6, **options):
    boxes = np.asarray(head_boxes, dtype=float)
    size = factor * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)
    return percent_correct(pred, gt, annotated, size, threshold, **options)


def test_check_pckh(verdict_fails):
    assert course.check_pckh(pckh)
    verdict_fails(course.check_pckh(partial(pckh, factor=1.0)), "values differ")  # the diagonal, not 0.6 of it
    verdict_fails(course.check_pckh(partial(pckh, count_all=True)), "values differ")  # unannotated joints counted
    verdict_fails(course.check_pckh(partial(pckh, strict=False)), "values differ")  # <= instead of <
    verdict_fails(course.check_pckh(lambda *a: pckh(*a) / 100), "values differ")  # fractions, not percent
    verdict_fails(course.check_pckh(lambda *a: float(np.mean(pckh(*a)))), "expected an array")  # one number


def test_strict_threshold_is_caught_by_the_hand_made_case(verdict_fails):
    """`<=` and `<` differ only where a joint lies exactly at the threshold: the hint names that case."""
    verdict_fails(course.check_pckh(partial(pckh, strict=False)), "pckh(array(2, 3, 2), array(2, 3, 2)")
    verdict_fails(course.check_pck(partial(pck, strict=False)), "pck(array(2, 4, 2), array(2, 4, 2)")


def pck(pred, gt, annotated, torso, threshold=0.2, **options):
    a, b = torso
    size = np.linalg.norm(np.asarray(gt)[:, a] - np.asarray(gt)[:, b], axis=1)
    return percent_correct(pred, gt, annotated, size, threshold, **options)


def test_check_pck(verdict_fails):
    assert course.check_pck(pck)

    def predicted_torso(pred, gt, annotated, torso, threshold=0.2):
        a, b = torso
        size = np.linalg.norm(pred[:, a] - pred[:, b], axis=1)
        return percent_correct(pred, gt, annotated, size, threshold)

    def mean_torso(pred, gt, annotated, torso, threshold=0.2):
        a, b = torso
        size = np.full(len(gt), np.linalg.norm(gt[:, a] - gt[:, b], axis=1).mean())
        return percent_correct(pred, gt, annotated, size, threshold)

    verdict_fails(course.check_pck(predicted_torso), "values differ")
    verdict_fails(course.check_pck(mean_torso), "values differ")
    verdict_fails(course.check_pck(partial(pck, count_all=True)), "values differ")
    verdict_fails(course.check_pck(partial(pck, strict=False)), "values differ")
    def ignores_threshold(pred, gt, annotated, torso, threshold=0.2):
        return pck(pred, gt, annotated, torso, 0.5)

    verdict_fails(course.check_pck(ignores_threshold), "values differ")


def test_checks_report_not_implemented_as_not_attempted():
    def unsolved(*args, **kwargs):
        raise NotImplementedError("Exercise 1: your code here")

    for check in (course.check_decode_quarter_offset, course.check_pckh, course.check_pck):
        verdict = check(unsolved)
        assert not verdict and not verdict.attempted, check.__name__
