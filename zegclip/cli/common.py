"""Options several commands share."""
from __future__ import annotations

import argparse

SEEDS = [0, 1, 2]  # what a results command reads unless told: the mini workflow's three seeds


def add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.encoder.mode=ft "
                        "--set model.encoder.prompt.layers=[1,6] (repeatable; values are JSON)")


def add_measure_args(p: argparse.ArgumentParser, batch: int, iters: int, warmup: int) -> None:
    """Options of the commands that measure the paper-scale model."""
    from zegclip.config.resolve import preset_names

    paper = [n for n in preset_names() if not n.startswith("mini_")]  # datasets with a published config
    p.add_argument("--dataset", choices=paper, required=True,
                   help="which published config: voc (20 classes, 10 prompt tokens), coco (171, 100), context (60, 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--batch", type=int, default=batch, help=f"batch size (default {batch})")
    p.add_argument("--iters", type=int, default=iters, help=f"timed steps (default {iters})")
    p.add_argument("--warmup", type=int, default=warmup, help=f"untimed steps first (default {warmup})")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: autocast")
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: cuda if one is visible, else cpu); a GPU asked for by name "
                        "must be visible, or the command fails instead of measuring the CPU")
    add_set(p)


def add_results_args(p: argparse.ArgumentParser, seeds: bool = True) -> None:
    """Where a results command reads: the scale, the results tree and the seeds."""
    from zegclip.paper.runs import SCALES

    p.add_argument("--scale", choices=SCALES, default="mini")
    p.add_argument("--results", default="results", help="the results tree (default: results)")
    if seeds:
        p.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
