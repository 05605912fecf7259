"""The submit form's fields from a manifest, and reading a growing log, without a server."""

from __future__ import annotations

from pathlib import Path

from uws_server.services.live import TAIL_BYTES, _decodable, read_log
from uws_server.storage import JobStorage
from uws_server.ui.forms import field_of_message, fields_of, submitted

JOB = "0123456789abcdef0123456789abcdef"
MANIFEST = {"job": {"interface": {"inputs": {
    "files": [{"name": "table", "mediaTypes": ["text/csv", "application/fits"],
               "multiple": True, "required": False}],
    "json": [{"name": "band", "type": "string", "enum": ["g", "r", "i"], "default": "r",
              "description": "The filter band."},
             {"name": "count", "type": "integer"},
             {"name": "verbose", "type": "boolean", "required": False}]}}}}


def test_fields_follow_the_manifest_with_types_choices_defaults_and_descriptions():
    fields = {f.name: f for f in fields_of(MANIFEST)}
    assert list(fields) == ["table", "band", "count", "verbose"]
    table = fields["table"]
    assert (table.html_type, table.accept, table.multiple, table.required) == (
        "file", "text/csv,application/fits", True, False)
    band = fields["band"]
    assert band.choices == ("g", "r", "i") and band.default == "r"
    assert band.description == "The filter band." and band.required
    assert (fields["count"].html_type, fields["count"].step) == ("number", "1")
    assert fields["verbose"].choices == ("true", "false")


def test_empty_optional_fields_are_not_sent_and_messages_find_their_field():
    fields = fields_of(MANIFEST)
    pairs, uploads = submitted(fields, {"band": "g", "count": "3", "verbose": "",
                                        "RUNID": " r1 ", "EXECUTIONDURATION": ""}, [])
    assert pairs == [("band", "g"), ("count", "3"), ("RUNID", "r1")] and uploads == {}
    assert field_of_message(fields, "count: expected an integer, got 'x'") == "count"
    assert field_of_message(fields, "EXECUTIONDURATION: must not be negative") == \
        "EXECUTIONDURATION"
    assert field_of_message(fields, "job type 'x' is not active") is None


def test_a_log_is_read_from_its_tail_then_from_where_the_last_read_ended(tmp_path: Path):
    storage = JobStorage(tmp_path)
    storage.create(JOB)
    log = tmp_path / JOB / "stdout.txt"
    log.write_bytes(b"x" * (TAIL_BYTES + 10))
    first = read_log(storage, JOB, "stdout", -1)
    assert len(first.text) == TAIL_BYTES and first.end == TAIL_BYTES + 10
    with log.open("ab") as out:
        out.write("étoile\n".encode())
    more = read_log(storage, JOB, "stdout", first.end)
    assert more.text == "étoile\n"
    assert read_log(storage, JOB, "stdout", more.end).text == ""
    log.write_bytes(b"again\n")  # started over: shorter than the offset
    assert read_log(storage, JOB, "stdout", more.end).text == "again\n"
    assert read_log(storage, JOB, "stderr", 0).text == ""  # not there (yet)


def test_a_log_read_never_ends_inside_a_utf8_character(tmp_path: Path):
    assert _decodable("aé".encode()[:-1]) == b"a"
    assert _decodable("a€".encode()[:-1]) == b"a"
    assert _decodable("a€".encode()) == "a€".encode()
    storage = JobStorage(tmp_path)
    storage.create(JOB)
    (tmp_path / JOB / "stdout.txt").symlink_to("/etc/passwd")
    assert read_log(storage, JOB, "stdout", 0).text == ""  # a job's symlink is not followed
