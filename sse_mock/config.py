"""Configuration: one schema, validated once, at construction.

A configuration is a mapping, or a path to a TOML or JSON file (YAML when PyYAML is installed),
plus keyword options that override single top-level keys. :func:`load_config` checks every key
against :data:`SCHEMA` and returns a frozen :class:`Config`; anything wrong raises
:class:`ConfigError` naming the place (file), the key and what is allowed. Nothing is validated
again at request time.

The schema is data (:data:`SCHEMA`) so that the documentation's configuration reference is
generated from it and cannot disagree with the validator.

The machinery every key goes through (:class:`Key`, :class:`ConfigError`, :func:`load_file`,
the type checks) is in :mod:`sse_mock.config_loading`, and the rule checks in
:mod:`sse_mock.rule_parser`; both sit below this module, which re-exports their public names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_loading import (
    BASE_DIR,
    ConfigError,
    Key,
    check_utf8,
    check_value,
    load_file,
    nearest_name,
)
from .rule_parser import check_chaos, check_fixtures, check_rules

__all__ = ["SCHEMA", "UPSTREAM_FAMILIES", "Config", "ConfigError", "Key", "load_config",
           "load_file"]

DEFAULT_REPLY = "Hello, this is a mocked chatbot. How can I help you?"

DEFAULT_MODELS = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "o4-mini",
    "claude-sonnet-4-6",
    "claude-opus-4-7",
    "claude-haiku-4-5",
)

#: Listed by the Gemini routes (GET /v1beta/models, PROTOCOLS.md §8.7).
DEFAULT_GEMINI_MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite",
                         "gemini-embedding-001", "text-embedding-004")
#: Listed by Ollama's GET /api/tags (§9.6).
DEFAULT_OLLAMA_MODELS = ("llama3.2:latest", "qwen3:8b", "nomic-embed-text:latest")


def _check_prefix(value: str, where: str) -> str:
    # The prefix is compared with PATH_INFO, which always starts with "/" (PEP 3333).
    if value in ("", "/"):
        return ""
    if not value.startswith("/") or value.endswith("/") or "//" in value:
        raise ConfigError(
            f"{where}: expected a path like \"/mock\" (leading slash, no trailing slash), "
            f"got {value!r}"
        )
    if re.search(r"[\s?#%]", value):
        raise ConfigError(f"{where}: the prefix may not contain spaces, '?', '#' or '%': {value!r}")
    return value


_ORIGIN_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]+|null", re.IGNORECASE)  # fullmatch


def _check_origins(value: Any, where: str) -> tuple[str, ...]:
    if value == "*":
        return ("*",)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}: expected "*" or a list of origins, got {value!r}')
    for origin in value:
        if origin != "*" and not _ORIGIN_RE.fullmatch(origin):
            raise ConfigError(
                f'{where}: {origin!r} is not an origin (scheme://host[:port], no path), or "*"'
            )
    return tuple(o.lower() if o != "*" else o for o in value)


def _check_control_origins(value: Any, where: str) -> tuple[str, ...]:
    origins = _check_origins(value, where)
    if "*" in origins or "null" in origins:
        raise ConfigError(f"{where}: list the exact origins allowed to read the control "
                          "endpoints; \"*\" and \"null\" are refused (docs: Security)")
    return origins


_HOST_RE = re.compile(r"\*|\.?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\]",
                      re.IGNORECASE)


def _check_hosts(value: Any, where: str) -> tuple[str, ...]:
    for host in value:
        if not _HOST_RE.fullmatch(host):
            raise ConfigError(f"{where}: {host!r} is not a host name (no port, no scheme; "
                              "\".example.com\" = the domain and its subdomains, \"*\" = any)")
    return tuple(h.lower().rstrip(".") for h in value)


def _check_models(value: Sequence[str], where: str) -> tuple[str, ...]:
    if not value:
        raise ConfigError(f"{where}: the model list may not be empty")
    return tuple(value)


def _check_state(value: str, where: str) -> str:
    # "memory", or a URL the redis client opens (redis://host:port/db, rediss://…, unix://…).
    if value == "memory":
        return value
    from urllib.parse import urlsplit

    try:
        url = urlsplit(value)
        url.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        url = None
    ok = url is not None and (
        (url.scheme in ("redis", "rediss") and bool(url.hostname)) or
        (url.scheme == "unix" and bool(url.path)))
    if not ok:
        raise ConfigError(f'{where}: expected "memory" or a Redis URL like '
                          f'"redis://localhost:6379/0" (or rediss://, unix://), got {value!r}')
    return value


def _check_state_prefix(value: str, where: str) -> str:
    if not 1 <= len(value) <= 100 or any(c.isspace() for c in value):
        raise ConfigError(f"{where}: expected 1–100 characters without spaces, got {value!r}")
    return value


CORS_KEYS = (
    Key("origins", "origins", ("*",), 'Allowed origins: "*" (reflect any well-formed Origin) '
        "or a list of exact origins.", check=_check_origins),
    Key("credentials", "bool", False, "Send Access-Control-Allow-Credentials: true (the Origin "
        "is then always reflected, never *)."),
    Key("allow_null_origin", "bool", False, 'Also accept "Origin: null" (pages opened from '
        "file:// or sandboxed frames). Off by default: any sandboxed document can claim it."),
    Key("max_age", "int", 600, "Access-Control-Max-Age of preflight answers, in seconds.",
        minimum=0, maximum=86400),
    Key("private_network", "bool", False, "Answer Chrome's Private Network Access preflights "
        "(Access-Control-Allow-Private-Network: true)."),
)

RATELIMIT_KEYS = (
    Key("limit_requests", "int", 10000, "x-ratelimit-limit-requests", minimum=0),
    Key("limit_tokens", "int", 10000000, "x-ratelimit-limit-tokens", minimum=0),
    Key("remaining_requests", "int", 9999, "x-ratelimit-remaining-requests", minimum=0),
    Key("remaining_tokens", "int", 9999000, "x-ratelimit-remaining-tokens", minimum=0),
    Key("reset_requests", "str", "6ms", "x-ratelimit-reset-requests (a Go-style duration)"),
    Key("reset_tokens", "str", "1ms", "x-ratelimit-reset-tokens (a Go-style duration)"),
    Key("requests_per_minute", "int", 0, "A request quota per API key (per session without "
        "one), a token bucket shared through `state`: over it → 429 with truthful retry-after "
        "and rate-limit headers, which then count down on every answer (0 = no quota).",
        minimum=0, maximum=100_000_000),
    Key("tokens_per_minute", "int", 0, "A token quota per API key, as requests_per_minute: "
        "each request takes its prompt's tokens plus its max_tokens (0 = no quota).",
        minimum=0, maximum=1_000_000_000),
)

#: Providers that record and replay can send requests to (issue 15), one line each: the
#: ``[upstream]`` key → (the routes' family, the part of the mock's route path that the
#: provider's base URL already holds, an example base URL). The base URL is the one the
#: provider's SDK takes; OpenAI's ends in ``/v1``.
UPSTREAM_FAMILIES: dict[str, tuple[str, str, str]] = {
    "openai": ("openai", "/v1", "https://api.openai.com/v1"),
    "anthropic": ("anthropic", "", "https://api.anthropic.com"),
    "gemini": ("google", "", "https://generativelanguage.googleapis.com"),
    "ollama": ("ollama", "", "http://localhost:11434"),
}


def _check_url(value: str, where: str) -> str:
    if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ConfigError(f"{where}: expected a base URL like \"https://api.openai.com/v1\" "
                          f"(http or https, no query), got {value!r}")
    return value.rstrip("/")


def _check_folder(value: str, where: str) -> str:
    # Relative folders resolve against the configuration file's folder, like fixtures.
    base = BASE_DIR.get()
    if value and base is not None and not os.path.isabs(value):
        return str(base / value)
    return value


def _check_patterns(value: Sequence[str], where: str) -> tuple[str, ...]:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: {pattern!r} is not a regular expression: {exc}"
                              ) from None
    return tuple(value)


UPSTREAM_KEYS = (
    *(Key(name, "str", "", f"Base URL of the {name} API as its SDK takes it, e.g. "
          f"`{example}` (\"\" = these routes never go upstream).", check=_check_url)
      for name, (_, _, example) in UPSTREAM_FAMILIES.items()),
    Key("timeout", "number", 600.0, "Seconds the upstream may stay silent before the answer "
        "is given up (a 504 before it starts, a dropped stream after).", minimum=0.001,
        maximum=3600),
    Key("connect_timeout", "number", 10.0, "Seconds to connect to the upstream (→ 504).",
        minimum=0.001, maximum=600),
)
UPSTREAM_DEFAULTS: dict[str, Any] = {k.name: k.default for k in UPSTREAM_KEYS}

SCHEMA: tuple[Key, ...] = (
    Key("enabled", "bool", True, "false: every request goes to the wrapped app untouched."),
    Key("prefix", "str", "/mock", "Where the default routes mount (matched on PATH_INFO).",
        check=_check_prefix),
    Key("reply", "str", DEFAULT_REPLY, "The text streamed when no rule says otherwise."),
    Key("echo", "bool", False, "Answer with the last user message instead of `reply`."),
    Key("delay", "number", 0.5, "Seconds between tokens (0 = as fast as the client reads).",
        minimum=0, maximum=3600),
    Key("tokens_per_second", "number", 0.0, "Alternative to `delay`: tokens per second "
        "(0 = use `delay`).", minimum=0, maximum=1e6),
    Key("first_token_delay", "number", 0.0, "Seconds before the first token (time to first "
        "token).", minimum=0, maximum=3600),
    Key("jitter", "number", 0.0, "Random spread of each interval, as a fraction of it "
        "(0.2 = ±20 %), drawn from the seed.", minimum=0, maximum=1),
    Key("heartbeat", "number", 15.0, 'Seconds of silence before a ": ping" comment (0 = never).',
        minimum=0, maximum=3600),
    Key("retry", "int", 0, "SSE `retry:` hint in milliseconds sent first on the plain stream "
        "(0 = none). Never sent on OpenAI streams (PROTOCOLS.md §5.2).", minimum=0),
    Key("seed", "int", 0, "One seed for jitter and chaos: same seed, same run."),
    Key("strict", "bool", False, "When no rule matches, answer an error naming the nearest "
        "rule instead of the default reply."),
    Key("max_body_size", "int", 1048576, "Largest request body accepted, in bytes (→ 413).",
        minimum=1024),
    Key("require_api_key", "bool", False, "Answer 401 in the provider's shape when the request "
        "carries no API key."),
    Key("models", "str-list", DEFAULT_MODELS, "Model ids listed by /v1/models.",
        check=_check_models),
    Key("gemini_models", "str-list", DEFAULT_GEMINI_MODELS, "Model ids listed by the Gemini "
        "model list (GET /v1beta/models).", check=_check_models),
    Key("ollama_models", "str-list", DEFAULT_OLLAMA_MODELS, "Model names listed by Ollama's "
        "GET /api/tags.", check=_check_models),
    Key("journal_size", "int", 1000, "How many requests the in-memory journal keeps "
        "(0 = no journal).", minimum=0, maximum=1000000),
    Key("journal_bytes", "int", 4 * 1024 * 1024, "Byte budget of the journal: the oldest "
        "entries go first once their measured size passes it; a large or rejected request body "
        "is kept as a summary, never whole (docs: Security).", minimum=0,
        maximum=1024 * 1024 * 1024),
    Key("max_request_seconds", "number", 60.0, "Largest duration a request may choose (delay, "
        "first_token_delay, timeout and stall_after seconds, by query or X-Mock-* header); "
        "more is a 400 naming the control. Values in the configuration keep their own limits.",
        minimum=0, maximum=3600),
    Key("allowed_hosts", "str-list", (), "Host names (besides loopback names and addresses) "
        "whose requests the control endpoints (/_journal, …) answer; \"*\" = any (DNS "
        "rebinding guard, docs: Security).", check=_check_hosts),
    Key("control_origins", "origins", (), "Origins whose pages may read the control "
        "endpoints (CORS); empty = none, whatever cors.origins says. \"*\" is refused.",
        check=_check_control_origins),
    Key("state", "str", "memory", 'Where the changing state lives (journal, *count cycles, '
        'sequences, chaos draws, quotas, queued actions): "memory" (this process) or a Redis '
        'URL, "redis://host:6379/0" or "rediss://…", shared by every worker of every host '
        "(pip install 'sse-mock[redis]'; docs: Deploying on several workers/hosts).",
        check=_check_state),
    Key("state_prefix", "str", "sse_mock:", "Prefix of every Redis key, so several mocks can "
        "share one Redis.", check=_check_state_prefix),
    Key("lorem_tokens", "int", 0, "When > 0, every default reply is a deterministic lorem "
        "ipsum text of this many tokens (for load tests).", minimum=0, maximum=1000000),
    Key("chaos", "map-number", {}, "Probability per fault kind, drawn per request from the "
        "seed, e.g. {rate_limit = 0.1}.", check=check_chaos),
    Key("cors", "table", {}, "Cross-origin policy (PROTOCOLS.md §6.5).", keys=CORS_KEYS),
    Key("ratelimit", "table", {}, "Values of the x-ratelimit-* headers on OpenAI routes; "
        "with requests_per_minute or tokens_per_minute, real quotas whose headers count down "
        "(they replace the fixed values they cover).", keys=RATELIMIT_KEYS),
    Key("rules", "list", (), "Reply rules, first match wins (see the scenarios page).",
        check=check_rules),
    Key("fixtures", "str-list", (), "Files of rules (TOML, JSON or YAML) appended after `rules`.",
        check=check_fixtures),
    # Record and replay (issue 15; docs: record_replay).
    Key("upstream", "table", {}, "The real providers that `record` sends requests to.",
        keys=UPSTREAM_KEYS, check=lambda value, where: {**UPSTREAM_DEFAULTS, **value}),
    Key("record", "str", "none", '"new": a request no cassette answers goes upstream, is '
        'streamed through and written to a cassette; "all": every request goes upstream and its '
        'cassette is rewritten; "none": never upstream.', choices=("none", "new", "all")),
    Key("cassettes", "str", "", "Folder of recorded exchanges (relative to the configuration "
        "file); \"\" = no record and replay.", check=_check_folder),
    Key("replay_timing", "str", "recorded", '"recorded": replays keep each event\'s recorded '
        'time; "mock": the mock\'s pacing (`delay`, …) spaces them.',
        choices=("recorded", "mock")),
    Key("replay_speed", "number", 1.0, "Divides recorded times on replay (2 = twice as fast; "
        "0 = as fast as possible).", minimum=0, maximum=1000),
    Key("cassette_match", "str-list", ("*",), "The request body fields that pick a cassette "
        '(dotted for nested ones); "*" = the whole body. The route, path, query and whether '
        "the request streams always count.", check=lambda v, w: v or ("*",)),
    Key("redact_headers", "str-list", (), "More header names never written to a cassette "
        "(Authorization, x-api-key, api-key, x-goog-api-key and cookies never are)."),
    Key("redact_patterns", "str-list", (), "Regular expressions whose matches in request bodies "
        "and events are written as [REDACTED] (API key shapes always are).",
        check=_check_patterns),
)

_BY_NAME = {k.name: k for k in SCHEMA}


@dataclass(frozen=True)
class CORSConfig:
    origins: tuple[str, ...] = ("*",)
    credentials: bool = False
    allow_null_origin: bool = False
    max_age: int = 600
    private_network: bool = False


@dataclass(frozen=True)
class RateLimitConfig:
    limit_requests: int = 10000
    limit_tokens: int = 10000000
    remaining_requests: int = 9999
    remaining_tokens: int = 9999000
    reset_requests: str = "6ms"
    reset_tokens: str = "1ms"
    requests_per_minute: int = 0
    tokens_per_minute: int = 0


@dataclass(frozen=True)
class Config:
    """The validated configuration. Build it with :func:`load_config`."""

    enabled: bool = True
    prefix: str = "/mock"
    reply: str = DEFAULT_REPLY
    echo: bool = False
    delay: float = 0.5
    tokens_per_second: float = 0.0
    first_token_delay: float = 0.0
    jitter: float = 0.0
    heartbeat: float = 15.0
    retry: int = 0
    seed: int = 0
    strict: bool = False
    max_body_size: int = 1048576
    require_api_key: bool = False
    models: tuple[str, ...] = DEFAULT_MODELS
    gemini_models: tuple[str, ...] = DEFAULT_GEMINI_MODELS
    ollama_models: tuple[str, ...] = DEFAULT_OLLAMA_MODELS
    journal_size: int = 1000
    journal_bytes: int = 4 * 1024 * 1024
    max_request_seconds: float = 60.0
    allowed_hosts: tuple[str, ...] = ()
    state: str = "memory"
    state_prefix: str = "sse_mock:"
    control_origins: tuple[str, ...] = ()
    lorem_tokens: int = 0
    chaos: Mapping[Any, float] = field(default_factory=dict)  # Fault → probability
    cors: CORSConfig = field(default_factory=CORSConfig)
    ratelimit: RateLimitConfig = field(default_factory=RateLimitConfig)
    rules: tuple[Any, ...] = ()
    fixtures: tuple[Any, ...] = ()
    upstream: Mapping[str, Any] = field(default_factory=lambda: dict(UPSTREAM_DEFAULTS))
    record: str = "none"
    cassettes: str = ""
    replay_timing: str = "recorded"
    replay_speed: float = 1.0
    cassette_match: tuple[str, ...] = ("*",)
    redact_headers: tuple[str, ...] = ()
    redact_patterns: tuple[str, ...] = ()
    source: str = "defaults"  # where the configuration came from, for messages

    @property
    def interval(self) -> float:
        """Seconds between tokens: `tokens_per_second` wins over `delay` when set."""
        if self.tokens_per_second > 0:
            return 1.0 / self.tokens_per_second
        return self.delay


def load_config(
    config: Mapping[str, Any] | str | os.PathLike[str] | Config | None = None,
    /,
    **options: Any,
) -> Config:
    """Validate `config` (mapping, file path, :class:`Config` or None) plus keyword overrides."""
    if isinstance(config, Config):
        if not options:
            return config
        raise ConfigError("options: pass either a Config object or keyword options, not both")
    source = "defaults"
    base: dict[str, Any] = {}
    base_dir: Path | None = None
    if isinstance(config, str | os.PathLike):
        base = load_file(config)
        source = str(config)
        base_dir = Path(config).resolve().parent
    elif isinstance(config, Mapping):
        base = dict(config)
        source = "config"
    elif config is not None:
        raise ConfigError(
            f"config: expected a mapping, a path to a TOML/JSON/YAML file or None, "
            f"got {type(config).__name__}"
        )
    merged = dict(base)
    for name, value in options.items():
        key = _BY_NAME.get(name)
        if key is not None and key.type == "table" and isinstance(value, Mapping):
            old = merged.get(name)
            merged[name] = {**old, **value} if isinstance(old, Mapping) else dict(value)
        else:
            merged[name] = value
        if source == "defaults":
            source = "options"

    token = BASE_DIR.set(base_dir)  # relative file names resolve against the file's folder
    try:
        values: dict[str, Any] = {}
        for name, value in merged.items():
            key = _BY_NAME.get(name)
            where = f"{source}: key {name!r}" if name not in options else f"options: key {name!r}"
            if key is None:
                near = nearest_name(name, _BY_NAME)
                hint = f" (did you mean {near!r}?)" if near else ""
                raise ConfigError(
                    f"{where} is unknown{hint}; allowed keys: {', '.join(sorted(_BY_NAME))}"
                )
            check_utf8(value, where)
            values[name] = check_value(key, value, where)
    finally:
        BASE_DIR.reset(token)

    cors = values.pop("cors", {})
    ratelimit = values.pop("ratelimit", {})
    cfg = Config(
        **values,
        cors=CORSConfig(**cors),
        ratelimit=RateLimitConfig(**ratelimit),
        source=source,
    )
    return cfg
