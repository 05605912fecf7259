"""Quoting client values for HTCondor submit descriptions.

Two languages are stacked in a submit description and both must be escaped:

1. HTCondor's *new-style* argument and environment syntax: the whole value in
   double quotes (a literal ``"`` is doubled), tokens separated by whitespace, a
   token with whitespace or ``'`` in single quotes (a literal ``'`` is doubled).
2. Macro expansion: ``$(name)`` is replaced when the job is submitted and
   ``$$(name)`` when it is matched to a machine. ``$(DOLLAR)`` yields a literal
   ``$`` at submit time and ``$$(DOLLARDOLLAR)`` a literal ``$$`` at match time.

Nothing here imports the HTCondor bindings: the web tier may import it.
:func:`escape_macros` returns both the submit text and what the submit language
must expand it to, so that :mod:`.submit` can check the binding agrees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: Submit text that the schedd turns into ``$$`` when the job is matched.
MATCH_DOLLARS = "$$(DOLLARDOLLAR)"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORBIDDEN = re.compile(r"[\x00\n\r\x1f]")  # \x1f separates itemdata values
_PIECES = re.compile(r"(\$+)(?=\()|[^$]+|\$+")


class QuotingError(ValueError):
    """A value cannot be written into a submit description literally."""


def _check_chars(value: str, what: str) -> None:
    if _FORBIDDEN.search(value):
        raise QuotingError(
            f"{what} contains a newline, NUL or unit separator, which HTCondor cannot carry"
        )


def quote_token(value: str) -> str:
    """One argument (or ``NAME=value`` pair) in new-style syntax, before the outer quotes."""
    if value == "" or any(c.isspace() for c in value) or "'" in value:
        return "'" + value.replace("'", "''") + "'"
    return value


def new_style(tokens: Iterable[str]) -> str:
    """Join tokens into a new-style value, double quotes included."""
    body = " ".join(quote_token(t) for t in tokens)
    return '"' + body.replace('"', '""') + '"'


def quote_arguments(argv: Iterable[str]) -> str:
    """The new-style ``arguments`` value for an argv (without the program)."""
    args = list(argv)
    for arg in args:
        _check_chars(arg, "an argument")
    return new_style(args)


def quote_environment(env: Mapping[str, str]) -> str:
    """The new-style ``environment`` value for a mapping of names to values."""
    pairs = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise QuotingError(f"invalid environment variable name {name!r}")
        _check_chars(value, f"environment variable {name}")
        pairs.append(f"{name}={value}")
    return new_style(pairs)


def escape_macros(text: str) -> tuple[str, str]:
    """Protect ``text`` from submit-time and match-time macro expansion.

    Returns
    -------
    (submit_text, submitted_text)
        ``submit_text`` goes into the description; ``submitted_text`` is what
        submit-time expansion must turn it into (the schedd then turns every
        ``$$(DOLLARDOLLAR)`` into ``$$`` at match time, giving back ``text``).

    Only a run of ``$`` directly followed by ``(`` can start a macro: such a
    run of *n* dollars becomes *n // 2* ``$$(DOLLARDOLLAR)`` and, when *n* is
    odd, one ``$(DOLLAR)``. Other dollars (``$HOME``) are literal already.
    """
    submit: list[str] = []
    submitted: list[str] = []
    for match in _PIECES.finditer(text):
        piece = match.group(0)
        if match.group(1):
            pairs, odd = divmod(len(piece), 2)
            submit.append(MATCH_DOLLARS * pairs + ("$(DOLLAR)" if odd else ""))
            submitted.append(MATCH_DOLLARS * pairs + ("$" if odd else ""))
        else:
            submit.append(piece)
            submitted.append(piece)
    return "".join(submit), "".join(submitted)


def plain_value(value: str, what: str) -> str:
    """A value for a plain submit command (paths, names): one line, macros escaped."""
    _check_chars(value, what)
    return escape_macros(value)[0]
