"""Atomic file output: write to a temporary file beside the target, then rename."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; rename it onto ``target`` on success.

    On any error the temporary file is removed and ``target`` is left untouched, so a
    reader never sees a partial file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:  # a read-only folder, a full disk: name the file we were writing
        raise OSError(err.errno, err.strerror, str(target)) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared like any other file
        os.replace(tmp, target)
    except OSError as err:
        # a full disk's error on write names no file (filename None): name the one being written
        if err.filename not in (None, tmp, str(tmp)):
            raise
        raise OSError(err.errno, err.strerror, str(target)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def writing(target: Path) -> Iterator[None]:
    """Around writes to ``target`` outside :func:`atomic_path` (appended logs, staged files): an
    OS error that names no file (a full disk's) is raised again naming ``target``."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, err.strerror, str(target)) from None


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files of :func:`atomic_path` that a killed process left in ``folder``
    (only names of its pattern, ``.NAME.XXXXXXXX.tmp``)."""
    if folder.is_dir():
        for path in folder.glob(".*.tmp"):
            if path.is_file():
                path.unlink(missing_ok=True)


def write_json(target: Path, data: Any) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
