"""Evaluation: predictions in original-image coordinates, flip and multi-scale testing, PCKh / PCK.

    result = evaluate(model, dataset, flip=True, scales=(0.9, 1.0, 1.1))
    print(result.metric)          # the paper-style table

Test-time augmentation averages heatmaps before decoding (Newell et al. 2016, Sec. 4): the mirrored
image's heatmaps are mirrored back with left and right swapped; a crop of scale s is resampled
into the frame of the scale-1 crop. Predictions go back to the image through the crop's inverse.

Taught in notebooks/06_heatmaps_pckh.ipynb and notebooks/09_training_on_mpii.ipynb.
"""
import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from hglearn.data.dataset import PoseDataset
from hglearn.data.transforms import crop_matrix, heatmap_to_image
from hglearn.errors import ConfigError, DatasetError, FolderTargetError
from hglearn.files import atomic_path
from hglearn.heatmaps import decode, flip_heatmaps
from hglearn.metrics import PCKResult, pck, pckh
from hglearn.models import eval_mode


@dataclasses.dataclass
class Evaluation:
    """pred (N, J, 2) image coordinates; maxvals (N, J); metric: PCKh@0.5 or PCK@0.2 result."""

    pred: np.ndarray
    maxvals: np.ndarray
    metric: PCKResult


def choose_metric(dataset: PoseDataset) -> str:
    """"pckh" when every person has a head box, else "pck" when every torso is annotated.

    Checked before any prediction is made (and before training), so that a validation set that
    supports neither fails at once, naming the people concerned, not after hours of training. An
    empty set, which no metric can score, fails the same way.
    """
    if not len(dataset.records):
        raise DatasetError("the evaluation set has no people to score: check its annotation file "
                           "(or, for SynthPose, val_images)")
    if all(r.head_box is not None for r in dataset.records):
        return "pckh"
    a, b = dataset.joint_set.torso
    missing = [i for i, r in enumerate(dataset.records) if not (r.annotated[a] and r.annotated[b])]
    if missing:
        raise DatasetError(f"the evaluation set has neither head boxes for PCKh nor a torso for PCK@0.2 in "
                         f"records {missing[:10]}{' ...' if len(missing) > 10 else ''} "
                         f"({dataset.joint_set.names[a]} or {dataset.joint_set.names[b]} not annotated)")
    return "pck"


def rescale_heatmaps(heatmaps: torch.Tensor, scale: float) -> torch.Tensor:
    """Heatmaps of a crop `scale` times as large, resampled into the frame of the scale-1 crop.

    Both crops share their centre, so a point p of the scale-1 heatmap lies at c + (p − c)/scale in
    the other (c the centre pixel): an affine grid of 1/scale with align_corners=True.
    """
    b, j, h, w = heatmaps.shape
    theta = torch.tensor([[1 / scale, 0, 0], [0, 1 / scale, 0]], dtype=heatmaps.dtype, device=heatmaps.device)
    grid = F.affine_grid(theta.expand(b, 2, 3), [b, j, h, w], align_corners=True)
    return F.grid_sample(heatmaps, grid, align_corners=True, padding_mode="zeros")


def predict_heatmaps(model: torch.nn.Module, images: torch.Tensor, flip_index=None) -> torch.Tensor:
    """The last stack's heatmaps (B, J, h, w), averaged with the mirrored image's when flip_index is given."""
    heatmaps = model(images)[:, -1]  # (B, J, h, w)
    if flip_index is not None:
        heatmaps = (heatmaps + flip_heatmaps(model(images.flip(-1))[:, -1], flip_index)) / 2
    return heatmaps.float()


def scaled_copy(dataset: PoseDataset, scale: float) -> PoseDataset:
    """The same dataset, each person cropped `scale` times as large, without augmentation."""
    records = [dataclasses.replace(r, scale=r.scale * scale) for r in dataset.records]
    return PoseDataset(records, dataset.read_image, dataset.joint_set, dataset.input_res, dataset.out_res,
                       dataset.sigma, augment=None, seed=dataset.seed)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: PoseDataset, *, flip: bool = False, scales=(1.0,),
             batch_size: int = 32, device: str | torch.device = "cpu", num_workers: int = 0,
             metric: str | None = None) -> Evaluation:
    """Predict every person of `dataset` and score the predictions.

    metric: "pckh" (MPII protocol, needs head boxes) or "pck" (PCK@0.2 with the torso, for LSP and
    FLIC); by default PCKh when every person has a head box, else PCK.
    """
    metric = metric or choose_metric(dataset)
    if metric not in ("pckh", "pck"):
        raise ConfigError(f"metric must be 'pckh' or 'pck', got {metric!r}")
    flip_index = list(dataset.joint_set.flip_index) if flip else None
    pin = torch.device(device).type == "cuda"  # pinned batches copy to the GPU while it computes
    loaders = [DataLoader(scaled_copy(dataset, s), batch_size=batch_size, num_workers=num_workers, pin_memory=pin)
               for s in scales]
    preds, maxvals, metas = [], [], []
    with eval_mode(model):  # restores training mode afterwards
        for batches in zip(*loaders):
            heatmaps = 0
            for s, batch in zip(scales, batches):
                images = batch["image"].to(device, non_blocking=True)
                heatmaps = heatmaps + rescale_heatmaps(predict_heatmaps(model, images, flip_index), s)
            # Decoded on the device: (B, J, 2) coordinates and (B, J) peaks come back, not (B, J, h, w) maps.
            coords_hm, peak = (t.cpu() for t in decode(heatmaps / len(scales)))  # in the scale-1 heatmap
            meta = batches[0]["meta"]  # ground truth, the same at every scale
            matrices = torch.from_numpy(np.stack([unit_crop_matrix(dataset, int(i)) for i in meta["index"]]))
            preds.append(heatmap_to_image(coords_hm, matrices, dataset.input_res, dataset.out_res).numpy())
            maxvals.append(peak.numpy())
            metas.append(meta)

    pred, gt = np.concatenate(preds), torch.cat([m["joints"] for m in metas]).numpy()
    annotated = torch.cat([m["annotated"] for m in metas]).numpy()
    head_size = torch.cat([m["head_size"] for m in metas]).numpy()

    if metric == "pckh":
        result = pckh(pred, gt, annotated, head_size, joint_set=dataset.joint_set)
    else:
        torso = torch.cat([m["torso_size"] for m in metas]).numpy()
        result = pck(pred, gt, annotated, torso, joint_set=dataset.joint_set)
    return Evaluation(pred, np.concatenate(maxvals), result)


def unit_crop_matrix(dataset: PoseDataset, index: int) -> np.ndarray:
    """The un-augmented crop of person `index`: the frame in which the averaged heatmaps lie."""
    record = dataset.records[index]
    return crop_matrix(record.center, record.scale, dataset.input_res)


def save_mpii_predictions(path: str | Path, pred: np.ndarray) -> Path:
    """Save (N, 16, 2) 0-based predictions for the MATLAB-style MPII validation evaluation.

    Writes 1-based coordinates twice: `preds` (N, 16, 2), the layout of the PyTorch ports'
    evaluation scripts, and `pos_pred_src` (16, 2, N), the layout of the MATLAB evaluation's
    validation files (detections_our_format.mat). Written to a temporary file, then renamed.
    """
    import scipy.io

    path = Path(path)
    if path.is_dir():  # before any work, with a name to suggest (atomic_path would refuse it too)
        raise FolderTargetError(path, f"; give a file name, such as {path / 'predictions.mat'}")
    pred1 = np.asarray(pred, dtype=np.float64) + 1.0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        scipy.io.savemat(f, {"preds": pred1, "pos_pred_src": pred1.transpose(1, 2, 0)})
    return path
