"""``zegclip mini world|clip|references``: the embedded mini-world every table runs on by default."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_mini_world(args: argparse.Namespace) -> int:
    from zegclip.config.world import WorldSize
    from zegclip.miniworld.generate import generate_world

    size = WorldSize(image_size=args.image_size, train=args.train, val=args.val, objects=tuple(args.objects),
                     thing_size=tuple(args.thing_size) if args.thing_size else None, grid=args.grid)
    manifest = generate_world(Path(args.out), args.seed, size, args.datasets)
    print(f"mini-world (seed {args.seed}) in {args.out}: " + ", ".join(
        f"{n} ({len(d['classes'])} classes, {len(d['unseen'])} unseen)" for n, d in manifest["datasets"].items()))
    return 0


def cmd_mini_clip(args: argparse.Namespace) -> int:
    from zegclip.config.world import PretrainConfig
    from zegclip.miniworld.pretrain import pretrain_mini_clip

    cfg = PretrainConfig(model=args.model, steps=args.steps, batch=args.batch, seed=args.seed,
                         dense_weight=args.dense_weight, logit_scale=args.logit_scale)
    report = pretrain_mini_clip(Path(args.out), cfg)
    print(f"tiny CLIP -> {args.out}: zero-shot accuracy {100 * report['zero_shot_accuracy']:.1f}% over "
          f"{len(report['per_class_accuracy'])} classes (lowest {100 * report['zero_shot_accuracy_min']:.0f}%), "
          f"{report['wall_time_s']:.0f} s, {report['threads']} threads, {report['cores_busy']:.1f} cores busy on average")
    return 0


def cmd_mini_references(args: argparse.Namespace) -> int:
    from zegclip.miniworld.references import write_references

    scores = write_references(Path(args.world), args.dataset, Path(args.output))
    print(" | ".join(f"{k}: mIoU(U) {v['mIoU_U']:.1f}" for k, v in scores.items()))
    return 0


def cmd_mini_readout(args: argparse.Namespace) -> int:
    from zegclip.config.world import dataset_root
    from zegclip.miniworld.readout import write_readout

    scores = write_readout(Path(args.clip), args.dataset, dataset_root(Path(args.world), args.dataset),
                           Path(args.output) if args.output else None, args.model)
    print(" | ".join(f"{k}: pAcc {v['pAcc']:.1f} mIoU {v['mIoU']:.1f} mIoU(U) {v['mIoU_U']:.1f}" for k, v in scores.items()))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from zegclip.catalog.miniworld import ALL_DATASETS, MINI_DATASETS
    from zegclip.config.world import MINI_CLIP_FILE, WORLD_DIR, WORLD_SEED, PretrainConfig, WorldSize, mini_towers

    towers = mini_towers()

    mini = sub.add_parser("mini", help="the embedded mini-world: datasets, tiny CLIP, reference scores",
                          description="Build the embedded mini-world on which every table runs on a CPU.")
    mini_sub = mini.add_subparsers(dest="what", required=True, metavar="WHAT")
    mw = mini_sub.add_parser("world", help="generate the three mini datasets in the real layouts (cached)",
                             description="Generate mini_voc, mini_coco and mini_context (or --datasets) under OUT in "
                                         "the VOC, COCO-Stuff and Context layouts. Deterministic for a seed; an "
                                         "identical world already in OUT is reused.")
    mw.add_argument("--out", default=WORLD_DIR, help=f"the world folder (default: {WORLD_DIR})")
    mw.add_argument("--seed", type=int, default=WORLD_SEED, help=f"the world seed (default {WORLD_SEED})")
    mw.add_argument("--image-size", type=int, default=WorldSize.image_size)
    mw.add_argument("--objects", type=int, nargs=2, metavar=("MIN", "MAX"), default=list(WorldSize.objects),
                    help=f"things per scene, uniform in [MIN, MAX] (default {WorldSize.objects[0]} {WorldSize.objects[1]})")
    mw.add_argument("--thing-size", type=int, nargs=2, metavar=("MIN", "MAX"), default=None,
                    help="a thing's box sides in pixels, uniform in [MIN, MAX] (default: half the image to "
                         "seven eighths of it, 8 14 at --image-size 16)")
    mw.add_argument("--grid", type=int, default=WorldSize.grid, metavar="PIXELS",
                    help="draw every region and thing boundary on a grid of PIXELS (the tiny CLIP's patch "
                         f"size, 4, makes every patch show one class; default {WorldSize.grid}: free)")
    mw.add_argument("--train", type=int, default=WorldSize.train,
                    help=f"training images per dataset (default {WorldSize.train})")
    mw.add_argument("--val", type=int, default=WorldSize.val, help=f"validation images per dataset (default {WorldSize.val})")
    mw.add_argument("--datasets", nargs="+", choices=sorted(ALL_DATASETS), metavar="NAME", default=list(MINI_DATASETS),
                    help="which datasets (default: mini_voc mini_coco mini_context); world variants: "
                         "mini_voc_novel, mini_coco_novel (unseen things have colours no seen thing has), mini_voc_wide "
                         "(40 things, 10 unseen); write a variant "
                         "to its own folder, e.g. --out data/mini_variants")
    mw.set_defaults(func=cmd_mini_world)
    mc = mini_sub.add_parser("clip", help="pretrain the tiny CLIP on generated image-caption pairs",
                             description="Pretrain a tiny open_clip model contrastively on every class "
                                         "of the world (unseen ones too) and report its zero-shot accuracy on "
                                         "held-out images. Writes OUT (safetensors) and OUT with .json.")
    mc.add_argument("--out", default=f"{WORLD_DIR}/{MINI_CLIP_FILE}")
    mc.add_argument("--model", default=PretrainConfig.model, choices=towers,
                    help=f"the tower, a config in zegclip/clip_configs (default {PretrainConfig.model})")
    mc.add_argument("--steps", type=int, default=PretrainConfig.steps)
    mc.add_argument("--batch", type=int, default=PretrainConfig.batch)
    mc.add_argument("--seed", type=int, default=PretrainConfig.seed)
    mc.add_argument("--dense-weight", type=float, default=PretrainConfig.dense_weight,
                    help="weight of a patch-level loss naming each patch token's own class (default "
                         f"{PretrainConfig.dense_weight}; 0: image-level contrastive pretraining only, as v1)")
    mc.add_argument("--logit-scale", type=float, default=PretrainConfig.logit_scale,
                    help="keep the contrastive logit scale fixed at this value (default: learned, as CLIP's)")
    mc.set_defaults(func=cmd_mini_clip)
    mr = mini_sub.add_parser("references", help="uniform-chance and attribute-only scores of a mini dataset",
                             description="Score uniform random labels and attribute-only oracles on a mini "
                                         "dataset's val split: what zero-shot transfer must beat.")
    mr.add_argument("--world", default=WORLD_DIR)
    mr.add_argument("--dataset", required=True, choices=tuple(ALL_DATASETS))
    mr.add_argument("--output", required=True)
    mr.set_defaults(func=cmd_mini_references)
    ro = mini_sub.add_parser("readout", help="training-free readouts of a tiny CLIP on a mini dataset's val split",
                             description="Label each pixel with the class whose text embedding is nearest to the "
                                         "tiny CLIP's patch token (patch), its last block's value path (value, as "
                                         "MaskCLIP), or the image's pooled embedding (image), and score it: how much "
                                         "of the segmentation the tower carries before any ZegCLIP training.")
    ro.add_argument("--clip", default=f"{WORLD_DIR}/{MINI_CLIP_FILE}", help="the tiny CLIP weights (safetensors)")
    ro.add_argument("--world", default=WORLD_DIR)
    ro.add_argument("--model", default=PretrainConfig.model, choices=towers,
                    help=f"the tower the weights are for (default {PretrainConfig.model})")
    ro.add_argument("--dataset", required=True, choices=tuple(ALL_DATASETS))
    ro.add_argument("--output", help="also write the scores to this JSON file")
    ro.set_defaults(func=cmd_mini_readout)
