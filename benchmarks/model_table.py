"""Parameters, FLOPs and CPU latency of every preset and of Kim & Lee's block ablations.

    python benchmarks/model_table.py [--input 256] [--repeats 5] [--no-latency]

Prints a markdown table, saves it to benchmarks/model_table.md, and writes it into README.md
between the `model-table` markers, so the README's table always comes from this script.
"""
import argparse
import platform
import re
from pathlib import Path

import torch

from hglearn.models import PRESETS, model_config
from hglearn.profiling import model_stats

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"

# (row name, preset, overrides): every preset, then Kim & Lee's one-stack block ablations.
ROWS = [(name, name, {}) for name in PRESETS] + [
    ("newell-hg1, block=bottleneck-ds", "newell-hg1", {"block": "bottleneck-ds"}),
    ("newell-hg1, block=dilated-bottleneck-ds", "newell-hg1", {"block": "dilated-bottleneck-ds"}),
]
# The parameter counts Kim & Lee (2020) quote in their Tables 3, 4 and 7.
PAPER = {
    "newell-hg1": "3.6M", "newell-hg2": "6.7M", "newell-hg8": "25.1M",
    "lightweight-hg1": "2.0M", "lightweight-hg2": "3.9M", "lightweight-hg8": "14.8M",
    "newell-hg1, block=bottleneck-ds": "1.4M", "newell-hg1, block=dilated-bottleneck-ds": "1.6M",
}


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        if match:
            return match.group(1).strip()
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-latency", action="store_true")
    args = parser.parse_args()

    lines = [
        f"| model | block | stacks | extra skip | parameters | paper | GFLOPs at {args.input}² | CPU latency (ms) |",
        "|---|---|---:|:---:|---:|---:|---:|---:|",
    ]
    for row, preset, overrides in ROWS:
        cfg = model_config(preset, **overrides)
        stats = model_stats(cfg.build(), args.input, latency=not args.no_latency, repeats=args.repeats, device="cpu")
        latency = "" if stats["latency_ms"] is None else f"{stats['latency_ms']:.0f}"
        lines.append(
            f"| `{row}` | {cfg.block} | {cfg.num_stacks} | {'yes' if cfg.extra_skip else 'no'} "
            f"| {stats['params']:,} | {PAPER.get(row, '')} | {stats['flops'] / 1e9:.2f} | {latency} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        f"Produced by `python benchmarks/model_table.py` on {cpu_name()} ({torch.get_num_threads()} threads), "
        f"torch {torch.__version__}. FLOPs by fvcore, one multiply-add = one FLOP; latency is the median "
        f"of {args.repeats} forward passes of one image in eval mode. \"paper\": the count Kim & Lee (2020) quote.",
    ]
    table = "\n".join(lines) + "\n"
    (HERE / "model_table.md").write_text(table)

    start, end = "<!-- model-table:start -->", "<!-- model-table:end -->"
    readme = README.read_text()
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        README.write_text(head + start + "\n" + table + end + rest.split(end, 1)[1])
        print(f"updated {README}")
    print(f"saved {HERE / 'model_table.md'}")


if __name__ == "__main__":
    main()
