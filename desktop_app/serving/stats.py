"""Request statistics: Prometheus metrics for scrapers and a small JSON summary for the panel.

The panel's numbers come from fixed-size buffers: per-second request counts over the last
minute (requests per second) and a ring of the last few thousand latencies (percentiles over
the last minute's most recent requests), so they cost nothing on the request path and stay
cheap however long the server runs.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

RING_SIZE = 4096
WINDOW_S = 60.0
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class ServerStats:
    """Counters, a latency histogram and a ring buffer of recent prediction latencies."""

    def __init__(self, model: str, version: str) -> None:
        self.model = model
        self.version = version
        self.started_at = time.time()
        self.requests = 0
        self.errors = 0
        self._times = [0.0] * RING_SIZE
        self._latencies = [0.0] * RING_SIZE
        self._next = 0
        # Requests per wall-clock second over the last minute, for rps_1m at any rate.
        self._second_stamp = [0] * int(WINDOW_S)
        self._second_count = [0] * int(WINDOW_S)
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._requests = Counter(
            "modeldesk_requests",
            "HTTP requests answered, by route, method and status.",
            ["path", "method", "status"],
            registry=self.registry,
        )
        self._errors = Counter(
            "modeldesk_request_errors",
            "HTTP requests answered with a 4xx or 5xx status, by route and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "modeldesk_request_duration_seconds",
            "Time from the request's arrival to its response, by route.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._predictions = Counter(
            "modeldesk_predicted_rows",
            "Input rows the model predicted.",
            registry=self.registry,
        )
        # Label children are looked up once per (route, method, status), not per request.
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(
        self, route: str, method: str, status: int, seconds: float, *, prediction: bool, rows: int
    ) -> None:
        """Count one answered request."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(route, method, str(status)),
                self._errors.labels(route, str(status)) if status >= 400 else None,
                self._latency.labels(route),
            )
            self._children[key] = children
        children[0].inc()
        if children[1] is not None:
            children[1].inc()
        children[2].observe(seconds)
        if prediction:
            self.requests += 1
            if status >= 400:
                self.errors += 1
            else:
                self._predictions.inc(rows)
            now = time.time()
            second = int(now)
            slot = second % len(self._second_stamp)
            if self._second_stamp[slot] != second:
                self._second_stamp[slot] = second
                self._second_count[slot] = 0
            self._second_count[slot] += 1
            index = self._next
            self._times[index] = now
            self._latencies[index] = seconds
            self._next = (index + 1) % RING_SIZE

    def summary(self) -> dict[str, Any]:
        """The panel's JSON: totals, requests per second over a minute, latency percentiles."""
        now = time.time()
        recent = [
            lat
            for t, lat in zip(self._times, self._latencies, strict=True)
            if t and now - t <= WINDOW_S
        ]
        window = min(WINDOW_S, max(now - self.started_at, 1e-3))
        last_minute = sum(
            count
            for stamp, count in zip(self._second_stamp, self._second_count, strict=True)
            if now - stamp < WINDOW_S
        )
        recent.sort()
        return {
            "model": self.model,
            "version": self.version,
            "started_at": self.started_at,
            "uptime_s": now - self.started_at,
            "requests": self.requests,
            "errors": self.errors,
            "rps_1m": last_minute / window,
            "latency_ms": {
                "p50": _percentile(recent, 0.50),
                "p90": _percentile(recent, 0.90),
                "p99": _percentile(recent, 0.99),
            },
            "window_requests": len(recent),
        }

    def prometheus_text(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


def _percentile(sorted_seconds: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) in milliseconds; None without data."""
    if not sorted_seconds:
        return None
    index = min(len(sorted_seconds) - 1, max(0, round(q * len(sorted_seconds) + 0.5) - 1))
    return round(sorted_seconds[index] * 1000.0, 3)
