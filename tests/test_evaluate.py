import numpy as np
import pytest
import scipy.io
import torch
from torch import nn

from hglearn.data.splits import make_dataset
from hglearn.errors import ConfigError
from hglearn.evaluate import evaluate, rescale_heatmaps, save_mpii_predictions, scaled_copy
from hglearn.heatmaps import decode, flip_heatmaps, render


class Oracle(nn.Module):
    """A 'model' that knows the target heatmaps of every image it may be shown (also mirrored ones)."""

    def __init__(self, datasets):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.keys, self.targets = [], []
        for dataset in datasets:
            flip_index = dataset.joint_set.flip_index
            for i in range(len(dataset)):
                item = dataset[i]
                for image, target in ((item["image"], item["heatmaps"]),
                                      (item["image"].flip(-1), flip_heatmaps(item["heatmaps"], flip_index))):
                    self.keys.append(self.fingerprint(image[None])[0])
                    self.targets.append(target)
        self.keys = torch.stack(self.keys)

    @staticmethod
    def fingerprint(images):  # (B,) differs between an image and its mirror
        ramp = torch.linspace(1, 2, images.shape[-1])
        return (images * ramp).sum(dim=(1, 2, 3))

    def forward(self, images):
        found = [int((self.keys - key).abs().argmin()) for key in self.fingerprint(images)]
        return torch.stack([self.targets[i] for i in found])[:, None]  # (B, 1, J, h, w)


@pytest.fixture(scope="module")
def dataset():
    return make_dataset("synth", "val", input_res=128, synth_images=12)


@pytest.mark.parametrize("flip, scales", [(False, (1.0,)), (True, (1.0,)), (True, (0.8, 1.0, 1.25))])
def test_perfect_heatmaps_give_the_ground_truth_back_in_image_coordinates(dataset, flip, scales):
    oracle = Oracle([scaled_copy(dataset, s) for s in scales])
    result = evaluate(oracle, dataset, flip=flip, scales=scales, batch_size=5)
    gt = np.stack([r.joints for r in dataset.records])
    hm_pixel = np.array([200 * r.scale / dataset.out_res for r in dataset.records])  # image px per heatmap px
    error = np.linalg.norm(result.pred - gt, axis=2) / hm_pixel[:, None]  # (N, J) in heatmap pixels
    # Decoding is within a quarter pixel on each axis; resampling other scales adds a little.
    assert error.max() <= (0.36 if len(scales) == 1 else 0.5)
    assert result.metric.mean == 100.0 and result.metric.name == "PCKh@0.5"


def test_rescaled_heatmaps_put_the_peak_where_the_scale_1_crop_has_it():
    joints = np.array([[20.0, 9.0], [8.0, 24.0]])  # inside the map at both scales
    heatmaps, _ = render(joints, np.ones(2, bool), 32, sigma=1.5)
    centre = 15.5
    for scale in (0.8, 1.25):
        # the same points seen in a crop `scale` times as large lie closer to the centre by 1/scale
        seen = centre + (joints - centre) / scale
        resampled = rescale_heatmaps(torch.from_numpy(render(seen, np.ones(2, bool), 32, 1.5 / scale)[0])[None], scale)
        coords, _ = decode(resampled)
        assert np.abs(coords[0].numpy() - joints).max() <= 0.5


def test_save_mpii_predictions_writes_one_based_coordinates(tmp_path):
    pred = np.random.default_rng(0).uniform(0, 100, size=(3, 16, 2))
    path = save_mpii_predictions(tmp_path / "pred.mat", pred)
    saved = scipy.io.loadmat(path)
    np.testing.assert_allclose(saved["preds"], pred + 1)
    np.testing.assert_allclose(saved["pos_pred_src"], (pred + 1).transpose(1, 2, 0))
    assert not list(tmp_path.glob("*.tmp"))


def test_make_dataset_errors():
    with pytest.raises(ConfigError, match="unknown dataset 'coco'"):
        make_dataset("coco", "train")
    with pytest.raises(ConfigError, match="needs its folder"):
        make_dataset("mpii", "train")
    with pytest.raises(ConfigError, match="no split 'test'; choose one of train, val"):
        make_dataset("synth", "test")


def test_choose_metric_fails_early_when_the_set_cannot_be_scored(dataset):
    import dataclasses

    from hglearn.data.dataset import PoseDataset
    from hglearn.evaluate import choose_metric

    assert choose_metric(dataset) == "pckh"
    records = [dataclasses.replace(r, head_box=None) for r in dataset.records]
    assert choose_metric(PoseDataset(records, dataset.read_image, dataset.joint_set, 128, 32)) == "pck"
    records[3] = dataclasses.replace(records[3], annotated=records[3].annotated.copy(),
                                     visible=records[3].visible.copy())  # the fixture's arrays stay intact
    records[3].annotated[dataset.joint_set.torso[0]] = False
    records[3].visible[dataset.joint_set.torso[0]] = False
    with pytest.raises(ValueError, match=r"records \[3\]"):
        choose_metric(PoseDataset(records, dataset.read_image, dataset.joint_set, 128, 32))
