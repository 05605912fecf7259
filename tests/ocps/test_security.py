"""The allow-lists and input checks: only operator-reviewed text ever reaches bash."""

from __future__ import annotations

import pytest
import requests

from tests.ocps.conftest import COMMAND
from tests.ocps.helpers import api, job_count, poll, put_job
from tests.support import assert_json_detail as assert_detail
from tests.support import job_dirs


def body(repo_url: str, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {"run_id": "42", "command": COMMAND, "url": repo_url,
                               "commit_ref": "main",
                               "environment": [{"name": "IMAGE_TAG", "value": "t"}]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_disabled_by_default(client, components):
    # in process: the default settings (empty allow-lists), on both databases
    def refused(response, *names: str) -> None:
        assert response.status_code == 403, response.text
        detail = response.get_json()["detail"]
        assert all(name in detail for name in names), detail

    refused(client.put("/api/v1/job", json={"run_id": "1", "command": COMMAND,
                                            "url": "https://x"}),
            "UWS_OCPS_ALLOWED_COMMANDS", "UWS_OCPS_ALLOWED_REPOS")
    # even a request that is otherwise malformed: the service says what to configure first
    refused(client.put("/api/v1/job", json={"run_id": "1"}), "UWS_OCPS_ALLOWED_COMMANDS")
    # the UWS front door of the same job type is closed too
    uws = client.post("/uws/ocps", data={"command": COMMAND, "url": "https://x", "PHASE": "RUN"})
    assert uws.status_code == 403, uws.text
    assert client.get("/api/v1/job").get_json() == []
    assert not job_dirs(components.settings.data_dir)


@pytest.mark.parametrize(("changes", "named"), [
    ({"command": "cd $JOB_SOURCE_DIR && bash bin/pipetask.sh; touch /tmp/owned"}, "command"),
    ({"command": COMMAND + " "}, "command"),
    ({"command": "rm -rf /"}, "command"),
    ({"url": "https://github.com/lsst-dm/uws_scripts"}, "url"),
    ({"url": "file:///etc"}, "url"),
])
def test_not_allowed(ocps_server, repo, changes, named):
    before = job_count(ocps_server)
    assert_detail(put_job(ocps_server, body(repo.url, **changes)), 403, named)
    assert job_count(ocps_server) == before


@pytest.mark.parametrize(("changes", "named"), [
    ({"command": None}, "command"),
    ({"command": 5}, "command"),
    ({"environment": [{"name": "1ABC", "value": "x"}]}, "environment[0].name"),
    ({"environment": [{"name": "A-B", "value": "x"}]}, "environment[0].name"),
    ({"environment": [{"name": "BASH_FUNC_x%%", "value": "() { id; }"}]}, "name"),
    ({"environment": [{"name": "OK", "value": "1"}, {"name": "PATH", "value": "/tmp"}]},
     "PATH"),
    ({"environment": [{"name": "LD_PRELOAD", "value": "/tmp/x.so"}]}, "LD_PRELOAD"),
    ({"environment": [{"name": "BASH_ENV", "value": "/tmp/x"}]}, "BASH_ENV"),
    ({"environment": [{"name": "JOB_SOURCE_DIR", "value": "/"}]}, "JOB_SOURCE_DIR"),
    ({"environment": [{"name": "X", "value": 3}]}, "value"),
    ({"environment": [{"name": "X", "value": "a\x00b"}]}, "NUL"),
    ({"environment": [{"name": "X", "value": "1"}, {"name": "X", "value": "2"}]}, "twice"),
    ({"environment": {"X": "1"}}, "environment"),
    ({"commit_ref": "--upload-pack=touch /tmp/x"}, "commit_ref"),
    ({"commit_ref": "-b"}, "commit_ref"),
    ({"commit_ref": "main; id"}, "commit_ref"),
    ({"url": "", "commit_ref": "main"}, "commit_ref"),
    ({"url": None, "commit_ref": "main"}, "commit_ref"),
    ({"url": "-uhttps://x"}, "url"),
    ({"url": "file:///x /y"}, "url"),
    ({"run_id": ["42"]}, "run_id"),
    ({"replicas": 0}, "replicas"),
    ({"replicas": 1000}, "replicas"),
])
def test_invalid(ocps_server, repo, changes, named):
    before = job_count(ocps_server)
    assert_detail(put_job(ocps_server, body(repo.url, **changes)), 400, named)
    assert job_count(ocps_server) == before


@pytest.mark.parametrize("data", [b"{not json", b"", b"[1, 2]", b'"text"'])
def test_malformed_body(ocps_server, data):
    response = requests.put(f"{api(ocps_server)}/job", data=data,
                            headers={"Content-Type": "application/json"}, timeout=30)
    assert_detail(response, 400, "body")


def test_too_large(ocps_server, repo):
    huge = body(repo.url, environment=[{"name": "BIG", "value": "x" * 300_000}])
    assert_detail(put_job(ocps_server, huge), 413, "too large")


def test_hostile_values_stay_text(ocps_server, repo, tmp_path):
    markers = [tmp_path / name for name in ("a", "b", "c", "d")]
    hostile = (f"$(touch {markers[0]})`touch {markers[1]}`; touch {markers[2]} "
               f"&& touch {markers[3]} ${{IFS}}'\"\\")
    created = put_job(ocps_server, body(repo.url, environment=[
        {"name": "IMAGE_TAG", "value": "t"}, {"name": "HOSTILE", "value": hostile}]))
    assert created.status_code == 200, created.text
    job_id = created.json()["jobId"]
    final = poll(ocps_server, job_id, "42")
    assert final["phase"] == "completed", final
    texts = [requests.get(r["uri"], timeout=30).text for r in final["results"]]
    assert hostile in texts, texts
    assert not [m for m in markers if m.exists()], "a hostile value was executed"


def test_uws_front_door_keeps_the_rules(ocps_server, repo):
    """The same jobs at /uws/ocps: creating or changing one is checked the same way."""
    uws = f"{ocps_server.url}/uws/ocps"
    refused = requests.post(uws, data={"command": "id", "url": repo.url},
                            allow_redirects=False, timeout=30)
    assert refused.status_code == 403, refused.text
    pending = requests.post(uws, data={"command": COMMAND, "url": repo.url},
                            allow_redirects=False, timeout=30)
    assert pending.status_code == 303, pending.text
    job_url = pending.headers["Location"]
    changed = requests.post(job_url, data={"command": "id"}, allow_redirects=False, timeout=30)
    assert changed.status_code == 403, changed.text
    changed = requests.post(job_url, data={"commit_ref": "-x"}, allow_redirects=False,
                            timeout=30)
    assert changed.status_code == 400, changed.text
    params = requests.get(f"{job_url}/parameters/command", timeout=30)
    assert params.text == COMMAND
    requests.delete(job_url, allow_redirects=False, timeout=30)


@pytest.mark.parametrize("url,status", [
    ("https://github.com/lsst-dm/uws_scripts", None),
    ("https://github.com/lsst-dm/uws_scripts.git", None),
    ("https://github.com/lsst-dm/uws_scripts/sub", None),
    ("https://git.example.org/team/repo", None),
    ("https://github.com/lsst-dm/uws_scripts-evil", 403),
    ("https://github.com/lsst-dm/uws_scriptsX", 403),
    ("https://git.example.org/team/../evil/repo", 400),
    ("https://git.example.org/team/%2E%2E/evil", 400),
    ("https://github.com/lsst-dm/uws_scripts/../../evil", 400),
])
def test_repository_prefixes_match_at_path_boundaries_and_dot_segments_are_refused(url, status):
    from uws_server.config import Settings
    from uws_server.errors import UWSError
    from uws_server.services.ocps import check_url

    settings = Settings(ocps_allowed_commands="x", ocps_allowed_repos=(
        "https://github.com/lsst-dm/uws_scripts\nhttps://git.example.org/team/"))
    if status is None:
        check_url(settings, url)
    else:
        with pytest.raises(UWSError) as caught:
            check_url(settings, url)
        assert caught.value.status == status
