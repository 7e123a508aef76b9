"""The `hglearn` command line, all of it.

    hglearn train [CONFIG.toml] [--key=value ...]   # `hglearn train --help` lists every key
    hglearn eval CHECKPOINT [--dataset NAME] [--data-root DIR] [--synth-difficulty LEVEL] [--flip]
                 [--scales 0.9,1,1.1] [--save-mat FILE]
    hglearn predict IMAGE... --checkpoint CKPT [--box x0,y0,x1,y1] [--flip] [--out DIR]   # pose on photos
    hglearn export CHECKPOINT OUT         # the model and configs only, for sharing
    hglearn convert princeton CHECKPOINT OUT.pt   # the authors' PyTorch port's weights as an hglearn checkpoint
    hglearn pretrained list               # the authors' published checkpoints, and which are in the cache
    hglearn pretrained get NAME           # download (resumable), check, convert; prints the checkpoint's path
    hglearn profile NAME [--input 256] [--depth 3] [--repeats 5] [--no-latency]
    hglearn data download NAME --root DIR
    hglearn data prepare NAME --root DIR [--source FORMAT]
    hglearn course build                  # notebooks/ from solutions/
    hglearn course record [NN ...]        # restart-and-run-all the solutions, then build

Each command imports what it needs when it runs: parsing, `--help` included, never imports torch.
An error the user can fix (an `HglearnError`, or an operating-system error such as a missing file, a
read-only folder or a full disk, which names its path) is printed as one line with exit
status 2; anything else is a bug and keeps its traceback.
"""
import argparse
import sys
from pathlib import Path

from hglearn.config import TrainConfig, fields_help, load_toml, override, parse_value
from hglearn.data.catalog import DATASETS, dataset_spec, downloadable, preparable
from hglearn.errors import ConfigError, HglearnError


def train_config_from_args(words: list[str]) -> TrainConfig:
    """TrainConfig from an optional TOML file then --key=value overrides, each type-checked."""
    changes = {}
    if words and not words[0].startswith("--"):
        path = words.pop(0)
        if "=" in path and not Path(path).exists():
            raise ConfigError(f"{path!r}: options are written --{path} (a first word without -- is a TOML config file)")
        changes.update(load_toml(path))
        try:
            override(TrainConfig(), **changes)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    for word in words:
        if not word.startswith("--") or "=" not in word:
            raise ConfigError(f"expected --key=value, got {word!r} (see hglearn train --help)")
        key, text = word[2:].split("=", 1)
        changes[key] = parse_value(TrainConfig, key, text)
    return override(TrainConfig(), **changes)


def cmd_train(args: argparse.Namespace) -> None:
    from hglearn.errors import RunInterrupted
    from hglearn.train import train

    try:
        train(train_config_from_args(list(args.options)))
    except RunInterrupted as stopped:  # say how to go on, with the words the run was started with
        words = [w for w in args.options if not w.startswith("--resume=")]
        raise RunInterrupted(f"{stopped}; continue it with: hglearn train {' '.join([*words, '--resume=last'])}",
                             signal_number=stopped.exit_code - 128, checkpoint=stopped.checkpoint) from None


def cmd_eval(args: argparse.Namespace) -> None:
    import dataclasses

    from hglearn.checkpoints import load_model
    from hglearn.data.splits import make_val_set
    from hglearn.evaluate import evaluate, save_mpii_predictions
    from hglearn.train import pick_device

    if args.save_mat and (Path(args.save_mat).is_dir() or not Path(args.save_mat).parent.is_dir()):
        raise ConfigError(f"--save-mat {args.save_mat}: give a file name in an existing folder, such as pred.mat")
    model, trained = load_model(args.checkpoint)
    changes = {"dataset": args.dataset, "data_root": args.data_root, "synth_difficulty": args.synth_difficulty}
    cfg = dataclasses.replace(trained, **{k: v for k, v in changes.items() if v is not None})
    joints = {name: dataset_spec(name).joint_set for name in (trained.dataset, cfg.dataset)}
    if joints[trained.dataset] != joints[cfg.dataset]:
        raise ConfigError(f"--dataset {cfg.dataset}: {args.checkpoint} predicts the {joints[trained.dataset].num_joints} "
                          f"joints of {trained.dataset}, {cfg.dataset} has {joints[cfg.dataset].num_joints}")
    device = pick_device(args.device)
    dataset = make_val_set(cfg, args.split)
    what = f"{cfg.synth_difficulty} SynthPose" if cfg.dataset == "synth" else f"{cfg.dataset} in {cfg.data_root}"
    print(f"scoring {args.checkpoint} on {len(dataset)} people of {what} ({args.split or 'evaluation'} split), "
          f"flip test {'on' if args.flip else 'off'}, scales {', '.join(map(str, args.scales))}", flush=True)
    result = evaluate(model.to(device), dataset, flip=args.flip, scales=args.scales,
                      batch_size=cfg.eval_batch_size, device=device)
    print(result.metric)
    if args.save_mat:
        print(f"predictions saved to {save_mpii_predictions(args.save_mat, result.pred)}")


def cmd_predict(args: argparse.Namespace) -> None:
    """Each image in turn: read, predict, draw, save <out>/<stem>.png and .json; one line per image.

    An image that fails (unreadable, a --box outside it, a write that fails) prints its one-line
    error and writes nothing; the other images go on, and once all are tried the command fails
    (status 2) naming the failed ones. A single image's failure is that one line.
    """
    from hglearn.checkpoints import load_model
    from hglearn.predict import (draw_prediction, output_stems, parse_box, pose_record, predict_pose, read_photo,
                                 save_prediction)

    box = None if args.box is None else parse_box(args.box)
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out}: is a file; give a folder (it is created when missing)")
    model, trained = load_model(args.checkpoint)
    joint_set = dataset_spec(trained.dataset).joint_set
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for image_path, stem in zip(args.images, output_stems(args.images)):
        png_path, json_path = args.out / f"{stem}.png", args.out / f"{stem}.json"
        try:
            image = read_photo(image_path)
            h, w = image.shape[:2]
            pose = predict_pose(model, image, input_res=trained.input_res, joint_set=joint_set, box=box,
                                flip=args.flip)
            save_prediction(png_path, json_path, draw_prediction(image, pose, joint_set), pose_record(
                pose, image_path=image_path, image_size=(w, h), joint_set=joint_set,
                input_res=trained.input_res, flip=args.flip, checkpoint=args.checkpoint))
        except (HglearnError, OSError) as error:
            message = user_message(error)
            if str(Path(image_path)) not in message:  # e.g. a write error names the output, not the photo
                message = f"{image_path}: {message}"
            if len(args.images) == 1:
                raise HglearnError(message) from None
            print(f"hglearn predict: error: {message}", file=sys.stderr, flush=True)
            failed.append(image_path)
            continue
        print(f"{image_path}: wrote {png_path} and {json_path} ({joint_set.num_joints} joints, "
              f"mean confidence {pose.confidence.mean():.2f})", flush=True)
    if failed:
        named = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
        raise HglearnError(f"{len(failed)} of {len(args.images)} images failed ({named}); the others' "
                           f"outputs are in {args.out}")


def cmd_export(args: argparse.Namespace) -> None:
    from hglearn.checkpoints import export_model

    if not Path(args.out).parent.is_dir():
        raise ConfigError(f"{args.out}: the folder {Path(args.out).parent} does not exist; create it first")
    out = export_model(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): model and configs, no optimizer state")


def cmd_convert(args: argparse.Namespace) -> None:
    from hglearn.pretrained import save_converted

    if not Path(args.out).parent.is_dir():
        raise ConfigError(f"{args.out}: the folder {Path(args.out).parent} does not exist; create it first")
    out, converted = save_converted(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {converted.preset} from {args.checkpoint}, "
          f"{len(converted.dropped)} unused skip_layer tensors dropped, model card inside")
    print(f"input: {converted.input_convention}")


def cmd_pretrained_list(args: argparse.Namespace) -> None:
    from hglearn.pretrained import PRETRAINED, cache_paths

    for name, entry in PRETRAINED.items():
        paths = cache_paths(name)
        if paths.converted.exists():
            cached = f"in the cache: {paths.converted}"
        elif paths.source.exists():
            cached = f"downloaded, not converted yet: {paths.source}"
        else:
            cached = "not in the cache"
        print(f"{name}: {entry['num_stacks']} stacks, validation accuracy {entry['accuracy']} as the port's README "
              f"reports it\n  {entry['address']}\n  {cached}")


def cmd_pretrained_get(args: argparse.Namespace) -> None:
    from hglearn.pretrained import get_pretrained

    print(get_pretrained(args.name))


def cmd_profile(args: argparse.Namespace) -> None:
    from hglearn.models import create_model
    from hglearn.profiling import layer_summary, model_stats

    model = create_model(args.name)  # an unknown name is a ConfigError listing the presets
    print(layer_summary(model, args.input, depth=args.depth))
    stats = model_stats(model, args.input, latency=not args.no_latency, repeats=args.repeats)
    print(f"\n{args.name} at {args.input}x{args.input}")
    print(f"  parameters   {stats['params']:,}")
    print(f"  FLOPs        {stats['flops'] / 1e9:.2f} G  (fvcore: one multiply-add = one FLOP)")
    print("  (torchinfo's \"mult-adds\" above count each layer's parameters, biases included, once per output\n"
          "   position; fvcore's FLOPs count the multiply-adds of each operator, without biases: the figure the\n"
          "   README and the notebooks quote)")
    if stats["latency_ms"] is not None:
        print(f"  latency      {stats['latency_ms']:.1f} ms  (batch 1, median of {args.repeats}, {stats['device']})")


def cmd_data_download(args: argparse.Namespace) -> None:
    from hglearn.data.download import download_dataset

    download_dataset(args.name, args.root)
    print(f"next: hglearn data prepare {args.name} --root {args.root}")


def cmd_data_prepare(args: argparse.Namespace) -> None:
    from hglearn.data.prepare import prepare

    prepare(args.name, args.root, source=args.source, tompson=args.tompson)


def cmd_course(args: argparse.Namespace) -> None:
    from hglearn.course import notebooks

    if args.action == "build":
        for path in notebooks.build(force=args.force):
            print(f"wrote {path}")
    else:
        seconds = notebooks.record(names=args.names, timeout=args.timeout)
        print(f"recorded {len(seconds)} notebooks in {sum(seconds.values()):.0f} s; notebooks/ and README rebuilt")


def scales(text: str) -> tuple[float, ...]:
    """--scales 0.9,1,1.1 as a tuple of positive floats."""
    try:
        values = tuple(float(s) for s in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated positive numbers such as 0.9,1,1.1")
    return values


def add_data_commands(commands) -> None:
    """`data download NAME --root DIR` and `data prepare NAME --root DIR [--source FORMAT]`, with
    the names and formats the catalogue (hglearn/data/catalog.py) lists."""
    data = commands.add_parser("data", help="download the real datasets and prepare their annotations")
    actions = data.add_subparsers(dest="action", required=True)
    fetchable, convertible = downloadable(), preparable()

    fetch = actions.add_parser("download", help="download and unpack a dataset (resumable)")
    fetch.add_argument("name", choices=fetchable, metavar="NAME", help=f"one of: {', '.join(fetchable)}")
    fetch.add_argument("--root", type=Path, required=True, metavar="DIR", help="the dataset's folder")
    fetch.set_defaults(run=cmd_data_download)

    convert = actions.add_parser("prepare", help="write ROOT/annotations/<split>.json from the downloaded files")
    convert.add_argument("name", choices=convertible, metavar="NAME", help=f"one of: {', '.join(convertible)}")
    convert.add_argument("--root", type=Path, required=True, metavar="DIR", help="the dataset's folder")
    convert.add_argument("--source", choices=sorted({s for spec in DATASETS.values() for s in spec.sources}),
                         help="annotations to convert (default: the first of the dataset's: "
                              + "; ".join(f"{n}: {', '.join(DATASETS[n].sources)}" for n in convertible) + ")")
    convert.add_argument("--tompson", type=Path, metavar="FILE", help="with --source mat: mpii_annotations.json or "
                         "Tompson's detections.mat, the list of validation people")
    convert.set_defaults(run=cmd_data_prepare)


def add_pretrained_commands(commands) -> None:
    """`pretrained list` and `pretrained get NAME`: the authors' published checkpoints (the names are
    hglearn.pretrained.PRETRAINED's, not listed here: reading them would import torch)."""
    pretrained = commands.add_parser("pretrained", help="the authors' published checkpoints: list, or download "
                                     "and convert one", description="Files are kept in $HGLEARN_CACHE/pretrained "
                                     "(default ~/.cache/hglearn/pretrained).")
    actions = pretrained.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="each name, its stacks, reported accuracy, address, and whether "
                                 "it is in the cache")
    listing.set_defaults(run=cmd_pretrained_list)
    get = actions.add_parser("get", help="download (resumable), check the SHA-256 recorded on the first "
                             "download, convert; prints the hglearn checkpoint's path")
    get.add_argument("name", metavar="NAME", help="a name that hglearn pretrained list shows")
    get.set_defaults(run=cmd_pretrained_get)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hglearn", description="Stacked hourglass networks for pose estimation.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a model (default: the course's SynthPose run)",
        usage="hglearn train [CONFIG.toml] [--key=value ...]", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train with the TrainConfig defaults, changed by a TOML file of fields (configs/*.toml) "
                    "and then by --key=value options, each checked against its field's type.",
        epilog=f"keys (TrainConfig fields):\n{fields_help(TrainConfig)}")
    train.set_defaults(run=cmd_train)

    names = ", ".join(DATASETS)
    evaluation = commands.add_parser("eval", help="evaluate a checkpoint (PCKh@0.5 or PCK@0.2)")
    evaluation.add_argument("checkpoint")
    evaluation.add_argument("--dataset", choices=list(DATASETS), metavar="NAME",
                            help=f"one of: {names} (default: the training one)")
    evaluation.add_argument("--data-root", help="the dataset's folder (default: the training one)")
    evaluation.add_argument("--synth-difficulty", help="SynthPose only: plain, textured, cluttered or occluded")
    evaluation.add_argument("--split", help="split to score (default: the dataset's evaluation split)")
    evaluation.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: CUDA when present)")
    evaluation.add_argument("--flip", action="store_true", help="average with the mirrored image's heatmaps")
    evaluation.add_argument("--scales", type=scales, default=(1.0,), help="comma-separated crop scales to average, "
                            "e.g. 0.9,1,1.1")
    evaluation.add_argument("--save-mat", metavar="FILE", help="save MPII-style predictions (.mat, 1-based)")
    evaluation.set_defaults(run=cmd_eval)

    predict = commands.add_parser("predict", help="single-person pose on photos: a drawn PNG and a JSON each",
                                  description="Predict one person's joints in each photo with a checkpoint; write "
                                  "<DIR>/<stem>.png (the photo with its skeleton) and <DIR>/<stem>.json (per joint: "
                                  "name, x, y in the photo's pixels, confidence).")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="photos (JPEG, PNG, WebP, TIFF, BMP, ...)")
    predict.add_argument("--checkpoint", required=True, metavar="CKPT", help="an hglearn checkpoint (e.g. "
                         "data/checkpoints/synthpose-newell-hg1.pt, or one from hglearn pretrained get)")
    predict.add_argument("--box", metavar="x0,y0,x1,y1", help="the person's box in image pixels, the same for "
                         "every image (default: the whole image); the crop is 1.25 times its longer side. Write "
                         "--box=-5,0,300,400 when the first number is negative")
    predict.add_argument("--flip", action="store_true", help="average with the mirrored image's heatmaps")
    predict.add_argument("--out", type=Path, default=Path("predictions"), metavar="DIR",
                         help="output folder, created when missing (default: predictions)")
    predict.set_defaults(run=cmd_predict)

    export = commands.add_parser("export", help="keep only the model and its configs of a checkpoint (for sharing)")
    export.add_argument("checkpoint", help="a checkpoint written by hglearn train (e.g. runs/synth/best.pt)")
    export.add_argument("out", help="the file to write (its folder must exist); it loads like any checkpoint "
                        "but cannot be resumed")
    export.set_defaults(run=cmd_export)

    convert = commands.add_parser("convert", help="turn the authors' published checkpoints into hglearn ones")
    convert.add_argument("source", choices=["princeton"], help="princeton: a checkpoint of the authors' PyTorch "
                         "port, princeton-vl/pytorch_stacked_hourglass")
    convert.add_argument("checkpoint", help="the port's checkpoint.pt (state_dict, optimizer, epoch)")
    convert.add_argument("out", help="the hglearn checkpoint to write (its folder must exist); load_model and "
                         "hglearn eval read it, and its model_card says where it came from")
    convert.set_defaults(run=cmd_convert)

    profile = commands.add_parser("profile", help="parameters, FLOPs, layer summary and latency of a preset")
    profile.add_argument("name", metavar="NAME", help="a preset of hglearn.models.PRESETS, e.g. newell-hg8")
    profile.add_argument("--input", type=positive, default=256, help="square input size in pixels (default 256)")
    profile.add_argument("--depth", type=positive, default=3, help="module depth of the torchinfo summary (default 3)")
    profile.add_argument("--repeats", type=positive, default=5, help="timed forward passes (default 5)")
    profile.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    profile.set_defaults(run=cmd_profile)

    add_pretrained_commands(commands)
    add_data_commands(commands)

    course = commands.add_parser("course", help="build the exercise notebooks; re-record the solutions")
    course.add_argument("action", choices=["build", "record"],
                        help="build: notebooks/ from solutions/; record: run the solutions afresh, then build")
    course.add_argument("names", nargs="*", default=[], help="optional, with record: only the notebooks whose "
                        "name starts so (e.g. 03 05); default all")
    course.add_argument("--force", action="store_true", help="with build: overwrite exercise notebooks that were "
                        "edited (a student's work in notebooks/ is lost)")
    course.add_argument("--timeout", type=positive, default=900, help="seconds allowed per cell (default 900)")
    course.set_defaults(run=cmd_course)
    return parser


def user_message(error: Exception) -> str:
    """The error's message in one line. A DataLoader worker's error arrives as "Caught X in DataLoader
    worker process 0. Original Traceback ...": only its last line, the original message, is kept."""
    text = str(error)
    if "Original Traceback" in text:
        last = text.strip().splitlines()[-1]
        return last.split(": ", 1)[1] if last.startswith(f"{type(error).__name__}: ") else last
    return text


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train":
        args.options = extra  # [CONFIG] --key=value ...: checked against TrainConfig
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.run(args)
    except (HglearnError, OSError) as error:  # anything else is a bug: keep its traceback
        print(f"hglearn {args.command}: {'' if hasattr(error, 'exit_code') else 'error: '}{user_message(error)}",
              file=sys.stderr)
        return getattr(error, "exit_code", 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
