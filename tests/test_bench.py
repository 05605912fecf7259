"""The benchmark harness still runs end to end and reports every figure.

A bounded smoke run (SQLite, tiny sizes, no DaCHS): its numbers are read by people,
never asserted; what is asserted is the report's shape and its internal consistency
(ratios are the quotients of the rates they come from, every WAIT client is accounted for,
the streamed result arrives whole).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

from tests.support import ROOT

SMOKE = ["--databases", "sqlite", "--rounds", "1", "--seconds", "1", "--jobs", "1000",
         "--idle-seconds", "1", "--waiters", "10", "--wait-job-seconds", "3",
         "--result-mib", "4", "--batch-jobs", "1000", "--dachs", ""]


def test_bench_harness_reports_every_figure_with_ratios_from_its_own_rates(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "UWS_BENCH_DACHS"}
    done = subprocess.run([sys.executable, "bench/run.py", *SMOKE, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = tmp_path.glob("bench-*.json")
    report = json.loads(path.read_text())

    assert report["command"].endswith(shlex.join([*SMOKE, "--out", str(tmp_path)]))
    assert {"workers", "threads", "worker_class", "accesslog"} <= set(report["gunicorn"])
    assert report["dachs"]["measured"] is False and report["dachs"]["reason"]
    sqlite = report["databases"]["sqlite"]

    for name in ("create", "get_job"):
        (one,) = sqlite["rates"]["rounds"]
        service, ceiling = one[name]["service"], one[name]["ceiling"]
        assert service["requests"] > 0 and ceiling["requests"] > 0
        assert service["server_cpu_ms_per_request"] > 0
        assert service["latency_ms"]["p99"] > 0
        figure = sqlite["rates"][name]["ratio_to_ceiling"]
        assert abs(figure["min"] - service["rate"] / ceiling["rate"]) < 0.01
        assert sqlite["rates"][name]["ratio_to_dachs"] is None

    many = sqlite["many_jobs"]
    assert many["populate"]["jobs_before"] + many["populate"]["jobs_added"] == 1000
    assert many["last100"]["multiple_of_get"]["min"] > 0
    assert many["dispatcher_idle"]["percent_of_core"] >= 0
    assert many["list_stream"]["status"] == 200 and many["list_stream"]["bytes"] > 1000 * 100
    assert many["result_stream"]["status"] == 200
    assert many["result_stream"]["bytes"] == 4 << 20

    for variant in ("default", "all_held"):
        wait = sqlite["waits"][variant]
        accounted = (wait["returned_after_change"] + wait["returned_before_change"]
                     + wait["sent_after_change"] + wait["failed"])
        assert wait["clients"] == 10 and accounted == 10
        assert wait["probe"]["timeout_s"] > 0
        # the waiters blocked on a job that ran and finished normally, after they were sent
        assert wait["phase_after"] == "COMPLETED"
        assert wait["timeline_s"]["last_request_sent"] < wait["timeline_s"]["change"]
    assert "dachs" not in sqlite["waits"]
    spread = sqlite["waits"]["spread"]  # one waiter on each of ten jobs, each aborted
    assert spread["clients"] == 10 and spread["failed"] == 0
    assert spread["returned_after_change"] == 10  # none answered before its own job changed
    assert spread["timeline_s"]["last_request_sent"] < spread["timeline_s"]["first_change"]

    authentication = sqlite["authentication"]
    for name in ("create", "get_job"):
        (one,) = authentication["rounds"]
        on, off = one[name]["on"], one[name]["off"]
        assert on["requests"] > 0 and off["requests"] > 0
        assert abs(authentication[name]["on_over_off"]["min"] - on["rate"] / off["rate"]) < 0.01
        assert authentication[name]["wrk_errors"] == 0  # the token was accepted: no 401s

    made = sqlite["batches"]
    assert made["batch_jobs"] == 1000 and made["single_create"]["rate"] > 0
    (one,) = made["rounds"]
    assert abs(made["jobs_per_second_ratio_to_single"]["min"]
               - one["jobs_per_second"] / made["single_create"]["rate"]) < 0.1
    assert abs(made["get_batch_multiple_of_get"]["min"]
               - one["get_job"]["rate"] / one["get_batch"]["rate"]) < 0.01
    assert made["started_create_seconds"] > 0

    table = report["table_markdown"]
    assert table == done.stdout.split("\n\nReport: ")[0]
    assert table.count("\n| ") == 19 and "not measured" in table  # one row per figure
