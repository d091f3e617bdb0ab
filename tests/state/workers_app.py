"""The app the multi-worker tests run under gunicorn: ``workers_app:make()``.

The mock configured from the JSON in ``SSE_MOCK_TEST_CONFIG``, with an ``X-Worker`` header (the
worker's pid) on every answer, so a test can tell that several workers answered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from sse_mock import create_app


def make() -> Callable[..., Iterable[bytes]]:
    mock = create_app(**json.loads(os.environ["SSE_MOCK_TEST_CONFIG"]))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def with_pid(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # os.getpid() per request: with --preload the app is built before the fork.
            return start_response(status, [*headers, ("X-Worker", str(os.getpid()))], exc_info)

        return mock(environ, with_pid)

    return app
