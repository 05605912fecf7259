"""The job document: conformance items 11-17, 50, 58, 60-64, 76, pitfalls P3, P5-P8, P10-P12,
P23, P24."""

from __future__ import annotations

import re

import requests
from lxml import etree

from tests.support import NS, TIME_RE, assert_valid_uws, get_job_xml, job_id_of, uws_text

ORDER = ["jobId", "runId", "ownerId", "phase", "quote", "creationTime", "startTime", "endTime",
         "executionDuration", "destruction", "parameters", "results", "errorSummary", "jobInfo"]
PHASES = {"PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "UNKNOWN", "HELD",
          "SUSPENDED", "ARCHIVED"}
TIME_ELEMENTS = ("quote", "creationTime", "startTime", "endTime", "destruction")


def _children(root):
    return [etree.QName(child).localname for child in root]


def _nil(root, tag):
    element = root.find(f"uws:{tag}", NS)
    return element is not None and element.get(f"{{{NS['xsi']}}}nil") == "true"


def test_job_document_is_schema_valid_xml_with_version_1_1(server):
    job = server.create("echo", {"message": "doc"})
    response = requests.get(job, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] in ("application/xml; charset=utf-8",
                                                "text/xml; charset=utf-8")
    root = assert_valid_uws(response.content)
    assert root.tag == f"{{{NS['uws']}}}job"
    assert root.get("version") == "1.1"


def test_namespaces_are_declared_on_the_root_with_the_usual_prefixes(server):
    """P5/P6: uws-client reads root.nsmap, pyvo matches the literal ``xlink:href``."""
    job = server.create("echo", {"message": "ns", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    body = requests.get(job, timeout=10).content
    root = assert_valid_uws(body)
    assert root.nsmap.get("xlink") == NS["xlink"]
    assert root.nsmap.get("xsi") == NS["xsi"]
    assert NS["uws"] in root.nsmap.values()
    for element in root.iter():
        assert element.nsmap == root.nsmap or element.getparent().tag.endswith("jobInfo"), \
            f"namespace declared below the root on {element.tag}"
    assert b"xlink:href=" in body
    assert b"ns0:" not in body and b"ns1:" not in body


def test_pending_job_children_come_in_schema_order_with_nil_where_unknown(server):
    job = server.create("echo", {"message": "order"})
    root = get_job_xml(job)
    children = _children(root)
    assert children == [name for name in ORDER if name in children]
    for required in ("jobId", "ownerId", "phase", "creationTime", "startTime", "endTime",
                     "executionDuration", "destruction", "results"):
        assert required in children, required
    assert "runId" not in children  # P24: omitted, never nil or empty
    assert uws_text(root, "jobId") == job_id_of(job)
    assert uws_text(root, "phase") == "PENDING"
    assert _nil(root, "ownerId")  # anonymous (item 61)
    assert _nil(root, "startTime") and _nil(root, "endTime")
    assert _nil(root, "quote")  # item 60: this service does not estimate
    assert re.fullmatch(r"\d+", uws_text(root, "executionDuration"))
    assert not _nil(root, "destruction")
    assert root.find("uws:results", NS) is not None
    assert len(root.find("uws:results", NS)) == 0
    assert "errorSummary" not in children


def test_completed_job_has_start_end_and_results(server):
    job = server.create("echo", {"message": "done", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    root = get_job_xml(job)
    assert uws_text(root, "phase") == "COMPLETED"
    start, end = uws_text(root, "startTime"), uws_text(root, "endTime")
    created = uws_text(root, "creationTime")
    assert created <= start <= end
    results = root.findall("uws:results/uws:result", NS)
    assert "result" in [r.get("id") for r in results]


def test_every_time_is_utc_with_t_and_z_never_an_offset(server):
    """Item 63, P3: pyvo cannot read ``+00:00``."""
    job = server.create("echo", {"message": "times", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    body = requests.get(job, timeout=10).content
    root = assert_valid_uws(body)
    assert b"+00:00" not in body
    seen = 0
    for tag in TIME_ELEMENTS:
        text = uws_text(root, tag)
        if text is not None:
            assert re.fullmatch(TIME_RE, text), (tag, text)
            seen += 1
    assert seen >= 4
    listing = requests.get(server.list_url("echo"), timeout=10).content
    assert b"+00:00" not in listing
    for element in assert_valid_uws(listing).iterfind(".//uws:creationTime", NS):
        assert re.fullmatch(TIME_RE, element.text)


def test_times_carry_milliseconds(server):
    """Item 64 (choice): milliseconds, so that AFTER and LAST do not tie on whole seconds."""
    root = get_job_xml(server.create("echo", {"message": "ms"}))
    assert re.fullmatch(r".*T\d{2}:\d{2}:\d{2}\.\d{3}Z", uws_text(root, "creationTime"))


def test_execution_duration_is_always_an_integer(server):
    """P8: never empty or nil."""
    root = get_job_xml(server.create("echo", {"message": "dur"}))
    assert not _nil(root, "executionDuration")
    assert int(uws_text(root, "executionDuration")) >= 0


def test_run_id_is_echoed_verbatim_including_leading_zeros(server):
    for run_id in ("007", "12345678901234567890", "my run <&> é"):
        job = server.create("echo", {"message": "r", "RUNID": run_id})
        root = get_job_xml(job)
        assert uws_text(root, "runId") == run_id
        assert _children(root).index("runId") == 1


def test_run_id_parameter_name_is_case_insensitive(server):
    job = server.create("echo", {"message": "r", "runid": "lower"})
    assert uws_text(get_job_xml(job), "runId") == "lower"


def test_several_jobs_may_share_one_run_id(server):
    jobs = [server.create("echo", {"message": "s", "RUNID": "shared"}) for _ in range(2)]
    for job in jobs:
        assert uws_text(get_job_xml(job), "runId") == "shared"


def test_phase_is_one_of_the_ten_upper_case_values_in_job_and_list(server):
    server.create("echo", {"message": "p"})
    for ref in assert_valid_uws(requests.get(server.list_url("echo"), timeout=10).content
                                ).iterfind(".//uws:phase", NS):
        assert ref.text in PHASES


def test_a_job_that_does_not_exist_answers_404_also_for_its_children(server):
    base = server.list_url("echo")
    for url in (f"{base}/0123456789abcdef0123456789abcdef",
                f"{base}/0123456789abcdef0123456789abcdef/phase",
                f"{base}/0123456789abcdef0123456789abcdef/results",
                f"{base}/0123456789abcdef0123456789abcdef/parameters",
                f"{base}/0123456789abcdef0123456789abcdef/results/result",
                f"{base}/doesnotexist", f"{base}/doesnotexist/phase"):
        response = requests.get(url, timeout=10)
        assert response.status_code == 404, url
        assert response.headers["Content-Type"].startswith("text/plain")


def test_a_destroyed_job_answers_404(server):
    job = server.create("echo", {"message": "gone"})
    assert requests.delete(job, allow_redirects=False, timeout=10).status_code == 303
    for url in (job, f"{job}/phase", f"{job}/parameters"):
        assert requests.get(url, timeout=10).status_code == 404


def test_job_info_children_are_namespaced_and_small(server, text_file):
    """Item 17, P23."""
    with open(text_file, "rb") as handle:
        job = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    root = get_job_xml(job)
    info = root.find("uws:jobInfo", NS)
    assert info is not None
    assert len(info) >= 1
    for child in info:
        namespace = etree.QName(child).namespace
        assert namespace and namespace != NS["uws"]
    assert "words" in etree.tostring(info).decode()


def test_a_single_job_get_is_fast(server):
    """P13: pyvo polls with a 10 s read timeout; a plain GET answers from the database."""
    job = server.create("echo", {"message": "fast"})
    response = requests.get(job, timeout=10)
    assert response.elapsed.total_seconds() < 2
