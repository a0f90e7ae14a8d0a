"""A complete toy system over the network: emulator, reader, planner and writer — and nothing else.

It is what the README's "Adding an integration" asks of a new system, small enough to read in
one go, and registered by the test that uses it (``registry.registered(INTEGRATION)``): no
module of idqueue names it. The "help desk" it talks to is a loopback HTTP emulator on the
shared plumbing (``idqueue.integrations.loopback``); the reader and the writer are plain httpx.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from toy_integration import ToyPlanner

from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind
from idqueue.domain.models import (
    EventKind,
    Person,
    SourceItem,
    SourceKind,
    TimelineEvent,
    iso,
    parse_iso,
)
from idqueue.integrations import registry
from idqueue.integrations.base import Batch, FetchStats, Source, Unavailable, before_write
from idqueue.integrations.loopback import EmulatorServer, Response
from idqueue.integrations.loopback import Request as HttpRequest

NAME = "desk"
BASE_URL: dict[str, str] = {}
"""The emulator's URL (a test sets it; a real integration reads its settings section)."""


class DeskEmulator(EmulatorServer):
    """A help desk: tickets with comments, and a close verb. Comments carry the writer's marker."""

    def __init__(self, *, now: datetime) -> None:
        super().__init__(now=now)
        self.lock = threading.Lock()
        self.tickets: dict[int, dict[str, Any]] = {}

    def add_ticket(self, number: int, title: str, requester: str, created: datetime) -> None:
        with self.lock:
            self.tickets[number] = {"number": number, "title": title, "body": "Please help.", "requester": requester,
                                    "state": "open", "created_at": iso(created), "comments": []}

    def comments_by(self, marker: str) -> int:
        """How many comments carry an action's marker (the exactly-once count)."""
        return sum(marker in c["body"] for t in self.tickets.values() for c in t["comments"])

    def route(self, req: HttpRequest) -> Response:
        with self.lock:
            if req.method == "GET" and req.path == "/tickets":
                return Response(body=list(self.tickets.values()))
            m = re.fullmatch(r"/tickets/(\d+)/(comments|close)", req.path)
            if not m or int(m[1]) not in self.tickets:
                return Response(status=404, body={"error": "not found"})
            ticket = self.tickets[int(m[1])]
            if m[2] == "comments" and req.method == "GET":
                return Response(body=ticket["comments"])
            if m[2] == "comments" and req.method == "POST":
                comment = {"id": len(ticket["comments"]) + 1, "body": req.param("body") or "",
                           "author": "support-bot", "created_at": iso(self.now())}
                ticket["comments"].append(comment)
                return Response(status=201, body=comment)
            if m[2] == "close" and req.method == "POST":
                ticket["state"] = "closed"
                return Response(body=ticket)
        return Response(status=405, body={"error": "method not allowed"})


class DeskSource(Source):
    """Reads every ticket and its comments (the desk is small: no cursor)."""

    kind: ClassVar[SourceKind] = SourceKind(NAME)

    def __init__(self, settings: Settings) -> None:
        self.name = NAME
        self.http = httpx.Client(base_url=BASE_URL["url"], timeout=5)

    def fetch(self, cursors: dict[str, Any]) -> Iterator[Batch]:
        try:
            tickets = self.http.get("/tickets").json()
        except httpx.HTTPError as exc:
            raise Unavailable(f"the desk is unreachable ({type(exc).__name__})", source=NAME) from None
        batch = Batch(stats=FetchStats(requests=1, fetched=len(tickets)))
        for t in tickets:
            created = parse_iso(t["created_at"]) or datetime.now(UTC)
            item_id = f"desk:{t['number']}"
            batch.items.append(SourceItem(
                id=item_id, source=SourceKind(NAME), title=t["title"], body=t["body"],
                url=f"{BASE_URL['url']}/tickets/{t['number']}", created_at=created, updated_at=created,
                requester=Person(t["requester"], t["requester"]), state=t["state"],
            ))
            for c in t["comments"]:
                batch.events.append(TimelineEvent(
                    uid=f"desk-comment:{t['number']}:{c['id']}", item_id=item_id, kind=EventKind.COMMENT,
                    at=parse_iso(c["created_at"]) or created, actor_id=c["author"], actor_name=c["author"],
                    body=c["body"], source=SourceKind(NAME),
                    data={"idqueue_actor": "ana"} if "[idqueue:" in c["body"] else {},
                ))
        yield batch

    def close(self) -> None:
        self.http.close()


class DeskWriter:
    """Posts replies (with the action id as a marker) and closes tickets."""

    target = NAME

    def __init__(self, settings: Settings, *, clock: Any = None, timeout: float = 20.0) -> None:
        self.http = httpx.Client(base_url=BASE_URL["url"], timeout=timeout)

    def send(self, action: Action, *, maybe_sent: bool) -> dict[str, Any]:
        number = str(action.params["ticket"]).removeprefix("desk:")
        before_write()
        if action.kind is ActionKind.REPLY:
            body = f"{action.text}\n[idqueue:{action.id}]"
            return {"comment": self.http.post(f"/tickets/{number}/comments", json={"body": body}).json()}
        if action.kind is ActionKind.CLOSE:
            return {"ticket": self.http.post(f"/tickets/{number}/close").json()}
        raise ValueError(f"the desk cannot {action.kind.value}")

    def reconcile(self, action: Action, *, since: datetime) -> dict[str, Any] | None:
        if action.kind is not ActionKind.REPLY:
            return None  # closing twice changes nothing
        number = str(action.params["ticket"]).removeprefix("desk:")
        for comment in self.http.get(f"/tickets/{number}/comments").json():
            if f"[idqueue:{action.id}]" in comment["body"]:
                return {"comment": comment, "reconciled": True}
        return None

    def close(self) -> None:
        self.http.close()


class DeskPlanner(ToyPlanner):
    """A ticket holds its own state; replies are Markdown comments (the toy tracker's planning,
    under the desk's name)."""

    name = NAME
    reply_label = "desk comment"


PLANNER = DeskPlanner()

INTEGRATION = registry.Integration(
    name=NAME,
    display="Help Desk",
    code="HD",
    id_prefix="desk:",
    home_noun="desk ticket",
    roster_field="email",
    configured=lambda settings: "url" in BASE_URL,
    writable=lambda settings: "url" in BASE_URL,
    source="toy_system:DeskSource",
    writer="toy_system:DeskWriter",
    planner="toy_system:PLANNER",
    verbs=frozenset({"reply", "close"}),
)


def ages(now: datetime) -> list[tuple[int, str, str, datetime]]:
    """The desk's tickets: number, title, requester, created."""
    return [(1, "Printer on fire", "rita@example.org", now - timedelta(hours=5)),
            (2, "VPN drops every hour", "sam@example.org", now - timedelta(hours=30))]
