"""The Markdown table of a bench report: the issue's figures, one column per database + DaCHS.

Ratios and ranges (min to max over the rounds of the run) only: absolute rates depend on the
machine and on whoever else uses it, ratios measured in the same interleaved rounds much less.
"""

from __future__ import annotations

from typing import Any

NOT_MEASURED = "not measured"
DASH, TIMES = "\u2013", "\u00d7"  # en dash, multiplication sign
KINDS = (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))


def _range(found: dict[str, Any] | None, unit: str = "", digits: int = 2) -> str:
    if not found:
        return "—"
    low, high = round(found["min"], digits), round(found["max"], digits)
    text = f"{low:g}" if low == high else f"{low:g}{DASH}{high:g}"
    return f"{text}{unit}"


def _merged(report: dict[str, Any], *path: str) -> dict[str, Any] | None:
    """One range over every database's run (the DaCHS column: the same peer in each run)."""
    values: list[float] = []
    for kind, _ in KINDS:
        found: Any = report["databases"].get(kind)
        for key in path:
            found = found.get(key) if isinstance(found, dict) else None
        if found:
            values += found["values"]
    return {"min": min(values), "max": max(values)} if values else None


def _wait_cell(found: dict[str, Any] | None) -> str:
    if not found:
        return NOT_MEASURED
    p50 = "—" if found["p50_ms"] is None else f"{found['p50_ms']:g}"
    p99 = "—" if found["p99_ms"] is None else f"{found['p99_ms']:g}"
    probe = found["probe"]
    if not probe:  # one waiter per job: no probe, each job its own change
        seen = "each timed against its own job's change"
    elif probe.get("sent_after_change"):
        seen = "the job changed before the probe: the storm was not in place in time"
    elif not probe["answered"]:
        seen = f"probe: no answer in {probe['timeout_s']:g} s"
    elif probe["before_change"]:
        seen = f"probe answered in {probe['ms']:g} ms"
    else:
        seen = f"probe answered only after the change ({probe['ms']:g} ms)"
    counts = f"{found['returned_after_change']}/{found['clients']} returned after the change"
    others = [f"{found[key]} {label}" for key, label in (
        ("returned_before_change", "before it"), ("sent_after_change", "sent too late"),
        ("failed", "failed")) if found[key]]
    return f"{p50} / {p99} ms; {', '.join([counts, *others])}; {seen}"


def _last_cell(many: dict[str, Any] | None) -> str:
    """The multiple, and on PostgreSQL whether the planner had statistics of the table."""
    if not many:
        return "—"
    text = _range(many["last100"]["multiple_of_get"], TIMES)
    before, after = many["last100"]["pg_statistics_before"], many["last100"]["pg_statistics_after"]
    if after is not None:
        keys = ("last_analyze", "last_autoanalyze")
        if not any(after[k] for k in keys):
            text += " (jobs table never analysed)"
        elif before is None or any(before[k] != after[k] for k in keys):
            text += " (autovacuum analysed the table during the rounds)"
        else:
            text += " (jobs table analysed before the rounds)"
    return text


def _stream_cell(found: dict[str, Any] | None) -> str:
    if not found:
        return "—"
    return (f"+{found['rss_growth_mib']:g} MiB (to {found['rss_peak_mib']:g} MiB; "
            f"{found['bytes'] / 1e6:.1f} MB in {found['seconds']:g} s)")


def _size(count: int) -> str:
    return f"{count / 2**30:g} GiB" if count >= 2**30 else f"{count / 2**20:g} MiB"


def markdown(report: dict[str, Any]) -> str:
    """The table, then the command that produced it."""
    dbs = report["databases"]
    dachs_note = (report["dachs"]["server"] or "DaCHS") if report["dachs"]["measured"] \
        else f"DaCHS ({NOT_MEASURED}: {report['dachs']['reason']})"
    options = report["options"]

    def cells(render: Any, dachs: str = "") -> list[str]:
        return [render(dbs[kind]) if kind in dbs else NOT_MEASURED for kind, _ in KINDS] + [
            dachs if report["dachs"]["measured"] else NOT_MEASURED]

    def rate(name: str, key: str, unit: str = "") -> Any:
        return lambda db: _range(db.get("rates", {}).get(name, {}).get(key), unit)

    def cpu_p99(name: str, who: str) -> Any:
        return lambda db: (f"{_range(db['rates'][name][f'{who}_cpu_ms'], ' ms')} / "
                           f"{_range(db['rates'][name][f'{who}_p99_ms'], ' ms', 0)}"
                           if "rates" in db else "—")

    def dachs_cpu_p99(name: str) -> str:
        return (f"{_range(_merged(report, 'rates', name, 'dachs_cpu_ms'), ' ms')} / "
                f"{_range(_merged(report, 'rates', name, 'dachs_p99_ms'), ' ms', 0)}")

    many = options["jobs"]
    batch = options.get("batch_jobs", 10_000)
    waiters = options["waiters"]
    held = next((db["waits"]["all_held"]["settings"] for db in dbs.values() if "waits" in db),
                {})
    held_text = ", ".join(f"{k}={v}" for k, v in held.items()) if held else "raised"
    rows: list[tuple[str, list[str]]] = [
        ("job creation, ratio to the Flask ceiling",
         cells(rate("create", "ratio_to_ceiling"),
               _range(_merged(report, "rates", "create", "dachs_ratio_to_ceiling"), "", 3))),
        ("job creation, ratio to DaCHS", cells(rate("create", "ratio_to_dachs"), "1")),
        ("job creation, server CPU per request / p99",
         cells(cpu_p99("create", "service"), dachs_cpu_p99("create"))),
        ("job GET, ratio to the ceiling",
         cells(rate("get_job", "ratio_to_ceiling"),
               _range(_merged(report, "rates", "get_job", "dachs_ratio_to_ceiling"), "", 3))),
        ("job GET, ratio to DaCHS", cells(rate("get_job", "ratio_to_dachs"), "1")),
        ("job GET, server CPU per request / p99",
         cells(cpu_p99("get_job", "service"), dachs_cpu_p99("get_job"))),
        ("the ceiling: CPU per request / p99, creation",
         cells(cpu_p99("create", "ceiling"), "—")),
        (f"`LAST=100` among {many:,} jobs, {TIMES} a single-job GET",
         cells(lambda db: _last_cell(db.get("many_jobs")), "—")),
        (f"{waiters:,} WAIT clients on one job, default settings: p50 / p99 after the change",
         cells(lambda db: _wait_cell(db.get("waits", {}).get("default")),
               _wait_cell(next((db["waits"].get("dachs") for db in dbs.values()
                                if "waits" in db), None)))),
        (f"{waiters:,} WAIT clients, threads for all ({held_text})",
         cells(lambda db: _wait_cell(db.get("waits", {}).get("all_held")), "—")),
        (f"{waiters:,} jobs with one WAIT client each, all aborted: p50 / p99 after each change",
         cells(lambda db: _wait_cell(db.get("waits", {}).get("spread")), "—")),
        (f"dispatcher CPU, idle, {many:,} finished jobs in the table",
         cells(lambda db: f"{db['many_jobs']['dispatcher_idle']['percent_of_core']:g} % of a core"
               if "many_jobs" in db else "—", "—")),
        (f"the whole {many:,}-job list streamed: RSS growth of the worker",
         cells(lambda db: _stream_cell(db.get("many_jobs", {}).get("list_stream")), "—")),
        (f"a {_size(options['result_bytes'])} result streamed: RSS growth",
         cells(lambda db: _stream_cell(db.get("many_jobs", {}).get("result_stream")), "—")),
        ("job creation with a bearer token, ratio to anonymous mode",
         cells(lambda db: _range(db.get("authentication", {}).get("create", {})
                                 .get("on_over_off")), "—")),
        ("job GET with a bearer token, ratio to anonymous mode",
         cells(lambda db: _range(db.get("authentication", {}).get("get_job", {})
                                 .get("on_over_off")), "—")),
        (f"a {batch:,}-job batch created in one request (target ≤ 5 s)",
         cells(lambda db: _range(db.get("batches", {}).get("create_seconds"), " s"), "—")),
        ("batch creation, jobs/s as a ratio to single-job creation",
         cells(lambda db: _range(db.get("batches", {})
                                 .get("jobs_per_second_ratio_to_single"), TIMES, 1), "—")),
        (f"`GET /batches/{{id}}` over {batch:,} jobs, {TIMES} a job GET (target ≤ 2)",
         cells(lambda db: _range(db.get("batches", {}).get("get_batch_multiple_of_get")),
               "—")),
    ]
    lines = [f"| figure (ranges over {options['rounds']} rounds) | SQLite | PostgreSQL | "
             f"{dachs_note} |", "|---|---|---|---|"]
    lines += [f"| {label} | {' | '.join(values)} |" for label, values in rows]
    lines += ["", f"Command: `{report['command']}`"]
    return "\n".join(lines)
