"""Benchmark the HTCondor backend against the real schedd of the test pool.

Usage (as root, with ``scripts/condor-pool.sh install`` done; the pool is started if needed):
``.venv/bin/python bench/condor_pool.py [--jobs 100] [--bulk 500] [--repeats 10]``

Measures, on this machine:

* submit throughput through the executor (the helper process, ``Submit.expand`` checks and
  all), jobs submitted *on hold* so that only submission is timed (they are removed after):
  ``submit`` one job per call, and ``submit_many`` one itemdata cluster per call;
* the delay from a job's termination to COMPLETED in UWS: a live ``uws-server serve``
  (``UWS_EXECUTOR=htcondor``, run as the pool's submit user) runs echo jobs one after
  another; the bench watches the job's event log for the terminate event (005) and the
  job's phase over HTTP, both every 10 ms; delay = COMPLETED seen - event seen. The
  dispatcher reads event logs once per tick: the delay is bounded by ``--poll-interval``.

Prints a JSON report and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.htcondor.conftest import make_spec  # noqa: E402
from tests.htcondor.pool import Pool, acquire, pool_server, release  # noqa: E402
from uws_server.executors.base import Resources  # noqa: E402
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings  # noqa: E402

SERVICE = f"uws-bench-{os.getpid()}"
TERMINATED = "\n005 ("


def _executor(pool: Pool) -> HTCondorExecutor:
    os.environ.update(pool.env)  # the schedd helper process inherits these
    settings = HTCondorSettings(collector=pool.collector, call_timeout=120,
                                extra_submit=(("hold", "True"),))
    return HTCondorExecutor(settings, service=SERVICE)


def _specs(pool: Pool, count: int, prefix: str) -> list:
    root = pool.directory(f"bench-{prefix}")
    specs = [make_spec(root, f"{prefix}{i:05d}", argv=("/bin/true",), input_files=(),
                       resources=Resources(cpus=1, mem_mib=16, disk_mib=16), service=SERVICE)
             for i in range(count)]
    pool.give(root)
    return specs


def _throughput(executor: HTCondorExecutor, pool: Pool, jobs: int, bulk: int) -> dict:
    executor.orphans([])  # start the helper process and connect once, outside the timing
    singles = _specs(pool, jobs, "s")
    started = time.perf_counter()
    for spec in singles:
        executor.submit(spec, "t")
    single = jobs / (time.perf_counter() - started)
    many = _specs(pool, bulk, "b")
    started = time.perf_counter()
    executor.submit_many(many, ["t"] * bulk)
    bulk_rate = bulk / (time.perf_counter() - started)
    return {"single_jobs": jobs, "single_jobs_per_s": round(single, 1),
            "bulk_jobs": bulk, "bulk_jobs_per_s": round(bulk_rate, 1)}


def _cleanup(executor: HTCondorExecutor) -> None:
    ids = executor.orphans([])
    for start in range(0, len(ids), 500):
        executor._schedd.act("Remove", ids[start:start + 500], "uws bench cleanup")


def _completion_delays(pool: Pool, repeats: int, poll_interval: float) -> list[float]:
    delays = []
    with pool_server(pool, "bench", UWS_POLL_INTERVAL=str(poll_interval)) as server:
        for number in range(repeats):
            job = server.create("echo", data={"message": f"bench {number}", "PHASE": "RUN"})
            log = server.data_dir / "jobs" / job.rstrip("/").rsplit("/", 1)[-1] / "condor.log"
            session = requests.Session()
            event_seen = completed_seen = None
            deadline = time.monotonic() + 120
            while completed_seen is None and time.monotonic() < deadline:
                now = time.monotonic()
                if event_seen is None and log.is_file() and TERMINATED in log.read_text():
                    event_seen = now
                phase = session.get(f"{job}/phase", timeout=10).text
                if phase in ("ERROR", "ABORTED"):
                    raise RuntimeError(f"bench job {job} ended {phase}:\n{server.log()[-3000:]}")
                if phase == "COMPLETED":
                    completed_seen = time.monotonic()
                    if event_seen is None and TERMINATED in log.read_text():
                        event_seen = completed_seen  # both within the same 10 ms
                time.sleep(0.01)
            if event_seen is not None and completed_seen is not None:
                delays.append(completed_seen - event_seen)
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs submitted one by one")
    parser.add_argument("--bulk", type=int, default=500, help="jobs of the one bulk cluster")
    parser.add_argument("--repeats", type=int, default=10, help="echo jobs for the delay")
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="the service's UWS_POLL_INTERVAL (default: the service's, 1 s)")
    args = parser.parse_args()
    try:
        pool = acquire()
    except BaseException as exc:  # pytest's skip/fail outcomes when there is no pool
        print(f"condor bench: no pool: {exc}", file=sys.stderr)
        return 2
    try:
        executor = _executor(pool)
        try:
            report: dict[str, object] = {"when": datetime.now(UTC).isoformat(),
                                         "pool": pool.collector}
            report["submit"] = _throughput(executor, pool, args.jobs, args.bulk)
        finally:
            _cleanup(executor)
            executor.close()
        delays = _completion_delays(pool, args.repeats, args.poll_interval)
        report["terminate_to_completed_s"] = {
            "poll_interval": args.poll_interval,
            "samples": len(delays),
            "median": round(statistics.median(delays), 3) if delays else None,
            "max": round(max(delays), 3) if delays else None,
        }
    finally:
        release()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"condor-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
