"""Checks for notebooks/11_real_photos.ipynb: mapping heatmap coordinates back onto a photo.

The reference is the library's own path (`hglearn.predict`): the person box becomes a square crop
(`box_crop`: centred on the box, 1.25 times its longer side), and a heatmap pixel goes back
through the inverse of that crop's matrix (`crop_matrix`, pixel centres on integers).
"""
import numpy as np

from hglearn.course.checking import Verdict, call, difference, failed, passed, reports_not_attempted, short
from hglearn.data.transforms import apply_affine, crop_matrix, invert_affine
from hglearn.predict import box_crop

__all__ = ["check_heatmap_to_photo"]


def heatmap_to_photo(coords_hm: np.ndarray, box: tuple[float, float, float, float], out_res: int) -> np.ndarray:
    """(J, 2) photo pixels of (J, 2) heatmap pixels, for the out_res² heatmap of the crop of `box`."""
    center, scale = box_crop(box)
    return apply_affine(coords_hm, invert_affine(crop_matrix(center, scale, out_res)))


# (coords, box, out_res): square and non-square boxes of both orientations, off-centre, several sizes.
CASES = [
    (np.array([[7.5, 7.5]]), (0.0, 0.0, 99.0, 99.0), 16),
    (np.array([[0.0, 0.0], [15.0, 15.0], [3.25, 11.5]]), (40.0, 10.0, 140.0, 410.0), 16),  # tall
    (np.array([[2.0, 9.0], [63.0, 0.0], [31.5, 40.25], [10.0, 10.0]]), (5.0, 60.0, 605.0, 260.0), 64),  # wide
    (np.array([[4.0, 1.0], [0.5, 6.75]]), (-0.5, -0.5, 319.5, 239.5), 8),  # the whole 320 × 240 image
]


@reports_not_attempted
def check_heatmap_to_photo(student) -> Verdict:
    """student(coords_hm (J, 2), box, out_res) against `heatmap_to_photo`; its input must stay unchanged."""
    for coords, box, out_res in CASES:
        given = coords.copy()
        got, error = call(student, given, box, out_res)
        if error is not None:
            return error
        if not np.array_equal(given, coords):
            return failed(f"heatmap_to_photo{short((coords, box, out_res))} changed its input coords_hm: "
                          "compute new arrays instead of writing into it")
        if not isinstance(got, np.ndarray):
            return failed(f"heatmap_to_photo{short((coords, box, out_res))} returned {type(got).__name__}, "
                          "expected a numpy array (J, 2)")
        want = heatmap_to_photo(coords, box, out_res)
        if (problem := difference(got, want, atol=1e-6)) is not None:
            return failed(f"heatmap_to_photo{short((coords, box, out_res))}: {problem}{hint(got, want, box, out_res)}")
    return passed(f"heatmap_to_photo agrees with hglearn.predict's mapping on {len(CASES)} boxes "
                  "(square, tall, wide, the whole image)")


def hint(got, want, box, out_res) -> str:
    """The likely mistake, where the error's pattern tells it apart; otherwise nothing more."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        return ""
    side = 1.25 * max(box[2] - box[0], box[3] - box[1])
    error = got - want
    if np.allclose(error, side / out_res / 2, atol=1e-6) or np.allclose(error, -side / out_res / 2, atol=1e-6):
        return (" (off by half a heatmap pixel everywhere: the crop's centre is at (out_res − 1)/2, "
                "pixel centres being on integers)")
    if np.allclose(got[:, ::-1], want, atol=1e-6):
        return " (x and y swapped)"
    return ""
