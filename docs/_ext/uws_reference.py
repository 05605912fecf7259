"""Sphinx extension: the reference pages, generated from the code at build time.

Three pages of ``docs/reference/`` are stubs whose text this extension supplies when Sphinx
reads them (the ``source-read`` event), so nothing generated is ever written into the
checkout and no table is kept twice:

- ``reference/api``: every operation of the OpenAPI document
  (:func:`uws_server.openapi.build_document`), by tag; the site also ships the document
  itself as ``openapi.json``;
- ``reference/cli``: every command of ``uws-server``, with argparse's own help text
  (:func:`uws_server.cli.parser`);
- ``reference/configuration``: every setting of :class:`uws_server.config.Settings`, its
  variable, type, default and the comment written beside it in ``config.py`` (the settings
  definition is the one place a setting is described).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import io
import json
import os
import tokenize
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

METHODS = ("get", "put", "post", "patch", "delete")


# -- API -------------------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[1]}`"
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    return f"`{kind}`" if isinstance(kind, str) else "any"


def api_markdown(document: dict[str, Any]) -> str:
    """The API reference: one section per tag, one subsection per operation."""
    out = [f"# HTTP API reference\n\nuws-server {document['info']['version']}, "
           f"OpenAPI {document['openapi']}. Generated from the OpenAPI document the service "
           "serves at `/openapi.json` (browsable at `/docs`); this site carries a copy "
           "as `_static/openapi.json`.\n"]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["Other"])[0]
                by_tag.setdefault(tag, []).append((path, method, item[method]))
    parameters = document["components"].get("parameters", {})
    for tag, operations in by_tag.items():
        out.append(f"## {tag}\n")
        for path, method, operation in operations:
            out.append(f"### `{method.upper()} {path}`\n\n{_one_line(operation['summary'])}"
                       f" (`{operation['operationId']}`).\n")
            params = [parameters[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                      for p in [*document["paths"][path].get("parameters", []),
                                *operation.get("parameters", [])]]
            if params:
                out.append("| parameter | in | type | description |\n| --- | --- | --- | --- |")
                out += [f"| `{p['name']}` | {p['in']} | {_schema_name(p.get('schema', {}))} "
                        f"| {_one_line(p.get('description', ''))} |" for p in params]
                out.append("")
            out.append("| status | means |\n| --- | --- |")
            responses = document["components"].get("responses", {})
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    response = responses[response["$ref"].rsplit("/", 1)[1]]
                kinds = ", ".join(f"`{k}`" for k in response.get("content", {}))
                out.append(f"| {status} | {_one_line(response.get('description', ''))}"
                           f"{' (' + kinds + ')' if kinds else ''} |")
            out.append("")
    return "\n".join(out)


# -- CLI -------------------------------------------------------------------------------------
def _commands(parser: argparse.ArgumentParser, words: list[str]
              ) -> list[tuple[list[str], argparse.ArgumentParser]]:
    found = [(words, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, [*words, name])
    return found


def cli_markdown(parser: argparse.ArgumentParser) -> str:
    """The CLI reference: argparse's help of every command and subcommand."""
    out = ["# Command-line reference\n\nGenerated from the argument parser of `uws-server` "
           "(`uws_server/cli.py`, `uws_server/auth/cli.py`): the text is what "
           "`uws-server … --help` prints.\n"]
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width: make it fixed
    try:
        helps = [(words, sub.format_help()) for words, sub in _commands(parser, [parser.prog])]
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    for words, text in helps:
        level = "#" * min(2 + max(len(words) - 2, 0), 4)
        out.append(f"{level} `{' '.join(words)}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(out)


# -- configuration ---------------------------------------------------------------------------
def setting_comments(source: str, class_name: str = "Settings") -> dict[str, str]:
    """Each field's description: the comment lines above it and the comment beside it."""
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    (cls,) = [n for n in ast.parse(source).body
              if isinstance(n, ast.ClassDef) and n.name == class_name]
    described: dict[str, str] = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above = []
        line = node.lineno - 1
        while line >= 1 and lines[line - 1].strip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        beside = [comments[n] for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                  if n in comments and not lines[n - 1].strip().startswith("#")]
        described[node.target.id] = " ".join([*above, *beside])
    return described


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is dataclasses.MISSING:
        return "—"
    value = field.default
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def configuration_markdown(settings_class: type, source: str,
                           executor_variables: dict[str, list[str]]) -> str:
    """The configuration reference: every setting, from the settings definition."""
    comments = setting_comments(source, settings_class.__name__)
    out = ["# Configuration reference\n",
           "Generated from the settings definition, `uws_server/config.py` (`Settings`): each "
           "setting is an environment variable `UWS_<NAME>`, or the key `<name>` in the TOML "
           "file named by `UWS_CONFIG` (the environment wins). An unknown name is an error "
           "that names the closest known one.\n",
           "| variable | file key | type | default | meaning |",
           "| --- | --- | --- | --- | --- |"]
    for field in dataclasses.fields(settings_class):
        if field.default is dataclasses.MISSING and field.default_factory is not \
                dataclasses.MISSING:  # type: ignore[misc]
            continue  # ``extra``: the executors' variables, listed below
        kind = field.type if isinstance(field.type, str) else field.type.__name__
        text = comments.get(field.name, "").replace("|", "\\|")
        out.append(f"| `UWS_{field.name.upper()}` | `{field.name}` | `{kind}` | "
                   f"{_default(field)} | {text} |")
    out.append("\n## Executor variables\n\nRead by the configured executor only, checked at "
               "start; described with their backend.\n")
    for backend, names in executor_variables.items():
        out.append(f"- {backend} ([{backend} guide](../{backend.lower()}.md)): "
                   + ", ".join(f"`{n}`" for n in names))
    return "\n".join(out) + "\n"


# -- Sphinx wiring ---------------------------------------------------------------------------
def _generated(docname: str) -> str | None:
    if docname == "reference/api":
        from uws_server.openapi import build_document

        return api_markdown(build_document())
    if docname == "reference/cli":
        from uws_server.cli import parser

        return cli_markdown(parser())
    if docname == "reference/configuration":
        from uws_server import config
        from uws_server.executors.htcondor.settings import ENVIRONMENT as htcondor
        from uws_server.executors.slurm.settings import ENVIRONMENT as slurm

        source = Path(config.__file__).read_text(encoding="utf-8")
        return configuration_markdown(config.Settings, source,
                                      {"Slurm": list(slurm), "HTCondor": list(htcondor)})
    return None


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    text = _generated(docname)
    if text is not None:
        source[0] = text


def _copy_openapi(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        from uws_server.openapi import build_document

        target = Path(app.outdir) / "_static" / "openapi.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(build_document(), indent=1) + "\n", encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the generators."""
    app.connect("source-read", _source_read)
    app.connect("build-finished", _copy_openapi)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
