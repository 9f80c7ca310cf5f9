"""The ZegCLIP model: open_clip encoders plus what ZegCLIP adds."""
from zegclip.model.zegclip import ZegCLIP

__all__ = ["ZegCLIP"]
