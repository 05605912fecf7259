"""One computation for many threads that ask for the same thing at the same moment.

A phase change wakes every ``WAIT`` blocked on the job at once: a thousand
threads that would each read the phase and render the same document. With
:class:`SharedResults` the first thread to ask for a key computes it and the
others wait for that answer, so one change costs one read and one render
whatever the crowd (issue 14). Keys carry what makes answers differ (the job,
the wake-up generation, the document's format and base URL), and only the
last few hundred keys are kept: an answer is for the crowd woken together,
not a cache of the job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

#: Keys remembered at once; older ones are forgotten first.
KEPT_KEYS = 512


class _Answer:
    """The result of one computation, once it is there (``done``)."""

    __slots__ = ("done", "failed", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.failed = False


class SharedResults:
    """Compute each key once for the threads that ask for it together.

    Parameters
    ----------
    kept
        How many keys are remembered; the oldest is forgotten past that.
    """

    def __init__(self, kept: int = KEPT_KEYS) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._answers: OrderedDict[Hashable, _Answer] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s result for ``key``: computed here, or by the thread already at it.

        A computation that raises is not shared: the exception goes to the thread that
        ran it, and each waiting thread then computes for itself (a job deleted, or a
        caller who may not see it, is an answer of its own).
        """
        with self._lock:
            answer = self._answers.get(key)
            mine = answer is None
            if answer is None:
                answer = self._answers[key] = _Answer()
                while len(self._answers) > self._kept:
                    self._answers.popitem(last=False)
        if not mine:
            answer.done.wait()
            if answer.failed:
                return compute()
            return answer.value
        try:
            value = answer.value = compute()
        except BaseException:
            answer.failed = True
            with self._lock:
                if self._answers.get(key) is answer:
                    del self._answers[key]
            raise
        finally:
            answer.done.set()
        return value
