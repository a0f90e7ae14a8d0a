"""The team service's Prometheus metrics, on a registry of its own (never the process-global one).

What is counted, and where:

* per poll of each integration (from the sync engine's :class:`~idqueue.sync.SourceReport`):
  its duration, its outcome, and the API requests its reader made (the readers count their own
  HTTP/IMAP requests in :class:`~idqueue.integrations.base.FetchStats`: there is no single HTTP
  client to hook, since the integrations use httpx, slack-sdk's urllib client, PyGithub's
  requests session and imaplib/smtplib);
* per outbox attempt (from the dispatcher's :class:`~idqueue.outbox.dispatcher.DispatchReport`):
  sends and failures by target;
* at scrape time: the outbox's depth by state, the leader role, and the webhook receivers'
  delivery counts (a function given to :class:`ServiceMetrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from idqueue.integrations.base import AuthError, RateLimited, Unavailable
from idqueue.outbox.dispatcher import DispatchReport
from idqueue.sync import SyncReport

__all__ = ["POLL_BUCKETS", "ServiceMetrics", "WebhookStats"]

POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Poll duration buckets (seconds): an idle poll takes well under a second, a first sync minutes."""

WebhookStats = Callable[[], Any]
"""Returns the webhook receivers' delivery counts: ``{system: {outcome: n}}`` or
``{(system, outcome): n}`` (both read)."""


class ServiceMetrics:
    """Every metric of one service process.

    Args:
        webhook_stats: the webhook receivers' counts (None until receivers are wired in).
    """

    def __init__(self, webhook_stats: WebhookStats | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.poll_seconds = Histogram(
            "idqueue_poll_duration_seconds", "How long one poll of an integration took.",
            ["integration"], buckets=POLL_BUCKETS, registry=r)
        self.polls = Counter("idqueue_polls", "Polls of an integration by outcome "
                             "(ok, rate_limited, auth_failed, offline, error).", ["integration", "outcome"], registry=r)
        self.api_calls = Counter("idqueue_api_calls", "API requests the readers made, by integration "
                                 "(HTTP requests; IMAP commands for email).", ["integration"], registry=r)
        self.not_modified = Counter("idqueue_api_not_modified", "Conditional requests answered "
                                    "'not modified' (free against GitHub's rate limit).", ["integration"], registry=r)
        self.outbox_sent = Counter("idqueue_outbox_sent", "Outbox actions that reached their destination.",
                                   ["target"], registry=r)
        self.outbox_failures = Counter("idqueue_outbox_failures", "Outbox attempts that did not land, by outcome "
                                       "(retrying, failed, needs_attention).", ["target", "outcome"], registry=r)
        self.outbox_depth = Gauge("idqueue_outbox_actions", "Outbox actions by state (due: queued and due now).",
                                  ["state"], registry=r)
        self.role = Gauge("idqueue_leader", "1 while this service is the active one (the leader), 0 on standby.",
                          registry=r)
        self.wakeups = Counter("idqueue_wakeups", "Early-poll requests by system (push events, webhooks); "
                               "a burst of them makes one poll.", ["system"], registry=r)
        self.early_polls = Counter("idqueue_early_polls", "Polls started by a wake-up rather than the interval.",
                                   registry=r)
        self.role.set(0)
        self._webhooks = _WebhookCollector(webhook_stats)
        r.register(self._webhooks)

    def use_webhook_stats(self, stats: WebhookStats) -> None:
        """Read the webhook receivers' delivery counts from ``stats`` at every scrape."""
        self._webhooks.stats = stats

    def observe_poll(self, report: SyncReport, integrations: Iterable[str]) -> None:
        """Count one poll: ``integrations`` are the names of the polled sources, in report order."""
        for name, source in zip(integrations, report.sources, strict=False):
            state = "ok" if source.error is None else _outcome(source.error)
            self.poll_seconds.labels(name).observe(source.seconds)
            self.polls.labels(name, state).inc()
            self.api_calls.labels(name).inc(source.stats.requests)
            self.not_modified.labels(name).inc(source.stats.not_modified)

    def observe_dispatch(self, report: DispatchReport) -> None:
        """Count one dispatcher run's outcomes."""
        for action in report.sent:
            self.outbox_sent.labels(action.target).inc()
        for outcome in ("retrying", "failed", "needs_attention"):
            for action in getattr(report, outcome):
                self.outbox_failures.labels(action.target, outcome).inc()

    def set_depth(self, depth: Mapping[str, int]) -> None:
        """The outbox's current depth by state (from :meth:`OutboxStore.depth`)."""
        for state, count in depth.items():
            self.outbox_depth.labels(state).set(count)

    def set_active(self, active: bool) -> None:
        """The leader role gauge."""
        self.role.set(1 if active else 0)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def _outcome(error: Any) -> str:
    """The poll outcome of a source error (as the engine's health states name them)."""
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, AuthError):
        return "auth_failed"
    if isinstance(error, Unavailable):
        return "offline"
    return "error"


class _WebhookCollector(Collector):
    """``idqueue_webhook_deliveries_total{system, outcome}``, read from the receivers at scrape time."""

    def __init__(self, stats: WebhookStats | None) -> None:
        self.stats = stats

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        if self.stats is not None:
            for (system, outcome), count in sorted(_flatten(self.stats()).items()):
                family.add_metric([system, outcome], count)
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily("idqueue_webhook_deliveries", "Webhook deliveries received, by system and "
                                   "outcome (accepted, bad signature, …).", labels=["system", "outcome"])


def _flatten(stats: Any) -> dict[tuple[str, str], float]:
    """``{system: {outcome: n}}`` or ``{(system, outcome): n}`` as the latter."""
    flat: dict[tuple[str, str], float] = {}
    if not isinstance(stats, Mapping):
        return flat
    for key, value in stats.items():
        if isinstance(key, tuple) and len(key) == 2 and isinstance(value, int | float):
            flat[(str(key[0]), str(key[1]))] = float(value)
        elif isinstance(value, Mapping):
            for outcome, count in value.items():
                if isinstance(count, int | float):
                    flat[(str(key), str(outcome))] = float(count)
    return flat
