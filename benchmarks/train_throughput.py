"""Training images per second: the course's CPU model and every preset, on the CPU and on a GPU.

    python benchmarks/train_throughput.py [--steps 3] [--batch 4] [--presets newell-hg1,lightweight-hg2]

One training step is forward, the intermediate-supervision loss, backward and an Adam step, on
random images (data loading is measured separately by data_pipeline.py). On the CPU: fp32 with
NCHW and with channels_last memory. On a GPU, when present: fp32 NCHW (the plain baseline), bf16
autocast + channels_last (the library's fast path), and the same with torch.compile. Prints the
table and writes it into benchmarks/RESULTS.md.
"""
import argparse
import platform
import statistics
import time

import torch

from results_file import update_results

from hglearn.config import TrainConfig
from hglearn.models import PRESETS
from hglearn.train import make_optimizer, resolve_model, train_step, training_loss


def images_per_second(model, device, batch, size, steps, channels_last=False, bf16=False, compile=False) -> float:
    """Training images per second of `hglearn.train.train_step`, the loop's own step."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    net = torch.compile(model) if compile else model
    optimizer = make_optimizer("adam", model.parameters(), lr=1e-4, device=device)  # fused, as train() runs it
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    data = {"image": torch.randn(batch, 3, size, size, device=device),
            "heatmaps": torch.rand(batch, 16, size // 4, size // 4, device=device),
            "target_weight": torch.ones(batch, 16, device=device)}
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bfloat16 needs no loss scaling
    times = []
    for i in range(steps + (3 if compile else 1)):  # warm-up steps first (compilation, autotuning)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss, _ = train_step(net, data, optimizer, scheduler, autocast, scaler, training_loss, device, memory_format)
        loss.item()  # wait for the step to finish
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times[-steps:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row (median)")
    parser.add_argument("--batch", type=int, default=4, help="batch size of the 256-px rows on the CPU")
    parser.add_argument("--presets", default=",".join(PRESETS))
    args = parser.parse_args()
    cpu = torch.device("cpu")
    course = TrainConfig()
    rows = []

    def add(what, device_name, mode, batch, ips):
        rows.append((what, device_name, mode, batch, ips))
        print(f"{what:<42} {device_name:<10} {mode:<28} batch {batch:<3} {ips:8.1f} images/s", flush=True)

    for channels_last in (False, True):
        mode = "fp32, " + ("channels_last" if channels_last else "NCHW")
        add(f"course model ({course.input_res}² input)", "cpu", mode, course.batch_size,
            images_per_second(resolve_model(course).build(), cpu, course.batch_size, course.input_res,
                              args.steps * 3, channels_last))
    for name in args.presets.split(","):
        add(f"{name} (256² input)", "cpu", "fp32, channels_last", args.batch,
            images_per_second(PRESETS[name].build(), cpu, args.batch, 256, args.steps, channels_last=True))
    if torch.cuda.is_available():
        gpu, gpu_name = torch.device("cuda"), torch.cuda.get_device_name()
        for name in args.presets.split(","):
            for mode, options in (("fp32, NCHW (baseline)", {}),
                                  ("bf16, channels_last", {"bf16": True, "channels_last": True}),
                                  ("bf16, channels_last, compile", {"bf16": True, "channels_last": True,
                                                                    "compile": True})):
                add(f"{name} (256² input)", gpu_name, mode, 16,
                    images_per_second(PRESETS[name].build(), gpu, 16, 256, args.steps * 5, **options))

    table = ["| model | device | mode | batch | training images/s |", "|---|---|---|---:|---:|"]
    table += [f"| {w} | {d} | {m} | {b} | {ips:.1f} |" for w, d, m, b, ips in rows]
    table += ["", f"Produced by `python benchmarks/train_throughput.py` on {platform.machine()} with "
                  f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}; median of the timed steps."]
    if not torch.cuda.is_available():
        table += ["No GPU was present: run the script on one for the fp32 / bf16 / compile rows."]
    section = "\n".join(table) + "\n"
    update_results("train-throughput", "Training throughput", section)
    print(f"\n{section}\nupdated benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
