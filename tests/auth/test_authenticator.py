"""Credentials to identities: Bearer, Basic, a trusted proxy, and the anonymous modes."""

from __future__ import annotations

import base64

import pytest

from uws_server.auth.authenticator import Authenticator
from uws_server.auth.users import UserService
from uws_server.errors import NotAuthenticated


@pytest.fixture
def users(components):
    return UserService(components.db)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_user_yet_means_the_anonymous_operator_of_the_embedded_default(users):
    identity = Authenticator(users).identify({}, "127.0.0.1")
    assert identity.is_admin and identity.name is None


def test_once_a_user_exists_credentials_are_required(users):
    users.add_user("alice")
    with pytest.raises(NotAuthenticated, match="credentials required"):
        Authenticator(users).identify({}, "127.0.0.1")


def test_bearer_and_basic_with_the_token_as_password_identify_the_user(users):
    users.add_user("alice")
    _, token = users.create_token("alice")
    auth = Authenticator(users)
    assert auth.identify({"Authorization": f"Bearer {token}"}, None).name == "alice"
    assert auth.identify({"Authorization": _basic("alice", token)}, None).name == "alice"
    with pytest.raises(NotAuthenticated, match="owner"):
        auth.identify({"Authorization": _basic("mallory", token)}, None)


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic !!!", "Basic " + "YWxpY2U=",
                                    "Digest abc", "Negotiate", "Bearer uws_0000_nothing", ""])
def test_malformed_or_unknown_credentials_are_refused_with_a_reason(users, header):
    users.add_user("alice")
    with pytest.raises(NotAuthenticated) as caught:
        Authenticator(users).identify({"Authorization": header}, None)
    assert caught.value.message and "\n" not in caught.value.message


def test_a_proxy_header_counts_only_from_a_trusted_address(users):
    users.add_user("root-admin", admin=True)
    auth = Authenticator(users, proxy_header="X-Auth-Request-User",
                         trusted_proxies="10.0.0.0/8")
    headers = {"X-Auth-Request-User": "root-admin"}
    identity = auth.identify(headers, "10.1.2.3")
    assert identity.name == "root-admin" and identity.is_admin
    with pytest.raises(NotAuthenticated):
        auth.identify(headers, "127.0.0.1")  # not a trusted proxy: header ignored
    assert auth.identify({"X-Auth-Request-User": "newcomer"}, "10.0.0.1").name == "newcomer"
    with pytest.raises(NotAuthenticated):
        auth.identify({"X-Auth-Request-User": "bad name"}, "10.0.0.1")


def test_anonymous_modes(users):
    users.add_user("alice")
    assert Authenticator(users, anonymous="read").identify({}, None).read_only
    writer = Authenticator(users, anonymous="write").identify({}, None)
    assert writer.name is None and not writer.read_only and not writer.is_admin
    with pytest.raises(NotAuthenticated):
        Authenticator(users, anonymous="none").identify({}, None)
