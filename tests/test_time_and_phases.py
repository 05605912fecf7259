"""Time formats and the phase transition table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from uws_server.phases import TRANSITIONS, ExecutionPhase, can_transition
from uws_server.timeutil import format_utc, parse_utc


def test_times_are_formatted_with_z_and_milliseconds():
    value = datetime(2026, 11, 22, 10, 0, 1, 250000, tzinfo=UTC)
    assert format_utc(value) == "2026-11-22T10:00:01.250Z"
    assert format_utc(None) == ""
    assert format_utc(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000Z"  # naive = UTC


@pytest.mark.parametrize("text,expected", [
    ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01T00:00:00", datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01T12:00:00.123456Z", datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ("2030-01-01T12:00:00+02:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
    ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01t00:00:00z", datetime(2030, 1, 1, tzinfo=UTC)),
])
def test_iso_instants_are_parsed_the_way_clients_send_them(text, expected):
    assert parse_utc(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2030-13-01T00:00:00Z", "", "2030-01-01T25:00"])
def test_malformed_instants_are_refused_with_the_value_in_the_message(text):
    with pytest.raises(ValueError, match="datetime"):
        parse_utc(text)


def test_finished_phases_only_lead_to_archived():
    for phase in (ExecutionPhase.COMPLETED, ExecutionPhase.ERROR, ExecutionPhase.ABORTED):
        assert TRANSITIONS[phase] == frozenset({ExecutionPhase.ARCHIVED})
    assert not TRANSITIONS[ExecutionPhase.ARCHIVED]
    assert can_transition(ExecutionPhase.PENDING, ExecutionPhase.QUEUED)
    assert not can_transition(ExecutionPhase.PENDING, ExecutionPhase.EXECUTING)
    assert set(TRANSITIONS) == set(ExecutionPhase)


def test_phase_names_parse_in_any_case_and_unknown_ones_are_named():
    assert ExecutionPhase.parse("completed") is ExecutionPhase.COMPLETED
    with pytest.raises(ValueError, match="'DONE'"):
        ExecutionPhase.parse("DONE")
