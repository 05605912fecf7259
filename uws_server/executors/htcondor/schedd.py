"""The narrow schedd interface, the real schedd, and the child process it runs in.

A schedd that accepts a connection and never answers freezes every thread of
the calling process (the bindings hold the GIL), and ``submit()`` has no client
timeout. So the real :class:`RealSchedd` only ever runs in a helper process
(``spawn`` context, started lazily, reused) that :class:`ChildProcessSchedd`
talks to over a pipe with a deadline per call: past it the helper is killed,
the call raises a transient :class:`ExecutorError`, and the next call starts a
fresh helper. The bindings are imported in the helper only.

Ads cross the pipe as plain ``dict`` objects (only the projected attributes).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol

from uws_server.executors.base import ExecutorError
from uws_server.executors.htcondor.settings import HTCondorSettings

log = logging.getLogger(__name__)

Ad = dict[str, Any]


class ScheddAPI(Protocol):
    """What the executor needs from a schedd, and nothing more."""

    def query(self, constraint: str, projection: Sequence[str]) -> list[Ad]:
        """Ads of queued jobs matching ``constraint``."""
        ...

    def history(self, constraint: str, projection: Sequence[str], match: int) -> list[Ad]:
        """Ads of jobs that left the queue, newest first, at most ``match``."""
        ...

    def submit(
        self, commands: Mapping[str, str], count: int, itemdata: list[dict[str, str]] | None
    ) -> int:
        """Submit one cluster (``count`` jobs, or one per item); return its id."""
        ...

    def act(self, action: str, job_ids: Sequence[str], reason: str) -> Ad:
        """Apply a ``JobAction`` (by name: ``"Remove"``, ``"Release"``...) with a reason.

        The answer counts the jobs by outcome: ``TotalSuccess``, ``TotalNotFound``,
        ``TotalBadStatus`` (not in a state the action applies to),
        ``TotalPermissionDenied``, ``TotalError``.
        """
        ...

    def edit(self, job_ids: Sequence[str], attr: str, value: str) -> None:
        """Set ``attr`` to the ClassAd expression ``value`` in the jobs' ads."""
        ...

    def retrieve(self, job_ids: Sequence[str]) -> None:
        """Fetch spooled outputs of finished jobs (remote access point)."""
        ...

    def close(self) -> None:
        """Let go of the schedd (a helper process); nothing for an in-process schedd."""
        ...


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _to_dict(ad: Any, projection: Sequence[str]) -> Ad:
    keys = projection or list(ad.keys())
    out: Ad = {}
    for key in keys:
        if key in ad:
            try:
                out[key] = _plain(ad.eval(key))
            except Exception:  # an expression that does not evaluate: keep its text
                out[key] = _plain(ad.get(key))
    return out


class RealSchedd:
    """``htcondor2.Schedd`` behind :class:`ScheddAPI`. Use it in a child process only."""

    def __init__(self, settings: HTCondorSettings) -> None:
        import htcondor2

        self._htcondor = htcondor2
        self._spool = settings.spool
        if settings.schedd_name or settings.collector:
            # a remote access point: ask the collector where the (named) schedd is
            collector = htcondor2.Collector(settings.collector)
            where = collector.locate(htcondor2.DaemonType.Schedd, settings.schedd_name)
            self._schedd = htcondor2.Schedd(where)
        else:
            self._schedd = htcondor2.Schedd()

    def query(self, constraint: str, projection: Sequence[str]) -> list[Ad]:
        ads = self._schedd.query(constraint=constraint, projection=list(projection))
        return [_to_dict(ad, projection) for ad in ads]

    def history(self, constraint: str, projection: Sequence[str], match: int) -> list[Ad]:
        ads = self._schedd.history(constraint=constraint, projection=list(projection), match=match)
        return [_to_dict(ad, projection) for ad in ads]

    def submit(
        self, commands: Mapping[str, str], count: int, itemdata: list[dict[str, str]] | None
    ) -> int:
        description = self._htcondor.Submit(dict(commands))
        if itemdata:
            result = self._schedd.submit(description, spool=self._spool, itemdata=iter(itemdata))
        else:
            result = self._schedd.submit(description, count=count, spool=self._spool)
        if self._spool:
            self._schedd.spool(result)
        return int(result.cluster())

    def act(self, action: str, job_ids: Sequence[str], reason: str) -> Ad:
        """Apply the action with ``reason`` as the job's ``RemoveReason``/``HoldReason``.

        The bindings (htcondor2 23.10 to 25.14 at least) send no reason at all for a plain
        string: only a ``(text, code)`` tuple reaches the schedd, which then appends
        " (by user NAME)". Without it the service would not recognise its own removals.
        """
        job_action = getattr(self._htcondor.JobAction, action)
        result = self._schedd.act(job_action, list(job_ids), reason=(reason, None))
        return _to_dict(result, ())

    def edit(self, job_ids: Sequence[str], attr: str, value: str) -> None:
        """Set an attribute and mark the ads dirty, so that a running job's shadow sees it.

        ``periodic_remove`` (the duration limit) is evaluated by the shadow of a running
        job; a plain edit changes the schedd's copy only, and the job would run on.
        """
        flags = self._htcondor.TransactionFlag.SetDirty
        self._schedd.edit(list(job_ids), attr, value, flags=flags)

    def retrieve(self, job_ids: Sequence[str]) -> None:
        constraint = " || ".join(_job_constraint(j) for j in job_ids)
        self._schedd.retrieve(constraint)


def _job_constraint(backend_id: str) -> str:
    cluster, _, proc = backend_id.partition(".")
    return f"(ClusterId == {int(cluster)} && ProcId == {int(proc or 0)})"


def real_schedd(settings: HTCondorSettings) -> RealSchedd:
    """Factory run in the helper process (importable by name, as ``spawn`` needs)."""
    return RealSchedd(settings)


def _serve(conn: Connection, factory: str, kwargs: dict[str, Any]) -> None:
    """The helper process: import the bindings, then answer calls forever.

    The schedd object is built on the first call, not at start-up: locating a
    schedd talks to the collector, which may hang, and that must count against
    the call's deadline, not the (longer) start-up allowance for the import.
    """
    module, _, name = factory.partition(":")
    try:
        make = getattr(importlib.import_module(module), name)
        conn.send(("ready", None))
    except Exception as exc:  # reported to the parent, which raises it
        conn.send(("err", (True, f"cannot load the schedd: {type(exc).__name__}: {exc}")))
        return
    schedd = None
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        method, args = request
        try:
            if schedd is None:
                try:
                    schedd = make(**kwargs)
                except ExecutorError:
                    raise
                except Exception as exc:
                    raise ExecutorError(f"cannot reach the schedd: {type(exc).__name__}: {exc}",
                                        transient=True) from None
            conn.send(("ok", getattr(schedd, method)(*args)))
        except ExecutorError as exc:
            conn.send(("err", (exc.transient, str(exc))))
        except (TypeError, ValueError, KeyError) as exc:
            conn.send(("err", (False, f"{method}: {type(exc).__name__}: {exc}")))
        except Exception as exc:  # HTCondorException and friends: the daemon's trouble
            conn.send(("err", (True, f"{method}: {type(exc).__name__}: {exc}")))


class ChildProcessSchedd:
    """A :class:`ScheddAPI` whose every call runs in a helper process with a deadline.

    Parameters
    ----------
    factory
        ``"module:function"`` building the schedd object in the helper.
    kwargs
        Keyword arguments of the factory (picklable).
    timeout
        Seconds a call may take; past it the helper is killed.
    startup_timeout
        Seconds the helper may take to start and import the bindings.
    """

    def __init__(
        self,
        factory: str,
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float = 20.0,
        startup_timeout: float = 60.0,
    ) -> None:
        self._factory = factory
        self._kwargs = dict(kwargs or {})
        self._timeout = timeout
        self._startup_timeout = startup_timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None

    @classmethod
    def for_settings(cls, settings: HTCondorSettings) -> ChildProcessSchedd:
        """The real schedd described by ``settings``, behind the deadline."""
        return cls(f"{__name__}:real_schedd", {"settings": settings}, timeout=settings.call_timeout)

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)

    def _start(self) -> Connection:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_serve,
            args=(child, self._factory, self._kwargs),
            daemon=True,
            name="uws-htcondor-schedd",
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._receive("start", self._startup_timeout)
        return parent

    def _receive(self, what: str, timeout: float) -> Any:
        conn = self._conn
        assert conn is not None
        try:
            ready = conn.poll(timeout)
            answer = conn.recv() if ready else None
        except (EOFError, OSError):
            self._kill()
            raise ExecutorError(f"schedd helper died during {what}", transient=True) from None
        if not ready:
            self._kill()
            raise ExecutorError(f"schedd {what} timed out after {timeout:g} s", transient=True)
        assert answer is not None  # ready: the helper answered
        kind, payload = answer
        if kind == "err":
            transient, message = payload
            if what == "start":
                self._kill()
            raise ExecutorError(message, transient=transient)
        return payload

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            conn = self._conn if self._proc is not None and self._proc.is_alive() else None
            if conn is None:
                self._kill()
                started = time.monotonic()
                conn = self._start()
                log.debug("schedd helper started in %.2f s", time.monotonic() - started)
            try:
                conn.send((method, args))
            except OSError:
                self._kill()
                raise ExecutorError("schedd helper pipe broke", transient=True) from None
            return self._receive(method, self._timeout)

    def query(self, constraint: str, projection: Sequence[str]) -> list[Ad]:
        return self._call("query", constraint, list(projection))

    def history(self, constraint: str, projection: Sequence[str], match: int) -> list[Ad]:
        return self._call("history", constraint, list(projection), match)

    def submit(
        self, commands: Mapping[str, str], count: int, itemdata: list[dict[str, str]] | None
    ) -> int:
        return self._call("submit", dict(commands), count, itemdata)

    def act(self, action: str, job_ids: Sequence[str], reason: str) -> Ad:
        return self._call("act", action, list(job_ids), reason)

    def edit(self, job_ids: Sequence[str], attr: str, value: str) -> None:
        self._call("edit", list(job_ids), attr, value)

    def retrieve(self, job_ids: Sequence[str]) -> None:
        self._call("retrieve", list(job_ids))

    def close(self) -> None:
        """Stop the helper process (politely, then by force)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
            if self._proc is not None:
                self._proc.join(2)
            self._kill()
