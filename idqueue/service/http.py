"""The team service's HTTP server (aiohttp): health, metrics, and the routes other parts add.

* ``GET /healthz`` — JSON ``{"role", "ok", "problems", "sources", "outbox", "last_poll",
  "poll_interval"}``; 200 when all is well (active or standby), 503 when the database cannot be
  read or the active service has not polled successfully for three intervals.
  ``/healthz?role=active`` also answers 503 on a standby (for a load balancer that must route
  webhooks to the active service only).
* ``GET /metrics`` — Prometheus text from the service's own registry.

Responses carry no secrets: source messages are redacted one-liners, and no setting is echoed.
The server binds loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from idqueue.service.metrics import ServiceMetrics
from idqueue.service.runner import Health, Role

__all__ = ["HealthSource", "build_app", "serve_forever"]

class HealthSource(Protocol):
    """What the endpoints read (a :class:`~idqueue.service.runner.ServiceRunner`)."""

    def health(self) -> Health:
        """The current health (reads the database)."""

    def start(self) -> None:
        """Start the background work."""

    def stop(self, timeout: float = 60.0) -> None:
        """Stop it and wait."""


RUNNER_KEY = web.AppKey("runner", HealthSource)
METRICS_KEY = web.AppKey("metrics", ServiceMetrics)


def build_app(service: HealthSource, metrics: ServiceMetrics, *,
              extra_routes: Sequence[web.RouteDef] = ()) -> web.Application:
    """The service's web application.

    Args:
        service: the runner whose health ``/healthz`` reports.
        metrics: the registry ``/metrics`` renders.
        extra_routes: more routes from other parts of the service (the webhook receivers, the
            browser view); added after the service's own, which they must not shadow.
    """
    app = web.Application(client_max_size=1024 * 1024)
    app[RUNNER_KEY] = service
    app[METRICS_KEY] = metrics
    app.add_routes([web.get("/healthz", _healthz), web.get("/metrics", _metrics)])
    # ---- Extra routes: the webhook receivers' and the web view's routes are added here. ----
    app.add_routes(list(extra_routes))
    return app


async def _healthz(request: web.Request) -> web.Response:
    service = request.app[RUNNER_KEY]
    health = await asyncio.get_running_loop().run_in_executor(None, service.health)
    ok = health.ok and (request.query.get("role") != "active" or health.role is Role.ACTIVE)
    return web.json_response(health.as_json(), status=200 if ok else 503,
                             headers={"Cache-Control": "no-store"})


async def _metrics(request: web.Request) -> web.Response:
    service = request.app[RUNNER_KEY]
    metrics = request.app[METRICS_KEY]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, service.health)  # refreshes the outbox depth gauges
    body = await loop.run_in_executor(None, metrics.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


@dataclass(frozen=True)
class Site:
    """Another server the service runs beside its endpoints (the browser view)."""

    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]
    ready: Callable[[], None]
    """Called once it listens (prints its address)."""


async def serve_forever(app: web.Application, service: HealthSource, *, host: str, port: int,
                        on_listening: Callable[[str, int], None] | None = None,
                        sites: Sequence[Site] = ()) -> None:
    """Serve ``app`` and run ``service`` until SIGTERM or SIGINT, then shut both down cleanly.

    The HTTP server starts first (a standby answers ``/healthz`` at once); on a signal the
    service stops polling and sending and releases its lock, then the server closes.

    Raises:
        OSError: the address cannot be bound (in use, not this machine's).
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if on_listening is not None:
            bound = _bound_port(runner, port)
            on_listening(host, bound)
        started: list[Site] = []
        try:
            for extra in sites:
                await extra.start()
                started.append(extra)
                extra.ready()
            service.start()
            try:
                await stopping.wait()
            finally:
                await loop.run_in_executor(None, service.stop)
        finally:
            for extra in reversed(started):
                await extra.stop()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    """The port actually bound (``--port 0`` picks a free one)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked
