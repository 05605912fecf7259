"""Part ``bulk``: handing many queued jobs to a backend at once, against one by one.

The queue is filled with multi-row INSERTs of QUEUED echo jobs (as :mod:`.populate`
fills finished ones), then the dispatcher's submission step runs until every job has
a backend id: that time, from queue to all handed over, is the figure. The baseline is
the same step with bulk submission turned off (one claim, one backend call and one
record per job), on a smaller queue when one by one would take too long; both are also
reported per job, and the ratio is of the per-job times, in the same run.

Backends: ``local`` (the jobs are started; the pool is as large as the queue, so that
everything is handed over in one go) and ``slurm`` (a real single-node test cluster,
started with ``scripts/slurm-cluster.sh`` and stopped after; the jobs are cancelled as
soon as they are recorded). Slurm is "not measured", saying why, when that script cannot
run here (not root, Slurm not installed).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from bench import populate
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.base import Executor
from uws_server.executors.local import LocalExecutor
from uws_server.models import Job, JobParameter
from uws_server.wiring import Components, build_components

log = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "slurm-cluster.sh"
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: Seconds one hand-over may take before the bench reports what it got.
DEADLINE = 900.0


def fill_queued(database_url: str, count: int) -> list[str]:
    """Add ``count`` QUEUED echo jobs (one parameter each); their ids."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    ids = [uuid.uuid4().hex for _ in range(count)]
    try:
        with engine.begin() as connection:
            revision = populate._revision_id(connection, "echo")
            for first in range(0, count, populate.BATCH):
                chunk = ids[first:first + populate.BATCH]
                rows = []
                for index, job_id in enumerate(chunk, first):
                    row = populate._job_row(job_id, revision, now + timedelta(microseconds=index),
                                            "QUEUED")
                    row.update(start_time=None, end_time=None, tries=0, executor=None)
                    rows.append(row)
                connection.execute(Job.__table__.insert(), rows)
                connection.execute(JobParameter.__table__.insert(), [
                    {"job_id": job_id, "position": 0, "name": "message", "value": f"bulk {i}",
                     "is_file": False, "source_url": None} for i, job_id in enumerate(chunk)])
    finally:
        engine.dispose()
    return ids


def _handed_over(parts: Components) -> int:
    with parts.db.read() as session:
        return session.scalar(select(func.count()).select_from(Job).where(
            Job.backend_id.is_not(None))) or 0


def hand_over(data_dir: Path, database_url: str, executor: Executor, count: int, *,
              bulk: bool, service: str) -> dict[str, Any]:
    """Queue ``count`` jobs and time the submission step until all have a backend id."""
    populate.prepare(data_dir, database_url)
    fill_queued(database_url, count)
    settings = Settings(data_dir=data_dir, database_url=database_url, service_name=service,
                        bulk_slice_size=max(count, 1))
    parts = build_components(settings)
    executor.supports_bulk_submit = bulk and type(executor).supports_bulk_submit
    dispatcher = Dispatcher(parts, executor)
    try:
        if not dispatcher.lease.renew():
            raise RuntimeError("the bench dispatcher could not take the lease")
        calls = 0
        started = time.perf_counter()
        deadline = started + DEADLINE
        while _handed_over(parts) < count and time.perf_counter() < deadline:
            dispatcher.recover_submissions()
            dispatcher.submit_queued()
            calls += 1
        seconds = time.perf_counter() - started
        done = _handed_over(parts)
        with parts.db.read() as session:
            backend_ids = list(session.scalars(select(Job.backend_id).where(
                Job.backend_id.is_not(None))))
    finally:
        dispatcher.lease.release()
        parts.bus.close()
        parts.db.dispose()
    return {"jobs": count, "handed_over": done, "seconds": round(seconds, 3),
            "ms_per_job": round(1000 * seconds / max(done, 1), 3), "ticks": calls,
            "backend_ids": backend_ids}


def _compare(bulk: dict[str, Any], single: dict[str, Any]) -> dict[str, Any]:
    bulk = {k: v for k, v in bulk.items() if k != "backend_ids"}
    single = {k: v for k, v in single.items() if k != "backend_ids"}
    ratio = (single["ms_per_job"] / bulk["ms_per_job"]) if bulk["ms_per_job"] else None
    return {"bulk": bulk, "one_by_one": single,
            "speedup_per_job": round(ratio, 1) if ratio is not None else None}


def _wait_local(executor: LocalExecutor, timeout: float = 300) -> None:
    """Let the started echo jobs end before their directories go."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and executor.free_slots() < executor.concurrency:
        time.sleep(0.5)


def local(work: Path, database: Any, jobs: int, single: int) -> dict[str, Any]:
    """Bulk against one by one on the local executor (a pool as large as the queue)."""
    figures = {}
    for name, count, bulk in (("bulk", jobs, True), ("single", single, False)):
        data_dir = work / f"local-{name}"
        with database(f"bulk_local_{name}") as url:
            executor = LocalExecutor(data_dir / "jobs", max(count, 1))
            try:
                figures[name] = hand_over(data_dir, url, executor, count, bulk=bulk,
                                          service="uws-bench-local")
            finally:
                _wait_local(executor)
        shutil.rmtree(data_dir, ignore_errors=True)
    return _compare(figures["bulk"], figures["single"])


def _slurm_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the test cluster runs its daemons as root; run the bench as root"
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN])
    missing = [p for p in ("slurmctld", "slurmd", "munged", "sbatch")
               if shutil.which(p, path=path) is None]
    return f"{', '.join(missing)} not installed ({SCRIPT} install)" if missing else None


def slurm(work: Path, database: Any, jobs: int, single: int) -> dict[str, Any]:
    """Bulk (one job array) against one sbatch per job, on a test cluster of its own."""
    reason = _slurm_unavailable()
    if reason is not None:
        return {"measured": False, "reason": reason}
    from uws_server.executors.slurm import SlurmExecutor, SlurmSettings

    # A directory of its own (mkdtemp, made 755 by the script): the munge user must reach it.
    cluster = Path(tempfile.mkdtemp(prefix="uws-bench-slurm-"))
    env = {**os.environ, "PATH": os.pathsep.join([os.environ.get("PATH", ""), *SBIN]),
           "SLURM_TEST_ACCOUNTING": "0"}
    started = subprocess.run([str(SCRIPT), "start", str(cluster)], env=env, capture_output=True,
                             text=True, timeout=180, check=False)
    if started.returncode != 0:
        shutil.rmtree(cluster, ignore_errors=True)
        lines = started.stderr.strip().splitlines() or ["no message"]
        return {"measured": False, "reason": f"{SCRIPT.name} start failed: {lines[-1][:200]}"}
    conf = started.stdout.strip().splitlines()[-1]
    figures: dict[str, Any] = {}
    try:
        for name, count, bulk in (("bulk", jobs, True), ("single", single, False)):
            data_dir = work / f"slurm-{name}"
            service = f"uws-bench-{uuid.uuid4().hex[:8]}"
            executor = SlurmExecutor(
                SlurmSettings(slurm_conf=conf, command_timeout=120.0, accounting="no",
                              max_jobs=max(count, 1), max_array_size=10001),
                service=service, spool=(data_dir / "jobs" / ".slurm-arrays").resolve())
            with database(f"bulk_slurm_{name}") as url:
                result = hand_over(data_dir, url, executor, count, bulk=bulk, service=service)
            arrays = sorted({b.split("_")[0] for b in result["backend_ids"]})
            result["slurm_jobs"] = len(arrays) if bulk else len(result["backend_ids"])
            figures[name] = result
            ids = arrays if bulk else result["backend_ids"]
            for first in range(0, len(ids), 500):
                subprocess.run(["scancel", *ids[first:first + 500]],
                               env={**env, "SLURM_CONF": conf}, capture_output=True,
                               timeout=120, check=False)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(cluster)], env=env, capture_output=True,
                       timeout=180, check=False)
        shutil.rmtree(cluster, ignore_errors=True)
    compared = _compare(figures["bulk"], figures["single"])
    compared["bulk"]["slurm_jobs"] = figures["bulk"]["slurm_jobs"]
    compared["one_by_one"]["slurm_jobs"] = figures["single"]["slurm_jobs"]
    return {"measured": True, **compared}


def markdown(figures: dict[str, dict[str, Any]]) -> str:
    """A small table of the part: per database and backend, bulk against one by one."""
    lines = ["", "| bulk hand-over | jobs | seconds | ms/job | one by one: jobs | ms/job | "
             "speed-up per job |", "|---|---|---|---|---|---|---|"]
    for kind, backends in figures.items():
        for backend, result in backends.items():
            if not result.get("measured", True):
                lines.append(f"| {kind} {backend} | not measured: {result['reason']} "
                             "| | | | | |")
                continue
            bulk, single = result["bulk"], result["one_by_one"]
            lines.append(f"| {kind} {backend} | {bulk['jobs']} | {bulk['seconds']} | "
                         f"{bulk['ms_per_job']} | {single['jobs']} | {single['ms_per_job']} | "
                         f"{result['speedup_per_job']}x |")
    return "\n".join(lines)
