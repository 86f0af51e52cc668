"""`recog serve`: the recognizer as an HTTP service (FastAPI + uvicorn; the `serve` extra).

Modules: `app` (endpoints, API key, CORS, metrics middleware, time limit) · `service` (the
served models: reading inputs, batches in a worker thread, decoders, warm-up) · `batcher`
(dynamic micro-batching) · `inputs` (request bodies -> inputs) · `options` (query options) ·
`limits` (what one request may ask) · `errors` (4xx/5xx with `{"error": ...}`) · `metrics`
(Prometheus) · `demo` (the page at `/`, files in `static/`). No torch, no training code:
it runs exported ONNX models through `recog.runtime`.

    from recog.serve import ServeConfig, create_app
    app = create_app(ServeConfig(models=["digits-en", "iam-ondb-en"]))
"""

from recog.serve.app import create_app
from recog.serve.limits import ServeLimits
from recog.serve.service import ServeConfig, Service

__all__ = ["ServeConfig", "ServeLimits", "Service", "create_app"]
