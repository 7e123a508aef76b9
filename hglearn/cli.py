"""The `hglearn` command line.

    hglearn profile NAME [--input 256] [--depth 3] [--repeats 5] [--no-latency]
    hglearn data download NAME --root DIR
    hglearn data prepare NAME --root DIR [--source FORMAT]

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


def build_parser() -> argparse.ArgumentParser:
    from hglearn.data.download import add_data_commands
    from hglearn.models import PRESETS

    parser = argparse.ArgumentParser(prog="hglearn", description="Stacked hourglass networks for pose estimation.")
    commands = parser.add_subparsers(dest="command", required=True)

    profile = commands.add_parser("profile", help="parameters, FLOPs, layer summary and latency of a preset")
    profile.add_argument("name", choices=list(PRESETS), metavar="NAME", help=f"one of: {', '.join(PRESETS)}")
    profile.add_argument("--input", type=int, default=256, help="square input size in pixels (default 256)")
    profile.add_argument("--depth", type=int, default=3, help="module depth of the torchinfo summary (default 3)")
    profile.add_argument("--repeats", type=int, default=5, help="timed forward passes (default 5)")
    profile.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    profile.set_defaults(run=cmd_profile)

    add_data_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"hglearn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
