"""Sphinx directives that render sse_mock's own tables, so the docs cannot disagree with the code.

* ``.. sse-mock-config::`` — every key of :data:`sse_mock.config.SCHEMA` as a ``confval``
  (name, ``describe_type()``, default, doc), nested tables as ``cors.origins`` and so on;
  refer to one with ``:confval:`delay```.
* ``.. sse-mock-config-toml::`` — the defaults as a TOML file (the tests load it back).
* ``.. sse-mock-table:: NAME`` — NAME is ``controls`` (:data:`sse_mock.controls.CONTROLS`),
  ``match-keys``, ``action-keys``, ``rule-keys`` (:mod:`sse_mock.rules`), ``faults``
  (:mod:`sse_mock.faults`: the names and arguments of ``HTTP_FAULTS``/``STREAM_FAULTS`` checked
  against the table in the module docstring), ``django-settings`` (``sse_mock.django.SETTINGS``)
  or ``routes`` (the routes a default middleware
  builds; a route without a description here is a build warning, so an error under ``-W``).

The ``render_*`` functions return reStructuredText lines and need no Sphinx: the tests call them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ROUTE_DOCS",
    "fault_rows",
    "render_config",
    "render_config_toml",
    "render_table",
    "setup",
]

#: What each route answers; keyed by the route's name (``sse_mock.routes.Route.name``).
ROUTE_DOCS: dict[str, str] = {
    "plain": "the seed's stream: one ``data: <word>`` event per word, then ``data: [DONE]``",
    "openai-chat": "OpenAI Chat Completions, streamed or not",
    "openai-completions": "OpenAI legacy Completions, streamed or not",
    "openai-responses": "OpenAI Responses API, streamed or not",
    "openai-models": "the model list (:confval:`models`)",
    "openai-model": "one model, or a 404 ``model_not_found``",
    "anthropic-messages": "Anthropic Messages, streamed or not",
    "openai-embeddings": "OpenAI embeddings (:doc:`providers_embeddings`)",
    "gemini": "Gemini (:doc:`providers_gemini`): ``generateContent``, "
              "``streamGenerateContent?alt=sse``, ``embedContent``, ``batchEmbedContents``, "
              "``countTokens``, the model list (:confval:`gemini_models`); the same under "
              "``/mock/v1/models/…``",
    "ollama-chat": "Ollama chat (:doc:`providers_ollama`), an NDJSON stream or one object",
    "ollama-generate": "Ollama generate, an NDJSON stream or one object",
    "ollama-tags": "Ollama's model list (:confval:`ollama_models`)",
    "ollama-version": "Ollama's version",
    "ollama-embeddings": "Ollama embeddings",
    "ollama-embeddings-legacy": "Ollama's legacy embeddings (``prompt`` → ``embedding``)",
    "journal": "the :ref:`journal <journal>` as JSON; ``DELETE`` clears it",
    "next": "queue the next answers (:doc:`testing`); ``GET`` lists the queue",
    "reset": "restart the journal, cycles, sequences and queue (one session, or all)",
    "verdict": "the :ref:`resilience verdict <verdict>` as JSON",
}

FAMILY_DOCS = {"plain": "plain", "openai": "OpenAI", "anthropic": "Anthropic",
               "google": "Google", "ollama": "Ollama"}


# --- text helpers -----------------------------------------------------------------------------

_SPECIAL = re.compile(r"([\\*`|_])")
_CODE = re.compile(r"`([^`]+)`")


def escape(text: str) -> str:
    """`text` as literal reStructuredText inline content."""
    return _SPECIAL.sub(r"\\\1", text)


def inline(text: str, keys: Iterable[str] = ()) -> str:
    """Escape `text`; a `name` in backticks becomes a ``:confval:`` link when it is in `keys`,
    else a literal."""
    known = set(keys)
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        name = m.group(1)
        out.append(f":confval:`{name}`" if name in known else f"``{name}``")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def toml_value(value: Any) -> str:
    """A default value as TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


# --- the configuration reference --------------------------------------------------------------


def render_config(schema: Sequence[Any] | None = None) -> list[str]:
    """reST for every key of `schema` (default: ``sse_mock.config.SCHEMA``), tables nested."""
    if schema is None:
        from sse_mock.config import SCHEMA

        schema = SCHEMA
    names = [k.name for k in schema]
    lines: list[str] = []
    for key in schema:
        lines += _confval(key, key.name, names)
        for sub in key.keys:
            sub_names = [f"{key.name}.{s.name}" for s in key.keys]
            lines += _confval(sub, f"{key.name}.{sub.name}", [*names, *sub_names])
    return lines


def type_words(key: Any) -> str:
    """``key.describe_type()`` as reST: quoted values (``"*"``, origins) become literals, which
    also keeps a URL from turning into a link."""
    parts = re.split(r'("[^"]*"|\'[^\']*\')', key.describe_type())
    return "".join(f"``{p}``" if i % 2 else escape(p) for i, p in enumerate(parts))


def _confval(key: Any, name: str, names: Sequence[str]) -> list[str]:
    lines = [f".. confval:: {name}", f"   :type: {type_words(key)}"]
    if key.type == "table":
        lines.append("   :default: see its keys below")
    elif key.type in ("list", "map-number") and not key.default:
        lines.append("   :default: none")
    else:
        lines.append(f"   :default: ``{toml_value(key.default)}``")
    lines += ["", "   " + inline(key.doc, names), ""]
    return lines


def render_config_toml(schema: Sequence[Any] | None = None) -> str:
    """The defaults as a TOML file: every key that has a value, tables as ``[sections]``."""
    if schema is None:
        from sse_mock.config import SCHEMA

        schema = SCHEMA
    top: list[str] = []
    tables: list[str] = []
    for key in schema:
        if key.type == "table":
            tables += ["", f"[{key.name}]"]
            tables += [f"{sub.name} = {toml_value(sub.default)}" for sub in key.keys]
        elif key.type in ("list", "map-number") or (key.type == "str-list" and not key.default):
            top.append(f"# {key.name}: none by default")
        else:
            top.append(f"{key.name} = {toml_value(key.default)}")
    return "\n".join(top + tables) + "\n"


# --- the other tables -------------------------------------------------------------------------


def fault_rows() -> list[tuple[str, str, str]]:
    """(syntax, kind, description) per fault, from the docstring of :mod:`sse_mock.faults`,
    checked against ``HTTP_FAULTS`` and ``STREAM_FAULTS``; ValueError when they disagree."""
    from sse_mock import faults

    doc = faults.__doc__ or ""
    lines = doc.splitlines()
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ +=+", line.strip())]
    if len(borders) != 2:
        raise ValueError("sse_mock.faults: expected one simple table in the module docstring")
    width = len(lines[borders[0]].split()[0])
    rows: list[list[str]] = []
    for line in lines[borders[0] + 1: borders[1]]:
        first, rest = line[:width].strip(), line[width:].strip()
        if first:
            rows.append([first, rest])
        elif rows:
            rows[-1][1] += " " + rest
    known = {**faults.HTTP_FAULTS, **faults.STREAM_FAULTS}
    out: list[tuple[str, str, str]] = []
    seen = set()
    for syntax, text in rows:
        spec = syntax.strip("`")
        name = re.split(r"[:\[]", spec, maxsplit=1)[0]
        if name not in known:
            raise ValueError(f"sse_mock.faults docstring names {name!r}, which is not a fault")
        if spec.count(":") != len(known[name]):
            raise ValueError(f"sse_mock.faults docstring: {spec!r} does not take the arguments "
                             f"{known[name]}")
        kind = "HTTP error" if name in faults.HTTP_FAULTS else "in the stream"
        out.append((syntax, kind, text))
        seen.add(name)
    missing = sorted(set(known) - seen)
    if missing:
        raise ValueError(f"sse_mock.faults docstring does not describe {', '.join(missing)}")
    return out


def route_rows() -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """(methods, path, what it answers, error shape) per route, and the undocumented names."""
    from sse_mock import SSEMockMiddleware

    mw = SSEMockMiddleware(lambda environ, start_response: [])
    prefix = mw.config.prefix
    rows = []
    undocumented = []
    for route in _routes(mw):
        path = prefix + route.path + ("{id}" if route.prefix_match else "")
        doc = ROUTE_DOCS.get(route.name)
        if doc is None:
            undocumented.append(route.name)
            doc = "(undocumented)"
        methods = ", ".join(sorted(route.methods))
        rows.append((methods, f"``{path}``", doc, FAMILY_DOCS.get(route.family, route.family)))
    return rows, undocumented


def _route_order(route: Any) -> int:
    order = list(ROUTE_DOCS)
    return order.index(route.name) if route.name in order else len(order)


def _routes(mw: Any) -> list[Any]:
    from sse_mock.route_table import build_routes

    return sorted(build_routes(mw), key=_route_order)


def render_table(name: str) -> tuple[list[str], list[str]]:
    """reST lines of the named table, and warnings (problems the build should report)."""
    warnings: list[str] = []
    header: tuple[str, ...]
    widths: str
    rows: list[tuple[str, ...]]
    if name == "controls":
        from sse_mock.controls import CONTROLS

        header = ("Query parameter", "Header", "Takes")
        widths = "18 28 54"
        rows = [(f"``{n}``", f"``{h}``", escape(what)) for n, (h, what) in CONTROLS.items()]
    elif name in ("match-keys", "action-keys", "rule-keys"):
        from sse_mock import rules

        table = {"match-keys": rules.MATCH_KEYS, "action-keys": rules.ACTION_KEYS,
                 "rule-keys": {k: v for k, v in rules.RULE_KEYS.items()
                               if k not in rules.ACTION_KEYS}}[name]
        header = ("Key", "Meaning")
        widths = "20 80"
        rows = [(f"``{k}``", escape(v)) for k, v in table.items()]
    elif name == "django-settings":
        from sse_mock.django import CONFIG_SETTING, SETTINGS

        header = ("Django setting", "Configuration key")
        widths = "40 60"
        rows = [(f"``{setting}``", f":confval:`{key}`") for setting, key in SETTINGS.items()]
        rows.append((f"``{CONFIG_SETTING}``", "a base configuration: a file path or a mapping"))
    elif name == "faults":
        header = ("Fault", "Fails", "What happens")
        widths = "22 14 64"
        try:
            rows = [(s, k, t) for s, k, t in fault_rows()]
        except ValueError as exc:
            return [], [str(exc)]
    elif name == "routes":
        header = ("Method", "Path", "Answers", "Errors shaped as")
        widths = "12 32 42 14"
        route_list, undocumented = route_rows()
        rows = list(route_list)
        warnings += [f"route {n!r} has no description in docs/_ext/sse_mock_docs.py ROUTE_DOCS"
                     for n in undocumented]
    else:
        return [], [f"unknown sse-mock-table {name!r}"]
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in (header, *rows):
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return lines, warnings


# --- Sphinx glue ------------------------------------------------------------------------------


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes  # type: ignore[import-untyped, unused-ignore]
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective

    logger = logging.getLogger(__name__)

    class ConfigDirective(SphinxDirective):
        has_content = False

        def run(self) -> list[Any]:
            return list(self.parse_text_to_nodes("\n".join(render_config())))

    class ConfigTomlDirective(SphinxDirective):
        has_content = False

        def run(self) -> list[Any]:
            text = render_config_toml()
            block = nodes.literal_block(text, text, language="toml")
            return [block]

    class TableDirective(SphinxDirective):
        has_content = False
        required_arguments = 1

        def run(self) -> list[Any]:
            lines, problems = render_table(self.arguments[0])
            for problem in problems:
                logger.warning(problem, location=self.get_location())
            return list(self.parse_text_to_nodes("\n".join(lines))) if lines else []

    app.add_directive("sse-mock-config", ConfigDirective)
    app.add_directive("sse-mock-config-toml", ConfigTomlDirective)
    app.add_directive("sse-mock-table", TableDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
