"""``uws-server db current`` and ``db history``: the schema revision, read through Alembic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.ops.test_upgrade_with_data import upgrade_to
from uws_server.schema_versions import head, history

ROOT = Path(__file__).resolve().parents[2]


def _db(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UWS_DATABASE_URL": url, "UWS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "uws_server.cli", "db", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_current_says_none_and_exits_1_on_an_empty_database(empty_url, tmp_path):
    done = _db(empty_url, tmp_path, "current")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("none (an empty database")


def test_current_names_a_revision_behind_head_and_exits_1(empty_url, tmp_path):
    upgrade_to(empty_url, "0002")
    done = _db(empty_url, tmp_path, "current")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"0002 (behind: the newest schema is {head()}")


def test_current_says_head_and_exits_0_after_db_upgrade(empty_url, tmp_path):
    assert _db(empty_url, tmp_path, "upgrade").returncode == 0
    done = _db(empty_url, tmp_path, "current")
    assert (done.returncode, done.stdout) == (0, f"{head()} (head)\n"), done.stderr


def test_history_lists_every_revision_newest_first_marking_head_and_current(empty_url,
                                                                            tmp_path):
    upgrade_to(empty_url, "0001")
    lines = _db(empty_url, tmp_path, "history").stdout.splitlines()
    assert [line.split(":")[0].split(" -> ")[1].split(" ")[0] for line in lines] == [
        revision.id for revision in history()]
    assert lines[0].startswith(f"{history()[0].down} -> {head()} (head):")
    assert lines[-1].startswith("<base> -> 0001 (current): Initial tables")


def test_current_on_a_database_that_does_not_answer_is_one_line_and_exit_2(tmp_path):
    done = _db("postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none", tmp_path, "current")
    assert done.returncode == 2
    assert done.stderr.startswith("uws-server: cannot read the database: ")
    assert "hunter2" not in done.stderr and len(done.stderr.splitlines()) == 1
