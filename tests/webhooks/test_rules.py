"""Pure rules of webhooks: parsing subscriptions, back-off and expiry, signatures, the secret."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from uws_server.config import ConfigError, Settings, load_settings
from uws_server.dispatch import signing
from uws_server.dispatch.webhooks import next_state, retry_delay, shown_url
from uws_server.errors import InvalidParameter
from uws_server.phases import ExecutionPhase
from uws_server.services.notifications import Subscription, matches, parse_subscriptions

SETTINGS = Settings(url_allow="127.0.0.1/32", url_deny="*.denied.example")


def test_agave_notifications_are_parsed_with_agave_defaults():
    parsed = parse_subscriptions([
        {"url": "https://hooks.example.org/a?token=x", "event": "finished", "persistent": True},
        {"url": "http://127.0.0.1:9/b"}], settings=SETTINGS)
    assert parsed == [Subscription("https://hooks.example.org/a?token=x", "FINISHED", True),
                      Subscription("http://127.0.0.1:9/b", "*", False)]
    assert parse_subscriptions(None, settings=SETTINGS) == []


@pytest.mark.parametrize(("raw", "field"), [
    ({"url": "http://x.example.org"}, "notifications: expected a list"),
    ([{"url": "ftp://x.example.org/"}], "notifications[0].url"),
    ([{"url": "http://192.168.1.1/"}], "notifications[0].url"),
    ([{"url": "http://a.denied.example/"}], "notifications[0].url"),
    ([{"url": "http://user:pw@x.example.org/"}], "notifications[0].url"),
    ([{"url": 42}], "notifications[0].url"),
    ([{"url": "http://x.example.org/", "event": "LATER"}], "notifications[0].event"),
    ([{"url": "http://x.example.org/", "persistent": "yes"}], "notifications[0].persistent"),
    ([{"url": "http://x.example.org/", "colour": "red"}], "notifications[0].colour"),
    (["http://x.example.org/"], "notifications[0]"),
    ([{"url": "http://x.example.org/"}] * 11, "at most 10"),
])
def test_bad_notifications_are_refused_naming_the_field(raw, field):
    with pytest.raises(InvalidParameter) as caught:
        parse_subscriptions(raw, settings=SETTINGS)
    assert field in caught.value.message and "\n" not in caught.value.message


def test_events_match_uws_phases_agave_statuses_and_everything():
    assert matches("COMPLETED", ExecutionPhase.COMPLETED)
    assert matches("FINISHED", ExecutionPhase.COMPLETED)
    assert matches("RUNNING", ExecutionPhase.EXECUTING)
    assert matches("*", ExecutionPhase.QUEUED)
    assert not matches("FAILED", ExecutionPhase.COMPLETED)


def test_retries_wait_twice_as_long_each_time_up_to_the_cap():
    assert [retry_delay(n, 10, 300) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
    assert retry_delay(10_000, 10, 300) == 300  # no overflow


def test_a_retry_past_the_maximum_age_is_not_scheduled():
    settings = Settings(webhook_retry_base=10, webhook_retry_max=3600, webhook_max_age=60)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_state(1, created, created, settings) == ("pending",
                                                         created + timedelta(seconds=10))
    later = created + timedelta(seconds=45)
    assert next_state(2, created, later, settings) == ("expired", later)


def test_history_shows_a_webhook_url_without_its_query():
    assert shown_url("https://h.example.org/p?token=secret") == "https://h.example.org/p"


def test_a_signature_verifies_only_with_the_secret_the_body_and_a_recent_time():
    body = b'{"event":"COMPLETED"}'
    header = signing.header_value(b"k", body, now=1_000_000)
    assert signing.verify(b"k", header, body, now=1_000_010)
    assert not signing.verify(b"k", header, body + b" ", now=1_000_010)
    assert not signing.verify(b"other", header, body, now=1_000_010)
    assert not signing.verify(b"k", header, body, now=1_000_000 + 301)
    assert not signing.verify(b"k", "v1=abc", body)


def test_without_a_configured_secret_one_is_generated_once_and_kept_private(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    first = signing.service_secret(settings)
    assert len(first) == 64 and signing.service_secret(settings) == first
    mode = stat.S_IMODE(signing.secret_path(settings).stat().st_mode)
    assert mode == 0o600
    assert signing.service_secret(Settings(data_dir=tmp_path, webhook_secret="mine")) == b"mine"


def test_the_webhook_settings_are_read_checked_and_the_secret_never_shown():
    settings = load_settings({"UWS_WEBHOOK_SECRET": "hush-hush", "UWS_WEBHOOK_TIMEOUT": "3",
                              "UWS_WEBHOOK_MAX_AGE": "60"})
    assert (settings.webhook_secret, settings.webhook_timeout) == ("hush-hush", 3.0)
    assert "hush-hush" not in repr(settings)
    for name in ("UWS_WEBHOOK_TIMEOUT", "UWS_WEBHOOK_MAX_AGE", "UWS_WEBHOOK_RETRY_BASE",
                 "UWS_WEBHOOK_RETRY_MAX"):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: "0"})
