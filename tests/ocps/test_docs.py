"""docs/ocps.md's curl walk-through runs verbatim (but for the server and repository URLs)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "ocps.md"
DOC_REPO = "https://github.com/lsst-dm/uws_scripts"


def _blocks() -> list[str]:
    section = DOC.read_text().split("## From curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_curl_walkthrough(ocps_server, repo, tmp_path):
    walkthrough, refused = _blocks()
    assert f"OCPS=http://127.0.0.1:8080/api/v1\nREPO={DOC_REPO}\n" in walkthrough
    run = (walkthrough.replace("http://127.0.0.1:8080", ocps_server.url)
           .replace(f"REPO={DOC_REPO}", f"REPO={repo.url}"))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", run], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert '"runId":"42"' in lines[0]
    assert lines[1] == '"completed"'
    assert lines[3] == "w_2024_10"
    assert lines[-1].startswith('{"detail":"no job') and lines[-1].endswith(" 404")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c",
                           refused.replace("http://127.0.0.1:8080", ocps_server.url)
                           .replace("$OCPS", f"{ocps_server.url}/api/v1")],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == ('{"detail":"command: not one of the commands allowed on this '
                                   "service (UWS_OCPS_ALLOWED_COMMANDS): 'rm -rf ~'\"} 403")
