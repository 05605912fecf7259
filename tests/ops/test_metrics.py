"""Prometheus /metrics: what is counted, summed over processes, and who may scrape it."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import POSTGRES_BASE
from tests.support import server_with_own_database


def scrape(url: str, **kwargs) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` of one scrape."""
    response = requests.get(f"{url}/metrics", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_a_finished_job_is_counted_by_route_phase_type_and_dispatcher(server):
    job = server.create("echo", data={"message": "metrics", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    requests.get(job, timeout=10)
    samples = scrape(server.url)
    assert value(samples, "uws_http_requests_total", route="/uws/<jobtype>", method="POST",
                 status="303") >= 1
    assert value(samples, "uws_http_requests_total", route="/uws/<jobtype>/<job_id>",
                 method="GET", status="200") >= 1
    assert value(samples, "uws_http_request_duration_seconds_count",
                 route="/uws/<jobtype>/<job_id>", method="GET") >= 1
    assert value(samples, "uws_jobs", phase="COMPLETED", job_type="echo") >= 1
    assert value(samples, "uws_job_queue_seconds_count", job_type="echo") >= 1
    assert value(samples, "uws_job_run_seconds_count", job_type="echo", phase="COMPLETED") >= 1
    assert value(samples, "uws_dispatcher_submissions_total", backend="local",
                 outcome="submitted") >= 1
    assert value(samples, "uws_dispatcher_tick_seconds_count", backend="local") >= 1


def test_raw_paths_never_become_label_values(server):
    requests.get(f"{server.url}/no/such/path/12345", timeout=10)
    requests.get(f"{server.url}/uws/echo/ffffffffffffffffffffffffffffffff", timeout=10)
    samples = scrape(server.url)
    routes = {dict(labels).get("route") for labels in samples["uws_http_requests_total"]}
    assert "<unmatched>" in routes
    assert not any("12345" in route or "ffff" in route for route in routes), routes


def test_a_blocked_wait_is_counted_while_it_blocks(server):
    import threading

    job = server.create("echo", data={"message": "pending"})  # PENDING: WAIT blocks
    waiter = threading.Thread(target=requests.get, args=(job,),
                              kwargs={"params": {"WAIT": 3}, "timeout": 30})
    waiter.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while value(scrape(server.url), "uws_wait_blocked", job_type="echo") < 1:
            assert time.monotonic() < deadline, "the blocked WAIT was never counted"
            time.sleep(0.1)
    finally:
        waiter.join()
    assert value(scrape(server.url), "uws_wait_blocked", job_type="echo") == 0


def test_metrics_are_refused_outside_the_allowed_networks_and_opened_by_the_token(
        database_url, tmp_path):
    with server_with_own_database(database_url, tmp_path, "metrics_guard", POSTGRES_BASE,
                                  UWS_METRICS_NETWORKS="", UWS_METRICS_TOKEN="s3cret-token"
                                  ) as live:
        refused = requests.get(f"{live.url}/metrics", timeout=10)
        assert refused.status_code == 403
        assert "UWS_METRICS_TOKEN" in refused.text and "s3cret" not in refused.text
        wrong = requests.get(f"{live.url}/metrics", timeout=10,
                             headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 403
        assert "uws_http_requests_total" in scrape(
            live.url, headers={"Authorization": "Bearer s3cret-token"})
