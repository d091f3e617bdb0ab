"""``sse-mock``: the command line.

``sse-mock serve [--host 127.0.0.1] [--port 8001] [--config FILE] [--delay SECONDS]`` runs the
standalone app on werkzeug's threaded server (one thread per stream) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .config import ConfigError

__all__ = ["main"]


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a number ≥ 0), got {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to 3600, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sse-mock",
        description="Mocked, streamed LLM answers (OpenAI, Anthropic, plain SSE) for development.",
    )
    parser.add_argument("--version", action="version", version=f"sse-mock {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the standalone mock server with a demo chat page",
        description="Run the standalone mock server (werkzeug, threaded) with a demo chat page "
        "at /. Stop it with Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8001, help="TCP port (default: 8001)")
    serve.add_argument("--config", metavar="FILE",
                       help="configuration file: TOML, JSON, or YAML with PyYAML installed")
    serve.add_argument("--delay", type=_delay, metavar="SECONDS",
                       help="pause between tokens on every route (0 = as fast as possible; "
                       "default: the configuration's, 0.5)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    from werkzeug.serving import make_server

    from .app import create_app

    options: dict[str, Any] = {}
    if args.delay is not None:
        options["delay"] = args.delay
    try:
        app = create_app(args.config, **options)
    except ConfigError as exc:
        print(f"sse-mock: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        print(f"sse-mock: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{server.port}"
    print(f"sse-mock {__version__} serving on {base}  (Ctrl-C to stop)")
    print(f"  demo chat page     {base}/")
    for path in app.paths():
        print(f"  {path:<40} {base}{path}")
    print(f'  OpenAI SDK:    OpenAI(base_url="{base}{app.config.prefix}/v1", api_key="x")')
    print(f'  Anthropic SDK: Anthropic(base_url="{base}{app.config.prefix}", api_key="x")')
    sys.stdout.flush()
    try:
        server.serve_forever()  # werkzeug's returns on Ctrl-C (KeyboardInterrupt)
    except KeyboardInterrupt:  # pragma: no cover - depends on where the signal lands
        pass
    finally:
        server.server_close()
    print("\nsse-mock: stopped")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
