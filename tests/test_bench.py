"""The benchmark harness still runs and reports (its numbers are read by people, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT


def test_bench_harness_produces_a_report_with_ratios(tmp_path):
    done = subprocess.run([sys.executable, "bench/run.py", "--seconds", "0.5", "--clients", "2",
                           "--repeats", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    for name in ("create", "get_job"):
        assert report[name]["rate"] > 0
        expected = report[name]["rate"] / report[name]["baseline_rate"]
        assert abs(report[name]["ratio"] - expected) < 0.01
    assert report["wait_delay_s"]["samples"] >= 1
