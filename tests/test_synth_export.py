"""SynthPose exported to disk goes through the MPII file path and gives the same training items."""
import numpy as np
import torch

from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.mpii import load_mpii_json
from hglearn.data.synth import SynthConfig, SynthPose, export
from hglearn.data.transforms import Augmentation
from hglearn.joints import MPII


def test_export_then_mpii_json_loader_gives_the_same_records_and_items(tmp_path):
    synth = SynthPose(SynthConfig(image_size=96, difficulty="occluded", seed=3), length=6)
    annotation = export(synth, tmp_path, "val", progress=False)
    records = load_mpii_json(annotation)
    assert len(records) == 6
    assert any((~r.visible).any() for r in records)  # occluded joints survive the round trip
    for original, loaded in zip(synth.records(), records):
        np.testing.assert_allclose(loaded.joints, original.joints, atol=1e-6)
        np.testing.assert_allclose(loaded.center, original.center, atol=1e-6)
        np.testing.assert_allclose(loaded.head_box, original.head_box, atol=1e-6)
        assert abs(loaded.scale - original.scale) < 1e-9
        assert (loaded.visible == original.visible).all() and loaded.annotated.all()

    augment = Augmentation()
    from_disk = PoseDataset(records, file_image_reader(tmp_path), MPII, 64, 16, augment=augment, seed=1)
    in_memory = PoseDataset(synth.records(), synth.read_image, MPII, 64, 16, augment=augment, seed=1)
    for i in range(len(records)):
        a, b = from_disk[i], in_memory[i]
        assert torch.equal(a["image"], b["image"])  # PNG is lossless
        assert torch.allclose(a["heatmaps"], b["heatmaps"], atol=1e-5)
        assert torch.equal(a["target_weight"], b["target_weight"])
        assert np.isclose(a["meta"]["head_size"], b["meta"]["head_size"])
