"""Training losses: masked heatmap MSE and intermediate supervision over the stacks.

Taught in notebooks/05_stacking.ipynb.
"""
import torch


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
