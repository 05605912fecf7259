"""Arguments and environment reach the job literally: quoting and macro escaping.

The round trip goes through the real ``htcondor2.Submit.expand`` (submit-time
macro expansion), then the schedd's documented match-time rule
(``$$(DOLLARDOLLAR)`` becomes ``$$``), then a parser of the documented
new-style syntax written here, independently of the code under test. The
bindings expose no argument-list parser (``Submit.jobs()`` is not implemented
in htcondor2 25.x), hence the independent parser.
"""

from __future__ import annotations

import random

import htcondor2
import pytest

from tests.htcondor.newstyle import match_time, parse_new_style
from uws_server.executors.htcondor.quoting import (
    QuotingError,
    escape_macros,
    quote_arguments,
    quote_environment,
)


def through_htcondor(key: str, new_style_value: str) -> str:
    submit_text, expected = escape_macros(new_style_value)
    expanded = htcondor2.Submit({"executable": "/bin/true", key: submit_text}).expand(key)
    assert expanded == expected
    return match_time(expanded)


NASTY = [
    "plain",
    "two words",
    "it's",
    'say "hi"',
    "'single' and \"double\"",
    "",
    "$(Foo)",
    "$$(x)",
    "$$$(y)",
    "$HOME",
    "cost: $5 (approx)",
    "$(DOLLAR",
    "tab\there",
    "  leading and trailing  ",
    "back\\slash",
    "comma,semi;colon",
    "unicode é ✓",
]


@pytest.mark.parametrize("arg", NASTY)
def test_each_nasty_argument_round_trips_through_submit_expansion(arg):
    argv = ["first", arg, "last"]
    assert parse_new_style(through_htcondor("arguments", quote_arguments(argv))) == argv


def test_random_arguments_round_trip_through_submit_expansion():
    rng = random.Random(20261124)
    alphabet = ["$", "$", "(", ")", "'", '"', " ", "x", "Foo", "DOLLARDOLLAR", "\t", "\\"]
    for _ in range(400):
        argv = ["".join(rng.choices(alphabet, k=rng.randint(0, 8))) for _ in range(3)]
        if any("$(dollar)" in a.lower() for a in argv):
            continue
        assert parse_new_style(through_htcondor("arguments", quote_arguments(argv))) == argv


def test_environment_round_trips_with_spaces_quotes_and_macros():
    env = {"A": "1", "B": "x y", "C": "it's", "D": '"q"', "E": "$(Foo) $$(x)", "F": ""}
    pairs = parse_new_style(through_htcondor("environment", quote_environment(env)))
    assert dict(p.split("=", 1) for p in pairs) == env


def test_a_literal_dollar_open_paren_is_escaped_with_the_dollar_macro():
    assert escape_macros("$(Foo)") == ("$(DOLLAR)(Foo)", "$(Foo)")
    assert escape_macros("$$(x)") == ("$$(DOLLARDOLLAR)(x)", "$$(DOLLARDOLLAR)(x)")
    assert escape_macros("$HOME") == ("$HOME", "$HOME")


def test_the_unescaped_value_would_be_altered_by_htcondor():
    """The reason for escaping: HTCondor expands ``$(Foo)`` to nothing."""
    submit = htcondor2.Submit({"executable": "/bin/true", "arguments": '"a $(Foo) b"'})
    assert submit.expand("arguments") == '"a  b"'


@pytest.mark.parametrize("bad", ["line\nbreak", "carriage\rreturn", "nul\x00", "unit\x1fsep"])
def test_arguments_with_newlines_or_nul_are_refused(bad):
    with pytest.raises(QuotingError):
        quote_arguments([bad])


@pytest.mark.parametrize("name", ["1A", "A-B", "A B", "", "A=B"])
def test_invalid_environment_names_are_refused(name):
    with pytest.raises(QuotingError):
        quote_environment({name: "x"})
