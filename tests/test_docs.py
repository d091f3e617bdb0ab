"""The documentation: it builds with warnings as errors, its examples run, its generated tables
match the code, and ``examples/custom_stream.py`` streams what it says.

The examples in ``docs/`` are ``.. testcode::``/``.. doctest::`` blocks run by Sphinx's doctest
builder (``sphinx.ext.doctest``), docstring examples included; the tables of configuration keys,
controls, rule keys, faults and routes are rendered from the code by ``docs/_ext/sse_mock_docs.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
import time
import tomllib
import wsgiref.validate
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("sphinx")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BUILD_SECONDS = 30


def sphinx_build(builder: str, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m sphinx -W --keep-going -b <builder>`` into `out`, from scratch."""
    args = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", builder,
            "-d", str(out / ".doctrees"), str(DOCS), str(out)]
    start = time.monotonic()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    elapsed = time.monotonic() - start
    assert result.returncode == 0, f"sphinx -b {builder} failed:\n{result.stdout}{result.stderr}"
    assert elapsed < BUILD_SECONDS, f"sphinx -b {builder} took {elapsed:.1f} s"
    return result


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    sphinx_build("html", out)
    return out


def load_ext() -> ModuleType:
    return load_module("sse_mock_docs", DOCS / "_ext" / "sse_mock_docs.py")


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the build ----------------------------------------------------------------------------------


def test_html_builds_without_warnings(html: Path) -> None:
    for page in ("index", "quickstart", "integrations/wsgi", "integrations/flask",
                 "integrations/django", "integrations/pyramid", "standalone", "providers",
                 "scenarios", "formatter", "configuration", "servers", "api", "changelog",
                 "protocols"):
        assert (html / f"{page}.html").is_file(), page


def test_examples_in_the_docs_run(tmp_path: Path) -> None:
    for module in ("openai", "anthropic", "httpx", "flask", "django", "paste.deploy"):
        pytest.importorskip(module)  # the examples use them (all in the "test" extra)
    # Deprecations raised by the examples' own calls (e.g. a deprecated model name passed to an
    # SDK) are errors: the doctest globals are named "docs_example" (docs/conf.py).
    result = sphinx_build("doctest", tmp_path, PYTHONDEVMODE="1",
                          PYTHONWARNINGS="error::DeprecationWarning:docs_example")
    report = (tmp_path / "output.txt").read_text(encoding="utf-8")
    summary = report[report.index("Doctest summary"):]
    count = int(re.search(r"(\d+) tests", summary).group(1))  # type: ignore[union-attr]
    assert count >= 40, summary  # the examples are found, not silently skipped
    assert "0 failures in tests" in summary, report
    assert "ResourceWarning" not in result.stderr, result.stderr


# --- generated tables ---------------------------------------------------------------------------


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)


def schema_names() -> Iterator[str]:
    from sse_mock.config import SCHEMA

    for key in SCHEMA:
        yield key.name
        for sub in key.keys:
            yield f"{key.name}.{sub.name}"


def test_configuration_reference_lists_every_key(html: Path) -> None:
    parser = _Ids()
    parser.feed((html / "configuration.html").read_text(encoding="utf-8"))
    missing = [n for n in schema_names() if f"confval-{n}" not in parser.ids]
    assert not missing, f"not in the built configuration reference: {missing}"
    documented = {i.removeprefix("confval-") for i in parser.ids if i.startswith("confval-")}
    assert documented == set(schema_names())


def test_render_config_matches_schema() -> None:
    from sse_mock.config import SCHEMA

    lines = load_ext().render_config()
    names = [line.removeprefix(".. confval:: ") for line in lines if line.startswith(".. confval")]
    assert names == list(schema_names())
    types = [line.strip() for line in lines if line.strip().startswith(":type:")]
    assert len(types) == len(names)
    assert types[0] == f":type: {SCHEMA[0].describe_type()}"


def test_default_toml_loads_back_as_the_defaults() -> None:
    from sse_mock.config import Config, load_config

    text = load_ext().render_config_toml()
    config = load_config(tomllib.loads(text))
    assert dataclasses.replace(config, source="defaults") == Config()


def test_tables_come_from_the_code() -> None:
    from sse_mock import faults, rules
    from sse_mock.controls import CONTROLS

    ext = load_ext()
    for name, keys in (("controls", CONTROLS), ("match-keys", rules.MATCH_KEYS),
                       ("action-keys", rules.ACTION_KEYS)):
        lines, problems = ext.render_table(name)
        assert not problems
        text = "\n".join(lines)
        assert all(f"``{key}``" in text for key in keys), name
    rows = ext.fault_rows()  # raises when the docstring and the catalogue disagree
    named = {re.split(r"[:\[]", s.strip("`"), maxsplit=1)[0] for s, _, _ in rows}
    assert named == {*faults.HTTP_FAULTS, *faults.STREAM_FAULTS}
    lines, problems = ext.render_table("routes")
    assert not problems, problems  # every route the middleware builds is described


# --- examples/custom_stream.py ------------------------------------------------------------------


@pytest.fixture
def custom_stream() -> ModuleType:
    return load_module("custom_stream", ROOT / "examples" / "custom_stream.py")


def call(app: Any, path: str, headers: dict[str, str] | None = None) -> tuple[str, list[bytes]]:
    """Run `app` under wsgiref.validate; return the status and the chunks it yielded."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, headers=list((headers or {}).items())).get_environ()
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got["status"], got["headers"] = status, headers
        return lambda data: None

    result = wsgiref.validate.validator(app)(environ, start_response)
    assert "status" in got, "start_response must be called before the body is iterated"
    try:
        chunks = list(result)
    finally:
        result.close()  # type: ignore[attr-defined]
    return got["status"], chunks


def test_custom_stream_example(custom_stream: ModuleType) -> None:
    from sse_mock._parser import parse

    assert "curl -N" in (custom_stream.__doc__ or "")
    status, chunks = call(custom_stream.make_app(delay=0), "/progress?steps=3")
    assert status == "200 OK"
    assert chunks[0], "the first chunk is not empty"
    for chunk in chunks:
        assert chunk.endswith(b"\n") and b"\r" not in chunk  # whole lines, LF only
    events = parse(b"".join(chunks))
    assert [(e.type, e.id) for e in events] == [
        ("progress", "0"), ("progress", "1"), ("progress", "2"), ("done", "3")]
    assert events[0].data == '{"step": 1, "of": 3}'
    assert events[-1].data == "finished 3 steps\nno errors"
    assert events[0].retry == 2000


def test_custom_stream_resumes_and_stops(custom_stream: ModuleType) -> None:
    from sse_mock._parser import parse

    app = custom_stream.make_app(delay=0)
    status, chunks = call(app, "/progress?steps=3", {"Last-Event-ID": "1"})
    assert status == "200 OK"
    assert [e.id for e in parse(b"".join(chunks))] == ["2", "3"]
    status, chunks = call(app, "/progress?steps=3", {"Last-Event-ID": "3"})
    assert (status, chunks) == ("204 No Content", [])


def test_custom_stream_paces_with_heartbeats(custom_stream: ModuleType) -> None:
    status, chunks = call(custom_stream.make_app(delay=0.01), "/progress?steps=2")
    assert chunks.count(b": ping\n") == 2


def toml_blocks() -> Iterator[tuple[str, str]]:
    """(page, text) of every ``.. code-block:: toml`` in the docs."""
    for page in sorted(DOCS.rglob("*.rst")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == ".. code-block:: toml":
                block = []
                for body in lines[i + 1:]:
                    if body and not body.startswith(" "):
                        break
                    block.append(body[4:])
                yield page.name, "\n".join(block).strip() + "\n"


def test_toml_examples_in_the_docs_are_valid_configurations() -> None:
    from sse_mock.config import ConfigError, load_config

    blocks = list(toml_blocks())
    assert len(blocks) >= 2
    for page, text in blocks:
        try:
            load_config(tomllib.loads(text))
        except (ConfigError, tomllib.TOMLDecodeError) as exc:
            pytest.fail(f"docs/{page}: a TOML example is not a valid configuration: {exc}")


# --- the front page, the protocols page and the docs extra (issue 12.12) -----------------------


def test_section_references_link_to_the_protocols_page(html: Path) -> None:
    page = (html / "protocols.html").read_text(encoding="utf-8")
    assert "Consequences for" in page and "SSEFormatter" in page  # PROTOCOLS.md §1.8, rendered
    formatter = (html / "formatter.html").read_text(encoding="utf-8")
    links = re.findall(r'href="protocols\.html#([^"]+)"[^>]*>§1\.8<', formatter)
    assert links, "§1.8 in formatter.rst is not a link"
    assert f'id="{links[0]}"' in page  # the anchor exists on the protocols page
    assert "§9.2" in page  # the HTML standard's own numbers, which are no section here, stay


def test_front_page_shows_the_demo_and_an_sdk_snippet(html: Path) -> None:
    index = (html / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<img [^>]*src="_images/demo-chat\.png"', index)
    assert (html / "_images" / "demo-chat.png").stat().st_size > 10_000
    text = re.sub(r"<[^>]+>", "", index)  # the code block, without its highlighting spans
    assert "base_url" in text and "chat.completions.create" in text


def test_the_docs_extra_has_what_the_build_imports_and_readme_names_its_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    docs_extra = " ".join(project["optional-dependencies"]["docs"])
    for package in ("sphinx", "myst-parser"):
        assert package in docs_extra
        assert package in " ".join(project["optional-dependencies"]["test"])
    command = "sphinx-build -W --keep-going -b html docs docs/_build/html"
    assert command in (DOCS / "conf.py").read_text()
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[docs]"' in readme and command in readme


def test_seed_names_only_the_seed_option() -> None:
    # "seed" is a configuration key; the original blog example is not called "the seed".
    for path in [ROOT / "README.md", *DOCS.rglob("*.rst")]:
        assert "seed's" not in path.read_text(encoding="utf-8"), path
