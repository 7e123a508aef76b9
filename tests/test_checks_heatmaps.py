"""The checks of notebook 06 pass right answers written in other ways than the solution's and fail
plausible wrong ones, naming the mistake where the cases tell it apart."""
import math
from functools import partial

import numpy as np
import pytest
import torch

import solution_cells
from hglearn import course


def solution(notebook: str, name: str):
    """`name` as the solution notebook defines it (the code of its exercise cell, run)."""
    return solution_cells.solution(notebook, name, {"np": np, "torch": torch, "math": math})


@pytest.mark.parametrize("check, name", [
    (course.check_decode_quarter_offset, "decode_quarter_offset"),
    (course.check_pckh, "pckh_per_joint"),
    (course.check_pck, "pck_per_joint"),
])
def test_the_solution_notebooks_answers_pass(check, name):
    assert check(solution("06_heatmaps_pckh.ipynb", name))


# --- quarter-offset decoding -----------------------------------------------------------------------


def quarter_offset(heatmaps, toward=1.0, wrap=False, swap_xy=False, split_by_h=False, step_on_ties=False,
                   step=0.25):
    """Argmax, then a quarter pixel toward the larger neighbour, with loops, divmod and the mistakes
    as switches: `toward=-1` steps toward the smaller one, `wrap` reads the neighbours of border pixels
    from the opposite border instead of making no step, `swap_xy` returns (y, x), `split_by_h` splits
    the flat index with h instead of w, `step_on_ties` steps right (down) when the neighbours are equal."""
    b, j, h, w = heatmaps.shape
    coords = torch.zeros(b, j, 2)
    for n in range(b):
        for k in range(j):
            hm = heatmaps[n, k]
            index = int(hm.argmax())
            y, x = divmod(index, h if split_by_h else w)
            y, x = min(y, h - 1), min(x, w - 1)

            def sign(a, b):
                return (1.0 if a >= b else -1.0) if step_on_ties else float(torch.sign(a - b))

            dx = dy = 0.0
            if wrap:
                dx = sign(hm[y, (x + 1) % w], hm[y, x - 1])
                dy = sign(hm[(y + 1) % h, x], hm[y - 1, x])
            else:
                if 0 < x < w - 1:
                    dx = sign(hm[y, x + 1], hm[y, x - 1])
                if 0 < y < h - 1:
                    dy = sign(hm[y + 1, x], hm[y - 1, x])
            point = (x + step * toward * dx, y + step * toward * dy)
            coords[n, k] = torch.tensor(point[::-1] if swap_xy else point)
    return coords


def decode_with_numpy(heatmaps):
    """Right, another way: NumPy, np.unravel_index, a NumPy array back."""
    maps = np.asarray(heatmaps)
    b, j, h, w = maps.shape
    out = np.zeros((b, j, 2))
    for n, k in np.ndindex(b, j):
        y, x = np.unravel_index(np.argmax(maps[n, k]), (h, w))
        step_x = np.sign(maps[n, k, y, x + 1] - maps[n, k, y, x - 1]) if 0 < x < w - 1 else 0.0
        step_y = np.sign(maps[n, k, y + 1, x] - maps[n, k, y - 1, x]) if 0 < y < h - 1 else 0.0
        out[n, k] = (x + 0.25 * step_x, y + 0.25 * step_y)
    return out


def decode_vectorised(heatmaps):
    """Right, another way: no loop; neighbours read by padding the maps and gathering."""
    b, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, j, -1).argmax(-1)
    y, x = flat // w, flat % w
    padded = torch.nn.functional.pad(heatmaps, (1, 1, 1, 1)).reshape(b, j, -1)  # border neighbours are 0

    def at(dy, dx):
        return padded.gather(2, ((y + 1 + dy) * (w + 2) + x + 1 + dx).unsqueeze(-1)).squeeze(-1)

    step_x = torch.where((x > 0) & (x < w - 1), torch.sign(at(0, 1) - at(0, -1)), torch.zeros(()))
    step_y = torch.where((y > 0) & (y < h - 1), torch.sign(at(1, 0) - at(-1, 0)), torch.zeros(()))
    return torch.stack([x + 0.25 * step_x, y + 0.25 * step_y], dim=-1).double()


def per_axis_argmax(heatmaps):
    """The column of the largest column maximum and the row of the largest row maximum: the argmax
    pixel when the maximum is unique, another pixel when two share it."""
    b, j, h, w = heatmaps.shape
    coords = quarter_offset(heatmaps)
    for n in range(b):
        for k in range(j):
            hm = heatmaps[n, k]
            x, y = int(hm.amax(0).argmax()), int(hm.amax(1).argmax())
            dx = float(torch.sign(hm[y, x + 1] - hm[y, x - 1])) if 0 < x < w - 1 else 0.0
            dy = float(torch.sign(hm[y + 1, x] - hm[y - 1, x])) if 0 < y < h - 1 else 0.0
            coords[n, k] = torch.tensor([x + 0.25 * dx, y + 0.25 * dy])
    return coords


def normalising_in_place(heatmaps):
    heatmaps -= heatmaps.amin(dim=(2, 3), keepdim=True)  # the caller's heatmaps change
    return quarter_offset(heatmaps)


def test_check_decode_quarter_offset_passes_right_answers_written_differently():
    assert course.check_decode_quarter_offset(quarter_offset)
    assert course.check_decode_quarter_offset(decode_with_numpy)
    assert course.check_decode_quarter_offset(decode_vectorised)


@pytest.mark.parametrize("wrong, words", [
    (partial(quarter_offset, toward=-1.0), "toward the smaller neighbour"),
    (partial(quarter_offset, toward=0.0), "plain argmax"),
    (partial(quarter_offset, step=0.5), "half a pixel"),
    (partial(quarter_offset, swap_xy=True), "(y, x)"),
    (partial(quarter_offset, wrap=True), "no wrap-around"),
    (partial(quarter_offset, split_by_h=True), "a non-square map"),
    (partial(quarter_offset, step_on_ties=True), "equal neighbours give sign 0"),
    (per_axis_argmax, "two pixels share the maximum"),
    (normalising_in_place, "changed its argument heatmaps in place"),
    (lambda hm: quarter_offset(hm)[0], "shape"),
    (lambda hm: quarter_offset(hm).tolist(), "expected an array or tensor, got list"),
])
def test_check_decode_quarter_offset_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_decode_quarter_offset(wrong), words)


# --- PCKh and PCK ----------------------------------------------------------------------------------


def percent_correct(pred, gt, annotated, norm, threshold, strict=True, count_all=False, unmasked=False):
    """Per-joint percentages as a student would write them with numpy."""
    distance = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=2) / np.asarray(norm)[:, None]  # (N, J)
    with np.errstate(invalid="ignore"):
        hit = distance < threshold if strict else distance <= threshold
    correct = hit.sum(axis=0) if unmasked else (hit & annotated).sum(axis=0)
    total = len(annotated) if count_all else annotated.sum(axis=0)
    return 100.0 * correct / total


def pckh(pred, gt, annotated, head_boxes, threshold=0.5, factor=0.6, **options):
    boxes = np.asarray(head_boxes, dtype=float)
    size = factor * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)
    return percent_correct(pred, gt, annotated, size, threshold, **options)


def pckh_loops(pred, gt, annotated, head_boxes, threshold=0.5):
    """Right, another way: loops over people and joints, math.hypot."""
    n, j = annotated.shape
    hits, counts = np.zeros(j), np.zeros(j)
    for person in range(n):
        (x1, y1), (x2, y2) = head_boxes[person]
        size = 0.6 * math.hypot(x2 - x1, y2 - y1)
        for joint in range(j):
            if annotated[person, joint]:
                counts[joint] += 1
                error = math.hypot(*(pred[person, joint] - gt[person, joint]))
                hits[joint] += error / size < threshold
    return 100 * hits / counts


def pckh_nanmean(pred, gt, annotated, head_boxes, threshold=0.5):
    """Right, another way: NaN for the joints that do not count, then np.nanmean."""
    size = 0.6 * np.hypot(*(head_boxes[:, 1] - head_boxes[:, 0]).T)
    with np.errstate(invalid="ignore"):
        hit = (np.hypot(*(pred - gt).transpose(2, 0, 1)) < threshold * size[:, None]).astype(float)
    return 100 * np.nanmean(np.where(annotated, hit, np.nan), axis=0)


def pckh_hiding_unannotated(pred, gt, annotated, head_boxes, threshold=0.5):
    gt[~annotated] = np.inf  # the caller's ground truth changes
    return pckh(pred, gt, annotated, head_boxes, threshold)


def test_check_pckh_passes_right_answers_written_differently():
    assert course.check_pckh(pckh)
    assert course.check_pckh(pckh_loops)
    assert course.check_pckh(pckh_nanmean)


@pytest.mark.parametrize("wrong, words", [
    (partial(pckh, factor=1.0), "0.6 × the diagonal"),
    (partial(pckh, count_all=True), "the denominator counts every person"),
    (partial(pckh, strict=False), "is strict (<)"),
    (partial(pckh, unmasked=True), "count annotated joints only"),
    (lambda *a: pckh(*a) / 100, "fractions, not percentages"),
    (lambda pred, gt, annotated, boxes, threshold=0.5: pckh(pred, gt, annotated, boxes),
     "threshold argument is not used"),
    (pckh_hiding_unannotated, "changed its argument gt in place"),
    (lambda *a: float(np.mean(pckh(*a))), "expected an array"),
    (lambda *a: torch.from_numpy(pckh(*a)), "expected a NumPy array of floats"),
])
def test_check_pckh_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_pckh(wrong), words)


def test_strict_threshold_is_caught_by_the_hand_made_case(verdict_fails):
    """`<=` and `<` differ only where a joint lies exactly at the threshold: that case fails first."""
    verdict_fails(course.check_pckh(partial(pckh, strict=False)), "pckh(array(2, 3, 2), array(2, 3, 2)")
    verdict_fails(course.check_pck(partial(pck, strict=False)), "pck(array(2, 4, 2), array(2, 4, 2)")


def pck(pred, gt, annotated, torso, threshold=0.2, **options):
    a, b = torso
    size = np.linalg.norm(np.asarray(gt)[:, a] - np.asarray(gt)[:, b], axis=1)
    return percent_correct(pred, gt, annotated, size, threshold, **options)


def pck_loops(pred, gt, annotated, torso, threshold=0.2):
    """Right, another way: one joint at a time, the torso of each person by hand."""
    a, b = torso
    out = []
    for joint in range(gt.shape[1]):
        hits = total = 0
        for person in range(gt.shape[0]):
            if annotated[person, joint]:
                size = math.dist(gt[person, a], gt[person, b])
                hits += math.dist(pred[person, joint], gt[person, joint]) < threshold * size
                total += 1
        out.append(100.0 * hits / total)
    return np.array(out)


def pck_masked_arrays(pred, gt, annotated, torso, threshold=0.2):
    """Right, another way: a masked array of the normalised distances."""
    size = np.linalg.norm(np.subtract(*gt[:, list(torso)].transpose(1, 0, 2)), axis=-1)
    distance = np.ma.masked_array(np.linalg.norm(pred - gt, axis=-1) / size[:, None], mask=~annotated)
    return 100.0 * (distance < threshold).filled(False).sum(0) / (~distance.mask).sum(0)


def predicted_torso(pred, gt, annotated, torso, threshold=0.2):
    a, b = torso
    return percent_correct(pred, gt, annotated, np.linalg.norm(pred[:, a] - pred[:, b], axis=1), threshold)


def mean_torso(pred, gt, annotated, torso, threshold=0.2):
    a, b = torso
    size = np.full(len(gt), np.linalg.norm(gt[:, a] - gt[:, b], axis=1).mean())
    return percent_correct(pred, gt, annotated, size, threshold)


def lsp_torso_always(pred, gt, annotated, torso, threshold=0.2):
    return pck(pred, gt, annotated, (9, 2), threshold)


def pck_in_place(pred, gt, annotated, torso, threshold=0.2):
    pred -= gt  # the caller's predictions change
    size = np.linalg.norm(gt[:, torso[0]] - gt[:, torso[1]], axis=1)
    return percent_correct(pred, np.zeros_like(gt), annotated, size, threshold)


def test_check_pck_passes_right_answers_written_differently():
    assert course.check_pck(pck)
    assert course.check_pck(pck_loops)
    assert course.check_pck(pck_masked_arrays)


@pytest.mark.parametrize("wrong, words", [
    (predicted_torso, "measured on the predictions"),
    (mean_torso, "one torso size (the mean)"),
    (partial(pck, count_all=True), "the denominator counts every person"),
    (partial(pck, strict=False), "is strict (<)"),
    (partial(pck, unmasked=True), "count annotated joints only"),
    (lambda pred, gt, annotated, torso, threshold=0.2: pck(pred, gt, annotated, torso, 0.5), "values differ"),
    (lambda pred, gt, annotated, torso, threshold=0.2: pck(pred, gt, annotated, torso),
     "threshold argument is not used"),
    (lsp_torso_always, "values differ"),
    (pck_in_place, "changed its argument pred in place"),
])
def test_check_pck_names_the_mistake(wrong, words, verdict_fails):
    verdict_fails(course.check_pck(wrong), words)


def test_checks_report_not_implemented_as_not_attempted():
    def unsolved(*args, **kwargs):
        raise NotImplementedError("Exercise 1: your code here")

    for check in (course.check_decode_quarter_offset, course.check_pckh, course.check_pck):
        verdict = check(unsolved)
        assert not verdict and not verdict.attempted, check.__name__
