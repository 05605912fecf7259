"""What webhooks cost: phase changes with and without a subscription, and the sender's rate.

``python bench/webhooks.py [--jobs N] [--database URL]`` (SQLite in a temporary directory by
default). In one run, on one database, it measures:

- the time of a phase change (``PHASE=RUN`` then ``PHASE=ABORT`` through the job service) of
  jobs **without** a subscription (the baseline) and of jobs **with** one (the outbox rows
  written in the same transaction): the ratio is the cost of the outbox;
- the sender's deliveries per second to a local receiver (claim, POST, record: three
  transactions and one HTTP exchange each) against bare POSTs of the same bodies through the
  same URL guard (the baseline): the ratio is the cost of at-least-once bookkeeping.

Numbers are printed as JSON, read by people, never asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from uws_server.config import Settings
from uws_server.dispatch.webhooks import WebhookSender
from uws_server.identity import Identity
from uws_server.models import NotificationDelivery
from uws_server.urlguard import open_url, url_policy
from uws_server.wiring import Components, bootstrap, build_components

WHO = Identity(name="bench")


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _changes(components: Components, jobs: int, url: str | None) -> float:
    """Seconds per phase change (two per job) of ``jobs`` new jobs."""
    extra = [("NOTIFICATION.URL", url)] if url else []
    ids = [components.jobs.create(WHO, "echo", [("message", "x"), *extra], {}).id
           for _ in range(jobs)]
    start = time.perf_counter()
    for job_id in ids:
        components.jobs.run(WHO, "echo", job_id)
        components.jobs.abort(WHO, "echo", job_id)
    return (time.perf_counter() - start) / (2 * jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data, database_url=args.database
                            or f"sqlite:///{data / 'uws.sqlite3'}", url_allow="127.0.0.1/32",
                            webhook_secret="bench", max_duration=0)
        bootstrap(settings)
        components = build_components(settings)
        _changes(components, 10, None)  # warm up
        without = _changes(components, args.jobs, None)
        with_one = _changes(components, args.jobs, url)
        with components.db.read() as session:
            bodies = [p.encode() for p in session.scalars(select(NotificationDelivery.payload))]
        sender = WebhookSender(components.db, settings)
        start = time.perf_counter()
        while sender.send_due():
            pass
        sender_rate = len(bodies) / (time.perf_counter() - start)
        start = time.perf_counter()
        for body in bodies:
            with open_url(url, url_policy(settings), deadline=time.monotonic() + 5,
                          method="POST", body=body, max_redirects=0) as response:
                response.read1()
        bare_rate = len(bodies) / (time.perf_counter() - start)
        components.db.dispose()
        components.bus.close()
    receiver.shutdown()
    print(json.dumps({
        "database": "sqlite" if not args.database else args.database.split(":", 1)[0],
        "jobs": args.jobs,
        "phase_change_ms": {"without_subscription": round(without * 1e3, 3),
                            "with_subscription": round(with_one * 1e3, 3),
                            "ratio": round(with_one / without, 2)},
        "deliveries_per_second": {"sender": round(sender_rate, 1),
                                  "bare_post": round(bare_rate, 1),
                                  "ratio": round(sender_rate / bare_rate, 2),
                                  "deliveries": len(bodies)},
    }, indent=2))


if __name__ == "__main__":
    main()
