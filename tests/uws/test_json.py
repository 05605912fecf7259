"""JSON, only on explicit request, mirroring the XML field for field; XML is the default.
Conformance items 75, 76, §6 of the conformance note, pitfall P26."""

from __future__ import annotations

import pytest
import requests

from tests.support import NS, assert_valid_uws, get_job_xml, uws_text

XLINK = f"{{{NS['xlink']}}}"
SCALARS = ["jobId", "runId", "ownerId", "phase", "quote", "creationTime", "startTime",
           "endTime", "destruction"]


def _json(url, **kwargs):
    response = requests.get(url, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def _as_json_fields(root):
    """The job XML turned into the JSON shape of the conformance note (§6)."""
    fields = {}
    for name in SCALARS:
        element = root.find(f"uws:{name}", NS)
        if element is None:
            continue
        fields[name] = uws_text(root, name)
    fields["executionDuration"] = int(uws_text(root, "executionDuration"))
    fields["parameters"] = [
        {"id": p.get("id"), "value": p.text, "byReference": p.get("byReference") == "true"}
        for p in root.iterfind("uws:parameters/uws:parameter", NS)]
    results = []
    for r in root.iterfind("uws:results/uws:result", NS):
        entry = {"id": r.get("id"), "href": r.get(f"{XLINK}href")}
        if r.get(f"{XLINK}type"):
            entry["type"] = r.get(f"{XLINK}type")
        if r.get("size") is not None:
            entry["size"] = int(r.get("size"))
        if r.get("mime-type"):
            entry["mime-type"] = r.get("mime-type")
        results.append(entry)
    fields["results"] = results
    summary = root.find("uws:errorSummary", NS)
    fields["errorSummary"] = None if summary is None else {
        "type": summary.get("type"), "hasDetail": summary.get("hasDetail") == "true",
        "message": summary.find("uws:message", NS).text}
    return fields


def _compare(job_url):
    root = get_job_xml(job_url)
    doc = _json(job_url, headers={"Accept": "application/json"})
    expected = _as_json_fields(root)
    for key, value in expected.items():
        assert doc.get(key, "<absent>") == value, key
    assert ("runId" in doc) == ("runId" in expected)  # omitted when absent, like the XML
    for key in ("ownerId", "startTime", "endTime", "destruction"):  # required, maybe null
        assert key in doc, key
    assert doc["version"] == "1.1"
    return doc


def test_json_job_document_mirrors_the_xml_for_a_pending_job(server):
    job = server.create("echo", {"message": "json <pending>", "RUNID": "0042"})
    doc = _compare(job)
    assert doc["phase"] == "PENDING" and doc["runId"] == "0042"
    assert doc["startTime"] is None and doc["ownerId"] is None


def test_json_job_document_mirrors_the_xml_for_a_completed_job_with_inputs(server, text_file):
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    doc = _compare(job)
    assert doc["results"] and doc["parameters"][0]["byReference"] is True
    # P26: start and end are the job's own times, not the destruction time
    assert doc["startTime"] != doc["destruction"] and doc["endTime"] != doc["destruction"]
    assert doc["jobInfo"]["outputs"]["words"] == 5


def test_json_job_document_mirrors_the_xml_for_an_error_job(server, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe bad")
    with open(bad, "rb") as handle:
        job = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "ERROR"
    doc = _compare(job)
    assert doc["errorSummary"]["type"] in ("fatal", "transient")


def test_format_json_query_gives_json(server):
    job = server.create("echo", {"message": "fmt"})
    assert _json(job, params={"format": "json"})["jobId"] == job.rsplit("/", 1)[1]
    assert _json(job, params={"FORMAT": "json"})["jobId"] == job.rsplit("/", 1)[1]


@pytest.mark.parametrize("accept", [None, "*/*", "application/xml", "text/xml",
                                    "application/xml,text/plain", "text/html,*/*;q=0.8",
                                    "application/xml, application/json;q=0.5"])
def test_xml_is_the_default_unless_json_is_asked_for(server, accept):
    job = server.create("echo", {"message": "xml"})
    headers = {} if accept is None else {"Accept": accept}
    for url in (job, server.list_url("echo"), f"{job}/parameters", f"{job}/results"):
        response = requests.get(url, headers=headers, params={"LAST": 1} if url.endswith(
            "echo") else None, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(("application/xml", "text/xml"))
        assert "charset=utf-8" in response.headers["Content-Type"].lower()
        assert_valid_uws(response.content)


def test_json_job_list_mirrors_the_xml_job_list(server):
    server.create("echo", {"message": "list", "RUNID": "in-list"})
    params = {"LAST": 5}
    root = assert_valid_uws(requests.get(server.list_url("echo"), params=params,
                                         timeout=10).content)
    doc = _json(server.list_url("echo"), params=params, headers={"Accept": "application/json"})
    assert doc["version"] == "1.1"
    refs = root.findall("uws:jobref", NS)
    assert len(doc["jobs"]) == len(refs)
    for entry, ref in zip(doc["jobs"], refs, strict=True):
        assert entry["id"] == ref.get("id")
        assert entry["href"] == ref.get(f"{XLINK}href")
        assert entry["phase"] == uws_text(ref, "phase")
        assert entry["creationTime"] == uws_text(ref, "creationTime")
        assert entry.get("runId") == uws_text(ref, "runId")
        assert entry.get("ownerId") == uws_text(ref, "ownerId")


def test_json_parameters_and_results_resources(server):
    job = server.create("echo", {"message": "pr", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    headers = {"Accept": "application/json"}
    full = _json(job, headers=headers)
    assert _json(f"{job}/parameters", headers=headers)["parameters"] == full["parameters"]
    assert _json(f"{job}/results", headers=headers)["results"] == full["results"]


def test_errors_are_json_when_json_was_asked_for(server):
    response = requests.get(f"{server.list_url('echo')}/0123456789abcdef0123456789abcdef",
                            headers={"Accept": "application/json"}, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["status"] == 404 and response.json()["error"]


def test_a_json_body_creates_a_job(server):
    response = requests.post(server.list_url("echo"), json={"message": "from json",
                                                            "RUNID": "j"},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 303
    root = get_job_xml(response.headers["Location"])
    assert uws_text(root, "runId") == "j"
