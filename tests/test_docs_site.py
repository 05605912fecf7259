"""The documentation site builds with no warning, and its reference pages cover the code.

Sphinx (MyST, Furo) builds ``docs/`` into a temporary directory with warnings as errors:
a broken link, a page missing from the navigation, a malformed page fails here. The
reference pages are generated from the code (``docs/_ext/uws_reference.py``), so they must
name every OpenAPI operation, every ``uws-server`` command and every setting.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from uws_server.cli import parser
from uws_server.config import Settings
from uws_server.openapi import build_document

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / ".doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, f"the docs site has warnings or errors:\n{done.stderr}"
    return out


def test_every_docs_page_is_in_the_site(site):
    for page in (ROOT / "docs").glob("*.md"):
        assert (site / f"{page.stem}.html").is_file(), page.name


def test_api_reference_names_every_operation_and_ships_the_document(site):
    html = (site / "reference" / "api.html").read_text()
    document = build_document()
    for item in document["paths"].values():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                assert operation["operationId"] in html, (method, operation["operationId"])
    assert (site / "_static" / "openapi.json").is_file()


def test_cli_reference_shows_every_command(site):
    html = (site / "reference" / "cli.html").read_text()
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"uws-server {name}" in html, name


def test_configuration_reference_lists_every_setting_with_a_description(site):
    html = (site / "reference" / "configuration.html").read_text()
    for field in dataclasses.fields(Settings):
        if field.name == "extra":
            continue
        variable = f"UWS_{field.name.upper()}"
        assert variable in html, variable
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from uws_reference import setting_comments
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    comments = setting_comments((ROOT / "uws_server" / "config.py").read_text())
    undescribed = [f.name for f in dataclasses.fields(Settings)
                   if f.name != "extra" and not comments.get(f.name)]
    assert not undescribed, f"settings without a comment in config.py: {undescribed}"
