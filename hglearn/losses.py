"""Training losses: masked heatmap MSE, intermediate supervision over the stacks, and RLE's
residual log-likelihood loss for coordinate regression.

Taught in notebooks/05_stacking.ipynb (heatmap losses) and notebooks/07_flows_rle.ipynb (RLE).
"""
import torch

from hglearn.flows import RealNVP


def heatmap_mse(pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error between heatmaps, with joints that have no target masked out.

        L = 1/(B·J·h·w) · Σ_b Σ_j w_bj · Σ_xy (P_bj(x, y) − T_bj(x, y))²

    pred, target: (B, J, h, w); target_weight: (B, J), 0 for joints without a target (not
    annotated, or outside the crop), so the network is neither pushed toward a blank map there
    nor rewarded for one. Dividing by all B·J·h·w keeps the scale of Newell et al.'s plain MSE.
    """
    squared = (pred - target).square().mean(dim=(2, 3))  # (B, J)
    return (squared * target_weight).mean()


def stacked_heatmap_loss(heatmaps: torch.Tensor, target: torch.Tensor,
                         target_weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Intermediate supervision (Newell et al. 2016, Sec. 3.4): every stack is compared with the
    same target, and the loss is the mean over stacks.

    heatmaps: (B, S, J, h, w); target: (B, J, h, w); target_weight: (B, J).
    Returns the loss and the per-stack losses (S,), detached, for logging.
    """
    squared = (heatmaps - target.unsqueeze(1)).square().mean(dim=(3, 4))  # (B, S, J)
    per_stack = (squared * target_weight.unsqueeze(1)).mean(dim=(0, 2))  # (S,)
    return per_stack.mean(), per_stack.detach()


def rle_loss(mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor, flow: RealNVP,
             target_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Residual log-likelihood estimation loss (Li et al., ICCV 2021) with a Laplace base density Q.

    A regression head predicts a position μ and a scale σ per joint. RLE models the normalised error
    ē = (μ − μ_gt)/σ (per coordinate) by the density Q(ē)·G_φ(ē): a fixed Laplace Q of scale 1 per
    coordinate times a residual G_φ learned by the flow. The density of μ_gt in crop coordinates
    follows by the change of variables, ∂ē/∂μ_gt = diag(−1/σ), so the loss is its negative log,
    per joint, with c over (x, y):

        L_bj = −log[Q(ē)·G_φ(ē) / (σ_x·σ_y)] = Σ_c [log(2σ_c) + |ē_c|] − log G_φ(ē)
        loss = 1/B · Σ_b Σ_j w_bj · L_bj

    This is the paper's convention: one density, each of log σ and −log G_φ counted once. The
    paper's normaliser s = 1/∫Q·G_φ depends on the flow alone and is left out, as in the official
    code. With the identity flow, −log G_φ(ē) = log 2π + |ē|²/2, and for one coordinate with error
    e the loss is lowest at σ = (1 + √5)/2 · |e| ≈ 1.62|e|.

    How the official code and mmpose differ: they add −log G_φ, shaped (B, J, 1), to log σ, shaped
    (B, J, 2), so that broadcasting counts it once per coordinate, twice per joint, and they put
    log σ both into that flow term and into −log Q, so that it counts twice as well. mmpose's loss
    per joint is 2·Σ_c log σ_c − 2·log G_φ(ē) + Σ_c |ē_c| + 2 log 2, which is not the negative log of
    one density (with the identity flow its best σ is (1 + √17)/4 · |e| ≈ 1.28|e|); the official
    code's is the same but for −log Q, log(√(2π)·σ_c) + |ē_c|/√2 per coordinate. As in RLE,
    coordinates should be normalised to the input crop and σ must be positive (RLE and mmpose take
    σ = sigmoid of the network output).

    mu, sigma, target: (B, J, 2); target_weight: (B, J), or None for all ones. The flow runs in
    float32 (its parameters' dtype) even under autocast: bfloat16 keeps 3 significant digits, too few
    for the log-determinants and the small log-density differences that train the flow.

    Taught in notebooks/07_flows_rle.ipynb.
    """
    error = (mu - target) / sigma  # (B, J, 2): ē
    with torch.autocast(error.device.type, enabled=False):
        log_g = flow.log_prob(error.to(next(flow.parameters()).dtype))  # (B, J)
    nll = (torch.log(2 * sigma) + error.abs()).sum(dim=2) - log_g  # (B, J)
    if target_weight is not None:
        nll = nll * target_weight
    return nll.sum() / mu.shape[0]
