"""The ``zegclip`` command line: every Snakemake rule calls one of its subcommands.

Each module here registers one group of commands and holds only parsing and calling; the
work is done in the layers below. Any ``ZegclipError`` (or OS error) ends the command with
one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from zegclip.cli import gate, measure, mini, prepare, results, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zegclip",
        description="ZegCLIP (CVPR 2023) reference harness: model, training, evaluation and efficiency.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (run, measure, results, mini, prepare, gate):
        group.add_commands(sub)
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
