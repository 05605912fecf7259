"""The shortest whole lifecycle against a live server: create, run, wait, fetch, delete."""

import requests

from tests.support import NS, assert_valid_uws


def test_echo_job_runs_to_completed_and_serves_its_message(server):
    job = server.create("echo", {"message": "hello world", "PHASE": "RUN"})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    root = assert_valid_uws(requests.get(job, timeout=10).content)
    hrefs = {r.get("id"): r.get(f"{{{NS['xlink']}}}href")
             for r in root.iterfind(".//uws:result", NS)}
    assert requests.get(hrefs["result"], timeout=10).text == "hello world"
    response = requests.delete(job, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert response.headers["Location"] == server.list_url("echo")
    assert requests.get(job, timeout=10).status_code == 404
