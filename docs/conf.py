"""Sphinx configuration of the uws-server documentation site (MyST Markdown, Furo theme).

Build: ``python -m sphinx -W --keep-going -b html docs build/docs`` (tests/test_docs_site.py
does so with warnings as errors). Every ``docs/*.md`` page is in the navigation by itself
(the glob of ``index.md``); the reference pages are generated from the code by
``_ext/uws_reference.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

from uws_server import __version__  # noqa: E402

project = "uws-server"
author = "uws-server contributors"
copyright = "uws-server contributors"
version = release = __version__

extensions = ["myst_parser", "uws_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "README.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]
html_theme = "furo"
html_title = f"uws-server {__version__}"
suppress_warnings: list[str] = []
