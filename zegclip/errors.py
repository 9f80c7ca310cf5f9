"""The one base class of zegclip's own errors.

Every error the package raises on purpose (a bad config, data or weights that do not match
what was expected, a failed check) derives from ``ZegclipError`` and names the file or key
and what was expected. The command line turns any of them into one line and exit code 2;
anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import re
from typing import Optional


class ZegclipError(Exception):
    """An error whose message is meant for the user as it stands."""


def refused_import(err: BaseException) -> Optional[str]:
    """What a weights-only unpickler refused to import (``posix.system``), when that is why it
    failed. Its own message advises loading with weights_only=False: never repeat that advice."""
    found = re.search(r"GLOBAL (\S+)", str(err))
    return found.group(1) if found else None
