"""Atomic output: all or nothing, with the permissions of any other file the user writes."""
import os

import pytest

from zegclip.io import atomic_path, write_json


def test_atomic_write_is_all_or_nothing_and_readable_by_others(tmp_path):
    target = tmp_path / "sub" / "result.json"
    write_json(target, {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed while writing")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]
