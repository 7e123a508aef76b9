"""Images per second of the data pipeline: SynthPose generation, and JPEG decode + crop + augment.

    python benchmarks/data_pipeline.py [--images 512] [--repeats 3]

Rows: SynthPose drawing alone at 64, 128 and 256 px; then whole training items (image crop,
augmentation, target heatmaps) through a DataLoader with 0 workers (all in the main process), 1, 2
and one worker per core, for SynthPose generated on the fly and for JPEG files on disk, at 256×256 input
and 64×64 heatmaps. Prints the table and writes it into benchmarks/RESULTS.md.

Whether the data path limits a GPU run: compare a row with the GPU's training images/s
(benchmarks/train_throughput.py, or the `images_per_s` column of a run's log.csv). A GPU that trains
faster than the data path with all cores delivers waits for its batches.
"""
import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import torch
from torch.utils.data import DataLoader

from results_file import update_results

from hglearn.data.dataset import PoseDataset, file_image_reader
from hglearn.data.synth import SynthConfig, SynthPose, generate
from hglearn.data.transforms import Augmentation
from hglearn.joints import MPII



def rate(run, count: int, repeats: int) -> float:
    """Median images per second of `run()`, which processes `count` images."""
    run()  # warm-up: worker start-up, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def loader_rate(dataset: PoseDataset, workers: int, repeats: int) -> float:
    loader = DataLoader(dataset, batch_size=16, num_workers=workers, persistent_workers=workers > 0)
    return rate(lambda: sum(1 for _ in loader), len(dataset), repeats)


def jpeg_dataset(folder: Path, count: int) -> PoseDataset:
    """SynthPose figures saved as 480×480 JPEGs (quality 90), read back through the file path."""
    synth = SynthPose(SynthConfig(image_size=480), length=count)
    records = synth.records()
    for i, record in enumerate(records):
        image = synth.read_image(i, record)
        record.image = f"images/{i:06d}.jpg"
        (folder / "images").mkdir(exist_ok=True)
        cv2.imwrite(str(folder / record.image), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return PoseDataset(records, file_image_reader(folder), MPII, input_res=256, out_res=64, augment=Augmentation())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, repeats = args.images, args.repeats
    torch.set_num_threads(1)  # as in a DataLoader worker: one process, one thread
    cores = torch.multiprocessing.cpu_count()

    rows = []
    for size in (64, 128, 256):
        cfg = SynthConfig(image_size=size)
        rows.append((f"SynthPose drawing, {size}×{size}", "1 (main process)",
                     rate(lambda cfg=cfg: [generate(i, cfg) for i in range(n)], n, repeats)))
        print(f"{rows[-1][0]:<75} {rows[-1][1]:>16} {rows[-1][2]:8.0f} images/s", flush=True)
    synth = SynthPose(SynthConfig(image_size=256), length=n)
    synth_items = PoseDataset(synth.records(), synth.read_image, MPII, 256, 64, augment=Augmentation())
    with tempfile.TemporaryDirectory() as tmp:
        jpeg_items = jpeg_dataset(Path(tmp), n)
        for name, dataset in (("SynthPose items (draw + crop + augment + targets)", synth_items),
                              ("JPEG items (decode 480² + crop + augment + targets)", jpeg_items)):
            for workers in sorted({0, 1, 2, cores}):
                label = "1 (main process)" if workers == 0 else f"{workers} workers"
                rows.append((f"{name}, 256² input", label, loader_rate(dataset, workers, repeats)))
                print(f"{rows[-1][0]:<75} {rows[-1][1]:>16} {rows[-1][2]:8.0f} images/s", flush=True)

    table = ["| what | processes | images/s |", "|---|---|---:|"]
    table += [f"| {what} | {where} | {ips:.0f} |" for what, where, ips in rows]
    table += ["", f"Produced by `python benchmarks/data_pipeline.py --images {n}` on {platform.machine()} "
                  f"with {torch.multiprocessing.cpu_count()} cores; median of {repeats} passes, "
                  "batch 16; SynthPose at its default (cluttered) difficulty."]
    section = "\n".join(table) + "\n"
    print("\n" + section)
    update_results("data-pipeline", "Data pipeline", section)
    print("updated benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
