"""SADI-Net's distribution learning module: learnable heatmaps from a flow (Gao et al. 2023, Sec. III-D).

Taught in notebooks/07_flows_rle.ipynb.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from hglearn.flows import RealNVP
from hglearn.heatmaps import heatmap_mu_sigma
from hglearn.losses import heatmap_mse

TABLE_RANGE = 5.0  # the table covers u in [−5, 5]²; a Gaussian is e^−12.5 ≈ 4·10⁻⁶ of its peak there
TABLE_SIZE = 81  # a step of 0.125 in u: bilinear lookup of a Gaussian is off by < 0.003 (measured)


class DLM(nn.Module):
    """Distribution learning module of SADI-Net (Gao et al. 2023, Sec. III-D, Fig. 2).

    Sec. III-D describes the module in words: μ and σ, "the mean and standard deviation of the
    distribution", are taken from the prediction, the flow transforms a standard Gaussian, and the
    result is shifted and rescaled into learnable heatmaps "the same size as the predicted heatmaps".
    The construction below is hglearn's, chosen so that the identity flow reproduces a target like
    render()'s (see the factor 2π). Read the position μ and width σ of each joint off the predicted
    heatmap (heatmaps.heatmap_mu_sigma), normalise every pixel p by them, and render the flow's
    density there:

        u = (μ − p)/σ  (per coordinate),    D(p) = G_φ(u) / N(0; 0, I₂) = 2π·G_φ(u)

    u is RLE's normalised error ē = (μ − μ_gt)/σ with the ground truth placed at p, so D(p) is
    the learned likelihood that the joint is at p (the paper's "likelihood of the ground-truth
    keypoint being present at location [x]"). The factor 2π makes the identity flow give exactly
    a target like render()'s, D(p) = exp(−(x − μ_x)²/(2σ_x²) − (y − μ_y)²/(2σ_y²)), peak 1 at the
    predicted position with the predicted width; training the flow then lets the shape move away
    from a Gaussian. The paper
    compares D with the ground-truth heatmaps by MSE (dlm_loss, Eq. 7), added as λ·L_dlm.

    Departure, for memory: the flow is one function of u shared by all joints, so it is evaluated
    once per forward on an 81×81 table over u in [−5, 5]², and each pixel looks its u up bilinearly
    (zero outside the table). Running the flow at every pixel would keep about 13 kB of activations
    for each of the B·J·h·w points, some 27 GB at batch 32, 16 joints, 64×64; the table's 6,561
    points cost about 50 ms a step on one CPU thread, nothing on a GPU.

    flow: the flow to use; by default a new RealNVP that starts as the identity. beta: the power
    of heatmap_mu_sigma. Computes in float32 even under autocast (the flow's log-densities need it)
    and returns float32 heatmaps (B, J, h, w); channels_last input is fine.

    Taught in notebooks/07_flows_rle.ipynb.
    """

    def __init__(self, flow: RealNVP | None = None, beta: float = 4.0):
        super().__init__()
        self.flow = RealNVP(zero_init=True) if flow is None else flow
        self.beta = beta

    def density_table(self) -> torch.Tensor:
        """2π·G_φ(u) on the lookup grid: (1, 1, K, K), rows u_y and columns u_x, for grid_sample."""
        u = torch.linspace(-TABLE_RANGE, TABLE_RANGE, TABLE_SIZE, device=next(self.flow.parameters()).device)
        uy, ux = torch.meshgrid(u, u, indexing="ij")  # (K, K) each
        log_g = self.flow.log_prob(torch.stack([ux, uy], dim=2))  # (K, K)
        return (log_g + math.log(2 * math.pi)).exp()[None, None]

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        b, j, h, w = heatmaps.shape
        with torch.autocast(heatmaps.device.type, enabled=False):
            mu, sigma = heatmap_mu_sigma(heatmaps.float(), self.beta)  # (B, J, 2) each
            xs = torch.arange(w, dtype=torch.float32, device=heatmaps.device)
            ys = torch.arange(h, dtype=torch.float32, device=heatmaps.device)
            ux = (mu[..., 0:1] - xs) / sigma[..., 0:1]  # (B, J, w)
            uy = (mu[..., 1:2] - ys) / sigma[..., 1:2]  # (B, J, h)
            u = torch.stack([ux[:, :, None, :].expand(b, j, h, w),
                             uy[:, :, :, None].expand(b, j, h, w)], dim=4)  # (B, J, h, w, 2)
            # grid_sample reads the table at grid = u / range in [−1, 1]; align_corners puts ±1 on
            # the centres of the corner entries, where linspace put u = ±range.
            grid = u.reshape(1, b * j * h, w, 2) / TABLE_RANGE
            learnable = F.grid_sample(self.density_table(), grid, align_corners=True)  # (1, 1, B·J·h, w)
        return learnable.view(b, j, h, w)


def dlm_loss(learnable: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
    """SADI-Net's L_dlm (Sec. III-E, Eq. 7): the DLM's learnable heatmaps against the ground truth,
    by the same masked MSE as the hourglass's own heatmaps (losses.heatmap_mse). The training loss
    is L = L_rfm + λ·L_dlm.

    learnable, target: (B, J, h, w); target_weight: (B, J).
    """
    return heatmap_mse(learnable, target, target_weight)
