"""SlurmSettings: defaults, validation and the UWS_SLURM_* environment variables."""

from __future__ import annotations

import pytest

from uws_server.executors.slurm.settings import DEFAULT_EXPORT_ENV, SlurmSettings


def test_from_env_reads_every_uws_slurm_variable():
    settings = SlurmSettings.from_env(
        {
            "UWS_SLURM_PARTITION": "short",
            "UWS_SLURM_ACCOUNT": "astro",
            "UWS_SLURM_QOS": "high",
            "UWS_SLURM_TIMEOUT": "7.5",
            "UWS_SLURM_EXTRA_ARGS": "--constraint=avx2 '--licenses=idl:1'",
            "UWS_SLURM_ACCOUNTING": "no",
            "UWS_SLURM_JSON": "yes",
            "UWS_SLURM_BIN": "/opt/slurm/bin",
            "UWS_SLURM_CONF": "/etc/slurm/other.conf",
            "UWS_SLURM_EXPORT_ENV": "PATH, LD_LIBRARY_PATH",
            "UWS_SLURM_MAX_JOBS": "50",
            "UWS_SLURM_HISTORY": "now-1days",
            "UNRELATED": "x",
        }
    )
    assert settings == SlurmSettings(
        partition="short",
        account="astro",
        qos="high",
        command_timeout=7.5,
        extra_sbatch_args=("--constraint=avx2", "--licenses=idl:1"),
        accounting="no",
        json="yes",
        bin_prefix="/opt/slurm/bin",
        slurm_conf="/etc/slurm/other.conf",
        export_env=("PATH", "LD_LIBRARY_PATH"),
        max_jobs=50,
        history_window="now-1days",
    )


def test_from_env_with_nothing_set_gives_the_defaults():
    settings = SlurmSettings.from_env({"UWS_SLURM_PARTITION": "  "})
    assert settings == SlurmSettings()
    assert settings.accounting == "auto"
    assert settings.command_timeout == 15.0
    assert settings.export_env == DEFAULT_EXPORT_ENV


@pytest.mark.parametrize(
    "environ",
    [
        {"UWS_SLURM_ACCOUNTING": "maybe"},
        {"UWS_SLURM_TIMEOUT": "0"},
        {"UWS_SLURM_TIMEOUT": "nan"},
        {"UWS_SLURM_EXTRA_ARGS": "notanoption"},
        {"UWS_SLURM_PARTITION": "two words"},
    ],
)
def test_from_env_rejects_invalid_values(environ):
    with pytest.raises(ValueError):
        SlurmSettings.from_env(environ)


def test_command_is_looked_up_under_the_binary_prefix():
    assert SlurmSettings().command("squeue") == "squeue"
    assert SlurmSettings(bin_prefix="/opt/slurm/bin").command("squeue") == "/opt/slurm/bin/squeue"
