"""The guide stays honest: every relative link and image in README.md and docs/ exists (anchors
included), and every command a fenced block shows that starts with ``zegclip`` or ``snakemake``
still parses (``zegclip``: its argument parser and its ``--set`` keys; ``snakemake``: a dry run).
Each check is also run on a planted broken link or stale command, to show that it bites."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from zegclip.cli import build_parser
from zegclip.config.resolve import model_config, run_config
from zegclip.errors import ZegclipError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set:
    text = FENCE.sub("", path.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def broken_links(path: Path) -> List[str]:
    """Relative links and images of one Markdown file whose file (or heading) does not exist."""
    out = []
    for target in LINK.findall(FENCE.sub("", path.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file) if file else path
        if not dest.exists():
            out.append(f"{path.name}: {target} (no {file})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            out.append(f"{path.name}: {target} (no heading #{anchor} in {dest.name})")
    return out


def shown_commands(text: str, program: str) -> Iterator[List[str]]:
    """The argument lists of the commands starting with ``program`` in fenced blocks (lines
    continued with a backslash joined, comments dropped)."""
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == program:
                yield words[1:]


def zegclip_error(argv: List[str]) -> str:
    """Why ``zegclip ARGV`` would not get past parsing ('' if it would): an unknown command or
    option, or a ``--set`` key or value the config tree refuses."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        return f"zegclip {' '.join(argv)}: the parser refuses it"
    try:
        if args.command == "train" and args.preset and not args.config:
            run_config(None, args.preset, args.overrides)
        elif args.command in ("efficiency", "bench"):
            model_config(args.dataset, args.overrides)
    except ZegclipError as err:
        return f"zegclip {' '.join(argv)}: {err}"
    return ""


def snakemake_error(argv: List[str]) -> str:
    """Why ``snakemake ARGV`` would not plan (a dry run, nothing executed); '' if it would."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)
    return "" if proc.returncode == 0 else f"snakemake {' '.join(argv)}: {(proc.stdout + proc.stderr)[-1500:]}"


def all_commands(program: str) -> List[Tuple[str, List[str]]]:
    return [(p.name, argv) for p in DOCS for argv in shown_commands(p.read_text(), program)]


def test_the_docs_exist_and_the_readme_links_each_of_them():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 260
    for doc in DOCS[1:]:
        assert f"](docs/{doc.name}" in readme, f"README.md does not link docs/{doc.name}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_relative_link_and_image_exists(path):
    assert broken_links(path) == []


def test_a_planted_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Real heading\n")
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n[ok](other.md#real-heading) [gone](missing.md) ![img](fig.png) [bad](other.md#nope)\n"
                   "[web](https://example.org) [self](#doc)\n```bash\n[not a link](inside-a-fence.md)\n```\n")
    found = broken_links(doc)
    assert len(found) == 3 and all(name in " ".join(found) for name in ("missing.md", "fig.png", "#nope"))


def test_every_zegclip_command_shown_parses():
    commands = all_commands("zegclip")
    assert len(commands) >= 10  # the guide shows them; an empty harvest would pass vacuously
    assert [f"{name}: {err}" for name, argv in commands if (err := zegclip_error(argv))] == []


@pytest.mark.parametrize("argv", [["train", "--preset", "voc", "--out", "x", "--sett", "a=1"],  # renamed option
                                  ["trian", "--preset", "voc"],  # renamed command
                                  ["train", "--preset", "voc", "--out", "x", "--set", "train.iterations=5"],  # key
                                  ["efficiency", "--dataset", "voc", "--set", "model.encoder.mode=frozen"]])  # value
def test_a_planted_stale_zegclip_command_is_found(argv, capsys):
    text = "```bash\nzegclip " + " ".join(shlex.quote(a) for a in argv) + "   # a comment\n```\n"
    (shown,) = list(shown_commands(text, "zegclip"))
    assert shown == argv and zegclip_error(shown)


@pytest.mark.slow
def test_every_snakemake_command_shown_plans_in_a_dry_run():
    commands = all_commands("snakemake")
    assert len(commands) >= 5
    assert [f"{name}: {err}" for name, argv in commands if (err := snakemake_error(argv))] == []


@pytest.mark.slow
def test_a_planted_stale_snakemake_command_is_found():
    text = "```bash\nsnakemake --cores all reports/table55.md \\\n    --config seeds=1\n```\n"
    (shown,) = list(shown_commands(text, "snakemake"))
    assert shown == ["--cores", "all", "reports/table55.md", "--config", "seeds=1"] and snakemake_error(shown)
