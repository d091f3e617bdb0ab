"""``python -m sse_mock …``: the same command line as ``sse-mock …``."""

import sys

from .cli import main

sys.exit(main())
