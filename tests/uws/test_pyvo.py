"""pyvo 1.9.1 against the service, unchanged: AsyncTAPJob driving a job, and pyvo's UWS
parser reading every document. Pitfalls P2-P5, P7-P11, P14, P22 as pyvo meets them."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime, timedelta

import pytest
import requests

pyvo = pytest.importorskip("pyvo")
from pyvo.dal import AsyncTAPJob  # noqa: E402
from pyvo.io.uws import parse_job, parse_job_list  # noqa: E402

from tests.support import assert_valid_uws, job_id_of  # noqa: E402


def _parse(url):
    body = requests.get(url, timeout=10).content
    assert_valid_uws(body)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UnknownElementWarning or the like (P23)
        return parse_job(io.BytesIO(body))


def test_async_tap_job_drives_an_echo_job_from_start_to_delete(server):
    url = server.create("echo", {"message": "hello pyvo"})
    job = AsyncTAPJob(url)
    assert job.url == url
    assert job.job_id == job_id_of(url)
    assert job.phase == "PENDING"
    assert job.uws_version == "1.1"

    job.execution_duration = 120.0  # pyvo posts str(value): "120.0"
    assert job.execution_duration.to_value("s") == 120
    wanted = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=123456)
    job.destruction = wanted
    got = job.destruction.to_datetime(timezone=UTC)
    assert abs(got - wanted) < timedelta(milliseconds=2)

    job.run()
    assert job.phase in {"QUEUED", "EXECUTING", "COMPLETED"}  # never PENDING after RUN (P9)
    job.wait(timeout=60)
    assert job.phase == "COMPLETED"
    job.raise_if_error()
    assert job.result_uri == f"{url}/results/result"
    response = requests.get(job.result_uri, timeout=10)
    assert response.status_code == 200 and response.text == "hello pyvo"

    job.delete()
    assert requests.get(url, timeout=10).status_code == 404


def test_async_tap_job_abort_and_raise_if_error(server, cleanup):
    url = server.create("sleep", {"seconds": "60"})
    cleanup.append(url)
    job = AsyncTAPJob(url)
    job.run()
    job.abort()
    assert job.phase == "ABORTED"
    with pytest.raises(pyvo.dal.DALQueryError, match="abort"):
        job.raise_if_error()
    job.abort()  # a finished job: a no-op that does not raise


def test_pyvo_parses_a_pending_job(server):
    url = server.create("echo", {"message": "parse me", "RUNID": "007"})
    job = _parse(url)
    assert job.jobid == job_id_of(url)
    assert job.runid == "007"
    assert job.ownerid is None
    assert job.phase == "PENDING"
    assert job.creationtime is not None
    assert job.starttime is None and job.endtime is None
    assert job.executionduration.to_value("s") > 0
    assert job.destruction > job.creationtime
    (param,) = job.parameters
    assert (param.id_, param.content) == ("message", "parse me")
    assert job.errorsummary is None


def test_pyvo_parses_a_completed_job_with_result_hrefs(server, text_file):
    with open(text_file, "rb") as handle:
        url = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(url, {"COMPLETED", "ERROR"}) == "COMPLETED"
    job = _parse(url)
    assert job.phase == "COMPLETED"
    assert job.starttime <= job.endtime
    hrefs = {r.id_: r.href for r in job.results}
    assert hrefs["result"] == f"{url}/results/result"
    for result in job.results:
        assert requests.get(result.href, timeout=10).status_code == 200
        assert result.size is None or int(result.size) >= 0
    (param,) = job.parameters
    assert param.byreference is True
    assert param.content == f"{url}/parameters/input"


def test_pyvo_parses_the_error_summary_of_an_error_job(server, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x80\x81 not utf-8")
    with open(bad, "rb") as handle:
        url = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(url, {"COMPLETED", "ERROR"}) == "ERROR"
    job = _parse(url)
    assert job.phase == "ERROR"
    assert job.errorsummary is not None
    assert job.errorsummary.type_ == "fatal"
    assert "Unreadable input" in job.errorsummary.message.content
    pyjob = AsyncTAPJob(url)
    with pytest.raises(pyvo.dal.DALQueryError, match="Unreadable input"):
        pyjob.raise_if_error()


def test_pyvo_parses_the_job_list(server):
    made = server.create("echo", {"message": "listed", "RUNID": "list-me"})
    body = requests.get(server.list_url("echo"), params={"LAST": 5}, timeout=10).content
    assert_valid_uws(body)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jobs = parse_job_list(io.BytesIO(body))
    assert 1 <= len(jobs) <= 5
    summaries = {j.jobid: j for j in jobs}
    mine = summaries[job_id_of(made)]
    assert mine.phase == "PENDING"
    assert mine.runid == "list-me"
    assert mine.creationtime is not None


def test_pyvo_job_list_filters_like_tap_service_get_job_list(server):
    """pyvo's get_job_list sends PHASE repeatedly, LAST, and AFTER with microseconds."""
    done = server.create("echo", {"message": "d", "PHASE": "RUN"})
    server.wait_phase(done, {"COMPLETED"})
    after = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = requests.get(server.list_url("echo"), params=[
        ("PHASE", "COMPLETED"), ("PHASE", "EXECUTING"), ("LAST", 5), ("AFTER", after)],
        timeout=10)
    assert_valid_uws(response.content)
    jobs = parse_job_list(io.BytesIO(response.content))
    assert jobs and {j.phase for j in jobs} <= {"COMPLETED", "EXECUTING"}
    assert job_id_of(done) in {j.jobid for j in jobs}
