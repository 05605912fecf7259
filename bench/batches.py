"""Part ``batches``: a 10,000-job batch created in one request, and its summary read.

On a fresh database, with the service's web tier and dispatcher:

- single-job creation rate (wrk ``POST /uws/echo``), the baseline;
- per round, a ``POST /batches`` of ``batch_jobs`` echo jobs (``start: false``, so that the
  dispatcher does not run them while the GETs are measured): seconds, jobs/s, and jobs/s
  as a ratio to the single-job creation rate of the same run;
- per round, wrk on ``GET /batches/{id}`` (the summary over ``batch_jobs`` jobs) and on a
  single job's GET, interleaved: the summary's cost as a multiple of a job GET (rate ratio);
- last, one started batch (``start: true``: the jobs QUEUED with their history) timed the
  same way, and the service stopped at once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import requests

from bench.scenarios import Options, _location, _wrk, fresh_database, span
from bench.servers import Service
from tests.support import free_port

log = logging.getLogger("bench")


def _create(base: str, count: int, start: bool) -> tuple[str, float]:
    body = {"tool_id": "echo", "start": start,
            "sweep": {"message": [f"bench-{i}" for i in range(count)]}}
    began = time.perf_counter()
    response = requests.post(f"{base}/batches", json=body, timeout=300)
    seconds = time.perf_counter() - began
    if response.status_code != 201:
        raise RuntimeError(f"POST /batches: {response.status_code} {response.text[:300]}")
    return response.json()["batch_id"], seconds


def batches(kind: str, work: Path, options: Options) -> dict[str, Any]:
    """Batch creation against single-job creation, batch summary against a job GET."""
    count = options.batch_jobs
    with (fresh_database(kind, work, "batches", options) as url,
          Service.start(work / "batches", url, free_port()) as service):
        base = service.web.url
        job = _location(requests.post(service.list_url(), data={"message": "bench"},
                                      allow_redirects=False, timeout=30))
        single = _wrk(options, service.list_url(), service.pids, "POST", "message=bench")
        summary_url = ""
        rounds: list[dict[str, Any]] = []
        for number in range(options.rounds):
            log.info("%s: batches, round %d of %d", kind, number + 1, options.rounds)
            batch_id, seconds = _create(base, count, start=False)
            summary_url = summary_url or f"{base}/batches/{batch_id}"
            rounds.append({"create_seconds": round(seconds, 3),
                           "jobs_per_second": round(count / seconds, 1),
                           "get_job": _wrk(options, job, service.pids),
                           "get_batch": _wrk(options, summary_url, service.pids)})
        _, started = _create(base, count, start=True)
    rate = single["rate"]
    return {
        "batch_jobs": count, "single_create": single, "rounds": rounds,
        "create_seconds": span([r["create_seconds"] for r in rounds]),
        "jobs_per_second_ratio_to_single": span([r["jobs_per_second"] / rate if rate else None
                                                 for r in rounds], 1),
        "started_create_seconds": round(started, 3),
        "get_batch_multiple_of_get": span([r["get_job"]["rate"] / r["get_batch"]["rate"]
                                           for r in rounds if r["get_batch"]["rate"]], 2),
    }
