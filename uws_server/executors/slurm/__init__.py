"""The Slurm backend: sbatch/squeue/sacct/scancel with a deadline on every call.

- :mod:`.settings` the ``UWS_SLURM_*`` settings;
- :mod:`.script` the batch script and its directives;
- :mod:`.runner` the command runner with deadlines;
- :mod:`.queries`, :mod:`.records`, :mod:`.status` reading Slurm's answers;
- :mod:`.executor` the :class:`SlurmExecutor` itself.
"""

from __future__ import annotations

from .executor import SlurmExecutor
from .settings import SlurmSettings

__all__ = ["SlurmExecutor", "SlurmSettings"]
