"""gunicorn configuration for bench/load.py's gunicorn targets: each worker, once it has loaded
the app, leaves a file in ``$BENCH_READY_DIR``, so a run starts only when every worker serves."""

import os
from pathlib import Path
from typing import Any


def post_worker_init(worker: Any) -> None:
    folder = os.environ.get("BENCH_READY_DIR")
    if folder:
        Path(folder, str(os.getpid())).touch()
