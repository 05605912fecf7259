"""The embedded backend: jobs as supervised local processes (:mod:`.runner`)."""

from __future__ import annotations

from .executor import LocalExecutor

__all__ = ["LocalExecutor"]
