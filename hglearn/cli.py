"""The `hglearn` command line.

    hglearn train [CONFIG.toml] [--key=value ...]
    hglearn eval CHECKPOINT [--dataset NAME] [--data-root DIR] [--synth-difficulty LEVEL] [--flip]
                 [--scales 0.9,1,1.1] [--save-mat FILE]
    hglearn export CHECKPOINT OUT         # the model and configs only, for sharing
    hglearn profile NAME [--input 256] [--depth 3] [--repeats 5] [--no-latency]
    hglearn data download NAME --root DIR
    hglearn data prepare NAME --root DIR [--source FORMAT]
    hglearn course build                  # notebooks/ from solutions/
    hglearn course record [NN ...]        # restart-and-run-all the solutions, then build

Each command imports what it needs when it runs, so `hglearn --help` is instant.
"""
import argparse
import sys


def cmd_profile(args: argparse.Namespace) -> None:
    from hglearn.models import create_model
    from hglearn.profiling import layer_summary, model_stats

    model = create_model(args.name)
    print(layer_summary(model, args.input, depth=args.depth))
    stats = model_stats(model, args.input, latency=not args.no_latency, repeats=args.repeats)
    print(f"\n{args.name} at {args.input}x{args.input}")
    print(f"  parameters   {stats['params']:,}")
    print(f"  FLOPs        {stats['flops'] / 1e9:.2f} G  (fvcore: one multiply-add = one FLOP)")
    if stats["latency_ms"] is not None:
        print(f"  latency      {stats['latency_ms']:.1f} ms  (batch 1, median of {args.repeats}, {stats['device']})")


def train_config_from_args(words: list[str]):
    """TrainConfig from an optional TOML file then --key=value overrides, each type-checked."""
    from hglearn.config import load_toml, override, parse_value
    from hglearn.train import TrainConfig

    changes = {}
    if words and not words[0].startswith("--"):
        path = words.pop(0)
        changes.update(load_toml(TrainConfig, path))
        try:
            override(TrainConfig(), **changes)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{path}: {error}") from None
    for word in words:
        if not word.startswith("--") or "=" not in word:
            raise ValueError(f"expected --key=value, got {word!r}")
        key, text = word[2:].split("=", 1)
        changes[key] = parse_value(TrainConfig, key, text)
    return override(TrainConfig(), **changes)


def cmd_train(args: argparse.Namespace) -> None:
    from hglearn.train import train

    train(train_config_from_args(list(args.options)))


def cmd_eval(args: argparse.Namespace) -> None:
    from hglearn.data.splits import eval_split, make_dataset
    from hglearn.evaluate import evaluate, save_mpii_predictions
    from hglearn.train import load_model, pick_device

    model, cfg = load_model(args.checkpoint)
    device = pick_device(args.device)
    name = args.dataset or cfg.dataset
    dataset = make_dataset(name, args.split or eval_split(name), input_res=cfg.input_res, sigma=cfg.sigma,
                           root=args.data_root or cfg.data_root,
                           synth_difficulty=args.synth_difficulty or cfg.synth_difficulty,
                           synth_images=cfg.val_images)
    try:
        scales = tuple(float(s) for s in args.scales.split(","))
    except ValueError:
        raise ValueError(f"--scales {args.scales!r}: expected comma-separated numbers such as 0.9,1,1.1") from None
    result = evaluate(model.to(device), dataset, flip=args.flip, scales=scales, device=device)
    print(result.metric)
    print(result.metric.to_markdown())
    if args.save_mat:
        print(f"predictions saved to {save_mpii_predictions(args.save_mat, result.pred)}")


def cmd_export(args: argparse.Namespace) -> None:
    from hglearn.train import export_model

    out = export_model(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): model and configs, no optimizer state")


def cmd_course(args: argparse.Namespace) -> None:
    from hglearn.course import notebooks

    if args.action == "build":
        for path in notebooks.build():
            print(f"wrote {path}")
    else:
        seconds = notebooks.record(names=args.names, timeout=args.timeout)
        print(f"recorded {len(seconds)} notebooks in {sum(seconds.values()):.0f} s; notebooks/ and README rebuilt")


def build_parser() -> argparse.ArgumentParser:
    from hglearn.data.download import add_data_commands
    from hglearn.models import PRESETS

    parser = argparse.ArgumentParser(prog="hglearn", description="Stacked hourglass networks for pose estimation.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model (default: the course's SynthPose run)",
                                usage="hglearn train [CONFIG.toml] [--key=value ...]",
                                description="Keys are TrainConfig fields; see hglearn/train.py.")
    train.set_defaults(run=cmd_train)

    evaluation = commands.add_parser("eval", help="evaluate a checkpoint (PCKh@0.5 or PCK@0.2)")
    evaluation.add_argument("checkpoint")
    evaluation.add_argument("--dataset", help="synth, mpii, lsp, lspet or flic (default: the training one)")
    evaluation.add_argument("--data-root", help="the dataset's folder (default: the training one)")
    evaluation.add_argument("--synth-difficulty", help="SynthPose only: plain, textured, cluttered or occluded")
    evaluation.add_argument("--split", help="split to score (default: val for MPII and SynthPose, test for LSP, FLIC)")
    evaluation.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: CUDA when present)")
    evaluation.add_argument("--flip", action="store_true", help="average with the mirrored image's heatmaps")
    evaluation.add_argument("--scales", default="1.0", help="comma-separated crop scales to average, e.g. 0.9,1,1.1")
    evaluation.add_argument("--save-mat", metavar="FILE", help="save MPII-style predictions (.mat, 1-based)")
    evaluation.set_defaults(run=cmd_eval)

    export = commands.add_parser("export", help="keep only the model and its configs of a checkpoint (for sharing)")
    export.add_argument("checkpoint")
    export.add_argument("out")
    export.set_defaults(run=cmd_export)

    profile = commands.add_parser("profile", help="parameters, FLOPs, layer summary and latency of a preset")
    profile.add_argument("name", choices=list(PRESETS), metavar="NAME", help=f"one of: {', '.join(PRESETS)}")
    profile.add_argument("--input", type=int, default=256, help="square input size in pixels (default 256)")
    profile.add_argument("--depth", type=int, default=3, help="module depth of the torchinfo summary (default 3)")
    profile.add_argument("--repeats", type=int, default=5, help="timed forward passes (default 5)")
    profile.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    profile.set_defaults(run=cmd_profile)

    course = commands.add_parser("course", help="build the exercise notebooks; re-record the solutions")
    course.add_argument("action", choices=["build", "record"],
                        help="build: notebooks/ from solutions/; record: run the solutions afresh, then build")
    course.add_argument("names", nargs="*", help="record only notebooks whose name starts so (e.g. 03)")
    course.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (default 900)")
    course.set_defaults(run=cmd_course)

    add_data_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hglearn.train import TrainingError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train":
        args.options = extra  # [CONFIG] --key=value ...: checked against TrainConfig
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.run(args)
    except (ValueError, TypeError, FileNotFoundError, TrainingError) as error:  # CourseError is a ValueError
        print(f"hglearn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
