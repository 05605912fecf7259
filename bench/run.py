"""Benchmark uws-server against the Flask ceiling and GAVO DaCHS, with wrk, in one run.

Usage (see bench/README.md)::

    .venv/bin/python bench/run.py [--dachs ../shared/peers/dachs-setup.sh]
        [--databases sqlite,postgresql] [--rounds 3] [--seconds 5] [--jobs 100000] ...

Every figure is measured on each database (SQLite, and PostgreSQL in a fresh schema), in
interleaved rounds of (service, ceiling, DaCHS), and reported as ranges over the rounds and
as ratios to the ceiling and to DaCHS in the same round. Without a DaCHS script (option or
``UWS_BENCH_DACHS``) the DaCHS column says "not measured". Writes a JSON report to
``bench/results/`` and prints the Markdown table with the exact command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import batches, bulk, load, scenarios, table  # noqa: E402
from bench.servers import Dachs, gunicorn_settings  # noqa: E402
from tests.support import postgres_available  # noqa: E402

PARTS = ("rates", "many", "waits", "auth", "batches")
#: Parts run only when asked for (``--parts bulk``): they start many processes or a cluster.
OPTIONAL_PARTS = ("bulk",)
log = logging.getLogger("bench")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    add("--postgres", default=os.environ.get(
        "UWS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL database to create the bench's schemas in")
    add("--dachs", default=os.environ.get("UWS_BENCH_DACHS", ""),
        help="path of dachs-setup.sh (or UWS_BENCH_DACHS); empty: DaCHS not measured")
    add("--parts", default=",".join(PARTS),
        help=f"comma-separated subset of {PARTS + OPTIONAL_PARTS} (default: {PARTS})")
    add("--bulk-jobs", type=int, default=10_000,
        help="part 'bulk': queued jobs handed to Slurm in bulk (one array)")
    add("--bulk-local-jobs", type=int, default=500,
        help="part 'bulk': queued jobs handed to the local executor (each one a process)")
    add("--bulk-single-jobs", type=int, default=200,
        help="part 'bulk': jobs of the one-by-one baseline on each backend")
    add("--bulk-backends", default="local,slurm", help="part 'bulk': local, slurm")
    add("--rounds", type=int, default=3, help="interleaved rounds per figure")
    add("--seconds", type=float, default=5.0, help="length of each wrk run")
    add("--connections", type=int, default=8, help="wrk keep-alive connections")
    add("--wrk-threads", type=int, default=1, help="wrk threads (the servers share the cores)")
    add("--jobs", type=int, default=100_000, help="finished jobs in the table for part 'many'")
    add("--idle-seconds", type=float, default=20.0, help="dispatcher idle CPU sampling time")
    add("--waiters", type=int, default=1000, help="blocked WAIT clients on one job")
    add("--wait-job-seconds", type=float, default=12.0,
        help="how long the job the waiters block on runs")
    add("--result-mib", type=int, default=1024, help="size of the streamed result, MiB")
    add("--batch-jobs", type=int, default=10_000, help="jobs of the batch of part 'batches'")
    add("--out", default=str(ROOT / "bench" / "results"), help="directory of the JSON report")
    return parser.parse_args(argv)


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    return {"commit": run("rev-parse", "HEAD"),
            "uncommitted_in_uws_server": run("status", "--porcelain", "--", "uws_server")
            .splitlines()}


def _dachs(path: str) -> tuple[Dachs | None, dict[str, Any]]:
    """The peer, started and checked, or why not."""
    info: dict[str, Any] = {"script": path or None, "measured": False, "reason": None,
                            "server": None, "restarts": 0}
    if not path:
        info["reason"] = "no dachs-setup.sh given (--dachs or UWS_BENCH_DACHS)"
        return None, info
    if not Path(path).is_file():
        info["reason"] = f"{path}: no such file"
        return None, info
    dachs = Dachs(Path(path).resolve())
    try:
        dachs.prepare()
    except Exception as exc:  # any failure of the peer leaves our own figures standing
        info["reason"] = str(exc).splitlines()[0][:300]
        return None, info
    info.update(measured=True, server=scenarios.server_versions(dachs)["dachs"])
    return dachs, info


def measure_bulk(kind: str, work: Path, options: scenarios.Options,
                 args: argparse.Namespace) -> dict[str, Any]:
    """Part ``bulk`` on one kind of database: each backend asked for."""
    def database(name: str) -> Any:
        return scenarios.fresh_database(kind, work, name, options)

    backends = [b.strip() for b in args.bulk_backends.split(",") if b.strip()]
    figures: dict[str, Any] = {}
    if "local" in backends:
        figures["local"] = bulk.local(work / kind, database, args.bulk_local_jobs,
                                      args.bulk_single_jobs)
    if "slurm" in backends:
        figures["slurm"] = bulk.slurm(work / kind, database, args.bulk_jobs,
                                      args.bulk_single_jobs)
    return figures


def measure(kind: str, work: Path, options: scenarios.Options, parts: list[str],
            dachs: Dachs | None, dachs_waits: bool,
            args: argparse.Namespace | None = None) -> dict[str, Any]:
    """Every part asked for, on one kind of database."""
    figures: dict[str, Any] = {}
    if "bulk" in parts and args is not None:
        figures["bulk"] = measure_bulk(kind, work, options, args)
    if "rates" in parts:
        figures["rates"] = scenarios.rates(kind, work, options, dachs)
    if "many" in parts:
        figures["many_jobs"] = scenarios.many_jobs(kind, work, options)
    if "waits" in parts:
        figures["waits"] = scenarios.waits(kind, work, options,
                                           dachs if dachs_waits else None)
    if "auth" in parts:
        figures["authentication"] = scenarios.authentication(kind, work, options)
    if "batches" in parts:
        figures["batches"] = batches.batches(kind, work, options)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the bench; 0 with a report, 2 when something it needs is missing."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s bench: %(message)s")
    for chatty in ("alembic", "uws_server"):  # the setup step migrates in this process
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = _arguments(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if bad := sorted(set(kinds) - {"sqlite", "postgresql"}) + sorted(
            set(parts) - set(PARTS) - set(OPTIONAL_PARTS)):
        print(f"bench: unknown database or part: {', '.join(bad)}", file=sys.stderr)
        return 2
    try:
        wrk = load.wrk_binary()
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if "postgresql" in kinds and not postgres_available(args.postgres):
        print(f"bench: PostgreSQL at {args.postgres} does not answer", file=sys.stderr)
        return 2
    options = scenarios.Options(
        rounds=args.rounds, seconds=args.seconds, connections=args.connections,
        wrk_threads=args.wrk_threads, jobs=args.jobs, idle_seconds=args.idle_seconds,
        waiters=args.waiters, wait_job_seconds=args.wait_job_seconds,
        result_bytes=args.result_mib << 20, postgres_base=args.postgres,
        batch_jobs=args.batch_jobs)
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, ROOT)
                                                if sys.executable.startswith(str(ROOT))
                                                else sys.executable,
                                                os.path.relpath(__file__, ROOT),
                                                *(sys.argv[1:] if argv is None else argv)])
    dachs, dachs_info = _dachs(args.dachs)
    report: dict[str, Any] = {
        "command": command, "started": datetime.now(UTC).isoformat(), "git": _git(),
        "host": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "options": {**asdict(options), "postgres_base": args.postgres, "parts": parts},
        "gunicorn": gunicorn_settings(),
        "wrk": subprocess.run([wrk, "--version"], capture_output=True, text=True,
                              check=False).stdout.splitlines()[0:1],
        "dachs": dachs_info, "databases": {},
    }
    work = Path(tempfile.mkdtemp(prefix="uws-bench-"))
    try:
        for index, kind in enumerate(kinds):
            report["databases"][kind] = measure(kind, work, options, parts, dachs,
                                                dachs_waits=index == 0, args=args)
    except BaseException:
        log.error("bench failed; its servers' logs are kept in %s", work)
        raise
    shutil.rmtree(work, ignore_errors=True)
    report["finished"] = datetime.now(UTC).isoformat()
    report["host"]["load_average_at_end"] = os.getloadavg()
    if dachs is not None:
        report["dachs"]["restarts"] = dachs.restarts
    report["table_markdown"] = table.markdown(report)
    if "bulk" in parts:
        report["table_markdown"] += "\n" + bulk.markdown(
            {kind: figures["bulk"] for kind, figures in report["databases"].items()})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(report["table_markdown"])
    print(f"\nReport: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
