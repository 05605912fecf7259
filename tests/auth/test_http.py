"""Authentication as real clients use it, over HTTP: pyvo with a bearer token or Basic auth,
curl with -H and -u, quotas (429), restricted job types, a trusted proxy, bad credentials."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, own_database
from uws_server.auth.users import UserService
from uws_server.db import Database, upgrade

pyvo = pytest.importorskip("pyvo")
from pyvo.dal import AsyncTAPJob  # noqa: E402


@dataclass
class AuthServer:
    """A live server with users alice (quota: 1 active job), bob, and ops (admin)."""

    server: LiveServer
    db: Database
    alice: str
    bob: str
    ops: str
    alice_token_id: str


@pytest.fixture(scope="module")
def auth(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    data_dir = tmp_path_factory.mktemp("auth")
    with own_database(database_url, data_dir, "auth", POSTGRES_BASE) as url:
        upgrade(url)
        db = Database(url)
        users = UserService(db)
        users.add_user("alice")
        users.add_user("bob", groups=("survey",))
        users.add_user("ops", admin=True)
        users.set_quota("alice", "active_jobs", 1)
        alice_info, alice = users.create_token("alice")
        with LiveServer.start(data_dir, url, UWS_TRUSTED_PROXY_HEADER="X-Auth-Request-User",
                              UWS_TRUSTED_PROXIES="127.0.0.1/32") as server:
            yield AuthServer(server, db, alice, users.create_token("bob")[1],
                             users.create_token("ops")[1], alice_info.token_id)
        db.dispose()


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_pyvo_drives_a_job_with_a_bearer_token_in_its_session(auth):
    session = _session(auth.bob)
    response = session.post(f"{auth.server.url}/uws/echo", data={"message": "bearer"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303
    job = AsyncTAPJob(response.headers["Location"], session=session)
    assert job.owner == "bob"
    job.run()
    job.wait(timeout=60)
    assert job.phase == "COMPLETED"
    assert session.get(job.result_uri, timeout=10).text == "bearer"
    assert requests.get(job.url, timeout=10).status_code == 401  # no credentials
    job.delete()


def test_pyvo_drives_a_job_with_basic_auth_and_the_token_as_password(auth):
    session = requests.Session()
    session.auth = ("bob", auth.bob)
    url = session.post(f"{auth.server.url}/uws/echo", data={"message": "basic"},
                       allow_redirects=False, timeout=10).headers["Location"]
    job = AsyncTAPJob(url, session=session)
    job.run()
    job.wait(timeout=60)
    assert job.phase == "COMPLETED"
    job.delete()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_a_bearer_header_and_with_u(auth):
    base = f"{auth.server.url}/uws/echo"
    for options in (["-H", f"Authorization: Bearer {auth.bob}"], ["-u", f"bob:{auth.bob}"]):
        done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               *options, base], capture_output=True, text=True, timeout=30)
        assert done.stdout == "200", options
    done = subprocess.run(["curl", "-s", "-i", base], capture_output=True, text=True,
                          timeout=30)
    assert done.stdout.startswith("HTTP/1.1 401")
    assert 'WWW-Authenticate: Bearer realm="uws-server"' in done.stdout


def test_another_users_job_does_not_exist_for_them(auth):
    url = _session(auth.alice).post(f"{auth.server.url}/uws/echo", data={"message": "mine"},
                                    allow_redirects=False, timeout=10).headers["Location"]
    assert _session(auth.bob).get(url, timeout=10).status_code == 404
    assert _session(auth.ops).get(url, timeout=10).status_code == 200  # admins see all
    listed = _session(auth.bob).get(f"{auth.server.url}/uws/echo", timeout=10).text
    assert url.rsplit("/", 1)[-1] not in listed
    assert _session(auth.alice).delete(url, timeout=10, allow_redirects=False
                                       ).status_code == 303


def test_over_the_active_jobs_quota_is_a_429_and_nothing_is_written(auth):
    alice = _session(auth.alice)
    first = alice.post(f"{auth.server.url}/uws/sleep", data={"seconds": "30", "PHASE": "RUN"},
                       allow_redirects=False, timeout=10)
    assert first.status_code == 303
    before = alice.get(f"{auth.server.url}/uws/sleep", timeout=10).text.count("<uws:jobref")
    second = alice.post(f"{auth.server.url}/uws/sleep", data={"seconds": "30", "PHASE": "RUN"},
                        allow_redirects=False, timeout=10)
    assert second.status_code == 429
    assert second.text.strip() == "quota: alice has 1 active jobs; the limit is 1"
    after = alice.get(f"{auth.server.url}/uws/sleep", timeout=10).text.count("<uws:jobref")
    assert after == before
    pending = alice.post(f"{auth.server.url}/uws/sleep", data={"seconds": "1"},
                         allow_redirects=False, timeout=10).headers["Location"]
    assert alice.post(f"{pending}/phase", data={"PHASE": "RUN"}, allow_redirects=False,
                      timeout=10).status_code == 429
    alice.delete(pending, timeout=10)
    alice.delete(first.headers["Location"], timeout=10)


def test_a_restricted_job_type_refuses_others_naming_it(auth):
    ops = _session(auth.ops)
    response = ops.patch(f"{auth.server.url}/v6/job-types/wordcount/1.0.0/",
                         json={"configuration": {"allowed_groups": ["survey"]}}, timeout=10)
    assert response.status_code == 200, response.text
    try:
        refused = _session(auth.alice).post(f"{auth.server.url}/uws/wordcount",
                                            files={"input": ("a.txt", b"a b")},
                                            allow_redirects=False, timeout=10)
        assert refused.status_code == 403 and "wordcount" in refused.text
        allowed = _session(auth.bob).post(f"{auth.server.url}/uws/wordcount",
                                          files={"input": ("a.txt", b"a b")},
                                          allow_redirects=False, timeout=10)
        assert allowed.status_code == 303
        _session(auth.bob).delete(allowed.headers["Location"], timeout=10)
    finally:
        ops.patch(f"{auth.server.url}/v6/job-types/wordcount/1.0.0/",
                  json={"configuration": {}}, timeout=10)


def test_a_trusted_proxy_names_the_user(auth):
    response = requests.post(f"{auth.server.url}/uws/echo", data={"message": "proxied"},
                             headers={"X-Auth-Request-User": "bob"}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 303
    owner = _session(auth.bob).get(f"{response.headers['Location']}/owner", timeout=10)
    assert owner.text == "bob"
    bad = requests.get(f"{auth.server.url}/uws/echo",
                       headers={"X-Auth-Request-User": "no spaces allowed"}, timeout=10)
    assert bad.status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer uws_0123456789abcdef_" + "x" * 43,
                                    "Basic ???", "Token abc", "Basic Ym9i"])
def test_bad_credentials_are_a_401_with_one_line_on_every_door(auth, header):
    for path in ("/uws/echo", "/v6/job-types/", "/api/v1/job"):
        response = requests.get(auth.server.url + path, headers={"Authorization": header},
                                timeout=10)
        assert response.status_code == 401, path
        assert "Traceback" not in response.text and response.text.count("\n") <= 1
        assert "Basic" in response.headers["WWW-Authenticate"]


def test_a_revoked_token_is_refused(auth):
    users = UserService(auth.db)
    info, token = users.create_token("bob", label="short-lived")
    assert _session(token).get(f"{auth.server.url}/uws", timeout=10).status_code == 200
    users.revoke_token(info.token_id)
    time.sleep(10.5)  # other processes trust a checked token for 10 s
    assert _session(token).get(f"{auth.server.url}/uws", timeout=10).status_code == 401


def test_registry_changes_record_who_made_them_and_status_counts_only_visible_jobs(auth):
    ops = _session(auth.ops)
    changed = ops.patch(f"{auth.server.url}/v6/job-types/echo/1.0.0/",
                        json={"docker_image": f"echo:{uuid.uuid4().hex[:6]}"}, timeout=10)
    assert changed.status_code == 200, changed.text
    revisions = ops.get(f"{auth.server.url}/v6/job-types/echo/1.0.0/revisions/",
                        timeout=10).json()["results"]
    newest = max(revisions, key=lambda r: r["revision_num"])
    assert newest["created_by"] == "ops"
    running = _session(auth.bob).post(f"{auth.server.url}/uws/sleep",
                                      data={"seconds": "20", "PHASE": "RUN"},
                                      allow_redirects=False, timeout=10).headers["Location"]
    try:
        def counted(token: str) -> int:
            status = _session(token).get(f"{auth.server.url}/v6/job-types/status/",
                                         timeout=10).json()["results"]
            return sum(c["count"] for entry in status if entry["job_type"]["name"] == "sleep"
                       for c in entry["job_counts"])
        assert counted(auth.bob) >= 1 and counted(auth.ops) >= 1
        assert counted(auth.alice) == 0 or counted(auth.alice) < counted(auth.ops)
    finally:
        _session(auth.bob).delete(running, timeout=10)
