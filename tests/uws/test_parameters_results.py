"""Parameters, uploads and results: conformance items 6, 70-74, pitfalls P4, P5, P21, P22."""

from __future__ import annotations

import functools
import http.client
import http.server
import threading
from urllib.parse import urlsplit

import pytest
import requests

from tests.support import NS, assert_valid_uws, get_job_xml, job_dirs, job_id_of, list_job_ids

XLINK_HREF = f"{{{NS['xlink']}}}href"


def _results(job_url):
    return {r.get("id"): r for r in get_job_xml(job_url).iterfind("uws:results/uws:result", NS)}


def _params(root):
    """``(id, byReference, text)`` of a job document's or parameters document's parameters."""
    path = "uws:parameter" if root.tag == f"{{{NS['uws']}}}parameters" else \
        "uws:parameters/uws:parameter"
    return [(p.get("id"), p.get("byReference"), p.text) for p in root.iterfind(path, NS)]


def _raw_get(url_prefix, raw_path):
    """GET a path exactly as written (requests would normalise ``..`` away)."""
    parts = urlsplit(url_prefix)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + raw_path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def file_host(tmp_path_factory):
    """A tiny HTTP server on 127.0.0.1 serving files from a temporary directory."""
    root = tmp_path_factory.mktemp("served")
    (root / "remote.txt").write_text("alpha beta gamma delta\n", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_parameters_document_is_valid_and_lists_the_values(server):
    job = server.create("echo", {"message": "a <b> & 'c' \"d\" é"})
    response = requests.get(f"{job}/parameters", timeout=10)
    assert response.status_code == 200
    root = assert_valid_uws(response.content)
    assert root.tag == f"{{{NS['uws']}}}parameters"
    assert _params(root) == [("message", None, "a <b> & 'c' \"d\" é")]
    assert _params(get_job_xml(job)) == _params(root)


def test_a_single_parameter_is_served_as_its_value(server):
    job = server.create("echo", {"message": "just this"})
    response = requests.get(f"{job}/parameters/message", timeout=10)
    assert response.status_code == 200
    assert response.text == "just this"


def test_parameter_names_are_case_insensitive_and_kept_as_declared(server):
    job = server.create("echo", {"MESSAGE": "upper"})
    assert _params(get_job_xml(job)) == [("message", None, "upper")]
    assert requests.get(f"{job}/parameters/MESSAGE", timeout=10).text == "upper"


def test_an_unknown_parameter_resource_is_404(server):
    job = server.create("echo", {"message": "x"})
    assert requests.get(f"{job}/parameters/nothing", timeout=10).status_code == 404


def test_numbers_are_stored_as_given_numbers(server, cleanup):
    job = server.create("sleep", {"seconds": "0.5"})
    cleanup.append(job)
    (name, by_ref, value), = _params(get_job_xml(job))
    assert (name, by_ref) == ("seconds", None)
    assert float(value) == 0.5


def test_upload_as_a_multipart_part_named_after_the_input(server, text_file):
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    root = get_job_xml(job)
    assert _params(root) == [("input", "true", f"{job}/parameters/input")]
    assert requests.get(f"{job}/parameters/input", timeout=10).content == text_file.read_bytes()
    assert requests.get(_results(job)["result"].get(XLINK_HREF), timeout=10).text.strip() == "5"
    info = root.find("uws:jobInfo", NS)
    assert info is not None and '"words":5' in "".join(info.itertext()).replace(" ", "")


def test_upload_by_param_reference_to_another_part(server, text_file):
    """Item 6: ``input=param:f1`` with a part ``f1``, as pyvo's uploads do."""
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {"input": "param:f1", "PHASE": "RUN"},
                            files={"f1": ("words.txt", handle, "text/plain")})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    body = requests.get(job, timeout=10).content
    assert (f'<uws:parameter id="input" byReference="true">{job}/parameters/input'
            f"</uws:parameter>").encode() in body
    fetched = requests.get(f"{job}/parameters/input", timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == text_file.read_bytes()


def test_param_reference_to_a_missing_part_is_400_and_creates_nothing(server):
    before = job_dirs(server.data_dir)
    count = len(list_job_ids(server.list_url("wordcount")))
    response = requests.post(server.list_url("wordcount"), data={"input": "param:nope"},
                             files={"other": ("x.txt", b"x")}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 400
    assert "input" in response.text
    assert job_dirs(server.data_dir) <= before
    assert len(list_job_ids(server.list_url("wordcount"))) == count


def test_upload_by_url_is_fetched_by_the_service(server, file_host):
    url = f"{file_host}/remote.txt"
    job = server.create("wordcount", {"input": url, "PHASE": "RUN"})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    assert requests.get(_results(job)["result"].get(XLINK_HREF), timeout=10).text.strip() == "4"
    (name, by_ref, value), = _params(get_job_xml(job))
    assert (name, by_ref) == ("input", "true")
    assert requests.get(value, timeout=10).text == "alpha beta gamma delta\n"


def test_an_unreachable_input_url_makes_the_job_error(server, file_host):
    job = server.create("wordcount", {"input": f"{file_host}/missing.txt", "PHASE": "RUN"})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "ERROR"
    summary = get_job_xml(job).find("uws:errorSummary", NS)
    assert summary is not None
    assert "input" in summary.find("uws:message", NS).text


def test_a_client_file_name_cannot_escape_the_job_directory(server, text_file, tmp_path):
    job_root = server.data_dir / "jobs"
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {"input": "param:f1"},
                            files={"f1": ("../../../../etc/passwd", handle, "text/plain")})
    job_dir = (job_root / job_id_of(job)).resolve()
    stored = [p for p in job_dir.rglob("*") if p.is_file()]
    assert stored, "upload not stored in the job directory"
    for path in stored:
        assert job_dir in path.resolve().parents
    assert not (server.data_dir / "etc").exists()
    assert not (job_root / "etc").exists()
    assert requests.get(f"{job}/parameters/input", timeout=10).content == text_file.read_bytes()
    with open(text_file, "rb") as handle:
        other = server.create("wordcount", {},
                              files={"input": ("/abs/../..\\..\\x.txt", handle, "text/plain")})
    other_dir = (job_root / job_id_of(other)).resolve()
    for path in other_dir.rglob("*"):
        assert other_dir in path.resolve().parents


@pytest.mark.parametrize("raw", [
    "/results/..", "/results/../../../../etc/passwd", "/results/..%2F..%2Fstdout.txt",
    "/results/%2E%2E%2F%2E%2E%2Fstdout.txt", "/results/..%2Fstdout.txt",
    "/results/%2Fetc%2Fpasswd", "/parameters/..%2F..%2F.runner.json",
    "/parameters/%2E%2E", "/parameters/..%2Finputs", "/results/stdout%2F..%2F..%2Fstdout",
])
def test_dotdot_and_encoded_slashes_in_result_or_parameter_names_give_404(server, raw):
    job = server.create("echo", {"message": "secret-free", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    status, body = _raw_get(job, raw)
    assert status == 404, (raw, status, body[:200])
    assert b"secret-free" not in body and b"backend_id" not in body


def test_results_document_is_valid_with_unique_ids_and_absolute_hrefs(server):
    job = server.create("echo", {"message": "results", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    response = requests.get(f"{job}/results", timeout=10)
    assert response.status_code == 200
    root = assert_valid_uws(response.content)
    assert root.tag == f"{{{NS['uws']}}}results"
    assert root.nsmap.get("xlink") == NS["xlink"]
    ids = [r.get("id") for r in root]
    assert len(ids) == len(set(ids))
    for result in root:
        href = result.get(XLINK_HREF)
        assert href.startswith(f"{job}/results/"), href  # absolute (P4)
        fetched = requests.get(href, timeout=10)
        assert fetched.status_code == 200  # a fetchable URL (P21)
        if result.get("size") is not None:
            assert int(result.get("size")) == len(fetched.content)
        if result.get("mime-type"):
            assert fetched.headers["Content-Type"].startswith(result.get("mime-type"))


def test_the_primary_result_is_id_result_at_results_result(server):
    """P22: pyvo takes the href ending ``results/result``."""
    job = server.create("echo", {"message": "primary", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    result = _results(job)["result"]
    assert result.get(XLINK_HREF) == f"{job}/results/result"
    assert result.get(f"{{{NS['xlink']}}}type") in (None, "simple")
    assert requests.get(f"{job}/results/result", timeout=10).text == "primary"


def test_a_pending_job_has_an_empty_valid_results_list(server):
    job = server.create("echo", {"message": "none yet"})
    root = assert_valid_uws(requests.get(f"{job}/results", timeout=10).content)
    assert len(root) == 0
    assert requests.get(f"{job}/results/result", timeout=10).status_code == 404


def test_an_unknown_result_is_404(server):
    job = server.create("echo", {"message": "x", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    assert requests.get(f"{job}/results/nothing", timeout=10).status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_results_are_read_only(server, method):
    job = server.create("echo", {"message": "ro", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    for url in (f"{job}/results", f"{job}/results/result"):
        response = requests.request(method, url, data={"x": "1"}, allow_redirects=False,
                                    timeout=10)
        assert response.status_code == 405, (method, url)
        assert "GET" in response.headers["Allow"]
        assert method not in response.headers["Allow"]
    assert requests.get(f"{job}/results/result", timeout=10).text == "ro"


def test_a_multivalued_parameter_would_repeat_the_id(server):
    """Item 70: several values are several elements with the same id (none of the example
    job types takes several values, so a repeated single-valued one is refused)."""
    response = requests.post(server.list_url("echo"), data=[("message", "a"), ("message", "b")],
                             allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "message" in response.text


def test_results_of_a_deleted_job_are_gone(server):
    job = server.create("echo", {"message": "bye", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    href = _results(job)["result"].get(XLINK_HREF)
    requests.delete(job, allow_redirects=False, timeout=10)
    assert requests.get(href, timeout=10).status_code == 404


def test_an_input_by_url_not_fetched_yet_is_409_never_a_redirect_to_its_url(server, file_host):
    url = f"{file_host}/remote.txt"
    job = server.create("wordcount", {"input": url})
    response = requests.get(f"{job}/parameters/input", allow_redirects=False, timeout=10)
    assert response.status_code == 409, (response.status_code, response.headers)
    assert "Location" not in response.headers
    assert "not fetched yet" in response.text


def test_an_uploaded_input_can_be_replaced_while_pending(server, text_file):
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {}, files={"input": handle})
    response = requests.post(f"{job}/parameters", data={"input": "param:f2"},
                             files={"f2": ("new.txt", b"six seven")}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 303
    assert requests.get(f"{job}/parameters/input", timeout=10).content == b"six seven"
    root = get_job_xml(job)
    assert len(root.findall("uws:parameters/uws:parameter", NS)) == 1
    inputs = server.data_dir / "jobs" / job_id_of(job) / "inputs"
    assert len([p for p in inputs.rglob("*") if p.is_file()]) == 1
    requests.post(f"{job}/phase", data={"PHASE": "RUN"}, timeout=10)
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    result = requests.get(f"{job}/results/result", timeout=10)
    assert result.text.strip() == "2"


def test_an_uploaded_input_can_be_replaced_by_put_while_pending(server, text_file):
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {}, files={"input": handle})
    response = requests.put(f"{job}/parameters/input", files={"input": ("p.txt", b"put it")},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert requests.get(f"{job}/parameters/input", timeout=10).content == b"put it"
