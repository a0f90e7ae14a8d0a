"""What every sandbox team shares: starting its servers together and stopping them."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self


class Server(Protocol):
    """A loopback server (an emulator or a real server library's)."""

    def start(self) -> Any:
        """Listen on a free loopback port."""

    def stop(self) -> None:
        """Stop listening (idempotent)."""


class SandboxServers:
    """A running sandbox's servers: started together, stopped together, a context manager."""

    def servers(self) -> tuple[Server, ...]:
        """The servers, in the order they start (subclasses list theirs)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop every server (idempotent)."""
        for server in self.servers():
            server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_all(*servers: Server) -> None:
    """Start the servers in order; when one fails, stop those already started and re-raise."""
    started: list[Server] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
    except Exception:
        for server in started:
            server.stop()
        raise
