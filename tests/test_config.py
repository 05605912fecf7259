"""Settings: UWS_* variables, the TOML file, and how bad values are named."""

from __future__ import annotations

import pytest

from uws_server.config import ConfigError, load_settings


def test_settings_come_from_uws_variables_and_bad_values_are_named():
    settings = load_settings({"UWS_PORT": "9000", "UWS_ALLOW_URL_INPUTS": "no",
                              "UWS_SLURM_PARTITION": "debug"})
    assert settings.port == 9000
    assert settings.allow_url_inputs is False
    assert settings.extra["UWS_SLURM_PARTITION"] == "debug"
    with pytest.raises(ConfigError, match="UWS_PORT"):
        load_settings({"UWS_PORT": "eighty"})
    with pytest.raises(ConfigError, match="UWS_EXECUTOR"):
        load_settings({"UWS_EXECUTOR": "kubernetes"})


def test_settings_file_is_read_and_environment_wins(tmp_path):
    config = tmp_path / "uws.toml"
    config.write_text('port = 7000\nmax_wait = 30\n')
    settings = load_settings({"UWS_CONFIG": str(config), "UWS_MAX_WAIT": "10"})
    assert (settings.port, settings.max_wait) == (7000, 10)
