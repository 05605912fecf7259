"""Job lists render their jobrefs as text, byte for byte what lxml writes.

The reference below builds each ``<uws:jobref>`` with lxml elements, as the service
did before (and as the job document still does); the fast renderer must agree with
it for any run id, owner or URL, escaping included, whole lists and chunked ones.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from lxml import etree

from tests.support import assert_valid_uws
from uws_server.render import uws_xml
from uws_server.services.views import JobRef
from uws_server.timeutil import format_utc

U = "{http://www.ivoa.net/xml/UWS/v1.0}"
NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
TRICKY = ["", "plain", "a&b", "<tag>", 'quo"te', "it's", "tab\there", "line\nbreak",
          "cr\rreturn", "]]>", "ünïcödé", "emoji 🚀", "&amp;", "  spaces  "]


def _reference(list_url: str, jobs: list[JobRef]) -> bytes:
    root = etree.Element(U + "jobs", nsmap=uws_xml.NSMAP, version="1.1")
    for job in jobs:
        ref = etree.SubElement(root, U + "jobref", id=job.id)
        ref.set("{http://www.w3.org/1999/xlink}type", "simple")
        ref.set("{http://www.w3.org/1999/xlink}href", f"{list_url}/{job.id}")
        etree.SubElement(ref, U + "phase").text = job.phase
        if job.run_id:
            etree.SubElement(ref, U + "runId").text = job.run_id
        owner = etree.SubElement(ref, U + "ownerId")
        if job.owner_id:
            owner.text = job.owner_id
        else:
            owner.set(NIL, "true")
        etree.SubElement(ref, U + "creationTime").text = format_utc(job.creation_time)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _jobs(count: int, seed: int) -> list[JobRef]:
    pick = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [JobRef(id=f"{n:032x}", job_type_name="echo",
                   owner_id=pick.choice([None, *TRICKY]), run_id=pick.choice([None, *TRICKY]),
                   phase=pick.choice(["PENDING", "COMPLETED", "ERROR"]),
                   creation_time=start + timedelta(milliseconds=pick.randrange(10**9)))
            for n in range(count)]


def test_jobrefs_render_exactly_as_lxml_writes_them_tricky_values_included():
    for seed in range(5):
        jobs = _jobs(60, seed)
        for url in ("http://127.0.0.1:8080/uws/echo", 'https://h.example/a&b"c/uws/echo'):
            assert uws_xml.job_list_document(url, jobs) == _reference(url, jobs)


def test_a_list_in_chunks_joins_to_the_same_document_and_validates():
    jobs = _jobs(23, 7)
    url = "http://127.0.0.1:8080/uws/echo"
    for per_chunk in (1, 5, 23, 24, 500):
        pieces = list(uws_xml.job_list_chunks(url, jobs, per_chunk=per_chunk))
        assert b"".join(pieces) == _reference(url, jobs)
    assert_valid_uws(uws_xml.job_list_document(url, jobs))


def test_an_empty_list_is_one_empty_element():
    assert uws_xml.job_list_document("http://h/uws/echo", []) == _reference("http://h/uws/echo", [])
