"""The data layer's error."""
from __future__ import annotations

from zegclip.errors import ZegclipError


class DataError(ValueError, ZegclipError):
    """A dataset file or folder that is missing, unreadable or inconsistent."""
