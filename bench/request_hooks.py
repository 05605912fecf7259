"""What the operations hooks (request id, HTTP metrics) cost per request, in process.

The same application answers ``GET /health`` and a job GET through Flask's test client,
with the hooks of :mod:`uws_server.api.observe` and without them, alternating rounds in the
same run; the report is the ratio of the two rates (no absolute speed is asserted anywhere).

    .venv/bin/python bench/request_hooks.py [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uws_server.app import create_app
from uws_server.config import Settings
from uws_server.wiring import bootstrap


def _rate(client, path: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        client.get(path)
    return count / (time.perf_counter() - started)


def main() -> int:
    """Print requests per second with and without the hooks, and their ratio, per path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(data_dir=Path(tempfile.mkdtemp()) / "data")
    bootstrap(settings)
    hooked = create_app(settings)
    bare = create_app(settings)
    from uws_server.api import observe

    bare.before_request_funcs[None] = [f for f in bare.before_request_funcs[None]
                                       if f.__qualname__ != f"{observe.register.__name__}"
                                       ".<locals>.begin"]
    bare.after_request_funcs[None] = [f for f in bare.after_request_funcs[None]
                                      if "observe" not in f.__module__]
    bare.teardown_request_funcs[None] = [f for f in bare.teardown_request_funcs[None]
                                         if "observe" not in f.__module__]
    job = hooked.test_client().post("/uws/echo", data={"message": "x"}).headers["Location"]
    job_path = "/uws/echo/" + job.rsplit("/", 1)[-1]
    for path in ("/health", job_path):
        with_hooks, without = [], []
        for _ in range(args.rounds):
            with_hooks.append(_rate(hooked.test_client(), path, args.requests))
            without.append(_rate(bare.test_client(), path, args.requests))
        a, b = statistics.median(with_hooks), statistics.median(without)
        shown = "GET /uws/echo/{id}" if path == job_path else f"GET {path}"
        print(f"{shown:24} with hooks {a:8.0f}/s  without {b:8.0f}/s  ratio {a / b:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
