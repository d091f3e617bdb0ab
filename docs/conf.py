"""Sphinx configuration for the sse_mock documentation.

Install what the build needs (Sphinx and myst-parser, for the protocols page) from the ``docs``
extra, build it (warnings are errors) and run its examples::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html
    sphinx-build -W --keep-going -b doctest docs docs/_build/doctest

``tests/test_docs.py`` runs both.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout's sse_mock, also when not installed

import sse_mock  # noqa: E402

project = "sse_mock"
author = "sse_mock developers"
copyright = "sse_mock developers"
release = sse_mock.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sse_mock_docs",
    "myst_parser",  # docs/protocols.rst includes PROTOCOLS.md
    "section_links",  # "§1.8" → a link to that section of the protocols page
]

html_static_path = ["_static"]
myst_heading_anchors = 0  # PROTOCOLS.md's headings keep docutils' ids (section_links reads them)
suppress_warnings = ["myst.header"]  # PROTOCOLS.md starts at "#", then "##", "###": as written

exclude_patterns = ["_build"]
root_doc = "index"
default_role = "code"
nitpicky = False

html_theme = "alabaster"
html_title = f"sse_mock {release}"
html_theme_options = {
    "description": "Mocked LLM streams inside the WSGI app you already run.",
    "fixed_sidebar": True,
    "page_width": "1180px",  # room for 100-column code blocks
    "sidebar_width": "230px",
}

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

# -- examples: ``.. testcode::`` / ``.. doctest::`` blocks run with ``-b doctest`` ----------------

doctest_global_setup = f"""
import logging

EXAMPLES = {str(HERE.parent / "examples")!r}  # the repository's examples/, for imports

__name__ = "docs_example"  # Flask(__name__) needs a module name that is not "builtins"
import sys as _sys, types as _types
_sys.modules.setdefault(__name__, _types.ModuleType(__name__))  # Pyramid's Configurator looks it up

# In-process test clients report wsgi.multithread = False; the mock's one-time warning about
# single-threaded servers is meant for real servers, not for these examples.
logging.getLogger("sse_mock").setLevel(logging.ERROR)
"""
doctest_test_doctest_blocks = "default"
