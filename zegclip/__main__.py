import sys

from zegclip.cli import main

sys.exit(main())
