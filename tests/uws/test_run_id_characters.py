"""A run id XML cannot carry is refused at the door; one stored before still renders."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.support import assert_valid_uws
from uws_server.models import Job


@pytest.mark.parametrize("run_id", ["a\x01b", "tab\x0bbed", "a\ufffeb"])
def test_a_run_id_with_a_character_xml_cannot_carry_is_a_400_and_writes_nothing(
        client, run_id):
    response = client.post("/uws/echo", data={"message": "x", "RUNID": run_id})
    assert response.status_code == 400
    assert response.data.decode().startswith("RUNID: ")
    assert b"<uws:jobref" not in client.get("/uws/echo").data


def test_a_stored_run_id_xml_cannot_carry_still_makes_valid_lists_and_documents(
        client, components):
    job_url = client.post("/uws/echo", data={"message": "x"}).headers["Location"]
    path = "/" + job_url.split("://", 1)[-1].split("/", 1)[1]
    with components.db.engine.begin() as connection:  # as written before the door refused it
        connection.execute(update(Job).values(run_id="bad\x01\ufffeid"))
    for url in (path, "/uws/echo", "/uws/echo?LAST=1"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"badid" in assert_valid_uws(response.data).xpath("string(.)").encode()
