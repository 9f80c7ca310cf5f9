"""``zegclip gate``: the regression gate's own measurement (planted regressions, its power)."""
from __future__ import annotations

import argparse
from pathlib import Path


def cmd_plant(args: argparse.Namespace) -> int:
    from zegclip.cli.run import cmd_train
    from zegclip.measure.plants import PLANTS, planted

    args.overrides = list(args.overrides) + list(PLANTS[args.plant].sets)  # after the run's own: they win
    with planted(args.plant):
        return cmd_train(args)


def cmd_power(args: argparse.Namespace) -> int:
    from zegclip.report.gate import write_gate_power

    backends = [] if args.backends == ["none"] else args.backends
    paths, caught, total = write_gate_power(Path(args.results), args.seed, args.clean_seeds, backends,
                                            Path(args.out), Path(args.golden) if args.golden else None)
    print(f"{', '.join(map(str, paths))}: {caught} of {total} planted regressions caught")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from zegclip.cli.run import add_train_args
    from zegclip.measure.plants import PLANTS
    from zegclip.paper.gate import BACKENDS

    g = sub.add_parser("gate", help="measure the regression check: planted regressions and held-out clean runs",
                       description="The regression gate's own measurement (docs/workflow.md, 'Regression checks'). "
                                   "`snakemake reports/gate_power.md` runs both subcommands.")
    gs = g.add_subparsers(dest="gate_command", required=True, metavar="SUBCOMMAND")
    p = gs.add_parser("plant", help="train a run with one planted regression",
                      description="`zegclip train` with one realistic mistake planted: a preset default changed "
                                  "(--set values applied after the run's own) or a code path broken for this "
                                  "process only. Mistakes: " + "; ".join(f"{n}: {pl.text}" for n, pl in PLANTS.items()))
    p.add_argument("plant", choices=sorted(PLANTS), metavar="PLANT", help="the mistake (see above)")
    add_train_args(p)
    p.set_defaults(func=cmd_plant)

    w = gs.add_parser("power", help="render what the check catches and what it passes (reports/gate_power.md)",
                      description="For each planted regression, the gate table of training seed --seed with its "
                                  "ZegCLIP rows replaced by the planted runs, checked like CI checks a table: "
                                  "caught or missed, and by what (fingerprint, number, claim). Then the held-out "
                                  "clean tables (--clean-seeds, and --seed under each back-end), which must pass.")
    w.add_argument("--results", default="results", help="the results root (default: results)")
    w.add_argument("--seed", type=int, required=True, help="the planted runs' training seed")
    w.add_argument("--clean-seeds", type=int, nargs="+", required=True, help="held-out clean one-seed tables")
    w.add_argument("--backends", nargs="+", default=["none"], metavar="BACKEND",
                   help=f"back-ends the --seed table was repeated under, by their folder in RESULTS/mini/gate/"
                        f"backends/ ({', '.join(BACKENDS)} through the workflow, any other by hand); a complete "
                        f"table is a held-out clean run, a partial one only measures differences (default none)")
    w.add_argument("--golden", help="golden file (default: the package's)")
    w.add_argument("--out", required=True, help="the Markdown report; its frame goes to RESULTS/mini/tables/")
    w.set_defaults(func=cmd_power)
