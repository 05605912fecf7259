"""The web interface over plain HTTP: sessions, CSRF, permissions, escaping, live logs."""

from __future__ import annotations

import re
import time

import requests

from tests.support import assert_valid_uws
from tests.ui.conftest import UiServer, csrf_of

XSS_MESSAGE = "<script>alert('m')</script>"
XSS_RUNID = "<img src=x onerror=alert(1)>"


def _submit(web: requests.Session, ui: UiServer, jobtype: str, data: dict[str, str]
            ) -> requests.Response:
    form = web.get(f"{ui.url}/ui/submit/{jobtype}", timeout=10)
    return web.post(f"{ui.url}/ui/submit/{jobtype}", data={**data, "csrf_token": csrf_of(
        form.text)}, allow_redirects=False, timeout=30)


def _job_id(response: requests.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return response.headers["Location"].rsplit("/", 1)[-1]


def _wait_phase(ui: UiServer, jobtype: str, job_id: str, wanted: set[str],
                timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    phase = ""
    while time.monotonic() < deadline:
        phase = requests.get(f"{ui.url}/uws/{jobtype}/{job_id}/phase", timeout=10,
                             headers=ui.bearer("ops")).text
        if phase in wanted:
            return phase
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {phase}, wanted {wanted}")


def test_a_page_without_credentials_redirects_to_sign_in_and_json_answers_401(ui_server):
    page = requests.get(f"{ui_server.url}/ui/jobs?phase=COMPLETED", allow_redirects=False,
                        timeout=10)
    assert page.status_code == 303
    assert page.headers["Location"] == "/ui/signin?next=/ui/jobs%3Fphase%3DCOMPLETED"
    poll = requests.get(f"{ui_server.url}/ui/jobs.json", timeout=10)
    assert poll.status_code == 401 and poll.json()["status"] == 401


def test_the_session_cookie_is_httponly_samesite_scoped_and_holds_no_token(ui_server):
    web = requests.Session()
    form = web.get(f"{ui_server.url}/ui/signin", timeout=10)
    response = web.post(f"{ui_server.url}/ui/signin", allow_redirects=False, timeout=10,
                        data={"token": ui_server.tokens["alice"], "next": "/ui/jobs",
                              "csrf_token": csrf_of(form.text)})
    assert response.status_code == 303 and response.headers["Location"] == "/ui/jobs"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    secret = ui_server.tokens["alice"].rsplit("_", 1)[-1]
    assert secret not in cookie
    assert web.get(f"{ui_server.url}/ui/jobs", timeout=10).status_code == 200


def test_a_wrong_token_is_refused_at_sign_in(ui_server):
    web = requests.Session()
    form = web.get(f"{ui_server.url}/ui/signin", timeout=10)
    response = web.post(f"{ui_server.url}/ui/signin", timeout=10, allow_redirects=False,
                        data={"token": "uws_0000000000000000_nope",
                              "csrf_token": csrf_of(form.text)})
    assert response.status_code == 401
    assert "not valid" in response.text
    assert web.get(f"{ui_server.url}/ui/jobs", allow_redirects=False,
                   timeout=10).status_code == 303


def test_sign_in_never_redirects_to_another_site(ui_server):
    web = requests.Session()
    for target in ("//attacker.example/", "https://attacker.example/", "/ui//attacker.example"):
        form = web.get(f"{ui_server.url}/ui/signin", timeout=10)
        response = web.post(f"{ui_server.url}/ui/signin", allow_redirects=False, timeout=10,
                            data={"token": ui_server.tokens["alice"], "next": target,
                                  "csrf_token": csrf_of(form.text)})
        assert response.headers["Location"] == "/ui/jobs", target


def test_forms_without_the_csrf_token_are_403_and_change_nothing(ui_server):
    web = ui_server.signed_in("alice")
    job_id = _job_id(_submit(web, ui_server, "sleep", {"seconds": "30", "start": "pending"}))
    for token in ({}, {"csrf_token": "forged"}):
        abort = web.post(f"{ui_server.url}/ui/jobs/{job_id}/action",
                         data={"action": "run", **token}, allow_redirects=False, timeout=10)
        assert abort.status_code == 403 and "CSRF" in abort.text
        created = web.post(f"{ui_server.url}/ui/submit/echo", data={"message": "x", **token},
                           allow_redirects=False, timeout=10)
        assert created.status_code == 403
    phase = requests.get(f"{ui_server.url}/uws/sleep/{job_id}/phase", timeout=10,
                         headers=ui_server.bearer("alice")).text
    assert phase == "PENDING"
    no_token = requests.Session()
    no_token.get(f"{ui_server.url}/ui/signin", timeout=10)
    refused = no_token.post(f"{ui_server.url}/ui/signin", timeout=10,
                            data={"token": ui_server.tokens["alice"]}, allow_redirects=False)
    assert refused.status_code == 403


def test_the_api_doors_do_not_accept_the_session_cookie(ui_server):
    web = ui_server.signed_in("alice")
    cookie = "; ".join(f"{c.name}={c.value}" for c in web.cookies)
    for method, path, data in [("GET", "/uws/echo", None), ("POST", "/uws/echo",
                                                             {"message": "csrf"}),
                               ("GET", "/api/v1/job", None), ("GET", "/v6/job-types/", None)]:
        response = requests.request(method, f"{ui_server.url}{path}", data=data, timeout=10,
                                    headers={"Cookie": cookie}, allow_redirects=False)
        assert response.status_code == 401, (method, path, response.status_code)


def test_a_bearer_header_names_the_caller_of_a_page_and_needs_no_csrf_token(ui_server):
    page = requests.get(f"{ui_server.url}/ui/admin", headers=ui_server.bearer("ops"),
                        timeout=10)
    assert page.status_code == 200 and "Dispatcher" in page.text
    created = requests.post(f"{ui_server.url}/ui/submit/echo", data={"message": "by header"},
                            headers=ui_server.bearer("bob"), allow_redirects=False, timeout=30)
    assert created.status_code == 303


def test_another_users_job_is_not_found_on_every_page_of_it(ui_server):
    alice = ui_server.signed_in("alice")
    job_id = _job_id(_submit(alice, ui_server, "echo", {"message": "mine"}))
    _wait_phase(ui_server, "echo", job_id, {"COMPLETED"})
    bob = ui_server.signed_in("bob")
    token = csrf_of(bob.get(f"{ui_server.url}/ui/jobs", timeout=10).text)
    for path in ("", "/state.json", "/logs/stdout.json", "/results/result"):
        assert bob.get(f"{ui_server.url}/ui/jobs/{job_id}{path}",
                       timeout=10).status_code == 404, path
    for action in ("abort", "delete", "resubmit"):
        response = bob.post(f"{ui_server.url}/ui/jobs/{job_id}/action", timeout=10,
                            data={"action": action, "csrf_token": token})
        assert response.status_code == 404, action
    listed = bob.get(f"{ui_server.url}/ui/jobs", timeout=10).text
    assert job_id[:12] not in listed


def test_parameters_and_run_ids_are_escaped_on_every_page(ui_server):
    web = ui_server.signed_in("alice")
    job_id = _job_id(_submit(web, ui_server, "echo", {"message": XSS_MESSAGE,
                                                      "RUNID": XSS_RUNID}))
    _wait_phase(ui_server, "echo", job_id, {"COMPLETED"})
    pages = [web.get(f"{ui_server.url}/ui/jobs/{job_id}", timeout=10).text,
             web.get(f"{ui_server.url}/ui/jobs", timeout=10).text,
             web.get(f"{ui_server.url}/ui/jobs.json", timeout=10).json()["rows"],
             *web.get(f"{ui_server.url}/ui/jobs/{job_id}/state.json",
                      timeout=10).json().values()]
    for page in pages:
        if not isinstance(page, str):
            continue
        assert XSS_MESSAGE not in page and XSS_RUNID not in page
    assert "&lt;script&gt;" in pages[0] and "&lt;img src=x" in pages[1]
    headers = web.get(f"{ui_server.url}/ui/jobs/{job_id}", timeout=10).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    result = web.get(f"{ui_server.url}/ui/jobs/{job_id}/results/result", timeout=10)
    assert result.text.strip() == XSS_MESSAGE
    assert result.headers["Content-Security-Policy"].startswith("sandbox")
    assert result.headers["X-Content-Type-Options"] == "nosniff"


def test_a_bad_value_is_shown_next_to_its_field_and_creates_no_job(ui_server):
    web = ui_server.signed_in("bob")
    before = web.get(f"{ui_server.url}/ui/jobs?type=sleep", timeout=10).text
    response = _submit(web, ui_server, "sleep", {"seconds": "soon", "RUNID": "kept"})
    assert response.status_code == 400
    error = re.search(r'<p class="field-error" id="e-seconds" role="alert">([^<]*)</p>',
                      response.text)
    assert error and "seconds: expected a number" in error.group(1)
    assert 'aria-invalid="true"' in response.text and 'value="kept"' in response.text
    after = web.get(f"{ui_server.url}/ui/jobs?type=sleep", timeout=10).text
    assert re.findall(r"\d+ jobs", before) == re.findall(r"\d+ jobs", after)
    duration = _submit(web, ui_server, "sleep", {"seconds": "1", "EXECUTIONDURATION": "-5"})
    assert duration.status_code == 400 and 'id="e-EXECUTIONDURATION"' in duration.text


def test_a_running_jobs_stdout_grows_as_a_uws_result_and_on_its_page(ui_server):
    web = ui_server.signed_in("alice")
    job_id = _job_id(_submit(web, ui_server, "sleep", {"seconds": "30"}))
    _wait_phase(ui_server, "sleep", job_id, {"EXECUTING"})
    api = f"{ui_server.url}/uws/sleep/{job_id}"
    headers = ui_server.bearer("alice")
    deadline = time.monotonic() + 30
    while True:
        results = requests.get(f"{api}/results", headers=headers, timeout=10)
        root = assert_valid_uws(results.content)
        ids = [r.get("id") for r in root]
        if "stdout" in ids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "stdout" in ids, results.text
    assert_valid_uws(requests.get(api, headers=headers, timeout=10).content)
    while True:  # the file exists from the start; the program writes its line soon after
        stdout = requests.get(f"{api}/results/stdout", headers=headers, timeout=10)
        if "sleeping 30" in stdout.text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stdout.status_code == 200 and "sleeping 30" in stdout.text
    tail = web.get(f"{ui_server.url}/ui/jobs/{job_id}/logs/stdout.json?offset=-1",
                   timeout=10).json()
    assert "sleeping 30" in tail["text"] and tail["active"] is True
    again = web.get(f"{ui_server.url}/ui/jobs/{job_id}/logs/stdout.json",
                    params={"offset": tail["offset"]}, timeout=10).json()
    assert again["text"] == "" and again["offset"] == tail["offset"]
    page = web.get(f"{ui_server.url}/ui/jobs/{job_id}", timeout=10).text
    token = csrf_of(page)
    aborted = web.post(f"{ui_server.url}/ui/jobs/{job_id}/action", allow_redirects=False,
                       data={"action": "abort", "csrf_token": token}, timeout=10)
    assert aborted.status_code == 303
    assert _wait_phase(ui_server, "sleep", job_id, {"ABORTED"}) == "ABORTED"


def test_signing_out_or_revoking_the_token_ends_the_session(ui_server):
    web = ui_server.signed_in("bob")
    token = csrf_of(web.get(f"{ui_server.url}/ui/jobs", timeout=10).text)
    out = web.post(f"{ui_server.url}/ui/signout", data={"csrf_token": token},
                   allow_redirects=False, timeout=10)
    assert out.status_code == 303
    assert web.get(f"{ui_server.url}/ui/jobs", allow_redirects=False,
                   timeout=10).status_code == 303
    admin = requests.get(f"{ui_server.url}/ui/admin", headers=ui_server.bearer("ops"),
                         timeout=10)
    created = requests.post(f"{ui_server.url}/ui/admin/tokens", headers=ui_server.bearer("ops"),
                            data={"user": "bob", "label": "short"}, timeout=10)
    assert admin.status_code == 200 and created.status_code == 201
    fresh = re.search(r'<pre id="new-token" tabindex="0">([^<]+)</pre>', created.text)
    assert fresh
    ui_server.tokens["bob-short"] = fresh.group(1)
    browser = ui_server.signed_in("bob-short")
    assert browser.get(f"{ui_server.url}/ui/jobs", timeout=10).status_code == 200
    token_id = fresh.group(1).split("_")[1]
    revoked = requests.post(f"{ui_server.url}/ui/admin/tokens/{token_id}/revoke",
                            headers=ui_server.bearer("ops"), allow_redirects=False, timeout=10)
    assert revoked.status_code == 303
    assert browser.get(f"{ui_server.url}/ui/jobs", allow_redirects=False,
                       timeout=10).status_code == 303


def test_only_admins_reach_the_admin_page_and_change_job_types(ui_server):
    bob = ui_server.signed_in("bob")
    assert bob.get(f"{ui_server.url}/ui/admin", timeout=10).status_code == 403
    token = csrf_of(bob.get(f"{ui_server.url}/ui/job-types/echo/1.0.0", timeout=10).text)
    refused = bob.post(f"{ui_server.url}/ui/job-types/echo/1.0.0", timeout=10,
                       data={"change": "pause", "csrf_token": token})
    assert refused.status_code == 403
    ops = ui_server.signed_in("ops")
    page = ops.get(f"{ui_server.url}/ui/job-types/echo/1.0.0", timeout=10)
    assert '"name": "echo"' in page.text.replace("&#34;", '"')
    for change, paused in (("pause", True), ("resume", False)):
        done = ops.post(f"{ui_server.url}/ui/job-types/echo/1.0.0", allow_redirects=False,
                        data={"change": change, "csrf_token": csrf_of(page.text)}, timeout=10)
        assert done.status_code == 303
        state = requests.get(f"{ui_server.url}/v6/job-types/echo/1.0.0/", timeout=10,
                             headers=ui_server.bearer("ops")).json()
        assert state["is_paused"] is paused


def test_uws_documents_carry_the_stylesheet_yet_validate_and_parse_in_pyvo(ui_server):
    import io

    from lxml import etree
    from pyvo.io.uws import parse_job

    headers = ui_server.bearer("alice")
    url = ui_server.server.create("echo", {"message": "styled", "PHASE": "RUN"},
                                  headers=headers)
    job_id = url.rsplit("/", 1)[-1]
    _wait_phase(ui_server, "echo", job_id, {"COMPLETED"})
    instruction = (f'<?xml-stylesheet type="text/xsl" href="{ui_server.url}/static/uws.xsl"?>'
                   .encode())
    for path in ("", "/results", "/parameters", "/../"):
        body = requests.get(f"{url}{path}" if path != "/../" else ui_server.server.list_url(),
                            headers=headers, timeout=10).content
        assert body.splitlines()[1] == instruction, path
        assert_valid_uws(body)
    document = requests.get(url, headers=headers, timeout=10).content
    job = parse_job(io.BytesIO(document))
    assert job.phase == "COMPLETED" and job.jobid == job_id
    assert [r.id_ for r in job.results][:1] == ["result"]
    sheet = requests.get(f"{ui_server.url}/static/uws.xsl", timeout=10)
    assert sheet.status_code == 200
    page = etree.XSLT(etree.fromstring(sheet.content))(etree.fromstring(document))
    links = {a.get("href") for a in page.iter("a")}
    assert f"{url}/results/result" in links and f"/ui/jobs/{job_id}" in links
    json_doc = requests.get(url, headers={**headers, "Accept": "application/json"}, timeout=10)
    assert json_doc.json()["phase"] == "COMPLETED"  # JSON is untouched
