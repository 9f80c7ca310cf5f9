"""The layering contract in pyproject.toml ([tool.importlinter]): imports only point down and
no modules of one package import each other in a circle. The suite runs the same check as
``lint-imports``, on the package as it stands and on copies with one bad import planted."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the ``zegclip`` package found under ``root``, with its contract."""
    env = {**os.environ, "PYTHONPATH": str(root)}  # ahead of the editable install's finder
    cli = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(cli), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True)


def test_the_package_keeps_its_layers_and_has_no_cycles():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module, planted, broken", [
    # config sits below the model: a config that imports the model points up
    ("config/schema.py", "from zegclip.model import ZegCLIP", "Imports only point down"),
    # the catalog is the floor: it may import nothing of zegclip
    ("catalog/queries.py", "from zegclip.config import ModelConfig", "Imports only point down"),
    # the results reader imported by the aggregation, and now importing it back
    ("report/results.py", "from zegclip.report import aggregate", "No import cycles inside a layer"),
])
def test_a_planted_bad_import_breaks_the_contract(tmp_path, module, planted, broken):
    shutil.copytree(REPO / "zegclip", tmp_path / "zegclip", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "zegclip" / module
    text = path.read_text()
    head, _, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + "from __future__ import annotations\n" + planted + "\n" + rest)
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert f"{broken} BROKEN" in done.stdout, done.stdout


PACKAGE = REPO / "zegclip"
MAX_LINES = 300  # a module longer than this says why at its top


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_modules_stay_small_or_say_why():
    import ast

    long = []
    for path in _modules():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > MAX_LINES and "Long because" not in doc:
            long.append(f"{path.relative_to(REPO)} ({len(text.splitlines())} lines)")
    assert not long, f"modules over {MAX_LINES} lines without a 'Long because' note at the top: {long}"


def test_command_functions_only_parse_and_call():
    """A ``cmd_*`` of the command line reads its arguments, calls one function of a lower layer
    and prints what it returns: a dozen lines at most, no loops."""
    import ast

    fat = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("cmd_"):
                body = node.end_lineno - node.lineno
                loops = [n for n in ast.walk(node) if isinstance(n, (ast.For, ast.While))]
                if body > 12 or loops:
                    fat.append(f"{path.name}:{node.name} ({body} lines, {len(loops)} loops)")
    assert not fat, f"command functions doing work that belongs below the command line: {fat}"
