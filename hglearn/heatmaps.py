"""Heatmaps: Gaussian targets, decoding to coordinates, soft-argmax, the peak's μ and σ, and mirroring
for the flip test.

Heatmap coordinates (`_hm`) are 0-based with pixel centres on integers, like every coordinate in
hglearn: a joint at (x, y) = (3, 5) peaks on heatmaps[..., 5, 3]. Rendering and decoding use the
same convention, so a rendered-then-decoded joint comes back within 0.25 px.

Taught in notebooks/06_heatmaps_pckh.ipynb.
"""
from collections.abc import Sequence

import numpy as np
import torch


def render(joints: np.ndarray, visible: np.ndarray, out_res: int | tuple[int, int],
           sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Target heatmaps: one unnormalised 2-D Gaussian per joint (Tompson et al. 2015; Newell et al. 2016).

        H_j(x, y) = exp(−((x − x_j)² + (y − y_j)²) / (2σ²))

    whose peak, 1, lies on the sub-pixel joint position (x_j, y_j), given in heatmap pixels.
    σ = 1 px as in Newell et al.'s paper and the PyTorch ports (their Torch code effectively drew
    σ ≈ 1.75; mmpose uses 2). The Torch code draws only a (6σ+1)² patch; here the Gaussian is not
    cut, which changes values by less than exp(−4.5) ≈ 0.011 and keeps the map smooth.

    A joint gets an all-zero map and target weight 0 when it is not visible, not finite, or more
    than 3σ outside the map, where even the Torch code's patch misses the map.

    joints: (J, 2) (x, y); visible: (J,) bool; out_res: (h, w), or an int for a square map.
    Returns heatmaps (J, h, w) float32 and target_weight (J,) float32.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    h, w = (out_res, out_res) if isinstance(out_res, int) else out_res
    joints = np.asarray(joints, dtype=np.float64)
    finite = np.isfinite(joints).all(axis=1)
    x = np.where(finite, joints[:, 0], 0.0)  # (J,); missing joints may be NaN
    y = np.where(finite, joints[:, 1], 0.0)
    margin = 3.0 * sigma
    on_map = (x > -margin) & (x < w - 1 + margin) & (y > -margin) & (y < h - 1 + margin)
    weight = np.asarray(visible, dtype=bool) & finite & on_map  # (J,)
    # The 2-D Gaussian is the outer product of two 1-D ones: no loop over pixels.
    gx = np.exp(-((np.arange(w) - x[:, None]) ** 2) / (2 * sigma**2))  # (J, w)
    gy = np.exp(-((np.arange(h) - y[:, None]) ** 2) / (2 * sigma**2))  # (J, h)
    heatmaps = gy[:, :, None] * gx[:, None, :] * weight[:, None, None]  # (J, h, w)
    return heatmaps.astype(np.float32), weight.astype(np.float32)


def decode(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint coordinates from heatmaps: argmax, then a quarter-pixel step toward the larger neighbour.

        x = argmax_x + 0.25 · sign(H[y, x+1] − H[y, x−1]),  and the same for y,

    with no step on a tie (sign 0) or when the argmax lies on the border (a neighbour is missing).
    This is the decoding of Newell et al.'s released code and its PyTorch ports: the true peak of a
    Gaussian lies between the argmax and its larger neighbour, so the step halves the worst-case
    rounding error of the plain argmax (0.5 px → 0.25 px).

    heatmaps: (B, J, h, w). Returns coords (B, J, 2) float (x, y) in heatmap pixels and
    maxvals (B, J), the heatmap value at the argmax (a confidence).

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    h, w = heatmaps.shape[-2:]
    maxvals, index = heatmaps.flatten(2).max(dim=2)  # (B, J), (B, J)
    x, y = index % w, index // w  # (B, J) integer

    def value_at(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        flat = ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)  # border neighbours are masked below
        return heatmaps.flatten(2).gather(2, flat.unsqueeze(2)).squeeze(2)  # (B, J)

    inside_x = (x > 0) & (x < w - 1)
    inside_y = (y > 0) & (y < h - 1)
    step_x = torch.sign(value_at(x + 1, y) - value_at(x - 1, y)) * inside_x
    step_y = torch.sign(value_at(x, y + 1) - value_at(x, y - 1)) * inside_y
    coords = torch.stack([x + 0.25 * step_x, y + 0.25 * step_y], dim=2).to(heatmaps.dtype)  # (B, J, 2)
    return coords, maxvals


def _pixel_moments(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the pixel position (x, y) under p = softmax(logits) over each map.

        p(x, y) = exp(L(x, y)) / Σ exp(L),   m_x = Σ p·x,   v_x = Σ p·(x − m_x)²,  the same for y

    The shared core of soft_argmax (L = β·H) and heatmap_mu_sigma (L = β·log H). The variance is
    taken around the mean (two passes), not as E[x²] − m², which cancels badly in float32 when
    the spread is a fraction of a pixel and x is near 64.

    logits: (B, J, h, w). Returns mean (B, J, 2) and variance (B, J, 2), (x, y) in heatmap pixels.
    """
    b, j, h, w = logits.shape
    p = torch.softmax(logits.reshape(b, j, h * w), dim=2).view(b, j, h, w)  # reshape: channels_last too
    xs = torch.arange(w, dtype=logits.dtype, device=logits.device)
    ys = torch.arange(h, dtype=logits.dtype, device=logits.device)
    px, py = p.sum(dim=2), p.sum(dim=3)  # (B, J, w), (B, J, h): the marginals
    mx, my = (px * xs).sum(dim=2), (py * ys).sum(dim=2)  # (B, J)
    vx = (px * (xs - mx.unsqueeze(2)).square()).sum(dim=2)
    vy = (py * (ys - my.unsqueeze(2)).square()).sum(dim=2)
    return torch.stack([mx, my], dim=2), torch.stack([vx, vy], dim=2)  # (B, J, 2) each


def soft_argmax(heatmaps: torch.Tensor, beta: float = 16.0) -> torch.Tensor:
    """Differentiable joint coordinates: the expected position under softmax(β·heatmap).

        p(x, y) = exp(β·H(x, y)) / Σ exp(β·H),   (x̂, ŷ) = Σ p(x, y)·(x, y)

    (integral regression, Sun et al. 2018). β is the inverse temperature and must balance two
    errors on a peak-1 Gaussian of width σ:
    - too small, and the h·w background pixels (weight e⁰ = 1 each) outweigh the peak
      (weight ≈ e^β · 2πσ²/β) and pull the estimate toward the map centre: β ≳ 14 at 64×64;
    - too large, and p shrinks to a spike of width ≈ σ/√β that snaps to the nearest pixel.
    β = 16 suits 64×64 maps: on rendered targets it is within about 0.03 px at σ = 2, but at σ = 1
    no β does better than about 0.25 px, because the peak is then too narrow for both constraints.
    Heatmaps whose peak is well below 1 need a larger β.

    heatmaps: (B, J, h, w). Returns (B, J, 2) (x, y) in heatmap pixels.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    return _pixel_moments(beta * heatmaps)[0]  # (B, J, 2); the variance is not needed here


def heatmap_mu_sigma(heatmaps: torch.Tensor, beta: float = 4.0,
                     min_sigma: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Position μ and width σ of the peak of each heatmap: the moments of softmax(β·log H).

    The μ and σ that SADI-Net's DLM reads off the predicted heatmaps (Gao et al. 2023, Sec. III-D,
    "the mean and standard deviation of the distribution"). Computing them as the moments of H^β is
    hglearn's choice, because they recover a rendered Gaussian's centre and width without bias (below).

        p(x, y) = H(x, y)^β / Σ H^β,   μ = E_p[(x, y)],   σ = √β · std_p  (per coordinate)

    A rendered target H = exp(−r²/(2σ²)) gives H^β = exp(−r²/(2σ²/β)), a Gaussian again, of width
    σ/√β: so μ is its centre and √β·std its width σ, with no bias (softmax(β·H) of soft_argmax is
    not Gaussian and puts weight 1 on each background pixel, which makes its spread 20–40% too
    wide at σ = 2 and useless at σ = 1). Raising to β plays the part of soft_argmax's β:
    - background noise of size n weighs n^β, so a larger β ignores it better;
    - but the width σ/√β must stay above about half a pixel to be measured on the grid.
    β = 4 measured on rendered targets: μ within 0.03 px and σ within 8% at σ = 1, within 0.1% at
    σ ≥ 1.5; with noise of 0.01 on a peak of 0.7, σ within 8% at σ ≥ 1.5.
    H is clamped at 1e-6 before the log (non-positive pixels carry no mass), and σ at min_sigma:
    √v has an infinite slope at v = 0 (a one-pixel spike), and a Gaussian narrower than half a
    pixel is a single pixel on the grid anyway.

    heatmaps: (B, J, h, w). Returns μ (B, J, 2) (x, y) in heatmap pixels and σ (B, J, 2).

    Taught in notebooks/07_flows_rle.ipynb.
    """
    mean, var = _pixel_moments(beta * heatmaps.clamp_min(1e-6).log())
    return mean, (beta * var).clamp_min(min_sigma**2).sqrt()


def flip_heatmaps(heatmaps: torch.Tensor, flip_index: Sequence[int]) -> torch.Tensor:
    """Heatmaps of a mirrored image mapped back to the unmirrored one, for the flip test.

        H'_j(x, y) = H_{flip_index[j]}(w − 1 − x, y)

    Newell et al. 2016 average the heatmaps of the image and of its mirror (after this mapping) at
    test time. mmpose also shifts the mirrored heatmap one pixel to the right: its heatmap
    coordinates are x_in / stride, so mirroring the input is not exactly mirroring the heatmap
    array. In hglearn the input crop and the heatmap share the pixel-centre convention
    (x_hm = (x_in + 0.5)·out_res/input_res − 0.5), mirroring is exact and no shift is needed.
    Applying the function twice gives the heatmaps back (flip_index is its own inverse).

    heatmaps: (..., J, h, w). Returns the same shape.

    Taught in notebooks/06_heatmaps_pckh.ipynb.
    """
    index = torch.as_tensor(flip_index, dtype=torch.long, device=heatmaps.device)
    return heatmaps.index_select(-3, index).flip(-1)
