"""The service's Prometheus metrics, in a registry of its own (one per app), served at `GET /metrics`.

    recog_requests_total{endpoint, model, status}     requests answered
    recog_request_seconds{endpoint, model}            latency of a request, body reading included
    recog_inputs_total{model, outcome}                inputs transcribed ("ok") or refused ("error")
    recog_stage_seconds{model, stage}                 per input: queue, features, model, decode
    recog_batch_size{model}                           inputs per model call (dynamic micro-batching)
    recog_queue_depth{model}                          inputs waiting for their model now
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("recog_requests", "HTTP requests answered, by endpoint, model and status",
                                ["endpoint", "model", "status"], registry=r)
        self.latency = Histogram("recog_request_seconds", "Request latency in seconds (body reading included)",
                                 ["endpoint", "model"], buckets=LATENCY_BUCKETS, registry=r)
        self.inputs = Counter("recog_inputs", "Inputs transcribed (ok) or refused (error), by model",
                              ["model", "outcome"], registry=r)
        self.stage = Histogram("recog_stage_seconds", "Per-input seconds by stage: queue, features, model, decode",
                               ["model", "stage"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("recog_batch_size", "Inputs per model call (dynamic micro-batching)",
                                    ["model"], buckets=BATCH_BUCKETS, registry=r)
        self.queue_depth = Gauge("recog_queue_depth", "Inputs waiting for their model", ["model"], registry=r)

    def watch_queue(self, model: str, depth: Callable[[], int]) -> None:
        """`recog_queue_depth{model}` reads `depth()` at each scrape."""
        self.queue_depth.labels(model=model).set_function(depth)

    def render(self) -> tuple[bytes, str]:
        """(the text exposition, its content type)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
