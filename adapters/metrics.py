"""Prometheus metrics for `carelane serve` (prometheus_client): requests and latency by
route, facts answered over HTTP by status and refusals by reason, projection lag and the
chain's tip. Each server has a registry of its own, so tests may start several."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.ingest import LineResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Positions(Collector):
    """Read when scraped: where the log ends, how far behind the views are, the chain tip."""

    def __init__(self, positions: Callable[[], tuple[int, int, int]]) -> None:
        self.positions = positions

    def collect(self) -> Iterable[Metric]:
        log_end, views_at, chain_tip = self.positions()
        yield GaugeMetricFamily("carelane_log_position", "The last position in the event log.", value=log_end)
        yield GaugeMetricFamily(
            "carelane_projection_lag_events", "Events recorded that the views have not caught up with.",
            value=max(0, log_end - views_at),
        )  # fmt: skip
        yield GaugeMetricFamily("carelane_chain_tip_position", "The hash chain's last position.", value=chain_tip)


class Metrics:
    def __init__(self, positions: Callable[[], tuple[int, int, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "carelane_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "carelane_http_request_seconds", "Time to answer a request.", ["route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.facts = Counter("carelane_facts", "Fact lines answered over HTTP.", ["status"], registry=self.registry)
        self.refusals = Counter(
            "carelane_refusals", "Reasons given for refused lines over HTTP.", ["reason"], registry=self.registry
        )
        self.registry.register(_Positions(positions))

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def answered(self, results: Iterable[LineResult]) -> None:
        for result in results:
            self.facts.labels(result.status).inc()
            for reason in result.reasons or ():
                self.refusals.labels(reason.code.value).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
