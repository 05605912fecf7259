"""Users and API tokens on a real database: issued once, stored hashed, revocable, expiring."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from uws_server.auth.tokens import parse_token
from uws_server.auth.users import UserService
from uws_server.errors import Conflict, InvalidParameter, ResourceNotFound
from uws_server.models import ApiToken
from uws_server.timeutil import utcnow


@pytest.fixture
def users(components):
    return UserService(components.db)


def test_a_token_identifies_its_user_with_roles_and_groups(users):
    users.add_user("alice", admin=False, groups=("survey", "ops"))
    info, token = users.create_token("alice", label="laptop")
    identity = users.identify(token)
    assert identity is not None
    assert identity.name == "alice" and not identity.is_admin
    assert identity.groups == frozenset({"survey", "ops"})
    assert info.label == "laptop" and info.is_active


def test_only_a_hash_of_the_secret_is_stored(users, components):
    users.add_user("bob")
    _, token = users.create_token("bob")
    secret = parse_token(token).secret
    with components.db.read() as session:
        stored = session.scalars(select(ApiToken)).one()
        assert secret not in stored.secret_hash and token not in stored.secret_hash
        assert len(stored.secret_hash) == 64


def test_a_wrong_secret_with_a_real_token_id_is_refused(users):
    users.add_user("carol")
    _, token = users.create_token("carol")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert users.identify(forged) is None
    assert users.identify("uws_not-a-token") is None
    assert users.identify("") is None


def test_a_revoked_token_stops_working_at_once_in_this_process(users):
    users.add_user("dave")
    info, token = users.create_token("dave")
    assert users.identify(token) is not None  # now cached
    users.revoke_token(info.token_id)
    assert users.identify(token) is None
    assert not users.list_tokens("dave")[0].is_active


def test_an_expired_token_is_refused(users, components):
    users.add_user("erin")
    info, token = users.create_token("erin", expires_days=1)
    with components.db.write() as session:
        session.execute(update(ApiToken).where(ApiToken.id == info.token_id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert users.identify(token) is None


def test_use_of_a_token_is_recorded(users):
    users.add_user("frank")
    _, token = users.create_token("frank")
    assert users.list_tokens("frank")[0].last_used is None
    users.identify(token)
    assert users.list_tokens("frank")[0].last_used is not None


@pytest.mark.parametrize("name", ["", "-dash", "a b", "x" * 65, "semi;colon", "ünïcode", "a/b"])
def test_odd_user_names_are_refused_with_what_is_allowed(users, name):
    with pytest.raises(InvalidParameter, match="user name"):
        users.add_user(name)
    assert users.list_users() == []


def test_a_taken_name_is_a_conflict_and_unknown_users_get_no_token(users):
    users.add_user("gina")
    with pytest.raises(Conflict):
        users.add_user("gina")
    with pytest.raises(ResourceNotFound):
        users.create_token("nobody")


def test_quota_overrides_are_kept_per_user_and_can_go_back_to_default(users):
    users.add_user("hank")
    users.set_quota("hank", "active_jobs", 3)
    assert users.get_user("hank").quotas == {"active_jobs": 3}
    users.set_quota("hank", "active_jobs", None)
    assert users.get_user("hank").quotas == {}
    with pytest.raises(InvalidParameter):
        users.set_quota("hank", "cpu_hours", 3)
