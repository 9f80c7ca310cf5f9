"""``zegclip prepare weights|coco-stuff|context``: one-time conversions of downloaded files."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_prepare_weights(args: argparse.Namespace) -> int:
    from zegclip.model.clip import convert_openai_archive

    n = convert_openai_archive(Path(args.source), Path(args.output))
    print(f"wrote {n} tensors to {args.output}; use it with --set model.clip.pretrained={args.output}")
    return 0


def cmd_prepare_coco(args: argparse.Namespace) -> int:
    from zegclip.data.prepare import convert_coco_stuff

    n = convert_coco_stuff(Path(args.root))
    print(f"wrote {n} *_labelTrainIds.png label maps under {args.root}/annotations")
    return 0


def cmd_prepare_context(args: argparse.Namespace) -> int:
    from zegclip.data.prepare import convert_context

    counts = convert_context(Path(args.json), Path(args.root))
    print(f"wrote {counts['train']} train and {counts['val']} val label maps under {args.root}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    prep = sub.add_parser("prepare", help="one-time conversions of weights and datasets",
                          description="One-time conversions of downloaded files into what zegclip loads.")
    prep_sub = prep.add_subparsers(dest="what", required=True, metavar="WHAT")
    w = prep_sub.add_parser(
        "weights", help="convert the OpenAI TorchScript CLIP archive (e.g. ViT-B-16.pt) to safetensors",
        description="Convert the original OpenAI CLIP release, a TorchScript archive that cannot be loaded with "
                    "torch.load(weights_only=True), into a safetensors state dict that open_clip loads safely.")
    w.add_argument("source", help="the OpenAI .pt archive")
    w.add_argument("output", help="the .safetensors file to write (written atomically)")
    w.set_defaults(func=cmd_prepare_weights)
    c = prep_sub.add_parser(
        "coco-stuff", help="official stuff-thing maps -> *_labelTrainIds.png (171 train ids)",
        description="Convert the official COCO-Stuff 164K stuff-thing maps (raw values 0-181, 255) under "
                    "ROOT/annotations/{train2017,val2017}/ into *_labelTrainIds.png beside them.")
    c.add_argument("root", help="the coco_stuff164k folder")
    c.set_defaults(func=cmd_prepare_coco)
    x = prep_sub.add_parser(
        "context", help="PASCAL in Detail trainval_merged.json -> SegmentationClassContext (60 classes)",
        description="Write ROOT/SegmentationClassContext/*.png (train ids 0-59, background 0) and "
                    "ROOT/ImageSets/SegmentationContext/{train,val}.txt from the official trainval_merged.json. "
                    "ROOT is VOCdevkit/VOC2010 (with JPEGImages/). Use data.dataset=context59 to ignore background.")
    x.add_argument("json", help="trainval_merged.json")
    x.add_argument("root", help="the VOCdevkit/VOC2010 folder")
    x.set_defaults(func=cmd_prepare_context)
