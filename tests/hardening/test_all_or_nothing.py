"""Issue 15 item 11: a POST that changes several things of a job changes all of them or none.

``POST $JOB -d message=after -d EXECUTIONDURATION=bogus`` answered 400 but had
changed ``message``. Every refusal must leave the job as it was: its
parameters, its duration and destruction, its phase, and its input files.
"""

from __future__ import annotations

import pytest
import requests

from tests.support import assert_plain_error, job_dirs, job_id_of


def _state(job: str) -> dict[str, str]:
    return {name: requests.get(f"{job}/{name}", timeout=10).text
            for name in ("phase", "executionduration", "destruction", "parameters/message")}


@pytest.mark.parametrize(("extra", "named"), [
    ({"EXECUTIONDURATION": "bogus"}, "EXECUTIONDURATION"),
    ({"PHASE": "bogus"}, "PHASE"),
    ({"DESTRUCTION": "not a date"}, "DESTRUCTION"),
    ({"EXECUTIONDURATION": "30", "DESTRUCTION": "not a date"}, "DESTRUCTION"),
    ({"EXECUTIONDURATION": "-5", "PHASE": "RUN"}, "EXECUTIONDURATION"),
], ids=["duration", "phase", "destruction", "duration-then-destruction", "duration-and-run"])
def test_a_refused_post_changes_nothing(hardening_server, extra, named):
    job = hardening_server.create("echo", {"message": "before"})
    before = _state(job)
    for url in (job, f"{job}/parameters"):
        response = requests.post(url, data={"message": "after", **extra},
                                 allow_redirects=False, timeout=10)
        assert_plain_error(response, 400, named)
        assert _state(job) == before
    requests.delete(job, allow_redirects=False, timeout=10)


def test_a_refused_post_leaves_the_uploaded_input_as_it_was(hardening_server, tmp_path):
    first, second = tmp_path / "words.txt", tmp_path / "other" / "words.txt"
    second.parent.mkdir()
    first.write_text("the first words")
    second.write_text("other words, same file name")
    with open(first, "rb") as handle:
        job = hardening_server.create("wordcount", files={"input": handle})
    inputs = hardening_server.data_dir / "jobs" / job_id_of(job) / "inputs" / "input"
    stored = sorted(p.name for p in inputs.iterdir())
    with open(second, "rb") as handle:
        response = requests.post(job, data={"EXECUTIONDURATION": "bogus"},
                                 files={"input": handle}, allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "EXECUTIONDURATION")
    assert requests.get(f"{job}/parameters/input", timeout=10).text == "the first words"
    assert sorted(p.name for p in inputs.iterdir()) == stored  # nothing left behind
    # and a change that is accepted replaces the file, leaving only the new one
    with open(second, "rb") as handle:
        response = requests.post(job, data={"EXECUTIONDURATION": "30"},
                                 files={"input": handle}, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    assert requests.get(f"{job}/parameters/input", timeout=10).text.startswith("other words")
    assert len(list(inputs.iterdir())) == 1
    requests.delete(job, allow_redirects=False, timeout=10)


def test_an_accepted_post_makes_every_change(hardening_server):
    job = hardening_server.create("echo", {"message": "before"})
    response = requests.post(job, data={"message": "after", "EXECUTIONDURATION": "30",
                                        "DESTRUCTION": "2100-01-01T00:00:00Z", "PHASE": "RUN"},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    state = _state(job)
    assert state["parameters/message"] == "after"
    assert state["executionduration"] == "30"
    assert state["phase"] in {"QUEUED", "EXECUTING", "COMPLETED"}
    assert hardening_server.wait_phase(job, {"COMPLETED"}) == "COMPLETED"
    assert requests.get(f"{job}/results/result", timeout=10).text.strip() == "after"
    assert job_id_of(job) in job_dirs(hardening_server.data_dir)
    requests.delete(job, allow_redirects=False, timeout=10)
