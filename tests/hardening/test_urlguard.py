"""The SSRF guard on its own (issue 15 item 5): policies, address forms, connections, deadlines.

The connections go to servers these tests start on 127.0.0.1 and 127.0.0.2.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from tests.hardening.dispatch_kit import answer, drip, redirect_to, tcp_server
from uws_server.config import ConfigError, Settings
from uws_server.urlguard import (
    UrlPolicy,
    UrlRefused,
    check_url,
    literal_address,
    open_url,
    url_policy,
)

DEFAULT = UrlPolicy()
LOOPBACK_ONE = UrlPolicy.parse("127.0.0.1/32")


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                                  "017700000001", "127.0.0.1", "::ffff:127.0.0.1"])
def test_every_spelling_of_loopback_is_the_same_address(host):
    address = literal_address(host)
    assert address is not None
    assert "loopback" in (DEFAULT.refusal(host, address) or "")


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("10.0.0.1", "private"), ("172.31.255.255", "private"),
    ("192.168.1.1", "private"), ("fd12:3456::1", "unique-local"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("224.0.0.1", "multicast"), ("100.64.0.1", "non-public"),
    ("2002:7f00:1::1", "loopback"), ("64:ff9b::a00:1", "private"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo carrying 127.0.0.1
])
def test_non_public_addresses_are_refused_by_default(address, kind):
    reason = DEFAULT.refusal("host.example", ipaddress.ip_address(address))
    assert reason is not None and kind in reason, reason


def test_public_addresses_pass_and_allow_and_deny_apply_with_deny_winning():
    public = ipaddress.ip_address("93.184.215.14")
    assert DEFAULT.refusal("example.org", public) is None
    policy = UrlPolicy.parse(allow="10.0.0.0/8, *.internal.example", deny="10.9.0.0/16 "
                             "bad.internal.example")
    assert policy.refusal("x", ipaddress.ip_address("10.1.2.3")) is None
    assert "UWS_URL_DENY" in (policy.refusal("x", ipaddress.ip_address("10.9.0.1")) or "")
    assert policy.refusal("files.internal.example", ipaddress.ip_address("192.168.0.5")) is None
    assert "UWS_URL_DENY" in (policy.refusal("bad.internal.example", public) or "")
    assert "UWS_URL_DENY" in (policy.refusal("BAD.internal.example.", None) or "")


def test_a_bad_setting_is_a_configuration_error_naming_it():
    with pytest.raises(ConfigError, match="UWS_URL_ALLOW"):
        url_policy(Settings(url_allow="10.0.0.0/8, not a/pattern!"))
    assert url_policy(Settings(url_deny="::1/128 *.x")).deny_hosts == ("*.x",)


@pytest.mark.parametrize(("url", "words"), [
    ("file:///etc/passwd", "only http and https"), ("http:///nohost", "no host"),
    ("http://a:b@example.org/", "credentials"), ("http://[::1/", "not a valid URL"),
    ("http://example.org:99999/", "not a valid URL"), ("http://[::1]:80/", "loopback"),
])
def test_check_url_refuses_what_it_can_without_dns(url, words):
    with pytest.raises(UrlRefused, match=words):
        check_url(url, DEFAULT)


def test_names_are_left_to_the_fetch_which_checks_the_address_it_connects_to():
    check_url("http://localhost:1/", DEFAULT)  # no DNS at this stage
    with pytest.raises(UrlRefused, match="loopback"):
        open_url("http://localhost:1/", DEFAULT, deadline=time.monotonic() + 5)


def test_open_url_fetches_from_an_allowed_address_and_reports_it():
    with tcp_server(answer(b"hello")) as url, \
            open_url(f"{url}/x", LOOPBACK_ONE, deadline=time.monotonic() + 5) as response:
        assert (response.status, response.read1(), str(response.address)) == \
            (200, b"hello", "127.0.0.1")


def test_every_redirect_is_judged_again_and_their_number_is_bounded():
    with tcp_server(answer(b"secret")) as secret:
        elsewhere = secret.replace("127.0.0.1", "127.0.0.2")
        with tcp_server(redirect_to(elsewhere)) as url, \
                pytest.raises(UrlRefused, match=r"127\.0\.0\.2 is a loopback"):
            open_url(url, LOOPBACK_ONE, deadline=time.monotonic() + 5)
    with tcp_server(redirect_to("/again")) as url, \
            pytest.raises(UrlRefused, match="more than 5 redirects"):
        open_url(url, LOOPBACK_ONE, deadline=time.monotonic() + 5)


def test_the_deadline_covers_the_whole_body():
    with tcp_server(drip(seconds=10, interval=0.2)) as url:
        started = time.monotonic()
        with pytest.raises(TimeoutError), \
                open_url(url, LOOPBACK_ONE, deadline=time.monotonic() + 1.5) as response:
            while response.read1():
                pass
    assert time.monotonic() - started < 4
