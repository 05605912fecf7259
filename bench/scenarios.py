"""The three parts of a bench run on one database, each on a fresh database of its own.

1. :func:`rates`: job creation and job GET, in interleaved rounds of (service, ceiling,
   DaCHS), with wrk; server CPU per request from /proc, p99 from wrk.
2. :func:`many_jobs`: 100,000 finished jobs in the table: the dispatcher's idle CPU,
   ``LAST=100`` against a single-job GET (interleaved rounds), the whole list streamed and a
   1 GiB result streamed (RSS growth of the worker that served them).
3. :func:`waits`: 1,000 clients blocked in WAIT on one running job, with the default
   settings and with enough threads to hold them all, and the same on DaCHS.

A fresh database per part: a second dispatcher on the same database would stand by behind
the first one's lease, and the figures of one part must not depend on another's leftovers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench import load, populate, spread
from bench.servers import Dachs, Service, ceiling, cpu_seconds, gunicorn_settings
from tests.support import free_port, postgres_schema

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Options:
    """How much of everything: the command line of ``bench/run.py``."""

    rounds: int
    seconds: float
    connections: int
    wrk_threads: int
    jobs: int
    idle_seconds: float
    waiters: int
    wait_job_seconds: float
    result_bytes: int
    postgres_base: str
    batch_jobs: int = 10_000  # part "batches" (bench/batches.py)


@contextlib.contextmanager
def fresh_database(kind: str, work: Path, name: str, options: Options) -> Iterator[str]:
    """An empty database of ``kind``: a SQLite file, or a new PostgreSQL schema (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{work / (name + '.sqlite3')}"
        return
    with postgres_schema(options.postgres_base,
                         f"uws_bench_{name}_{uuid.uuid4().hex[:8]}") as url:
        yield url


def span(values: list[float | None], digits: int = 3) -> dict[str, Any] | None:
    """min and max of what was measured (None when nothing was)."""
    got = [v for v in values if v is not None]
    if not got:
        return None
    return {"min": round(min(got), digits), "max": round(max(got), digits),
            "values": [round(v, digits) for v in got]}


def _location(response: requests.Response) -> str:
    if response.status_code != 303:
        raise RuntimeError(f"{response.url}: {response.status_code} {response.text[:200]}")
    return response.headers["Location"]


def _dachs_job(dachs: Dachs, sleep: float = 0) -> str:
    return _location(requests.post(dachs.list_url, data={"x": "21", "sleep": str(sleep)},
                                   allow_redirects=False, timeout=30))


def _wrk(options: Options, url: str, pids: list[int], method: str = "GET",
         body: str = "", authorization: str = "") -> dict[str, Any]:
    return load.run_wrk(url, method=method, body=body, seconds=options.seconds,
                        connections=options.connections, threads=options.wrk_threads,
                        server_pids=pids, authorization=authorization).summary()


# -- 1. creation and GET --------------------------------------------------------------------
def rates(kind: str, work: Path, options: Options, dachs: Dachs | None) -> dict[str, Any]:
    """Creation and GET rates of the service, the ceiling and DaCHS, round after round."""
    rounds: list[dict[str, Any]] = []
    with (fresh_database(kind, work, "rates", options) as url,
          Service.start(work / "rates", url, free_port()) as service,
          ceiling(work, free_port()) as top):
        job = _location(requests.post(service.list_url(), data={"message": "bench"},
                                      allow_redirects=False, timeout=30))
        trivial = f"{top.url}/trivial"
        for number in range(options.rounds):
            log.info("%s: rates, round %d of %d", kind, number + 1, options.rounds)
            one: dict[str, Any] = {"create": {}, "get_job": {}}
            one["create"]["service"] = _wrk(options, service.list_url(), service.pids,
                                            "POST", "message=bench")
            one["create"]["ceiling"] = _wrk(options, trivial, [top.process.pid], "POST",
                                            "message=bench")
            if dachs is not None:
                dachs.restart()
                one["create"]["dachs"] = _wrk(options, dachs.list_url, [dachs.pid], "POST",
                                              "x=21&sleep=0")
            one["get_job"]["service"] = _wrk(options, job, service.pids)
            one["get_job"]["ceiling"] = _wrk(options, trivial, [top.process.pid])
            if dachs is not None:
                dachs.restart()
                one["get_job"]["dachs"] = _wrk(options, _dachs_job(dachs), [dachs.pid])
            rounds.append(one)
    return {"rounds": rounds, **{name: _rate_figures(rounds, name)
                                 for name in ("create", "get_job")}}


def _rate_figures(rounds: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Per-round ratios, then their ranges: service/ceiling, service/DaCHS, DaCHS/ceiling."""
    def ratio(r: dict[str, Any], top: str, bottom: str) -> float | None:
        if top not in r[name] or bottom not in r[name] or not r[name][bottom]["rate"]:
            return None
        return r[name][top]["rate"] / r[name][bottom]["rate"]

    def of(who: str, key: str) -> dict[str, Any] | None:
        return span([r[name][who]["server_cpu_ms_per_request"] if key == "cpu"
                     else r[name][who]["latency_ms"]["p99"]
                     for r in rounds if who in r[name]], 2)

    return {
        "ratio_to_ceiling": span([ratio(r, "service", "ceiling") for r in rounds]),
        "ratio_to_dachs": span([ratio(r, "service", "dachs") for r in rounds]),
        "dachs_ratio_to_ceiling": span([ratio(r, "dachs", "ceiling") for r in rounds]),
        **{f"{who}_{key}_ms": of(who, key) for who in ("service", "ceiling", "dachs")
           for key in ("cpu", "p99")},
    }


# -- 2. 100,000 jobs ---------------------------------------------------------------------------
def many_jobs(kind: str, work: Path, options: Options) -> dict[str, Any]:
    """The figures that depend on how many jobs the table holds."""
    data_dir = work / "many"
    with fresh_database(kind, work, "many", options) as url:
        populate.prepare(data_dir, url)
        filled = populate.fill_jobs(url, options.jobs)
        big = populate.big_result_job(data_dir, url, options.result_bytes)
        with Service.start(data_dir, url, free_port()) as service:
            jobs = service.list_url()
            single, last = f"{jobs}/{filled['sample_job']}", f"{jobs}?LAST=100"
            for warm in (single, last):
                requests.get(warm, timeout=60).raise_for_status()
            time.sleep(3)  # the dispatcher's first ticks (lease, recovery) are not idling
            before = cpu_seconds([service.worker.pid])
            time.sleep(options.idle_seconds)
            idle = cpu_seconds([service.worker.pid]) - before
            analyzed_before = populate.pg_analyze_state(url)
            rounds = []
            for number in range(options.rounds):
                log.info("%s: LAST=100, round %d of %d", kind, number + 1, options.rounds)
                rounds.append({"get_job": _wrk(options, single, service.pids),
                               "last100": _wrk(options, last, service.pids)})
            analyzed_after = populate.pg_analyze_state(url)
            log.info("%s: streaming a large result, then the whole list", kind)
            # the result first: the list leaves its worker's RSS high for the rest of its life
            result = load.stream_with_rss(f"{jobs}/{big}/results/result", service.web.workers)
            whole = load.stream_with_rss(jobs, service.web.workers)
    return {
        "populate": filled,
        "dispatcher_idle": {"jobs": options.jobs, "seconds": options.idle_seconds,
                            "percent_of_core": round(100 * idle / options.idle_seconds, 2)},
        "last100": {
            "rounds": rounds,
            "multiple_of_get": span([r["get_job"]["rate"] / r["last100"]["rate"]
                                     for r in rounds if r["last100"]["rate"]], 2),
            "pg_statistics_before": analyzed_before, "pg_statistics_after": analyzed_after,
        },
        "list_stream": {"jobs": options.jobs + 1, **whole},
        "result_stream": {"size_bytes": options.result_bytes, **result},
    }


# -- 3. WAIT -------------------------------------------------------------------------------------
def _wait_until(url: str, phase: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{url}/phase", timeout=10).text.strip() == phase:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not {phase} after {timeout} s")


def _end_time(job_url: str) -> Callable[[], float | None]:
    def read() -> float | None:
        from uws_server.timeutil import parse_utc

        body = requests.get(job_url, headers={"Accept": "application/json"}, timeout=30).json()
        return parse_utc(body["endTime"]).timestamp() if body.get("endTime") else None

    return read


def _service_storm(work: Path, kind: str, name: str, options: Options,
                   env: dict[str, str]) -> dict[str, Any]:
    with (fresh_database(kind, work, name, options) as url,
          Service.start(work / name, url, free_port(), env) as service):
        probe = _location(requests.post(service.list_url(), data={"message": "probe"},
                                        allow_redirects=False, timeout=30))
        job = _location(requests.post(service.list_url("sleep"),
                                      data={"seconds": str(options.wait_job_seconds),
                                            "PHASE": "RUN"},
                                      allow_redirects=False, timeout=30))
        _wait_until(job, "EXECUTING")
        outcome = load.wait_storm(job, clients=options.waiters, wait=60, phase="EXECUTING",
                                  probe_url=probe, change_time=_end_time(job),
                                  change_source="the job's endTime (milliseconds)")
        final = requests.get(f"{job}/phase", timeout=30).text.strip()
    return {"settings": env or "defaults", **outcome.summary(), "phase_after": final}


def _service_spread(work: Path, kind: str, options: Options) -> dict[str, Any]:
    """``options.waiters`` PENDING jobs, one blocked WAIT on each, all aborted by a client."""
    with (fresh_database(kind, work, "wait-spread", options) as url,
          Service.start(work / "wait-spread", url, free_port(), {}) as service,
          requests.Session() as session):
        jobs = [_location(session.post(service.list_url(), data={"message": f"w{n}"},
                                       allow_redirects=False, timeout=30))
                for n in range(options.waiters)]
        outcome = spread.spread_storm(
            jobs, wait=60, phase="PENDING", change=lambda: spread.abort_all(jobs),
            change_times=lambda: spread.end_times(jobs),
            change_source="each job's endTime (milliseconds), stamped by its abort")
    return {"settings": "defaults", **outcome.summary()}


def waits(kind: str, work: Path, options: Options, dachs: Dachs | None) -> dict[str, Any]:
    """1,000 blocked WAITs on one job that finishes by itself, on each server."""
    log.info("%s: %d WAIT clients, default settings", kind, options.waiters)
    figures: dict[str, Any] = {"default": _service_storm(work, kind, "wait-default", options, {})}
    workers = int(gunicorn_settings()["workers"])
    held = {"GUNICORN_THREADS": str(math.ceil(options.waiters / workers) + 16),
            "UWS_MAX_WAITERS": str(options.waiters + 16)}
    log.info("%s: %d WAIT clients, %s", kind, options.waiters, held)
    figures["all_held"] = _service_storm(work, kind, "wait-held", options, held)
    log.info("%s: %d jobs with one WAIT client each, default settings", kind, options.waiters)
    figures["spread"] = _service_spread(work, kind, options)
    if dachs is not None:
        figures["dachs"] = dachs_storm(dachs, options)
    return figures


def dachs_storm(dachs: Dachs, options: Options) -> dict[str, Any]:
    """The same storm on a fresh DaCHS; its times are whole seconds, so a poller times it."""
    dachs.restart()
    job = _dachs_job(dachs, options.wait_job_seconds)
    requests.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False,
                  timeout=30).raise_for_status()
    _wait_until(job, "EXECUTING")
    probe = _dachs_job(dachs)
    with load.PhasePoller(job, "EXECUTING") as poller:
        outcome = load.wait_storm(job, clients=options.waiters, wait=60, phase="EXECUTING",
                                  probe_url=probe, change_time=poller.change_time,
                                  change_source="/phase polled every 50 ms: midway between "
                                                "the last poll before and the first after")
    final = requests.get(f"{job}/phase", timeout=30).text.strip()
    return {**outcome.summary(), "change_uncertainty_ms": poller.uncertainty_ms,
            "phase_after": final}


def server_versions(dachs: Dachs | None) -> dict[str, str | None]:
    """What answered: the Server headers (the DaCHS one names its version)."""
    found: dict[str, str | None] = {"dachs": None}
    if dachs is not None:
        with contextlib.suppress(requests.RequestException):
            found["dachs"] = requests.get(dachs.list_url, timeout=10).headers.get("Server")
    return found


# -- 4. authentication on and off -------------------------------------------------------------
def authentication(kind: str, work: Path, options: Options) -> dict[str, Any]:
    """Creation and GET with a bearer token, as a ratio to the anonymous embedded default.

    Two services side by side, each on its own database: one with no user (anonymous
    operator mode), one with a user whose token every request carries.
    """
    from uws_server.auth.users import UserService
    from uws_server.db import Database, upgrade

    rounds: list[dict[str, Any]] = []
    with (fresh_database(kind, work, "anon", options) as anon_url,
          fresh_database(kind, work, "authed", options) as auth_url):
        upgrade(auth_url)
        db = Database(auth_url)
        users = UserService(db)
        users.add_user("bench")
        token = users.create_token("bench")[1]
        db.dispose()
        header = f"Bearer {token}"
        with (Service.start(work / "anon", anon_url, free_port()) as anon,
              Service.start(work / "authed", auth_url, free_port()) as authed):
            jobs = {
                "off": _location(requests.post(anon.list_url(), data={"message": "b"},
                                               allow_redirects=False, timeout=30)),
                "on": _location(requests.post(authed.list_url(), data={"message": "b"},
                                              headers={"Authorization": header},
                                              allow_redirects=False, timeout=30)),
            }
            for number in range(options.rounds):
                log.info("%s: authentication, round %d of %d", kind, number + 1,
                         options.rounds)
                one: dict[str, Any] = {"create": {}, "get_job": {}}
                for name, service, auth in (("off", anon, ""), ("on", authed, header)):
                    one["create"][name] = _wrk(options, service.list_url(), service.pids,
                                               "POST", "message=bench", auth)
                    one["get_job"][name] = _wrk(options, jobs[name], service.pids,
                                                authorization=auth)
                rounds.append(one)
    figures: dict[str, Any] = {"rounds": rounds}
    for name in ("create", "get_job"):
        ratios = [r[name]["on"]["rate"] / r[name]["off"]["rate"] for r in rounds
                  if r[name]["off"]["rate"]]
        errors = sum(sum(r[name][who]["errors"].values()) for r in rounds for who in ("on", "off"))
        figures[name] = {"on_over_off": span(ratios), "wrk_errors": errors}
    return figures
