"""A crowd blocked on one job: the change that wakes them is read and rendered once."""

from __future__ import annotations

import threading
import time

from uws_server.render import uws_xml

CROWD = 40


def test_one_change_renders_the_job_document_once_for_every_blocked_waiter(
        client, components, monkeypatch):
    job_url = client.post("/uws/echo", data={"message": "x"}).headers["Location"]
    path = job_url.split("://", 1)[-1].split("/", 1)[1]
    rendered: list[str] = []
    real = uws_xml.job_document

    def counting(list_url, job):
        rendered.append(job.phase)
        return real(list_url, job)

    monkeypatch.setattr(uws_xml, "job_document", counting)
    bodies: list[bytes] = []

    def wait():
        response = client.application.test_client().get(f"/{path}?WAIT=30")
        bodies.append(response.data)

    threads = [threading.Thread(target=wait, daemon=True) for _ in range(CROWD)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while components.waiter.blocked < CROWD and time.monotonic() < deadline:
        time.sleep(0.02)
    assert components.waiter.blocked == CROWD
    assert client.post(f"/{path}/phase", data={"PHASE": "RUN"}).status_code == 303
    for thread in threads:
        thread.join(20)
    assert len(bodies) == CROWD and len(set(bodies)) == 1
    assert b"<uws:phase>QUEUED</uws:phase>" in bodies[0]
    assert rendered == ["QUEUED"]  # one rendering, after the change, for all forty
