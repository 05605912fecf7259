"""Every route by every role, over HTTP against a live server, on SQLite and PostgreSQL.

Roles: anonymous, the job's owner, another user with no grant, another user holding each
grant, and an admin. A route of the URL map without a row here fails the test, so a new
route must say who may call it. Reads use one finished job of the owner shared with every
grant holder; writes get a fresh job per request.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, own_database
from uws_server.app import create_app
from uws_server.auth.permissions import GRANT_NAMES, Permission
from uws_server.auth.users import UserService
from uws_server.config import Settings
from uws_server.db import Database, upgrade
from uws_server.identity import SYSTEM
from uws_server.services.grants import GrantService
from uws_server.wiring import bootstrap

R, W, X = Permission.READ, Permission.WRITE, Permission.EXECUTE
GRANTS = [name for name in GRANT_NAMES if name != "NONE"]
ROLES = ["anonymous", "owner", "other", "admin", *(f"grant_{g.lower()}" for g in GRANTS)]
OCPS_COMMAND = 'echo matrix > "$JOB_OUTPUT_DIR/out.txt"'
OCPS_FAILING = "echo broken >&2; exit 3"


@dataclass
class World:
    """The live server, its users' tokens, and the jobs the requests act on."""

    server: LiveServer
    db: Database
    tokens: dict[str, str]
    read_job: str  # a COMPLETED echo job of alice (results exist)
    aborted_job: str  # an ABORTED echo job of alice (an error exists)
    ocps_job: str  # a COMPLETED OCPS job of alice
    ocps_failed: str  # an OCPS job of alice in ERROR

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def share_with_everyone(self, job_id: str) -> None:
        grants = GrantService(self.db)
        for grant in GRANTS:
            grants.share(SYSTEM, job_id, f"g_{grant.lower()}", grant)


def _user_of(role: str) -> str | None:
    return {"owner": "alice", "other": "carol", "admin": "ops"}.get(
        role, role.replace("grant_", "g_") if role.startswith("grant_") else None)


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("matrix")
    with own_database(database_url, data_dir, "matrix", POSTGRES_BASE) as url:
        upgrade(url)  # users before the server starts: it never runs in anonymous mode
        db = Database(url)
        users = UserService(db)
        tokens = {}
        for role in ROLES:
            name = _user_of(role)
            if name is None:
                continue
            users.add_user(name, admin=(role == "admin"))
            tokens[role] = users.create_token(name)[1]
        with LiveServer.start(data_dir, url, UWS_OCPS_ALLOWED_COMMANDS=(
                f"{OCPS_COMMAND}\n{OCPS_FAILING}")) as server:
            owner = {"Authorization": f"Bearer {tokens['owner']}"}
            read_job = _run_to_end(server, owner, {"message": "matrix"})
            aborted = server.create("sleep", data={"seconds": "30"}, headers=owner)
            requests.post(f"{aborted}/phase", data={"PHASE": "ABORT"}, headers=owner,
                          timeout=10)
            ocps = requests.put(f"{server.url}/api/v1/job", headers=owner, timeout=30,
                                json={"command": OCPS_COMMAND, "url": "", "environment": {}})
            assert ocps.status_code == 200, ocps.text
            failing = requests.put(f"{server.url}/api/v1/job", headers=owner, timeout=30,
                                   json={"command": OCPS_FAILING, "url": ""})
            assert failing.status_code == 200, failing.text
            world = World(server, db, tokens, read_job.rsplit("/", 1)[-1],
                          aborted.rsplit("/", 1)[-1], ocps.json()["jobId"],
                          failing.json()["jobId"])
            for job_id in (world.read_job, world.aborted_job, world.ocps_job,
                           world.ocps_failed):
                world.share_with_everyone(job_id)
            base = f"{server.url}/api/v1/job"
            _wait(server, f"{base}/{world.ocps_job}/phase", owner, '"completed"')
            _wait(server, f"{base}/{world.ocps_failed}/phase", owner, '"error"')
            yield world
        db.dispose()


def _run_to_end(server: LiveServer, headers: dict[str, str], data: dict[str, str]) -> str:
    url = server.create("echo", data={**data, "PHASE": "RUN"}, headers=headers)
    _wait(server, f"{url}/phase", headers, "COMPLETED")
    return url


def _wait(server: LiveServer, phase_url: str, headers: dict[str, str], wanted: str) -> None:
    deadline = time.monotonic() + 60
    got = ""
    while time.monotonic() < deadline:
        got = requests.get(phase_url, headers=headers, timeout=10).text.strip()
        if got == wanted:
            return
        time.sleep(0.2)
    raise AssertionError(f"{phase_url}: still {got}, wanted {wanted}\n{server.log()[-3000:]}")


# -- what each route needs ----------------------------------------------------------------
Build = Callable[[World, str], tuple[str, str, dict[str, Any]]]
MANIFEST = json.loads((Path(__file__).resolve().parents[2] / "uws_server" / "jobtypes"
                       / "manifests" / "echo.json").read_text())


def _fresh_uws(world: World, role: str) -> str:
    """A new PENDING echo job of alice, shared with every grant holder."""
    url = world.server.create("echo", data={"message": "w"}, headers=world.headers("owner"))
    job_id = url.rsplit("/", 1)[-1]
    world.share_with_everyone(job_id)
    return job_id


def _fresh_ocps(world: World, role: str) -> str:
    response = requests.put(f"{world.server.url}/api/v1/job", headers=world.headers("owner"),
                            json={"command": OCPS_COMMAND, "url": "", "environment": {}},
                            timeout=30)
    assert response.status_code == 200, response.text
    job_id = response.json()["jobId"]
    world.share_with_everyone(job_id)
    return job_id


def _manifest(unique: bool) -> dict[str, Any]:
    manifest = json.loads(json.dumps(MANIFEST))
    if unique:
        manifest["job"]["name"] = f"matrix-{uuid.uuid4().hex[:8]}"
    return {"manifest": manifest, "docker_image": "matrix:1"}


@dataclass(frozen=True)
class Case:
    """How to call a route, what it needs, and what it answers when allowed."""

    needs: str  # "public", "user" (authenticated), "admin", "job", "owner" or "owned"
    build: Build
    ok: int
    bits: Permission = Permission.NONE  # for "job": the permission it needs
    anonymous: int = 401  # what a caller without credentials gets (web pages: 303 to sign in)


def uws_read(path: str, ok: int = 200, job: str = "read") -> Case:
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        if job == "aborted":
            return "GET", f"/uws/sleep/{world.aborted_job}{path}", {}
        return "GET", f"/uws/echo/{world.read_job}{path}", {}
    return Case("job", build, ok, R)


def uws_write(method: str, path: str, bits: Permission, ok: int = 303, **kwargs: Any) -> Case:
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        return method, f"/uws/echo/{_fresh_uws(world, role)}{path}", kwargs
    return Case("job", build, ok, bits)


def ocps_read(path: str, job: str = "completed") -> Case:
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        return "GET", path.format(job=world.ocps_failed if job == "error" else world.ocps_job), {}
    return Case("job", build, 200, R)


def agave_read(path: str) -> Case:
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        return "GET", f"/jobs/v2/{world.read_job}{path}", {}
    return Case("job", build, 200, R)


def agave_write(method: str, path: str, bits: Permission | None, ok: int, **kwargs: Any
                ) -> Case:
    """A write on a fresh job; ``bits=None``: the owner's (and admins') alone."""
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        return method, f"/jobs/v2/{_fresh_uws(world, role)}{path}", kwargs
    return Case("owner" if bits is None else "job", build, ok, bits or Permission.NONE)


def fixed(method: str, path: str, needs: str, ok: int, **kwargs: Any) -> Case:
    return Case(needs, lambda world, role: (method, path, kwargs), ok)


def ui_page(method: str, path: str, needs: str, ok: int, **kwargs: Any) -> Case:
    """A web-interface page: without credentials, 303 to the sign-in page."""
    return Case(needs, lambda world, role: (method, path, kwargs), ok, anonymous=303)


def ui_job(method: str, path: str, bits: Permission = R, ok: int = 200, *, fresh: bool = False,
           anonymous: int = 303, **kwargs: Any) -> Case:
    """A web-interface page of one job (the shared COMPLETED echo job, or a fresh one)."""
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        job_id = _fresh_uws(world, role) if fresh else world.read_job
        return method, f"/ui/jobs/{job_id}{path}", dict(kwargs)
    return Case("job", build, ok, bits, anonymous=anonymous)


def _spare_token(world: World) -> str:
    """A new token of carol's, for a revocation to act on."""
    return UserService(world.db).create_token("carol", label="spare")[0].token_id
def _batch_of_alice(world: World, *, fresh: bool = False) -> tuple[str, str]:
    """``(batch_id, job_id)`` of a batch of alice whose one echo job has run (made again
    when a ``DELETE /batches`` of alice removed it); ``fresh``: a new PENDING one."""
    owner = world.headers("owner")
    cached = getattr(world, "batch", None)
    if not fresh and cached is not None and requests.get(
            f"{world.server.url}/batches/{cached[0]}", headers=owner, timeout=30).ok:
        return cached
    response = requests.post(f"{world.server.url}/batches", headers=owner, timeout=30,
                             json={"tool_id": "echo", "start": not fresh,
                                   "args": [{"message": "matrix"}]})
    assert response.status_code == 201, response.text
    batch_id = response.json()["batch_id"]
    jobs = requests.get(f"{world.server.url}/batches/{batch_id}/jobs", headers=owner,
                        timeout=30).json()
    found = (batch_id, jobs[0]["job_id"])
    if not fresh:
        _wait(world.server, f"{world.server.url}/uws/echo/{found[1]}/phase", owner, "COMPLETED")
        world.batch = found  # type: ignore[attr-defined]
    return found


def ui_batch(method: str, path: str, ok: int = 200, *, fresh: bool = False,
             anonymous: int = 303, **kwargs: Any) -> Case:
    """A web-interface page of alice's batch: the owner's and admins', 404 for the rest."""
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        batch_id = _batch_of_alice(world, fresh=fresh)[0]
        return method, f"/ui/batches/{batch_id}{path}", dict(kwargs)
    return Case("owned", build, ok, anonymous=anonymous)


def batch_read(path: str) -> Case:
    def build(world: World, role: str) -> tuple[str, str, dict[str, Any]]:
        batch_id, job_id = _batch_of_alice(world)
        return "GET", f"/batches/{batch_id}{path.format(job=job_id)}", {}
    return Case("owned", build, 200)


V6 = "/v6/job-types"
CASES: dict[tuple[str, str], Case] = {
    ("root.index", "GET"): fixed("GET", "/", "public", 200),
    ("static", "GET"): Case("public", lambda w, r: ("GET", "/static/none.css", {}), 404),
    ("uws.home", "GET"): fixed("GET", "/uws", "user", 200),
    ("uws.job_list", "GET"): fixed("GET", "/uws/echo", "user", 200),
    ("uws.create_job", "POST"): fixed("POST", "/uws/echo", "user", 303,
                                      data={"message": "new"}),
    ("uws.get_job", "GET"): uws_read(""),
    ("uws.post_job", "POST"): uws_write("POST", "", W, data={"message": "changed"}),
    ("uws.delete_job", "DELETE"): uws_write("DELETE", "", W),
    ("uws.get_destruction", "GET"): uws_read("/destruction"),
    ("uws.post_destruction", "POST"): uws_write("POST", "/destruction", W,
                                                data={"DESTRUCTION": "2099-01-01T00:00:00Z"}),
    ("uws.get_error", "GET"): uws_read("/error", job="aborted"),
    ("uws.get_execution_duration", "GET"): uws_read("/executionduration"),
    ("uws.post_execution_duration", "POST"): uws_write("POST", "/executionduration", W,
                                                       data={"EXECUTIONDURATION": "60"}),
    ("uws.get_owner", "GET"): uws_read("/owner"),
    ("uws.get_parameters", "GET"): uws_read("/parameters"),
    ("uws.post_parameters", "POST"): uws_write("POST", "/parameters", W,
                                               data={"message": "p"}),
    ("uws.put_parameter", "PUT"): uws_write("PUT", "/parameters/message", W, data="put",
                                            headers={"Content-Type": "text/plain"}),
    ("uws.get_parameter", "GET"): uws_read("/parameters/message"),
    ("uws.get_phase", "GET"): uws_read("/phase"),
    ("uws.post_phase", "POST"): uws_write("POST", "/phase", X, data={"PHASE": "RUN"}),
    ("uws.get_quote", "GET"): uws_read("/quote"),
    ("uws.get_results", "GET"): uws_read("/results"),
    ("uws.get_result", "GET"): uws_read("/results/result"),
    ("ocps.create_job", "PUT"): fixed("PUT", "/api/v1/job", "user", 200,
                                      json={"command": OCPS_COMMAND, "url": ""}),
    ("ocps.list_jobs", "GET"): fixed("GET", "/api/v1/job", "user", 200),
    ("ocps.get_job", "GET"): ocps_read("/api/v1/job/{job}"),
    ("ocps.get_phase", "GET"): ocps_read("/api/v1/job/{job}/phase"),
    ("ocps.get_results", "GET"): ocps_read("/api/v1/job/{job}/results"),
    ("ocps.get_parameters", "GET"): ocps_read("/api/v1/job/{job}/parameters"),
    ("ocps.get_result", "GET"): ocps_read("/api/v1/job/result/{job}/0"),
    ("ocps.get_error", "GET"): ocps_read("/api/v1/job/{job}/error", job="error"),
    # OCPS answers a DELETE with the job object: it needs READ as well as WRITE.
    ("ocps.delete_job", "DELETE"): Case(
        "job", lambda w, r: ("DELETE", f"/api/v1/job/{_fresh_ocps(w, r)}", {}), 200, R | W),
    ("jobtypes.names", "GET"): fixed("GET", "/v6/job-type-names/", "user", 200),
    ("jobtypes.list_types", "GET"): fixed("GET", f"{V6}/", "user", 200),
    ("jobtypes.versions", "GET"): fixed("GET", f"{V6}/echo/", "user", 200),
    ("jobtypes.details", "GET"): fixed("GET", f"{V6}/echo/1.0.0/", "user", 200),
    ("jobtypes.revisions", "GET"): fixed("GET", f"{V6}/echo/1.0.0/revisions/", "user", 200),
    ("jobtypes.revision", "GET"): fixed("GET", f"{V6}/echo/1.0.0/revisions/1/", "user", 200),
    ("jobtypes.pending", "GET"): fixed("GET", f"{V6}/pending/", "user", 200),
    ("jobtypes.running", "GET"): fixed("GET", f"{V6}/running/", "user", 200),
    ("jobtypes.status", "GET"): fixed("GET", f"{V6}/status/", "user", 200),
    ("jobtypes.system_failures", "GET"): fixed("GET", f"{V6}/system-failures/", "user", 200),
    ("jobtypes.validation", "POST"): Case(
        "user", lambda w, r: ("POST", f"{V6}/validation/", {"json": _manifest(False)}), 200),
    ("jobtypes.create", "POST"): Case(
        "admin", lambda w, r: ("POST", f"{V6}/", {"json": _manifest(True)}), 201),
    ("jobtypes.edit", "PATCH"): fixed("PATCH", f"{V6}/echo/1.0.0/", "admin", 200,
                                      json={"is_paused": False}),
    # -- the web interface (/ui): header-authenticated here; without credentials a page
    # answers 303 to the sign-in page and a JSON endpoint 401. Bearer-authenticated forms
    # need no CSRF token (no cross-site page can send the header); the sign-in form does.
    ("ui.signin_form", "GET"): fixed("GET", "/ui/signin", "public", 200),
    ("ui.signin", "POST"): fixed("POST", "/ui/signin", "public", 403, data={"token": "x"}),
    ("ui.signout", "POST"): ui_page("POST", "/ui/signout", "user", 303),
    ("ui.index", "GET"): ui_page("GET", "/ui/", "user", 303),
    ("ui.jobs", "GET"): ui_page("GET", "/ui/jobs", "user", 200),
    ("ui.jobs_json", "GET"): Case("user", lambda w, r: ("GET", "/ui/jobs.json", {}), 200),
    ("ui.job", "GET"): ui_job("GET", ""),
    ("ui.job_state_json", "GET"): ui_job("GET", "/state.json", anonymous=401),
    ("ui.log_json", "GET"): ui_job("GET", "/logs/stdout.json", anonymous=401),
    ("ui.result", "GET"): ui_job("GET", "/results/result"),
    ("ui.job_action", "POST"): ui_job("POST", "/action", X, 303, fresh=True,
                                      data={"action": "run"}),
    ("ui.job_share", "POST"): Case(
        "owner", lambda w, r: ("POST", f"/ui/jobs/{_fresh_uws(w, r)}/share",
                               {"data": {"user": "carol", "permission": "READ"}}), 303,
        anonymous=303),
    ("ui.submit_pick", "GET"): ui_page("GET", "/ui/submit", "user", 200),
    ("ui.submit_form", "GET"): ui_page("GET", "/ui/submit/echo", "user", 200),
    ("ui.submit", "POST"): ui_page("POST", "/ui/submit/echo", "user", 303,
                                   data={"message": "web"}),
    ("ui.job_types", "GET"): ui_page("GET", "/ui/job-types", "user", 200),
    ("ui.job_type", "GET"): ui_page("GET", "/ui/job-types/echo/1.0.0", "user", 200),
    ("ui.job_type_state", "POST"): ui_page("POST", "/ui/job-types/echo/1.0.0", "admin", 303,
                                           data={"change": "resume"}),
    ("ui.admin", "GET"): ui_page("GET", "/ui/admin", "admin", 200),
    ("ui.admin_add_user", "POST"): Case(
        "admin", lambda w, r: ("POST", "/ui/admin/users",
                               {"data": {"name": f"web-{uuid.uuid4().hex[:8]}"}}), 303,
        anonymous=303),
    ("ui.admin_create_token", "POST"): ui_page("POST", "/ui/admin/tokens", "admin", 201,
                                               data={"user": "carol", "label": "matrix"}),
    ("ui.admin_revoke_token", "POST"): Case(
        "admin", lambda w, r: ("POST", f"/ui/admin/tokens/{_spare_token(w)}/revoke", {}), 303,
        anonymous=303),
    ("ui.admin_set_quota", "POST"): ui_page("POST", "/ui/admin/quotas", "admin", 303,
                                            data={"user": "carol", "quota": "active_jobs"}),
    # OpenAPI door: the description and its browsable UI, public
    ("uws.get_parameter_indexed", "GET"): uws_read("/parameters/message/0"),
    ("openapi.spec", "GET"): fixed("GET", "/openapi.json", "public", 200),
    ("openapi.docs", "GET"): fixed("GET", "/docs", "public", 200),
    ("openapi.docs_asset", "GET"): fixed("GET", "/docs/assets/swagger-ui.css", "public", 200),
    # The batch door (/batches): a batch is its owner's (and admins'); never shared.
    ("batches.list_batches", "GET"): fixed("GET", "/batches", "user", 200),
    ("batches.create_batch", "POST"): fixed("POST", "/batches", "user", 201, json={
        "tool_id": "echo", "start": False, "args": [{"message": "matrix"}]}),
    ("batches.delete_batches", "DELETE"): fixed("DELETE", "/batches", "user", 200),
    ("batches.get_batch", "GET"): batch_read(""),
    ("batches.list_jobs", "GET"): batch_read("/jobs"),
    ("batches.get_job", "GET"): batch_read("/jobs/{job}"),
    ("batches.get_log", "GET"): batch_read("/jobs/{job}/log"),
    ("batches.delete_batch", "DELETE"): Case(
        "owned", lambda w, r: ("DELETE", f"/batches/{_batch_of_alice(w, fresh=True)[0]}", {}),
        204),
    # -- the Agave jobs API, /jobs/v2 (agave) ------------------------------------------------
    ("agave.list_jobs", "GET"): fixed("GET", "/jobs/v2/", "user", 200),
    ("agave.search_jobs", "GET"): fixed("GET", "/jobs/v2/status/FINISHED", "user", 200),
    ("agave.submit", "POST"): fixed("POST", "/jobs/v2/", "user", 201, json={
        "name": "matrix", "appId": "echo-1.0.0", "parameters": {"message": "m"}}),
    ("agave.get_job", "GET"): agave_read(""),
    ("agave.get_status", "GET"): agave_read("/status"),
    ("agave.get_history", "GET"): agave_read("/history"),
    ("agave.list_permissions", "GET"): agave_read("/pems"),
    ("agave.get_permission", "GET"): agave_read("/pems/alice"),
    ("agave.list_outputs_top", "GET"): agave_read("/outputs/listings"),
    ("agave.list_outputs", "GET"): agave_read("/outputs/listings/result.txt"),
    ("agave.download_output", "GET"): agave_read("/outputs/media/result.txt"),
    # A stop answers with the job: it needs READ as well as EXECUTE.
    ("agave.manage", "POST"): agave_write("POST", "", R | X, 200, json={"action": "stop"}),
    ("agave.delete_job", "DELETE"): agave_write("DELETE", "", W, 200),
    # Sharing is the owner's (and admins'): a grant holder sees the job but may not share it.
    ("agave.update_permissions", "POST"): agave_write(
        "POST", "/pems", None, 200, json={"username": "carol", "permission": "READ"}),
    ("agave.delete_permissions", "DELETE"): agave_write("DELETE", "/pems", None, 200),
    ("agave.update_permission", "POST"): agave_write("POST", "/pems/carol", None, 200,
                                                     json={"permission": "READ"}),
    ("agave.delete_permission", "DELETE"): agave_write("DELETE", "/pems/g_read", None, 200),
    # operations door (OPS): probes, metrics (guarded by network/token, not users), VOSI
    ("health.health", "GET"): fixed("GET", "/health", "public", 200),
    ("health.ready", "GET"): fixed("GET", "/ready", "public", 200),
    ("metrics.metrics", "GET"): fixed("GET", "/metrics", "public", 200),
    ("vosi.capabilities", "GET"): fixed("GET", "/capabilities", "user", 200),
    ("vosi.availability", "GET"): fixed("GET", "/availability", "public", 200),
    ("vosi.uws_capabilities", "GET"): fixed("GET", "/uws/capabilities", "user", 200),
    ("vosi.uws_availability", "GET"): fixed("GET", "/uws/availability", "public", 200),
    # -- the web interface's batch pages and the submit form's sweep (uibatch) ---------------
    ("ui.batches", "GET"): ui_page("GET", "/ui/batches", "user", 200),
    ("ui.batch", "GET"): ui_batch("GET", ""),
    ("ui.batch_state_json", "GET"): ui_batch("GET", "/state.json", anonymous=401),
    ("ui.batch_action", "POST"): ui_batch("POST", "/action", 303, fresh=True,
                                          data={"action": "abort"}),
}


def expected(case: Case, role: str) -> int:
    """The status ``role`` must get from ``case``."""
    if case.needs == "public":
        return case.ok
    if role == "anonymous":
        return case.anonymous
    if case.needs == "user":
        return case.ok
    if case.needs == "admin":
        return case.ok if role == "admin" else 403
    if case.needs == "owned":  # the owner's and admins'; 404 for everybody else
        return case.ok if role in ("owner", "admin") else 404
    if role in ("owner", "admin"):
        return case.ok
    if role == "other":
        return 404
    if case.needs == "owner":  # only the owner (or an admin): grant holders see it, 403
        return 403
    held = GRANT_NAMES[role.removeprefix("grant_").upper()]
    return case.ok if case.bits & held == case.bits else 403


def _routes(data_dir: Path) -> set[tuple[str, str]]:
    """``(endpoint, method)`` of every rule of the real application's URL map."""
    settings = Settings(data_dir=data_dir)
    bootstrap(settings)
    app = create_app(settings)
    routes = set()
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint.removesuffix("_noslash")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes.add((endpoint, method))
    return routes


def test_every_route_has_a_row_in_the_matrix(tmp_path):
    routes = _routes(tmp_path)
    missing = routes - set(CASES)
    assert not missing, f"routes without a row in the role matrix: {sorted(missing)}"
    assert not set(CASES) - routes, "rows for routes that no longer exist"


@pytest.mark.parametrize("role", ROLES)
def test_each_route_answers_each_role_as_the_policy_says(world, role):
    failures = []
    for (endpoint, _method), case in sorted(CASES.items()):
        verb, path, kwargs = case.build(world, role)
        headers = {**kwargs.pop("headers", {}), **world.headers(role)}
        response = requests.request(verb, world.server.url + path, headers=headers,
                                    allow_redirects=False, timeout=30, **kwargs)
        want = expected(case, role)
        if response.status_code != want:
            failures.append(f"{endpoint} {verb} {path}: {response.status_code} "
                            f"(wanted {want}): {response.text[:120]!r}")
        if response.status_code == 401:
            assert "Bearer" in response.headers.get("WWW-Authenticate", ""), endpoint
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_lists_show_exactly_the_jobs_the_role_may_read(world, role):
    headers = world.headers(role)
    uws = requests.get(f"{world.server.url}/uws/echo", headers={**headers,
                       "Accept": "application/json"}, timeout=30)
    ocps = requests.get(f"{world.server.url}/api/v1/job", headers=headers, timeout=30)
    if role == "anonymous":
        assert (uws.status_code, ocps.status_code) == (401, 401)
        return
    listed = {ref["id"] for ref in uws.json()["jobs"]}
    listed_ocps = {doc["jobId"] for doc in ocps.json()}
    may_read = role in ("owner", "admin") or (
        role.startswith("grant_") and GRANT_NAMES[role[6:].upper()] & R)
    assert (world.read_job in listed) == bool(may_read)
    assert (world.ocps_job in listed_ocps) == bool(may_read)
