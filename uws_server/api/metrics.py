"""``GET /metrics``: the Prometheus text exposition, for the networks and token configured.

Who may scrape (``UWS_METRICS_NETWORKS``, ``UWS_METRICS_TOKEN``): a caller
whose address is in one of the networks (default: loopback only), or one
sending ``Authorization: Bearer <token>`` when a token is set; anyone else
gets a 403 that says which settings open it. The token is compared in
constant time and never echoed.

What is served: under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) the sum of
the metric files of every process of this host — the web workers and a
dispatcher sharing the run directory —, else this process's registry; plus
jobs by phase and type, counted at scrape time by one grouped query.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..auth.authenticator import parse_networks
from ..db import Database
from ..metrics import MULTIPROC_ENV, multiprocess_root
from ..models import Job
from .http import components, settings, text_response

bp = Blueprint("metrics", __name__)

EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class JobsCollector(Collector):
    """``uws_jobs{phase, job_type}``: jobs in the database now (destroyed ones left out)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One ``GROUP BY`` over the jobs table."""
        family = GaugeMetricFamily("uws_jobs", "Jobs in the database, by phase and job type",
                                   labels=["phase", "job_type"])
        with self.db.read() as session:
            rows = session.execute(select(Job.phase, Job.job_type_name, func.count())
                                   .where(Job.deleted.is_(False))
                                   .group_by(Job.phase, Job.job_type_name)).all()
        for phase, job_type, count in rows:
            family.add_metric([phase, job_type], float(count))
        yield family


class HostCollector(Collector):
    """The metric files of every process of this host that shares the run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def collect(self) -> Iterator[Any]:
        """The files merged as ``MultiProcessCollector`` does for one directory."""
        files = sorted(str(path) for path in self.root.glob(f"*-{socket.gethostname()}/*.db"))
        yield from MultiProcessCollector.merge(files, accumulate=True)


def allowed() -> bool:
    """Whether this caller may scrape: from an allowed network, or with the token."""
    config = settings()
    token = config.metrics_token
    if token:
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                              token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in parse_networks(config.metrics_networks))


@bp.get("/metrics")
def metrics() -> Response:
    """The exposition text, or a 403 for a caller neither network nor token admits."""
    if not allowed():
        return text_response("metrics: not allowed from this address without the metrics "
                             "token (UWS_METRICS_NETWORKS, UWS_METRICS_TOKEN)\n", 403)
    jobs = CollectorRegistry(auto_describe=False)
    jobs.register(JobsCollector(components().db))
    if os.environ.get(MULTIPROC_ENV):
        processes = CollectorRegistry(auto_describe=False)
        processes.register(HostCollector(multiprocess_root(settings())))
        body = generate_latest(processes)
    else:
        body = generate_latest(REGISTRY)
    response = Response(body + generate_latest(jobs), content_type=EXPOSITION_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
