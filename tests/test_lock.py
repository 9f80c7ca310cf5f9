"""The locked environment: every dependency pinned exactly, the set-up commands install the lock,
and the lock's header is the documented refresh command."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFRESH = ("uv pip compile pyproject.toml --extra test --universal --python-version 3.11 "
           "--constraint env/lock-constraints.txt -o requirements.lock")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _locked() -> dict:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].strip().split("==")
            pins.setdefault(name.lower(), set()).add(version)
    return pins


def test_every_dependency_is_pinned_exactly_in_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = _locked()
    assert {_name(r) for r in wanted} <= set(pins)
    assert pins["torch"] == {"2.14.1"}  # env/lock-constraints.txt: the golden numbers' torch


def test_the_lock_is_what_the_set_up_commands_install():
    command = 'pip install -r requirements.lock -e ".[test]"'
    assert command in (ROOT / "README.md").read_text() and command in (ROOT / ".ci" / "run").read_text()
    for conda in ("environment.yml", "env/zegclip.yaml"):
        assert "requirements.lock" in (ROOT / conda).read_text()


def test_the_lock_says_how_it_was_made_and_the_docs_say_the_same():
    assert REFRESH in (ROOT / "requirements.lock").read_text().splitlines()[1]
    assert REFRESH in " ".join((ROOT / "docs" / "workflow.md").read_text().split())
