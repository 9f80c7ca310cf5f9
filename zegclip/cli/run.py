"""``zegclip train``, ``evaluate`` and ``segment``: one run, a checkpoint's evaluation, and its
segmentation of any images with any class names."""
from __future__ import annotations

import argparse
from pathlib import Path

from zegclip.cli.common import add_set


def cmd_train(args: argparse.Namespace) -> int:
    from zegclip.config import run_config
    from zegclip.engine.train import train

    cfg = run_config(args.config, args.preset, args.overrides)
    result = train(cfg, Path(args.out), evaluate_after=not args.no_eval, restart_if_changed=args.restart_if_changed)
    if result:
        m = result["metrics"]
        print(f"{args.out}: pAcc {m['pAcc']:.1f}  mIoU(S) {m['mIoU_S']:.1f}  mIoU(U) {m['mIoU_U']:.1f}  "
              f"hIoU {m['hIoU']:.1f}  -> {Path(args.out) / 'results.json'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from zegclip.engine.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(Path(args.checkpoint), Path(args.output), args.dataset, args.data_root, args.split,
                                 args.inference)
    m = result["metrics"]
    print(" ".join(f"{k} {v:.2f}" for k, v in m.items() if isinstance(v, float)) + f" -> {args.output}")
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    from zegclip.engine.segment import find_images, read_classes, segment

    classes = read_classes(args.classes)
    record = segment(Path(args.checkpoint), classes, find_images(args.images), Path(args.out),
                     seen=read_classes(args.seen) if args.seen else (), templates=args.templates,
                     scores=args.scores, inference=args.inference)
    print(f"{args.out}: labels/, overlays/{' and scores/' if args.scores else ''} for {len(record['images'])} "
          f"image(s), {len(classes)} classes")
    return 0


def dataset_name(value: str) -> str:
    """A catalog dataset, or ``custom:PATH`` to a dataset description."""
    from zegclip.catalog.benchmarks import DATASETS, is_custom

    if value in DATASETS or is_custom(value):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: expected one of {', '.join(DATASETS)}, or custom:DESCRIPTION.yaml")


def add_train_args(p: argparse.ArgumentParser) -> None:
    """What a training run is made from and where it goes (``train``, ``gate plant``)."""
    from zegclip.config.resolve import preset_names

    p.add_argument("--config", help="a JSON file with any part of the config tree (model, data, train)")
    p.add_argument("--preset", choices=preset_names(),
                   help="start from a dataset's published settings (prompt tokens, templates, iterations)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    p.add_argument("--restart-if-changed", action="store_true",
                   help="if RUN_DIR holds checkpoints made with another configuration or other starting weights, "
                        "delete the run's files and start afresh (default: refuse, naming what differs)")
    add_set(p)


def add_commands(sub: argparse._SubParsersAction) -> None:
    from zegclip.catalog.benchmarks import DATASETS
    from zegclip.config.schema import TEMPLATE_SETS

    t = sub.add_parser(
        "train", help="train one run (any setting of Table 2), then evaluate it",
        description="Train ZegCLIP in RUN_DIR: config.json (fully resolved), train.log, checkpoints/, final.pt "
                    "and results.json. Restarting the same command resumes from the last checkpoint.")
    add_train_args(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "evaluate", help="evaluate a checkpoint, on its dataset or another (cross-dataset)",
        description="Slide-inference evaluation of a checkpoint; writes one results JSON (metrics, per-class IoU, "
                    "the resolved config and its hash, seed, commit, versions, device, wall time).")
    e.add_argument("--checkpoint", required=True, help="a final.pt or iter_N.pt of a run")
    e.add_argument("--output", required=True, help="the results JSON to write (atomically)")
    e.add_argument("--dataset", type=dataset_name, metavar="DATASET",
                   help=f"evaluate on another dataset's classes (default: the run's dataset): one of "
                        f"{', '.join(DATASETS)}, or custom:DESCRIPTION.yaml (your own dataset)")
    e.add_argument("--data-root", help="that dataset's folder (default: the run's data.root)")
    e.add_argument("--split", help="the split to evaluate (default: the run's data.eval_split)")
    e.add_argument("--set", dest="inference", action="append", default=[], metavar="model.inference.KEY=VALUE",
                   help="change how the trained model is evaluated, e.g. --set model.inference.seen_bias=0 "
                        "(repeatable; only model.inference.* keys; the results record the resolved config)")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser(
        "segment", help="segment your own images with any class names, using a trained run",
        description="Slide inference of a trained run on image files or folders, for the class names given "
                    "(seen in training or not). Writes OUT/labels/NAME.png (palette PNG, values = class ids in "
                    "the order given), OUT/overlays/NAME.png (image, colours, legend), with --scores "
                    "OUT/scores/NAME.npy (float16, classes x height x width), and OUT/segment.json.")
    s.add_argument("images", nargs="+", help="image files or folders of images")
    s.add_argument("--checkpoint", required=True, help="a run directory (its final.pt) or a checkpoint file")
    s.add_argument("--classes", required=True,
                   help="class names, comma-separated (\"cat,dog,grass\") or a file with one per line")
    s.add_argument("--out", required=True, help="the output folder")
    s.add_argument("--seen", help="the classes (a subset of --classes) to calibrate as seen: their scores lose the "
                                  "run's model.inference.seen_bias, as the evaluation of an inductive run does "
                                  "(default: no calibration)")
    s.add_argument("--templates", choices=TEMPLATE_SETS, help="text templates (default: the run's)")
    s.add_argument("--scores", action="store_true", help="also write each image's per-class score maps")
    s.add_argument("--set", dest="inference", action="append", default=[], metavar="model.inference.KEY=VALUE",
                   help="change the inference, e.g. --set model.inference.stride=16 (only model.inference.*)")
    s.set_defaults(func=cmd_segment)
