"""The key that signs session cookies: a setting, or made once under the data directory."""

from __future__ import annotations

import stat
from pathlib import Path

from uws_server.config import Settings
from uws_server.ui.session import SECRET_FILE, secret_key


def test_the_generated_key_is_made_once_private_and_kept(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    first = secret_key(settings)
    assert secret_key(settings) == first and len(first) >= 32
    kept = tmp_path / SECRET_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRET_FILE]  # no draft left


def test_the_setting_wins_over_the_generated_key(tmp_path: Path):
    assert secret_key(Settings(data_dir=tmp_path, ui_secret="configured")) == "configured"
    assert not (tmp_path / SECRET_FILE).exists()
