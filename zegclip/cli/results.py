"""From runs to the paper's tables: ``zegclip runs``, ``report``, ``claims``, ``figure``, ``check``."""
from __future__ import annotations

import argparse
from pathlib import Path

from zegclip.cli.common import add_results_args


def at_least_one(value: str) -> int:
    """An integer option that must be at least 1 (checked before any work)."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected an integer of at least 1")
    return n


def cmd_runs(args: argparse.Namespace) -> int:
    from zegclip.paper.runs import run_sheet

    print("\n".join(run_sheet(tuple(args.tables), args.scale, rows=args.rows)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from zegclip.paper.runs import UserDataset
    from zegclip.report.aggregate import write_table

    user = UserDataset(*args.custom, preset=args.preset) if args.custom else None
    paths, rows = write_table(args.table, Path(args.results), args.scale, args.seeds, Path(args.out), user,
                              args.world_seed)
    print(f"{', '.join(map(str, paths[:-1]))} and {paths[-1]}: {rows} rows, {len(args.seeds)} seed(s)")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from zegclip.report.claims import write_claims

    held, total = write_claims(Path(args.results), args.scale, args.seeds, args.label, Path(args.out))
    print(f"{args.out}: {held} of {total} (claim, dataset) pairs hold in every seed")
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from zegclip.report.figures import check_figure_path, draw, save_figure

    check_figure_path(Path(args.out))
    save_figure(draw(args.name, Path(args.results), args.scale, args.seeds), Path(args.out))
    print(f"{args.out}: {args.name}, {args.scale} scale, seeds {' '.join(map(str, args.seeds))}")
    return 0


def cmd_qualitative(args: argparse.Namespace) -> int:
    from zegclip.report.qualitative import write_qualitative

    n = write_qualitative(args.dataset, Path(args.data_root), dict(args.run), Path(args.out), args.images)
    print(f"{args.out}: {n} {args.dataset} validation images, ground truth and {', '.join(dict(args.run))}")
    return 0


def labelled_pair(form: str):
    """An argparse type for ``A=B`` options (``form`` names them in the error)."""
    def parse(value: str) -> tuple:
        left, sep, right = value.partition("=")
        if not sep or not left or not right:
            raise argparse.ArgumentTypeError(f"{value!r}: expected {form}")
        return left, right
    return parse


def cmd_convergence(args: argparse.Namespace) -> int:
    from zegclip.report.convergence import write_convergence

    paths, frame = write_convergence(args.table, Path(args.results), args.scale, args.seeds, args.world_seed,
                                     Path(args.out), args.write_reference)
    print(f"{', '.join(map(str, paths))}: {int(frame['converged'].sum())} of {len(frame)} rows converged, "
          f"{int(frame['collapsed'].sum())} collapsed")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from zegclip.report.check import GOLDEN, run_check, write_golden

    golden_path = Path(args.golden) if args.golden else GOLDEN
    if args.write_golden:
        n = write_golden(Path(args.results), args.scale, args.tables, golden_path, [Path(p) for p in args.spread],
                         args.seed, args.world_seed, [Path(p) for p in args.means])
        print(f"wrote {n} golden numbers, their tolerances, claims and fingerprints to {golden_path}")
        return 0
    passed, text = run_check(Path(args.results), args.scale, args.tables, args.tolerance, golden_path)
    print(text)
    return 0 if passed else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    from zegclip.config.world import WORLD_SEED
    from zegclip.paper.runs import FIGURES, SCALES, TRAINED_TABLES

    tables = [t for t in TRAINED_TABLES if t != "tokens"]
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
    rep.add_argument("--table", required=True, choices=["table3"] + tables,
                     help="table3 reads RESULTS/SCALE/efficiency/{voc,coco}.json (zegclip efficiency --json)")
    add_results_args(rep)
    rep.add_argument("--out", required=True, help="the Markdown file, e.g. reports/table5.md")
    rep.add_argument("--custom", type=labelled_pair("NAME=DESCRIPTION"), metavar="NAME=DESCRIPTION",
                     help="the table's rows on your own dataset (a workflow datasets: entry): its name and "
                          "description file; no paper numbers")
    rep.add_argument("--preset", help="with --custom: the recipe its runs used (default: VOC's at the scale)")
    rep.add_argument("--world-seed", type=int, default=WORLD_SEED,
                     help=f"mini scale: the world the results come from; rows its committed convergence verdicts "
                          f"call unconverged are marked (default {WORLD_SEED})")
    rep.set_defaults(func=cmd_report)

    cv = sub.add_parser("convergence", help="the budget-doubling convergence rule on a table's rows",
                        description="Compare each row trained for its budget T with the same row trained for 2T "
                                    "(RUN-x2 in the results tree: snakemake reports/convergence_table5.md trains "
                                    "both): T has converged when 2T changes seen mIoU by less than 1 point and hIoU "
                                    "by less than 1.5 (with several --seeds, their means). Also flags rows whose "
                                    "seen mIoU is below 40% of the best row's (collapsed). Writes OUT and "
                                    "RESULTS/SCALE/tables/convergence_TABLE.csv.")
    cv.add_argument("--table", default="table5", choices=["table5"])
    add_results_args(cv, seeds=False)
    cv.add_argument("--seeds", type=int, nargs="+", default=[0],
                    help="the training seeds both budgets were run with (default 0, the issue's one-seed rule); "
                         "with several, the rule judges their means")
    cv.add_argument("--world-seed", type=int, default=WORLD_SEED, help=f"mini scale: the world (default {WORLD_SEED})")
    cv.add_argument("--out", required=True, help="the Markdown file, e.g. reports/convergence_table5.md")
    cv.add_argument("--write-reference", action="store_true",
                    help="also commit the verdicts as this world's reference (zegclip/paper/convergence_TABLE_mini_"
                         "worldN.csv), which marks the rendered table's unconverged rows")
    cv.set_defaults(func=cmd_convergence)

    cl = sub.add_parser("claims", help="test the paper's Table 5 claims on our runs, seed by seed",
                        description="Each claim of the paper's Table 5 (DPT beats Fix and FT on unseen classes, NEL "
                                    "beats CE, RD helps, fine-tuning hurts unseen classes, ZegCLIP has the best hIoU) "
                                    "is a set of comparisons between rows; it holds when each comparison holds in "
                                    "every seed. Writes a Markdown report with the verdicts and every comparison, "
                                    "beside the same test on the paper's own numbers.")
    add_results_args(cl)
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
    add_results_args(fig)
    fig.add_argument("--out", required=True, help="the image file, e.g. reports/figures/prompt_depth.png")
    fig.set_defaults(func=cmd_figure)

    ck = sub.add_parser(
        "check", help="compare aggregated results with the paper (paper scale) or golden numbers (mini)",
        description="Exit non-zero, printing a table of every number outside tolerance, when aggregated results "
                    "(RESULTS/SCALE/tables/TABLE.csv, written by `zegclip report`) differ from the reference: the "
                    "paper's numbers at paper scale, the committed golden file at mini scale, whose every row's "
                    "structural fingerprint and selected claims must also hold (docs/workflow.md, 'Regression "
                    "checks'). A package version that differs from the golden file's is named in a warning.")
    ck.add_argument("--tables", nargs="+", default=["table5"], choices=tables)
    add_results_args(ck, seeds=False)
    ck.add_argument("--tolerance", action="append", default=[], metavar="METRIC=POINTS",
                    help="override a metric's tolerance (default 2.0 points at paper scale)")
    ck.add_argument("--golden", help="the golden file (default: zegclip/paper/golden_mini.json)")
    ck.add_argument("--write-golden", action="store_true",
                    help="write the golden file: the rendered tables' means (render them from several seeds), "
                         "tolerances and claims from the variance model, fingerprints and versions of --seed's runs")
    ck.add_argument("--means", nargs="+", default=[], metavar="CSV",
                    help="with --write-golden: the aggregated frames whose means become the golden numbers "
                         "(default: the rendered tables in RESULTS)")
    ck.add_argument("--spread", nargs="+", default=[], metavar="CSV",
                    help="with --write-golden: aggregated frames of several seeds (this world's and others') whose "
                         "seed-to-seed spread the tolerances are fitted on (default: the rendered tables)")
    ck.add_argument("--seed", type=int, default=0,
                    help="with --write-golden: the training seed whose runs give the fingerprints (default 0)")
    ck.add_argument("--world-seed", type=int, default=WORLD_SEED,
                    help=f"with --write-golden: the world the results come from (default {WORLD_SEED})")
    ck.set_defaults(func=cmd_check)

    q = sub.add_parser("qualitative", help="a figure of validation images: ground truth beside runs' predictions",
                       description="Draw a grid of validation images (those with the most unseen pixels first): the "
                                   "image, its ground truth and each run's prediction (the evaluation's inference), "
                                   "with the unseen classes' regions outlined, as the paper shows qualitative results.")
    q.add_argument("--dataset", required=True, help="the dataset (e.g. mini_voc), as its runs were trained on")
    q.add_argument("--data-root", required=True, help="its folder")
    q.add_argument("--run", type=labelled_pair("LABEL=RUN_DIR"), action="append", required=True, metavar="LABEL=RUN_DIR",
                   help="a column: its label and a run directory (repeatable, in column order)")
    q.add_argument("--images", type=at_least_one, default=6, help="how many images (rows; default 6)")
    q.add_argument("--out", required=True, help="the image file, e.g. reports/figures/qualitative_voc.png")
    q.set_defaults(func=cmd_qualitative)
