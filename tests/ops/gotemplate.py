"""A tiny renderer for the subset of Go templates the Helm chart uses, so that the tests can
render the chart without helm: ``{{ .Path.To.Value }}``, ``| quote``, ``{{- range $k, $v :=
.Path }}...{{- end }}`` over a map (sorted keys, as Go does), and the ``{{-``/``-}}`` trims.
Anything else raises, which keeps the chart within what this renders."""

from __future__ import annotations

import json
import re
from typing import Any

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)
RANGE = re.compile(r"range \$(\w+), \$(\w+) := (\.[\w.]+)")
EXPR = re.compile(r"(\$\w+|\.[\w.]+)(?:\s*\|\s*(quote))?")


class Unsupported(ValueError):
    """The template uses something this renderer does not know."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in ACTION.finditer(text):
        before = text[position:match.start()]
        if match.group(1):
            before = before.rstrip(" \t\n")
        if tokens and tokens[-1] == ("trim", ""):
            tokens.pop()
            before = before.lstrip(" \t\n")
        tokens.append(("text", before))
        tokens.append(("action", match.group(2)))
        if match.group(3):
            tokens.append(("trim", ""))
        position = match.end()
    rest = text[position:]
    if tokens and tokens[-1] == ("trim", ""):
        tokens.pop()
        rest = rest.lstrip(" \t\n")
    tokens.append(("text", rest))
    return tokens


def _lookup(path: str, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    if path.startswith("$"):
        return variables[path[1:]]
    value: Any = context
    for part in path.lstrip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"no value {path}")
        value = value[part]
    return value


def _value(expression: str, context: dict[str, Any], variables: dict[str, Any]) -> str:
    match = EXPR.fullmatch(expression)
    if match is None:
        raise Unsupported(f"{{{{ {expression} }}}}")
    value = _lookup(match.group(1), context, variables)
    if match.group(2) == "quote":
        return json.dumps("" if value is None else str(value))
    return str(value)


def _render(tokens: list[tuple[str, str]], start: int, context: dict[str, Any],
            variables: dict[str, Any]) -> tuple[str, int]:
    out: list[str] = []
    index = start
    while index < len(tokens):
        kind, text = tokens[index]
        if kind == "text":
            out.append(text)
        elif text == "end":
            return "".join(out), index
        elif text.startswith("range "):
            match = RANGE.fullmatch(text)
            if match is None:
                raise Unsupported(f"{{{{ {text} }}}}")
            mapping = _lookup(match.group(3), context, variables)
            end = index
            for key in sorted(mapping):
                body, end = _render(tokens, index + 1, context,
                                    {**variables, match.group(1): key,
                                     match.group(2): mapping[key]})
                out.append(body)
            if not mapping:
                _, end = _render(tokens, index + 1, context, variables | {
                    match.group(1): "", match.group(2): ""})
            index = end
        else:
            out.append(_value(text, context, variables))
        index += 1
    if start:
        raise Unsupported("a range without its end")
    return "".join(out), index


def render(template: str, context: dict[str, Any]) -> str:
    """The template rendered with ``context`` (``{"Values": ..., "Release": ..., ...}``)."""
    return _render(_tokens(template), 0, context, {})[0]
