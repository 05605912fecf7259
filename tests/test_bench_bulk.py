"""The bench's ``bulk`` part runs end to end and reports bulk against one by one.

A bounded smoke run (SQLite, the local executor, tiny queues): the numbers are read by
people, never asserted; what is asserted is that every job was handed over, that the
figures are consistent (per-job times and their ratio), and that the table shows them.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT

SMOKE = ["--parts", "bulk", "--databases", "sqlite", "--bulk-backends", "local",
         "--bulk-local-jobs", "20", "--bulk-single-jobs", "5", "--dachs", ""]


def test_bench_bulk_part_hands_every_job_over_and_reports_the_ratio_to_one_by_one(tmp_path):
    done = subprocess.run([sys.executable, "bench/run.py", *SMOKE, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = tmp_path.glob("bench-*.json")
    local = json.loads(path.read_text())["databases"]["sqlite"]["bulk"]["local"]
    bulk, single = local["bulk"], local["one_by_one"]
    assert (bulk["jobs"], bulk["handed_over"]) == (20, 20)
    assert (single["jobs"], single["handed_over"]) == (5, 5)
    # ``seconds`` is rounded to the millisecond, so its per-job share is off by up to 0.5 ms / 20.
    assert abs(bulk["ms_per_job"] - 1000 * bulk["seconds"] / 20) <= 1000 * 0.0005 / 20 + 0.001
    assert abs(local["speedup_per_job"] - single["ms_per_job"] / bulk["ms_per_job"]) < 0.1
    assert "| sqlite local | 20 |" in done.stdout
