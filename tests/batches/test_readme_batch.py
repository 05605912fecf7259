"""The README's batch example runs verbatim against a live server (anonymous operator mode)."""

from __future__ import annotations

import re
import subprocess

from tests.test_readme import README


def test_readme_batch_example_runs_verbatim(server):
    section = README.read_text().split("## Batches: many jobs in one request", 1)[1]
    script = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    assert "API=http://127.0.0.1:8080\n" in script
    script = script.replace("API=http://127.0.0.1:8080\n", f"API={server.url}\n")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"submitted_jobs"' in done.stdout and '"tool_id":"echo/1.0.0"' in done.stdout
    assert done.stdout.rstrip().endswith("204")
