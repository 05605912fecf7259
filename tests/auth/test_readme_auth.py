"""The README's users-and-tokens commands run verbatim against a server of their own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import LiveServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    section = README.read_text().split("## Users and tokens", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_readme_user_and_token_commands_run_as_written(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'uws.sqlite3'}"
    with LiveServer.start(data_dir, url) as server:
        cli = f"{Path(sys.executable).parent}/uws-server"
        script = _snippet().replace(".venv/bin/uws-server", cli)
        script = f"UWS={server.url}/uws\n" + script
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                              text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "UWS_DATA_DIR": str(data_dir),
                                   "UWS_DATABASE_URL": url})
        assert done.returncode == 0, done.stderr
        codes = [line for line in done.stdout.split() if line.isdigit()]
        assert codes == ["401", "200", "200"], done.stdout
