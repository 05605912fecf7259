"""An independent reader of HTCondor's new-style argument syntax, for the tests.

Written from the documented rules (outer double quotes, ``""`` for a double
quote, single quotes around tokens with whitespace, ``''`` inside them), not
from the code under test, so a round trip through it checks that code.
"""

from __future__ import annotations


def parse_new_style(value: str) -> list[str]:
    """Split a new-style value (outer double quotes included) into its tokens."""
    assert value.startswith('"') and value.endswith('"'), value
    body = value[1:-1]
    assert '"' not in body.replace('""', ""), "a lone double quote inside"
    body = body.replace('""', '"')
    tokens: list[str] = []
    current: list[str] = []
    in_token = False
    i = 0
    while i < len(body):
        char = body[i]
        if char == "'":
            in_token = True
            i += 1
            while True:
                if i >= len(body):
                    raise ValueError("unterminated single quote")
                if body[i] == "'" and body[i + 1 : i + 2] == "'":
                    current.append("'")
                    i += 2
                elif body[i] == "'":
                    i += 1
                    break
                else:
                    current.append(body[i])
                    i += 1
        elif char.isspace():
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
            i += 1
        else:
            current.append(char)
            in_token = True
            i += 1
    if in_token:
        tokens.append("".join(current))
    return tokens


def match_time(text: str) -> str:
    """The schedd's match-time expansion of the only ``$$`` macro we write."""
    return text.replace("$$(DOLLARDOLLAR)", "$$")
