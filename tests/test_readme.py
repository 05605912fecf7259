"""The README's curl walk-through runs verbatim against a live server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _walkthrough() -> str:
    text = README.read_text()
    section = text.split("## A whole job, from curl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_readme_walkthrough_runs_verbatim_against_a_fresh_server(server):
    script = _walkthrough()
    assert "UWS=http://127.0.0.1:8080/uws" in script
    script = script.replace("UWS=http://127.0.0.1:8080/uws", f"UWS={server.url}/uws")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "hello, sky" in out
    assert "COMPLETED" in out
    assert '"jobId"' in out  # the JSON form
    assert "\n9\n" in out  # nine words counted
    assert out.rstrip().endswith("303\n303\n404")


def test_readme_error_example_prints_what_the_readme_says(server):
    done = subprocess.run(["curl", "-s", "-X", "POST", f"{server.url}/uws/sleep", "-d",
                           "seconds=soon"], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "seconds: expected a number, got 'soon'"
    assert "seconds: expected a number, got 'soon'" in README.read_text()


def test_readme_links_to_files_that_exist():
    text = README.read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link.split("#", 1)[0] for link in links
             if not link.startswith(("http://", "https://", "mailto:", "#"))]
    assert local, "no local link found: the pattern is wrong"
    missing = sorted({link for link in local if not (README.parent / link).exists()})
    assert not missing, f"README links to missing files: {missing}"
