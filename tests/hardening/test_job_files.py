"""Issue 15 item 9: no file the service reads from a job directory is read through a symlink.

A job that runs as another user (Slurm, HTCondor) can replace its
``stderr.txt``, its logs or a result by a link to ``/etc/shadow``; the
service reads job files with its own rights, so it must not follow them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import requests

from tests.hardening.conftest import SECRET
from tests.support import job_id_of
from uws_server.storage import JobStorage, UnsafePath

JOB_ID = "0123456789abcdef0123456789abcdef"


def test_error_stdout_and_results_never_show_a_symlinked_file(hardening_server, secret):
    job = hardening_server.create("linker", {"target": str(secret), "PHASE": "RUN"})
    assert hardening_server.wait_phase(job, {"COMPLETED", "ERROR"}) == "ERROR"
    error = requests.get(f"{job}/error", timeout=10)
    assert error.status_code == 200, error.text
    assert "exit code 3" in error.text
    assert SECRET not in error.text
    results = requests.get(f"{job}/results", headers={"Accept": "application/json"},
                           timeout=10).json()["results"]
    for result in results:
        body = requests.get(result["href"], timeout=10)
        assert SECRET not in body.text, result
    names = {r["id"] for r in results}
    assert not names & {"stdout", "stderr", "result"}, names
    as_json = requests.get(job, headers={"Accept": "application/json"}, timeout=10)
    assert SECRET not in as_json.text


def test_a_result_swapped_for_a_symlink_while_served_is_never_read(hardening_server, secret):
    """The swap races the download: a check-then-open would sometimes serve the secret."""
    job = hardening_server.create("echo", {"message": "harmless", "PHASE": "RUN"})
    assert hardening_server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    outputs = hardening_server.data_dir / "jobs" / job_id_of(job) / "outputs"
    target = outputs / "result.txt"
    regular, link = outputs / "regular.tmp", outputs / "link.tmp"
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            regular.write_text("harmless")
            os.replace(regular, target)
            os.symlink(secret, link)
            os.replace(link, target)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    statuses = set()
    try:
        with requests.Session() as session:
            for _ in range(300):
                response = session.get(f"{job}/results/result", timeout=10)
                statuses.add(response.status_code)
                assert SECRET not in response.text
    finally:
        stop.set()
        flipper.join(10)
    assert statuses <= {200, 404}, statuses


def test_input_swapped_for_a_symlink_is_not_served(hardening_server, secret, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("one two")
    with open(words, "rb") as handle:
        job = hardening_server.create("wordcount", files={"input": handle})
    inputs = hardening_server.data_dir / "jobs" / job_id_of(job) / "inputs" / "input"
    [stored] = list(inputs.iterdir())
    assert requests.get(f"{job}/parameters/input", timeout=10).text == "one two"
    stored.unlink()
    stored.symlink_to(secret)
    response = requests.get(f"{job}/parameters/input", timeout=10)
    assert response.status_code == 404, response.text
    assert SECRET not in response.text
    inputs.rename(inputs.with_name("elsewhere"))
    inputs.symlink_to(inputs.with_name("elsewhere"))  # a symlinked directory on the way
    assert requests.get(f"{job}/parameters/input", timeout=10).status_code == 404
    requests.delete(job, allow_redirects=False, timeout=10)


# -- JobStorage.open_file, the one function every read goes through ---------------------------
@pytest.fixture
def storage(tmp_path: Path) -> JobStorage:
    store = JobStorage(tmp_path / "jobs")
    base = store.create(JOB_ID)
    (base / "outputs" / "sub").mkdir(parents=True)
    (base / "outputs" / "sub" / "a.txt").write_text("inside")
    return store


def test_open_file_reads_regular_files_inside(storage):
    with storage.open_file(JOB_ID, "outputs/sub/a.txt") as handle:
        assert handle.read() == b"inside"
    assert storage.read_tail(JOB_ID, "outputs/sub/a.txt", 3) == b"ide"


@pytest.mark.parametrize("relative", ["../x", "/etc/passwd", "outputs/../outputs/sub/a.txt",
                                      "", "."])
def test_open_file_refuses_paths_that_are_not_plainly_inside(storage, relative):
    with pytest.raises(UnsafePath):
        storage.open_file(JOB_ID, relative)


def test_open_file_refuses_symlinks_anywhere_on_the_path(storage, tmp_path, secret):
    base = storage.job_dir(JOB_ID)
    (base / "stderr.txt").symlink_to(secret)
    (base / "inner.txt").symlink_to(base / "outputs" / "sub" / "a.txt")  # even inside
    (base / "outputs" / "link").symlink_to(base / "outputs" / "sub")
    for relative in ("stderr.txt", "inner.txt", "outputs/link/a.txt"):
        with pytest.raises(UnsafePath):
            storage.open_file(JOB_ID, relative)


def test_open_file_refuses_fifos_without_blocking_and_reports_missing_files(storage):
    os.mkfifo(storage.job_dir(JOB_ID) / "pipe")
    with pytest.raises(UnsafePath):
        storage.open_file(JOB_ID, "pipe")  # would hang forever with a plain open()
    with pytest.raises(FileNotFoundError):
        storage.open_file(JOB_ID, "outputs/none.txt")
