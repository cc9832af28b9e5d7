"""Prometheus metrics of the bridge, defined once here and incremented where things happen.

Exposition (``/metrics``, multi-process support for the server's workers) is wired by the app factory.
Label values are bounded (route names, status classes, outcomes), never ids or e-mails.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "bridge_http_requests_total", "HTTP requests served, by route and status code", ["route", "method", "status"]
)
TOKEN_PRICING_SECONDS = Histogram(
    "bridge_token_pricing_seconds",
    "Time to answer GetTokenPricing",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
SOLUSVM_CALLS = Counter(
    "bridge_solusvm_calls_total", "Calls to the SolusVM API, by outcome (ok, retry, error)", ["outcome"]
)
INVOICES_GENERATED = Counter("bridge_invoices_generated_total", "Invoices created by invoicing runs")
OUTBOX_APPLIED = Counter(
    "bridge_outbox_changes_total", "SolusVM changes applied from the outbox, by outcome", ["outcome"]
)
