"""RealNVP: a normalising flow on 2-D points, the learnable density of RLE and of SADI-Net's DLM.

A flow is an invertible map f from data x to a latent z with a simple prior density N(0, I₂).
The change of variables formula gives the density of the data exactly:

    log p(x) = log N(f(x); 0, I₂) + log |det ∂f/∂x|

RealNVP (Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", ICLR 2017) builds f
from affine coupling layers, whose Jacobian is triangular, so the determinant is a product of
scales. The shape here is the one Li et al. use for residual log-likelihood estimation (RLE,
"Human Pose Regression with Residual Log-likelihood Estimation", ICCV 2021) and mmpose copies:
6 coupling layers on 2-D points with masks [0, 1], [1, 0] alternating, 64 hidden units.

Taught in notebooks/07_flows_rle.ipynb.
"""
import math

import torch
from torch import nn

HIDDEN = 64  # RLE's width; the flow models a 2-D density, so a small MLP is enough
MASKS = [[0.0, 1.0], [1.0, 0.0]] * 3  # 1 = the coordinate a layer keeps and conditions on


def coupling_net(tanh: bool) -> nn.Sequential:
    """RLE's scale (with Tanh) or translation (without) network: 2 → 64 → 64 → 2.

    The Tanh bounds each layer's log-scale to (−1, 1), so no single layer can blow a point up or
    squash it to nothing; six layers can still scale a coordinate by up to e³ in all.
    """
    layers = [nn.Linear(2, HIDDEN), nn.LeakyReLU(), nn.Linear(HIDDEN, HIDDEN), nn.LeakyReLU(),
              nn.Linear(HIDDEN, 2)]
    return nn.Sequential(*layers, nn.Tanh()) if tanh else nn.Sequential(*layers)


class AffineCoupling(nn.Module):
    """One affine coupling layer in Dinh et al.'s masked form (2017), written data → latent as they do.

        z = m⊙x + (1 − m)⊙(x⊙exp(s(m⊙x)) + t(m⊙x)),    log|det ∂z/∂x| = Σ (1 − m)⊙s(m⊙x)

    The kept coordinates (mask m = 1) pass unchanged and decide the scale and shift of the others,
    so the Jacobian is triangular and the inverse needs no inversion of s or t. (mmpose writes the
    layer in the latent → data direction, so its log-determinant is a sum of −s.)
    """

    def __init__(self, mask: list[float]):
        super().__init__()
        self.register_buffer("mask", torch.tensor(mask))
        self.scale = coupling_net(tanh=True)
        self.translation = coupling_net(tanh=False)

    def scale_shift(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        free = 1 - self.mask  # s = t = 0 on the kept coordinate: it passes unchanged
        return self.scale(kept) * free, self.translation(kept) * free  # (..., 2) each

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept = x * self.mask
        s, t = self.scale_shift(kept)
        return kept + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(dim=-1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        kept = z * self.mask  # the same kept half as in forward: s and t can be recomputed
        s, t = self.scale_shift(kept)
        return kept + (1 - self.mask) * (z - t) * torch.exp(-s)


class RealNVP(nn.Module):
    """RealNVP on 2-D points with RLE's shape (Dinh et al. 2017; Li et al. 2021).

        z = f₆∘…∘f₁(x),   log p(x) = log N(z; 0, I₂) + Σₖ log|det ∂fₖ/∂x|

    Points may have any leading shape (..., 2); log-densities come back with shape (...).
    zero_init=True zeroes the last layer of every scale and translation net, so s = t = 0 and the
    flow starts as the identity, p(x) = N(x; 0, I₂): the RLE loss then starts from its Gaussian
    form and SADI's DLM from an ordinary Gaussian heatmap. Otherwise PyTorch's default init is kept.

    Taught in notebooks/07_flows_rle.ipynb.
    """

    def __init__(self, *, zero_init: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(AffineCoupling(mask) for mask in MASKS)
        if zero_init:
            for layer in self.layers:
                for last in (layer.scale[4], layer.translation[4]):  # the last Linear of each net
                    nn.init.zeros_(last.weight)
                    nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data → latent: z (..., 2) and log|det ∂z/∂x| (...)."""
        log_det = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, layer_log_det = layer(x)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Latent → data (..., 2): the layers undone in reverse order."""
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) (...) = log N(z; 0, I₂) + log|det ∂z/∂x|, with log N(z) = −|z|²/2 − log 2π."""
        z, log_det = self(x)
        return -0.5 * z.square().sum(dim=-1) - math.log(2 * math.pi) + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n points (n, 2) drawn from p: z ~ N(0, I₂) pushed through the inverse."""
        mask = self.layers[0].mask
        z = torch.randn(n, 2, generator=generator, dtype=mask.dtype, device=mask.device)
        return self.inverse(z)
