"""The ``zegclip`` command line. Every Snakemake rule calls one of these subcommands."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from zegclip.config import model_config, run_config


def _add_measure_args(p: argparse.ArgumentParser, batch: int, iters: int, warmup: int) -> None:
    """Options shared by the commands that measure the paper-scale model."""
    p.add_argument("--dataset", choices=("voc", "coco", "context"), required=True,
                   help="which published config: voc (20 classes, 10 prompt tokens), coco (171, 100), context (60, 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--batch", type=int, default=batch, help=f"batch size (default {batch})")
    p.add_argument("--iters", type=int, default=iters, help=f"timed steps (default {iters})")
    p.add_argument("--warmup", type=int, default=warmup, help=f"untimed steps first (default {warmup})")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: autocast")
    p.add_argument("--device", default=None,
                   help="cpu, cuda or cuda:N (default: cuda if one is visible, else cpu); a GPU asked for by name "
                        "must be visible, or the command fails instead of measuring the CPU")
    _add_set(p)


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.encoder.mode=ft "
                        "--set model.encoder.prompt.layers=[1,6] (repeatable; values are JSON)")


def cmd_efficiency(args: argparse.Namespace) -> int:
    from zegclip.catalog.benchmarks import dataset_info
    from zegclip.measure.efficiency import efficiency_report

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


def cmd_train(args: argparse.Namespace) -> int:
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


def cmd_mini_world(args: argparse.Namespace) -> int:
    from zegclip.config.world import WorldSize
    from zegclip.miniworld.generate import generate_world

    size = WorldSize(image_size=args.image_size, train=args.train, val=args.val)
    manifest = generate_world(Path(args.out), args.seed, size, args.datasets)
    print(f"mini-world (seed {args.seed}) in {args.out}: " + ", ".join(
        f"{n} ({len(d['classes'])} classes, {len(d['unseen'])} unseen)" for n, d in manifest["datasets"].items()))
    return 0


def cmd_mini_clip(args: argparse.Namespace) -> int:
    from zegclip.config.world import PretrainConfig
    from zegclip.miniworld.pretrain import pretrain_mini_clip

    cfg = PretrainConfig(steps=args.steps, batch=args.batch, seed=args.seed)
    report = pretrain_mini_clip(Path(args.out), cfg)
    print(f"tiny CLIP -> {args.out}: zero-shot accuracy {100 * report['zero_shot_accuracy']:.1f}% over "
          f"{len(report['per_class_accuracy'])} classes (lowest {100 * report['zero_shot_accuracy_min']:.0f}%), "
          f"{report['wall_time_s']:.0f} s, {report['threads']} threads, {report['cores_busy']:.1f} cores busy on average")
    return 0


def cmd_mini_references(args: argparse.Namespace) -> int:
    from zegclip.data.datasets import SegmentationDataset
    from zegclip.io import write_json
    from zegclip.miniworld.generate import dataset_root
    from zegclip.miniworld.references import reference_scores

    ds = SegmentationDataset(args.dataset, dataset_root(Path(args.world), args.dataset), "val")
    scores = reference_scores(ds)
    write_json(Path(args.output), {"dataset": args.dataset, "split": "val", "references": scores})
    print(" | ".join(f"{k}: mIoU(U) {v['mIoU_U']:.1f}" for k, v in scores.items()))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from zegclip.measure.bench import benchmark
    from zegclip.catalog.benchmarks import dataset_info

    cfg = model_config(args.dataset, args.overrides + ["model.clip.pretrained=null"])
    r = benchmark(cfg, dataset_info(args.dataset).num_classes, args.mode, args.batch, args.precision,
                  args.compile, args.iters, args.warmup, args.device)
    r = {"dataset": args.dataset, **r}
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{args.dataset} {r['mode']} on {r['device']}, batch {r['batch']}, {r['precision']}"
              f"{' compiled' if r['compile'] else ''}: {r['images_per_s']:.2f} images/s, "
              f"peak {r['peak_memory_gib']:.2f} GiB ({r['peak_memory_kind']}), {r['achieved_tflops']:.3f} TFLOP/s")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from zegclip.paper.runs import runs_for, table_rows

    if args.rows:
        print("table\trow\tdataset\ttarget\trun")
        for table in args.tables:
            for row in table_rows(table, args.scale):
                print(f"{table}\t{row.key}\t{row.dataset}\t{row.target or ''}\t{row.run.key(args.scale)}")
        return 0
    print("run\tparent\toverrides")
    for key, run in runs_for(tuple(args.tables), args.scale).items():
        parent = run.parent()
        print(f"{key}\t{parent.key(args.scale) if parent else ''}\t{' '.join(run.overrides(args.scale))}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import datetime

    from zegclip.engine.provenance import git_commit
    from zegclip.io import atomic_path
    from zegclip.paper.layout import TABLE, Layout
    from zegclip.report.aggregate import header, render_latex, render_markdown, table_frames

    results = Path(args.results)
    head = header(args.table, args.scale, args.seeds, git_commit()[:12], datetime.date.today().isoformat())
    summary, frame, flags = table_frames(args.table, results, args.scale, args.seeds)
    out = Path(args.out)
    csv = Layout(results, args.scale).path(TABLE, table=args.table)
    for path, text in ((out, render_markdown(frame, head, flags)),
                       (out.with_suffix(".tex"), render_latex(frame, head, flags)),
                       (csv, summary.to_csv(index=False))):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    print(f"{out}, {out.with_suffix('.tex')} and {csv}: {len(frame)} rows, {len(args.seeds)} seed(s)")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    import datetime

    from zegclip.report.claims import claims_frames, render_markdown
    from zegclip.engine.provenance import git_commit
    from zegclip.io import atomic_path

    verdicts, comparisons = claims_frames(Path(args.results), args.scale, args.seeds)
    where = f"{args.scale} scale" + (f", {args.label}" if args.label else "")
    head = (f"The paper's Table 5 claims on our runs ({where}; seeds: {' '.join(map(str, args.seeds))}); "
            f"commit {git_commit()[:12]}; {datetime.date.today().isoformat()}.")
    with atomic_path(Path(args.out)) as tmp:
        tmp.write_text(render_markdown(verdicts, comparisons, head))
    held = int((verdicts["verdict"] == "holds").sum())
    print(f"{args.out}: {held} of {len(verdicts)} (claim, dataset) pairs hold in every seed")
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from zegclip.report.figures import draw, save_figure

    save_figure(draw(args.name, Path(args.results), args.scale, args.seeds), Path(args.out))
    print(f"{args.out}: {args.name}, {args.scale} scale, seeds {' '.join(map(str, args.seeds))}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from zegclip.report.check import GOLDEN, golden_from, load_tables, run_check
    from zegclip.io import atomic_path

    golden_path = Path(args.golden) if args.golden else GOLDEN
    if args.write_golden:
        golden = golden_from(load_tables(Path(args.results), args.scale, args.tables))
        with atomic_path(golden_path) as tmp:
            golden.to_csv(tmp, index=False)
        print(f"wrote {len(golden)} golden numbers to {golden_path}")
        return 0
    passed, text = run_check(Path(args.results), args.scale, args.tables, args.tolerance, golden_path)
    print(text)
    return 0 if passed else 1


def cmd_prepare_weights(args: argparse.Namespace) -> int:
    from zegclip.model.clip import convert_openai_archive

    n = convert_openai_archive(Path(args.source), Path(args.output))
    print(f"wrote {n} tensors to {args.output}; use it with --set model.clip.pretrained={args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from zegclip.catalog.benchmarks import DATASETS
    from zegclip.catalog.miniworld import ALL_DATASETS as ALL_MINI_DATASETS
    from zegclip.catalog.miniworld import MINI_DATASETS
    from zegclip.config.world import MINI_CLIP_FILE, WORLD_DIR, WORLD_SEED, PretrainConfig, WorldSize

    parser = argparse.ArgumentParser(
        prog="zegclip",
        description="ZegCLIP (CVPR 2023) reference harness: model, training, evaluation and efficiency.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "efficiency", help="Table 3: #params, FLOPs and throughput of the paper-scale model",
        description="Build the paper-scale model (random weights) for a dataset's published config and report "
                    "learnable parameters (two conventions), fvcore FLOPs of one forward (attention included, "
                    "1 multiply-add = 1 flop, as the paper counts) and inference throughput on this device.")
    _add_measure_args(p, batch=1, iters=2, warmup=1)  # the paper's FPS: batch 1; --iters 0 skips timing
    p.set_defaults(func=cmd_efficiency)

    t = sub.add_parser(
        "train", help="train one run (any setting of Table 2), then evaluate it",
        description="Train ZegCLIP in RUN_DIR: config.json (fully resolved), train.log, checkpoints/, final.pt "
                    "and results.json. Restarting the same command resumes from the last checkpoint.")
    t.add_argument("--config", help="a JSON file with any part of the config tree (model, data, train)")
    t.add_argument("--preset", choices=("voc", "coco", "context", "mini_voc", "mini_coco", "mini_context"),
                   help="start from a dataset's published settings (prompt tokens, templates, iterations)")
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory")
    t.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    t.add_argument("--restart-if-changed", action="store_true",
                   help="if RUN_DIR holds checkpoints made with another configuration or other starting weights, "
                        "delete the run's files and start afresh (default: refuse, naming what differs)")
    _add_set(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser(
        "evaluate", help="evaluate a checkpoint, on its dataset or another (cross-dataset)",
        description="Slide-inference evaluation of a checkpoint; writes one results JSON (metrics, per-class IoU, "
                    "the resolved config and its hash, seed, commit, versions, device, wall time).")
    e.add_argument("--checkpoint", required=True, help="a final.pt or iter_N.pt of a run")
    e.add_argument("--output", required=True, help="the results JSON to write (atomically)")
    e.add_argument("--dataset", choices=tuple(DATASETS),
                   help="evaluate on another dataset's classes (default: the run's dataset)")
    e.add_argument("--data-root", help="that dataset's folder (default: the run's data.root)")
    e.add_argument("--split", help="the split to evaluate (default: the run's data.eval_split)")
    e.add_argument("--set", dest="inference", action="append", default=[], metavar="model.inference.KEY=VALUE",
                   help="change how the trained model is evaluated, e.g. --set model.inference.seen_bias=0 "
                        "(repeatable; only model.inference.* keys; the results record the resolved config)")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser(
        "bench", help="speed of the paper-scale model: images/s, peak memory, TFLOP/s",
        description="Time inference or a full training step (forward, loss, backward, AdamW) of the model for a "
                    "dataset's published config with random weights, after warm-up. Achieved TFLOP/s uses the "
                    "fvcore forward FLOPs at 2 FLOP per multiply-add (x3 for a training step).")
    b.add_argument("--mode", choices=("infer", "train"), required=True)
    b.add_argument("--compile", action="store_true", help="torch.compile the model (compiled during warm-up)")
    _add_measure_args(b, batch=16, iters=10, warmup=3)
    b.set_defaults(func=cmd_bench)

    from zegclip.paper.runs import FIGURES, SCALES, TRAINED_TABLES

    r = sub.add_parser("runs", help="the run sheet: which training runs the paper's tables need",
                       description="List every training run the chosen tables need, once each (rows shared "
                                   "between tables are one run), with the --set overrides on top of the dataset "
                                   "preset and, for self-training, the inductive run it starts from.")
    r.add_argument("--tables", nargs="+", default=list(TRAINED_TABLES), choices=TRAINED_TABLES)
    r.add_argument("--scale", choices=SCALES, default="mini")
    r.add_argument("--rows", action="store_true", help="list table rows and the run behind each instead")
    r.set_defaults(func=cmd_runs)

    rep = sub.add_parser("report", help="render a paper table from results: ours beside the paper's, with Δ",
                         description="Aggregate every row's results over seeds (mean ± std) and render the table as "
                                     "Markdown (OUT) and LaTeX (OUT with .tex), with the paper's numbers and Δ; the "
                                     "aggregated frame goes to RESULTS/SCALE/tables/TABLE.csv.")
    rep.add_argument("--table", required=True, choices=["table3"] + [t for t in TRAINED_TABLES if t != "tokens"],
                     help="table3 reads RESULTS/SCALE/efficiency/{voc,coco}.json (zegclip efficiency --json)")
    rep.add_argument("--scale", choices=SCALES, default="mini")
    rep.add_argument("--results", default="results", help="the results tree (default: results)")
    rep.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    rep.add_argument("--out", required=True, help="the Markdown file, e.g. reports/table5.md")
    rep.set_defaults(func=cmd_report)

    cl = sub.add_parser("claims", help="test the paper's Table 5 claims on our runs, seed by seed",
                        description="Each claim of the paper's Table 5 (DPT beats Fix and FT on unseen classes, NEL "
                                    "beats CE, RD helps, fine-tuning hurts unseen classes, ZegCLIP has the best hIoU) "
                                    "is a set of comparisons between rows; it holds when each comparison holds in "
                                    "every seed. Writes a Markdown report with the verdicts and every comparison, "
                                    "beside the same test on the paper's own numbers.")
    cl.add_argument("--scale", choices=SCALES, default="mini")
    cl.add_argument("--results", default="results", help="the results tree (default: results)")
    cl.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    cl.add_argument("--label", default="", help="what else the header should say, e.g. 'world seed 1'")
    cl.add_argument("--out", required=True, help="the Markdown file, e.g. reports/claims_table5.md")
    cl.set_defaults(func=cmd_claims)

    fig = sub.add_parser("figure", help="draw a figure from results with seaborn (PNG, PDF or SVG by OUT's suffix)",
                         description="per_class_unseen: IoU of each unseen COCO-Stuff class, inductive vs "
                                     "self-training (Figure 5 analogue); prompt_depth: Table 8 as a line plot; "
                                     "prompt_tokens: the prompt-token sweep; curves_table5: learning curves of "
                                     "Table 5's rows (runs trained with train.eval_every > 0, the mini presets). "
                                     "Error bars and bands: std over seeds.")
    fig.add_argument("--name", required=True, choices=FIGURES)
    fig.add_argument("--scale", choices=SCALES, default="mini")
    fig.add_argument("--results", default="results", help="the results tree (default: results)")
    fig.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    fig.add_argument("--out", required=True, help="the image file, e.g. reports/figures/prompt_depth.png")
    fig.set_defaults(func=cmd_figure)

    ck = sub.add_parser(
        "check", help="compare aggregated results with the paper (paper scale) or golden numbers (mini)",
        description="Exit non-zero, printing a table of every number outside tolerance, when aggregated results "
                    "(RESULTS/SCALE/tables/TABLE.csv, written by `zegclip report`) differ from the reference: the "
                    "paper's numbers at paper scale, the committed golden numbers at mini scale.")
    ck.add_argument("--tables", nargs="+", default=["table5"], choices=[t for t in TRAINED_TABLES if t != "tokens"])
    ck.add_argument("--scale", choices=SCALES, default="mini")
    ck.add_argument("--results", default="results")
    ck.add_argument("--tolerance", action="append", default=[], metavar="METRIC=POINTS",
                    help="override a metric's tolerance (default 2.0 points at paper scale)")
    ck.add_argument("--golden", help="golden numbers (default: zegclip/paper/golden_mini.csv)")
    ck.add_argument("--write-golden", action="store_true", help="write the golden numbers from these results")
    ck.set_defaults(func=cmd_check)

    mini = sub.add_parser("mini", help="the embedded mini-world: datasets, tiny CLIP, reference scores",
                          description="Build the embedded mini-world on which every table runs on a CPU.")
    mini_sub = mini.add_subparsers(dest="what", required=True, metavar="WHAT")
    mw = mini_sub.add_parser("world", help="generate the three mini datasets in the real layouts (cached)",
                             description="Generate mini_voc, mini_coco and mini_context (or --datasets) under OUT in the VOC, "
                                         "COCO-Stuff and Context layouts. Deterministic for a seed; an identical "
                                         "world already in OUT is reused.")
    mw.add_argument("--out", default=WORLD_DIR, help=f"the world folder (default: {WORLD_DIR})")
    mw.add_argument("--seed", type=int, default=WORLD_SEED, help=f"the world seed (default {WORLD_SEED})")
    mw.add_argument("--image-size", type=int, default=WorldSize.image_size)
    mw.add_argument("--train", type=int, default=WorldSize.train, help=f"training images per dataset (default {WorldSize.train})")
    mw.add_argument("--val", type=int, default=WorldSize.val, help=f"validation images per dataset (default {WorldSize.val})")
    mw.add_argument("--datasets", nargs="+", choices=sorted(ALL_MINI_DATASETS), metavar="NAME",
                    default=list(MINI_DATASETS),
                    help="which datasets (default: mini_voc mini_coco mini_context); world variants: "
                         "mini_voc_novel, mini_coco_novel (unseen things have colours no seen thing has); write a variant "
                         "to its own folder, e.g. --out data/mini_variants")
    mw.set_defaults(func=cmd_mini_world)
    mc = mini_sub.add_parser("clip", help="pretrain the tiny CLIP on generated image-caption pairs",
                             description="Pretrain the ZegCLIP-Mini open_clip model contrastively on every class "
                                         "of the world (unseen ones too) and report its zero-shot accuracy on "
                                         "held-out images. Writes OUT (safetensors) and OUT with .json.")
    mc.add_argument("--out", default=f"{WORLD_DIR}/{MINI_CLIP_FILE}")
    mc.add_argument("--steps", type=int, default=PretrainConfig.steps)
    mc.add_argument("--batch", type=int, default=PretrainConfig.batch)
    mc.add_argument("--seed", type=int, default=PretrainConfig.seed)
    mc.set_defaults(func=cmd_mini_clip)
    mr = mini_sub.add_parser("references", help="uniform-chance and attribute-only scores of a mini dataset",
                             description="Score uniform random labels and attribute-only oracles on a mini "
                                         "dataset's val split: what zero-shot transfer must beat.")
    mr.add_argument("--world", default=WORLD_DIR)
    mr.add_argument("--dataset", required=True, choices=tuple(ALL_MINI_DATASETS))
    mr.add_argument("--output", required=True)
    mr.set_defaults(func=cmd_mini_references)

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
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from zegclip.errors import ZegclipError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ZegclipError, OSError) as err:
        # Our errors name the file or key and what was expected; the OS's (a read-only folder, a
        # full disk) name the file. One line either way.
        text = f"{err.filename}: {err.strerror}" if isinstance(err, OSError) and err.filename else str(err)
        print(f"zegclip {args.command}: error: {' '.join(text.split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
