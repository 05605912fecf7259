"""One access rule: the SQL filter of lists and the Python check of a single job agree."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from uws_server.auth import policy
from uws_server.auth.permissions import GRANT_NAMES, Permission, parse_permission
from uws_server.auth.users import UserService
from uws_server.errors import InvalidParameter, JobNotFound, PermissionDenied
from uws_server.identity import ANONYMOUS, ANONYMOUS_READER, Identity
from uws_server.models import Job, JobEvent, JobGrant
from uws_server.services.grants import GrantService

ADMIN = Identity(name="root", roles=frozenset({"admin"}))


@pytest.fixture
def world(components):
    """Jobs of alice, bob and anonymous mode, and alice's job shared with bob in each way."""
    users = UserService(components.db)
    for name in ("alice", "bob", "carol"):
        users.add_user(name)
    jobs = {}
    for owner in ("alice", "bob", None):
        identity = Identity(name=owner) if owner else ANONYMOUS
        jobs[owner] = components.jobs.create(identity, "echo", [("message", "hi")], {}).id
    shared = {}
    grants = GrantService(components.db)
    for name in GRANT_NAMES:
        job_id = components.jobs.create(Identity(name="alice"), "echo",
                                        [("message", name)], {}).id
        grants.share(Identity(name="alice"), job_id, "bob", name)
        shared[name] = job_id
    return components, jobs, shared


def _python_view(components, identity):
    with components.db.read() as session:
        rows = session.execute(select(Job.id, Job.owner_id, JobGrant.permission)
                               .outerjoin(JobGrant, (JobGrant.job_id == Job.id)
                                          & (JobGrant.username == (identity.name or "")))).all()
    return {row.id for row in rows
            if policy.permission_on(identity, row.owner_id, row.permission) & Permission.READ}


def _sql_view(components, identity):
    with components.db.read() as session:
        return set(session.scalars(select(Job.id).where(policy.readable(identity))))


@pytest.mark.parametrize("identity", [Identity(name="alice"), Identity(name="bob"),
                                      Identity(name="carol"), ADMIN, ANONYMOUS,
                                      ANONYMOUS_READER], ids=str)
def test_the_list_filter_and_the_single_job_check_agree(world, identity):
    components, _, _ = world
    assert _sql_view(components, identity) == _python_view(components, identity)


def test_each_grant_gives_exactly_its_bits(world):
    components, _, shared = world
    bob = Identity(name="bob")
    readable = _sql_view(components, bob)
    for name, job_id in shared.items():
        bits = GRANT_NAMES[name]
        assert (job_id in readable) == bool(bits & Permission.READ), name
        with components.db.read() as session:
            granted = session.scalar(select(JobGrant.permission).where(
                JobGrant.job_id == job_id, JobGrant.username == "bob"))
        assert policy.permission_on(bob, "alice", granted) == bits, name


def test_no_bits_means_not_found_and_missing_bits_mean_forbidden(world):
    with pytest.raises(JobNotFound):
        policy.require(Identity(name="carol"), "alice", None, Permission.READ, what="job x")
    with pytest.raises(PermissionDenied, match=r"READ.*needs WRITE"):
        policy.require(Identity(name="bob"), "alice", int(Permission.READ), Permission.WRITE,
                       what="job x")


def test_only_the_owner_shares_and_every_grant_is_in_the_history(world):
    components, jobs, shared = world
    grants = GrantService(components.db)
    with pytest.raises(PermissionDenied):
        grants.share(Identity(name="bob"), shared["ALL"], "carol", "READ")
    with pytest.raises(JobNotFound):
        grants.share(Identity(name="carol"), jobs["alice"], "carol", "READ")
    with pytest.raises(InvalidParameter):
        grants.share(Identity(name="alice"), jobs["alice"], "alice", "READ")
    with pytest.raises(InvalidParameter):
        grants.share(Identity(name="alice"), jobs["alice"], "bob", "SUPERUSER")
    grants.share(Identity(name="alice"), jobs["alice"], "carol", "READ")
    grants.share(Identity(name="alice"), jobs["alice"], "carol", "")
    with components.db.read() as session:
        notes = list(session.scalars(select(JobEvent.note).where(
            JobEvent.job_id == jobs["alice"], JobEvent.kind == "grant").order_by(JobEvent.id)))
    assert notes == ["carol: READ", "carol: NONE"]
    assert [g.username for g in grants.list(Identity(name="alice"), jobs["alice"])] == ["alice"]


@pytest.mark.parametrize("text,bits", [(n, b) for n, b in GRANT_NAMES.items()]
                         + [("read_write", Permission.READ | Permission.WRITE), ("", 0)])
def test_grant_names_parse_in_any_case(text, bits):
    assert parse_permission(text) == bits


def test_every_combination_of_bits_has_a_name():
    for combo in itertools.product([0, 1], repeat=3):
        bits = combo[0] * 1 + combo[1] * 2 + combo[2] * 4
        assert policy.permission_on(Identity(name="x"), "y", bits) == bits
