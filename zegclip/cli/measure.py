"""``zegclip efficiency`` (Table 3) and ``zegclip bench``: the paper-scale model, measured."""
from __future__ import annotations

import argparse
import json

from zegclip.cli.common import add_measure_args


def cmd_efficiency(args: argparse.Namespace) -> int:
    from zegclip.catalog.benchmarks import dataset_info
    from zegclip.config import model_config
    from zegclip.measure.efficiency import efficiency_report, render_text

    cfg = model_config(args.dataset, args.overrides + ["model.clip.pretrained=null"])
    report = efficiency_report(cfg, dataset_info(args.dataset).num_classes, batch=args.batch, iters=args.iters,
                               warmup=args.warmup, precision=args.precision, device=args.device)
    report = {"dataset": args.dataset, **report}
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from zegclip.catalog.benchmarks import dataset_info
    from zegclip.config import model_config
    from zegclip.measure.bench import benchmark, summary_line

    cfg = model_config(args.dataset, args.overrides + ["model.clip.pretrained=null"])
    r = benchmark(cfg, dataset_info(args.dataset).num_classes, args.mode, args.batch, args.precision,
                  args.compile, args.iters, args.warmup, args.device)
    r = {"dataset": args.dataset, **r}
    print(json.dumps(r, indent=2) if args.json else summary_line(r))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "efficiency", help="Table 3: #params, FLOPs and throughput of the paper-scale model",
        description="Build the paper-scale model (random weights) for a dataset's published config and report "
                    "learnable parameters (two conventions), fvcore FLOPs of one forward (attention included, "
                    "1 multiply-add = 1 flop, as the paper counts) and inference throughput on this device.")
    add_measure_args(p, batch=1, iters=2, warmup=1)  # the paper's FPS: batch 1; --iters 0 skips timing
    p.set_defaults(func=cmd_efficiency)

    b = sub.add_parser(
        "bench", help="speed of the paper-scale model: images/s, peak memory, TFLOP/s",
        description="Time inference or a full training step (forward, loss, backward, AdamW) of the model for a "
                    "dataset's published config with random weights, after warm-up. Achieved TFLOP/s uses the "
                    "fvcore forward FLOPs at 2 FLOP per multiply-add (x3 for a training step).")
    b.add_argument("--mode", choices=("infer", "train"), required=True)
    b.add_argument("--compile", action="store_true", help="torch.compile the model (compiled during warm-up)")
    add_measure_args(b, batch=16, iters=10, warmup=3)
    b.set_defaults(func=cmd_bench)
