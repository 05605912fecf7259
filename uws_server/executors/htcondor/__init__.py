"""The HTCondor execution backend.

Importing this package never imports the HTCondor bindings: they are loaded
in the schedd helper process and when a submit description is checked or an
event log read, so the web tier may import it freely.
"""

from __future__ import annotations

from uws_server.executors.htcondor.executor import HTCondorExecutor
from uws_server.executors.htcondor.settings import HTCondorSettings

__all__ = ["HTCondorExecutor", "HTCondorSettings"]
