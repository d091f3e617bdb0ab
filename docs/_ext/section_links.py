"""Turn "§1.8" in the built pages into a link to section 1.8 of the protocols page.

The code, the tests and these pages cite ``PROTOCOLS.md`` by section number ("§5.4", "§1.8
F-13", "§5.3–5.5"). ``docs/protocols.rst`` includes that file (through myst-parser), so its
sections exist in the build; this extension records the anchor of each numbered section when
the page is read (``## 1. …`` → "1", ``### 1.8 …`` → "1.8") and, in every page the HTML builder
writes, replaces each "§N[.N]" in running text (not in code, titles or existing links) with a
link to it. A number with no such section (the HTML standard's "§9.2.5", quoted inside
PROTOCOLS.md) stays plain text.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes

PAGE = "protocols"
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")
_REFERENCE = re.compile(r"§\s?(\d+(?:\.\d+)*)")
_SKIP = (nodes.literal, nodes.literal_block, nodes.reference, nodes.title, nodes.raw,
         nodes.comment)


def _record(app: Any, doctree: nodes.document) -> None:
    if app.env.docname != PAGE:
        return
    sections: dict[str, str] = {}
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None or not section["ids"]:
            continue
        m = _NUMBER.match(title.astext())
        if m is not None:
            sections.setdefault(m[1], section["ids"][0])
    app.env.sse_mock_sections = sections


def _merge(app: Any, env: Any, docnames: Any, other: Any) -> None:
    if getattr(other, "sse_mock_sections", None):
        env.sse_mock_sections = other.sse_mock_sections


def _link(app: Any, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    sections: dict[str, str] = getattr(app.env, "sse_mock_sections", {})
    if not sections:
        return
    target = app.builder.get_relative_uri(docname, PAGE)
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or any(isinstance(a, _SKIP) for a in _ancestors(text)):
            continue
        value = str(text)
        if "§" not in value:
            continue
        pieces: list[nodes.Node] = []
        last = 0
        for m in _REFERENCE.finditer(value):
            anchor = sections.get(m[1])
            if anchor is None:
                continue
            pieces.append(nodes.Text(value[last:m.start()]))
            uri = f"#{anchor}" if docname == PAGE else f"{target}#{anchor}"
            pieces.append(nodes.reference(m[0], m[0], internal=True, refuri=uri))
            last = m.end()
        if pieces:
            pieces.append(nodes.Text(value[last:]))
            parent.replace(text, pieces)


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    out = []
    while node.parent is not None:
        node = node.parent
        out.append(node)
    return out


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-read", _record)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-resolved", _link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
