"""``sse-mock`` (or ``python -m sse_mock``): the command line.

``sse-mock serve [--host 127.0.0.1] [--port 8001] [--config FILE] [--delay SECONDS] [--reply TEXT]
[--echo] [--seed N] [--prefix PATH] [--reload]`` runs the standalone app on gevent's WSGI server
(werkzeug's threaded one without gevent: ``serving.py``) until Ctrl-C. ``sse-mock check CONFIG``
validates a configuration file and prints the effective configuration.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``--reload`` runs the server as a child process and starts a new one when the
    configuration file (or a fixtures file it names) changes, after validating it: a broken edit
    is reported and the running server keeps serving. A new process, not a new app object in
    the same server, so every kind of state (sequences, journal, open streams) starts over, as
    after a manual restart, whatever server ``serve`` uses.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config, ConfigError, load_config

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
        description="Mocked, streamed LLM answers (OpenAI, Anthropic, Gemini, Ollama, plain SSE) "
        "for development.",
    )
    parser.add_argument("--version", action="version", version=f"sse-mock {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the standalone mock server with a demo chat page",
        description="Run the standalone mock server (gevent's WSGI server, or werkzeug's "
        "threaded one without gevent) with a demo chat page at /. Stop it with Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8001, help="TCP port (default: 8001)")
    serve.add_argument("--config", metavar="FILE",
                       help="configuration file: TOML, JSON, or YAML with PyYAML installed")
    serve.add_argument("--delay", type=_delay, metavar="SECONDS",
                       help="pause between tokens on every route (0 = as fast as possible; "
                       "default: the configuration's, 0.5)")
    serve.add_argument("--reply", metavar="TEXT",
                       help="the text streamed when no rule says otherwise")
    serve.add_argument("--echo", action="store_true", default=None,
                       help="answer with the last user message instead of the reply")
    serve.add_argument("--seed", type=int, metavar="N",
                       help="one seed for jitter and chaos: same seed, same run")
    serve.add_argument("--prefix", metavar="PATH",
                       help='where the routes mount (default: "/mock"; "" for the root)')
    serve.add_argument("--reload", action="store_true",
                       help="restart when the --config file (or a fixtures file) changes")
    check = sub.add_parser(
        "check",
        help="validate a configuration file and print the effective configuration",
        description="Validate CONFIG (TOML, JSON or YAML) as `serve` would, then print the "
        "effective configuration (defaults filled in) as JSON. Exit status 2 on an error.",
    )
    check.add_argument("config", metavar="CONFIG", help="the configuration file")
    add_record_commands(sub)
    return parser


# -- record and replay (issue 15): `sse-mock record` and `sse-mock cassettes` ------------------


def add_record_commands(sub: Any) -> None:
    from .config import UPSTREAM_FAMILIES

    record = sub.add_parser(
        "record",
        help="run a recording proxy: answers from cassettes, the rest from the real providers",
        description="Run the mock as a recording proxy on a port, for apps that cannot embed "
        "the middleware: point the app's SDK at it (OpenAI base_url http://HOST:PORT/v1, "
        "Anthropic http://HOST:PORT). A request that no cassette answers goes to the provider "
        "with the app's own credentials, streams back as it arrives and is written to a "
        "cassette in --cassettes (none of the credentials are).",
    )
    record.add_argument("--cassettes", metavar="DIR", required=True,
                        help="the folder of cassettes (created if missing)")
    record.add_argument("--mode", choices=("new", "all"), default="new",
                        help="new: only requests without a cassette go upstream (default); "
                        "all: every request goes upstream and its cassette is rewritten")
    for name, (_, _, example) in UPSTREAM_FAMILIES.items():
        record.add_argument(f"--{name}", metavar="URL",
                            help=f"{name} base URL (default: the configuration's, else "
                            f"{example})")
    record.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    record.add_argument("--port", type=int, default=8002, help="TCP port (default: 8002)")
    record.add_argument("--prefix", default="",
                        help='where the routes mount (default: "", the root, like the providers)')
    record.add_argument("--config", metavar="FILE", help="configuration file (TOML, JSON, YAML)")
    cassettes = sub.add_parser(
        "cassettes", help="list, show or prune recorded cassettes",
        description="Inspect a folder of cassettes written by record and replay.")
    what = cassettes.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = what.add_parser("list", help="one line per cassette: status, events, duration, use")
    ls.add_argument("folder", metavar="DIR")
    show = what.add_parser("show", help="a cassette's request and its events with their times")
    show.add_argument("file", metavar="FILE")
    prune = what.add_parser("prune", help="remove cassettes no replay has used lately")
    prune.add_argument("folder", metavar="DIR")
    prune.add_argument("--unused-for", required=True, metavar="DURATION",
                       help="remove those neither recorded nor replayed for this long "
                       "(90s, 30m, 2h, 7d): run the tests, then prune")
    prune.add_argument("--dry-run", action="store_true", help="only list what would go")


def cassettes_command(args: argparse.Namespace) -> int:
    from .upstream.cassette import CassetteError
    from .upstream.commands import list_cassettes, parse_duration, prune, show_cassette

    try:
        if args.action == "list":
            print(list_cassettes(args.folder))
        elif args.action == "show":
            print(show_cassette(args.file))
        else:
            removed = prune(args.folder, parse_duration(args.unused_for), args.dry_run)
            verb = "would remove" if args.dry_run else "removed"
            for path in removed:
                print(f"{verb} {path.name}")
            print(f"{verb} {len(removed)} cassette(s)")
    except (CassetteError, ValueError) as exc:
        print(f"sse-mock cassettes: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sse-mock cassettes: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def record_command(args: argparse.Namespace) -> int:
    from .app import create_app
    from .config import UPSTREAM_FAMILIES
    from .serving import use_gevent

    given = {f: getattr(args, f) for f in UPSTREAM_FAMILIES if getattr(args, f) is not None}
    options: dict[str, Any] = {"record": args.mode, "cassettes": args.cassettes,
                               "prefix": args.prefix, "upstream": given}
    try:
        configured = load_config(args.config, **options).upstream
        # A family with no URL in the file or the options goes to the real provider.
        options["upstream"] = {**{f: example for f, (_, _, example)
                                  in UPSTREAM_FAMILIES.items() if not configured.get(f)},
                               **given}
        gevent = use_gevent()
        app = create_app(args.config, **options)
    except ConfigError as exc:
        print(f"sse-mock: configuration error: {exc}", file=sys.stderr)
        return 2
    listening = _listen(args, app, gevent)
    if isinstance(listening, int):
        return listening
    server, base = listening
    base += app.config.prefix
    print(f"sse-mock {__version__}: recording proxy on {base}  (Ctrl-C to stop)")
    for family, url in sorted(app.config.upstream.items()):
        if family in UPSTREAM_FAMILIES and url:
            print(f"  {family:<10} → {url}")
    print(f"  cassettes  {Path(app.config.cassettes).resolve()}  (record = {args.mode})")
    print(f'  OpenAI SDK:    OpenAI(base_url="{base}/v1")')
    print(f'  Anthropic SDK: Anthropic(base_url="{base}")')
    _serve_until_stopped(server)
    print("\nsse-mock: stopped")
    return 0


#: ``serve`` options → configuration keys (None: not given, the configuration's value stays).
SERVE_OPTIONS = ("delay", "reply", "echo", "seed", "prefix")


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in SERVE_OPTIONS
            if getattr(args, name) is not None}


def effective(config: Config) -> dict[str, Any]:
    """The configuration as plain JSON values (rules by label and match, faults by spec)."""
    out: dict[str, Any] = {}
    for name in Config.__dataclass_fields__:
        value = getattr(config, name)
        if name in ("rules", "fixtures"):
            value = [{"rule": spec.label, "match": {k: _plain(v) for k, v in spec.match.items()},
                      "actions": len(spec.actions)} for spec in value]
        elif name == "chaos":
            value = {getattr(fault, "spec", str(fault)): p for fault, p in value.items()}
        out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "pattern"):  # a compiled regex
        return value.pattern
    return value if isinstance(value, str | int | float | bool | None) else str(value)


def check(path: str) -> int:
    from .app import create_app

    try:
        app = create_app(path)
    except ConfigError as exc:
        print(f"sse-mock: configuration error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(effective(app.config), indent=2, ensure_ascii=False))
    print(f"sse-mock: {path}: OK", file=sys.stderr)
    return 0


def banner(app: Any, base: str, *, reloading: bool = False) -> str:
    """The start-up text: aligned rows, one URL per route, the SDK lines."""
    prefix = app.config.prefix
    models = [*app.config.models, "gpt-4o-mini"]
    gemini = [*getattr(app.config, "gemini_models", ()), "gemini-2.5-flash"]
    # A path parameter becomes an example value: every row is a URL that answers.
    examples: dict[str, str] = {"id": str(models[0]), "model": str(gemini[0]),
                                "method": "streamGenerateContent"}
    rows: list[tuple[str, str]] = [("demo chat page", f"{base}/")]
    for i, path in enumerate(app.paths()):
        url = base + re.sub(r"\{(\w+)\}", lambda m: examples.get(m[1], str(m[1])), path)
        rows.append(("routes" if i == 0 else "", url))
    rows += [
        ("OpenAI SDK", f'OpenAI(base_url="{base}{prefix}/v1", api_key="x")'),
        ("Anthropic SDK", f'Anthropic(base_url="{base}{prefix}", api_key="x")'),
        ("configuration", app.config.source + ("  (reloads when it changes)" if reloading
                                                else "")),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"sse-mock {__version__}: mocked LLM streams on {base}  (Ctrl-C to stop)"]
    lines += [f"  {label:<{width}}  {value}".rstrip() for label, value in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args.config)
    if args.command == "record":
        return record_command(args)
    if args.command == "cassettes":
        return cassettes_command(args)
    if args.command != "serve":
        parser.print_help()
        return 2
    from .app import create_app
    from .serving import use_gevent

    if args.reload and not args.config:
        parser.error("--reload watches the --config file: give one")
    options = serve_options(args)
    try:
        config = load_config(args.config, **options)
    except ConfigError as exc:
        print(f"sse-mock: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.reload:
        child_args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--reload"]
        return reload_loop(child_args, args.config, options)
    # gevent's server when installed: the process is patched once the configuration is known
    # to be good, before the app is built (serving.py, Divergence #1).
    gevent = use_gevent()
    try:
        app = create_app(config)
    except ConfigError as exc:  # e.g. state = "redis://…" that cannot be reached (issue 10)
        print(f"sse-mock: configuration error: {exc}", file=sys.stderr)
        return 2
    listening = _listen(args, app, gevent)
    if isinstance(listening, int):
        return listening
    server, base = listening
    print(banner(app, base, reloading=os.environ.get(_CHILD) == "1"))
    if server.notice:
        print(server.notice)
    _serve_until_stopped(server)
    print("\nsse-mock: stopped")
    return 0


def _listen(args: argparse.Namespace, app: Any, gevent: bool) -> tuple[Any, str] | int:
    """Bind ``--host``/``--port`` (logging on, for the server's lines): the server and its base
    URL, or the exit code when the address cannot be had (said on stderr)."""
    from .serving import make_server

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        server = make_server(args.host, args.port, app, gevent=gevent)
    except OSError as exc:
        print(f"sse-mock: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    return server, f"http://{host}:{server.port}"


def _serve_until_stopped(server: Any) -> None:
    sys.stdout.flush()
    try:
        server.serve_forever()  # returns or raises KeyboardInterrupt on Ctrl-C
    except KeyboardInterrupt:  # pragma: no cover - depends on where the signal lands
        pass
    finally:
        server.server_close()


_CHILD = "SSE_MOCK_RELOAD_CHILD"
POLL_SECONDS = 0.5


def watched_files(config_path: str) -> list[Path]:
    """The configuration file and the fixtures files it names (Divergence #1)."""
    from .config import load_file

    path = Path(config_path)
    files = [path]
    try:
        names = load_file(path).get("fixtures", [])
    except ConfigError:
        return files
    if isinstance(names, list):
        files += [path.parent / n for n in names if isinstance(n, str)]
    return files


def _stamps(files: list[Path]) -> list[tuple[float, int] | None]:
    out: list[tuple[float, int] | None] = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_mtime, st.st_size))
        except OSError:
            out.append(None)
    return out


def reload_loop(child_args: list[str], config_path: str, options: dict[str, Any]) -> int:
    """``serve --reload``: run ``serve`` in a child; restart it when the config changes."""
    from .app import create_app

    env = {**os.environ, _CHILD: "1"}
    cmd = [sys.executable, "-m", "sse_mock", *child_args]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, env=env)

    files = watched_files(config_path)
    stamps = _stamps(files)
    stopped_by: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopped_by.append(signum)
        raise KeyboardInterrupt

    # Ctrl-C and SIGTERM stop the child too, and whatever this process inherited: a shell
    # starts background jobs with SIGINT ignored, and Python then installs no handler for it.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    child = start()
    try:
        while True:
            time.sleep(POLL_SECONDS)  # polling the file's stamp: no watcher dependency
            if child.poll() is not None:
                return child.returncode or 0
            now = _stamps(files)
            if now == stamps:
                continue
            stamps = now
            try:
                create_app(config_path, **options)
            except ConfigError as exc:
                print(f"sse-mock: configuration error, still serving the previous one: {exc}",
                      file=sys.stderr, flush=True)
                continue
            print(f"sse-mock: {config_path} changed, restarting", flush=True)
            child.terminate()
            child.wait()
            child = start()
            files = watched_files(config_path)
            stamps = _stamps(files)
    except KeyboardInterrupt:
        if child.poll() is None:
            child.send_signal(stopped_by[0] if stopped_by else signal.SIGINT)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            child.kill()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
