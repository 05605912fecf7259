"""docs/registry.md's curl walk-through runs verbatim against a fresh server."""

from __future__ import annotations

import contextlib
import re
import subprocess
import uuid
from pathlib import Path

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, postgres_schema

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "registry.md"


def _walkthrough() -> str:
    section = DOC.read_text().split("## From curl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_registry_walkthrough_runs_verbatim_against_a_fresh_server(database_url, tmp_path):
    script = _walkthrough()
    assert "V6=http://127.0.0.1:8080/v6\nUWS=http://127.0.0.1:8080/uws" in script
    with contextlib.ExitStack() as stack:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        else:
            url = stack.enter_context(
                postgres_schema(POSTGRES_BASE, f"uws_regdoc_{uuid.uuid4().hex[:10]}"))
        live = stack.enter_context(LiveServer.start(tmp_path, url))
        run = script.replace("http://127.0.0.1:8080", live.url)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", run], capture_output=True,
                              text=True, timeout=180, cwd=tmp_path)
        log = live.log()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"is_valid":true' in out and "job.errors[0].name" in out
    assert re.search(r"HTTP/1\.[01] 201", out)
    assert f"Location: {live.url}/v6/job-types/hello/1.0.0/" in out
    assert '"DB_TOKEN":"*****"' in out
    assert '"latest_version":"1.0.0"' in out
    assert "\nQUEUED\n" in out and '"longest_pending"' in out
    assert "hello from the registry" in out
    assert '"revision_num":2' in out and '"status":"COMPLETED"' in out
    assert "not active" in out and "\n409\n" in out
    assert "page_size: must be from 1 to 1000" in out and "\n400\n" in out
    assert out.rstrip().endswith("404")
    assert "tok-8d1c55" not in out and "tok-8d1c55" not in log
