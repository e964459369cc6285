"""Prometheus metrics shared by every service (one registry per process)."""
from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("fundguard_http_requests_total", "HTTP requests",
                        ["service", "method", "endpoint", "status"])
HTTP_LATENCY = Histogram("fundguard_http_request_seconds", "HTTP request latency",
                         ["service", "endpoint"])
EVENTS_CONSUMED = Counter("fundguard_events_consumed_total", "Events handled by consumers",
                          ["consumer", "type", "outcome"])
OUTBOX_PUBLISHED = Counter("fundguard_outbox_published_total", "Outbox rows published",
                           ["service"])
