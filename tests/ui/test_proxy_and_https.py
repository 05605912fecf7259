"""A trusted proxy signs browsers in; https sessions get a Secure cookie (in-process)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.conftest import csrf_of
from uws_server.wiring import Components

PROXY = "X-Auth-Request-User"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"trusted_proxy_header": PROXY, "trusted_proxies": "127.0.0.1/32"}


def test_the_trusted_proxys_user_needs_no_sign_in_and_forms_still_need_the_csrf_token(
        client, components: Components):
    components.users.add_user("carol")
    named = {PROXY: "carol"}
    page = client.get("/ui/submit/echo", headers=named)
    assert page.status_code == 200 and "carol" in page.text
    refused = client.post("/ui/submit/echo", headers=named, data={"message": "no token"})
    assert refused.status_code == 403
    created = client.post("/ui/submit/echo", headers=named,
                          data={"message": "by proxy", "csrf_token": csrf_of(page.text)})
    assert created.status_code == 303 and created.headers["Location"].startswith("/ui/jobs/")
    job = client.get(created.headers["Location"], headers=named)
    assert job.status_code == 200 and "by proxy" in job.text


def test_the_proxy_header_from_an_untrusted_address_is_ignored(client, components):
    components.users.add_user("carol")
    page = client.get("/ui/jobs", headers={PROXY: "carol"},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert page.status_code == 303 and page.headers["Location"].startswith("/ui/signin")


def test_a_session_over_https_has_a_secure_cookie(client, components):
    components.users.add_user("dave")
    _, token = components.users.create_token("dave")
    form = client.get("/ui/signin", base_url="https://localhost")
    signed = client.post("/ui/signin", base_url="https://localhost",
                         data={"token": token, "csrf_token": csrf_of(form.text)})
    assert signed.status_code == 303
    cookie = signed.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
