"""The ``zegclip`` command line. Every Snakemake rule calls one of these subcommands."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from zegclip.config import ConfigError, ModelConfig, from_dict, load_preset, merge, parse_overrides


def model_config(dataset: str, overrides: List[str]) -> ModelConfig:
    """Dataclass defaults <- the dataset's published preset <- ``--set`` overrides."""
    data = merge(load_preset(dataset).get("model", {}), parse_overrides(overrides).get("model", {}))
    unknown = set(parse_overrides(overrides)) - {"model"}
    if unknown:
        raise ConfigError(f"--set: unknown top-level key(s) {', '.join(sorted(unknown))}; expected model.*")
    return from_dict(ModelConfig, data, "model")


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.encoder.mode=ft "
                        "--set model.encoder.prompt.layers=[1,6] (repeatable; values are JSON)")


def cmd_efficiency(args: argparse.Namespace) -> int:
    from zegclip.data.catalog import dataset_info
    from zegclip.efficiency import efficiency_report

    cfg = model_config(args.dataset, args.overrides + ["model.clip.pretrained=null"])
    report = efficiency_report(cfg, dataset_info(args.dataset).num_classes, batch=args.batch, iters=args.iters,
                               warmup=args.warmup, precision=args.precision, device=args.device)
    report = {"dataset": args.dataset, **report}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from tabulate import tabulate

    rows = [
        ["#Params (M), published convention", f"{report['params_M']['published_convention']:.3f}"],
        ["#Params (M), trainable", f"{report['params_M']['trainable']:.3f}"],
        ["#Params (M), receiving gradients", f"{report['params_M']['receiving_gradients']:.3f}"],
        ["GFLOPs (fvcore, 1 MAC = 1 flop)", f"{report['gflops']['total']:.2f}"],
        ["  of which attention products", f"{report['gflops']['attention_products']:.2f}"],
    ]
    if "throughput" in report:
        t = report["throughput"]
        rows.append([f"images/s ({t['device']}, batch {t['batch']}, {t['precision']})", f"{t['images_per_s']:.2f}"])
    print(f"ZegCLIP efficiency, {args.dataset} config ({report['num_classes']} classes, "
          f"{report['prompt_tokens']} prompt tokens, {report['image_size']}x{report['image_size']})")
    print(tabulate(rows, tablefmt="github"))
    return 0


def cmd_prepare_weights(args: argparse.Namespace) -> int:
    from zegclip.model.clip import convert_openai_archive

    n = convert_openai_archive(Path(args.source), Path(args.output))
    print(f"wrote {n} tensors to {args.output}; use it with --set model.clip.pretrained={args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zegclip",
        description="ZegCLIP (CVPR 2023) reference harness: model, training, evaluation and efficiency.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "efficiency", help="Table 3: #params, FLOPs and throughput of the paper-scale model",
        description="Build the paper-scale model (random weights) for a dataset's published config and report "
                    "learnable parameters (two conventions), fvcore FLOPs of one forward (attention included, "
                    "1 multiply-add = 1 flop, as the paper counts) and inference throughput on this device.")
    p.add_argument("--dataset", choices=("voc", "coco", "context"), required=True,
                   help="which published config: voc (20 classes, 10 prompt tokens), coco (171, 100), context (60, 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--batch", type=int, default=1, help="throughput batch size (the paper: 1)")
    p.add_argument("--iters", type=int, default=2, help="timed forward passes; 0 skips the throughput measurement")
    p.add_argument("--warmup", type=int, default=1, help="untimed forward passes before timing")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="throughput precision")
    p.add_argument("--device", default=None, help="throughput device (default: cuda if available, else cpu)")
    _add_set(p)
    p.set_defaults(func=cmd_efficiency)

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
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from zegclip.model.clip import WeightsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, WeightsError) as err:
        print(f"zegclip {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
