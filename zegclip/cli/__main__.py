"""``python -m zegclip.cli``: what torchrun launches for a multi-GPU run."""
import sys

from zegclip.cli import main

sys.exit(main())
