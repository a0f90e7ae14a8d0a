"""Notifications to the team's support channel: a new request, a new message from the
requester on one ("any new activity", as the consultancy's rota puts it), one at risk, one
breached.

After each poll, :meth:`Notifier.after_poll` queues one outbox action per (request, event) that
should be announced (``[notify]`` in the config); the outbox dispatcher posts it through the
Slack writer exactly once, like any other write (claims, fences, a look-up by message metadata
after a crash).

* **Once, whatever happens.** Each notification's action id is derived from the channel, the
  event and an item id of the request (``n`` + a hash), and an action is queued only when no
  action with the id of any of the request's items exists, checked and inserted in one write
  transaction. A re-poll, a restart, two processes on one database, or a Slack request that
  later links to its GitHub issue never queue it twice.
* **Threaded per request.** The first notification of a request is a top-level message in the
  channel; later ones reply in its thread (``thread_from``: the dispatcher puts the first
  message's ``ts`` in once it is posted).
* **No backlog flood.** Only requests created, and SLA lines crossed, after ``notify.since`` are
  announced: by default the moment notifications to the channel were first turned on, recorded
  in the database.
* **Level, not edge.** New requests come from the poll's report and from the open requests of
  the last few days; at-risk and breached ones from the stored SLA state, so a crash between a
  poll and its notifications loses nothing.

All text from requests is escaped for Slack mrkdwn and stripped of control characters, and
broadcasts are neutralised: a title such as ``<!channel>`` or ``<@U123>`` shows as text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from idqueue.clock import Clock, clock_for
from idqueue.config import Settings
from idqueue.domain.actions import Action, ActionKind, ActionState
from idqueue.domain.models import Request, TimelineEvent, iso
from idqueue.domain.mrkdwn import encode_link_target, escape_mrkdwn, strip_broadcasts
from idqueue.integrations import registry
from idqueue.outbox.store import OutboxStore
from idqueue.safety import one_line
from idqueue.store.db import Store
from idqueue.store.notifications import (
    crossed_since,
    enabled_since,
    recent_open,
    replied_since,
    requests_by_id,
)

__all__ = [
    "EVENTS",
    "NOTIFY_PREFIX",
    "Notifier",
    "NotifyReport",
    "action_label",
    "notification_id",
    "notification_text",
    "outbox_request_keys",
]

NOTIFY_PREFIX = "notify:"
"""Notifications are filed in the outbox under ``notify:<request id>``: their own queue, so a
notification never waits behind (or blocks) the request's assign, reply or close."""

log = logging.getLogger(__name__)

EVENTS = ("new", "at_risk", "breached")
"""The events a request is announced for once each, in the order they happen."""
REPLY = "reply"
"""A message from outside the team (the requester's reply): announced once per message, in the
thread of the request's first notification; its id carries the message's time."""

RECENT = timedelta(days=3)
"""New requests are also looked for among the open ones created this recently (besides the
poll's own list), so a notification lost to a crash between a poll and its queueing comes back."""

_HEADLINES = {
    "new": ":inbox_tray: New request {key}",
    REPLY: ":speech_balloon: New message on {key}",
    "at_risk": ":warning: {key} is *at risk*",
    "breached": ":rotating_light: {key} has *breached* its SLA",
}


@dataclass
class NotifyReport:
    """What one :meth:`Notifier.after_poll` queued.

    Attributes:
        channel: the channel (empty when notifications are off).
        queued: the notification actions queued.
    """

    channel: str = ""
    queued: list[Action] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``notify: 2 queued for C0SUPPORT`` (or that nothing was new)."""
        if not self.channel:
            return "notify: off"
        return f"notify: {len(self.queued)} queued for {self.channel}"


def action_label(action: Action) -> str:
    """What an outbox action does, in a word or two: ``assign``, ``first reply``, ``notify``."""
    if action.params.get("action") == "notify":
        return "notify"
    return action.kind.value.replace("_", " ")


def outbox_request_keys(store: Store, request_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """For each outbox ``request_id``: (the key to show, the request's id now).

    A notification's ``notify:<id>`` shows as the key of the request it announces (``REQ-12``);
    an id whose request is gone shows as itself.
    """
    found: dict[str, tuple[str, str]] = {}
    for request_id in request_ids:
        if request_id in found:
            continue
        request = store.get_request(request_id.removeprefix(NOTIFY_PREFIX))
        found[request_id] = (request.key, request.id) if request else (request_id, request_id)
    return found


def reply_event(request: Request) -> str:
    """The event key of a reply notification: one per message (``reply@<its time>``)."""
    return f"{REPLY}@{iso(request.last_outside_at) if request.last_outside_at else ''}"


def notification_id(channel: str, event: str, item_id: str) -> str:
    """The deterministic action id of a notification (``n`` + 16 hex digits)."""
    digest = hashlib.sha256(f"{channel}\n{event}\n{item_id}".encode()).hexdigest()
    return "n" + digest[:16]


def _link(url: str | None, label: str) -> str:
    return f"<{encode_link_target(url)}|{escape_mrkdwn(label)}>" if url else escape_mrkdwn(label)


def _when(at: datetime | None, timezone: str) -> str:
    if at is None:
        return "-"
    local = at.astimezone(ZoneInfo(timezone))
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def notification_text(request: Request, event: str, settings: Settings, *, top_level: bool,
                      message: TimelineEvent | None = None) -> str:
    """The mrkdwn of one notification: a headline, and the request's facts when it opens a thread.

    ``message`` is the new message a ``reply`` notification is about (who wrote, its first
    line). Every value from the request is a single line, escaped; broadcasts are neutralised last.
    """
    key = _link(request.url, request.key)
    title = escape_mrkdwn(one_line(request.title, 150)) or "(no title)"
    tz = settings.sla.calendar.timezone
    headline = _HEADLINES[event].format(key=key)
    lines = [f"{headline}: {title}"]
    if event not in ("new", REPLY):
        lines[0] += f" (SLA due {_when(request.sla.due_at, tz)})"
    if event == REPLY and message is not None:
        who = escape_mrkdwn(one_line(message.actor_name or message.actor_id or "someone", 60))
        said = escape_mrkdwn(one_line(message.body, 200))
        lines.append(f"*{who}:* {said}" if said else f"*{who}* wrote")
    if top_level:
        requester = escape_mrkdwn(one_line(request.requester.name, 60)) if request.requester else "unknown"
        facts = [f"*Requester:* {requester}", f"*Type:* {escape_mrkdwn(one_line(request.type, 40))}",
                 f"*Priority:* {escape_mrkdwn(one_line(request.priority, 8))}"]
        customer = settings.customers.get(request.customer or "")
        if customer is not None:  # a consultancy's first question: whose is it?
            facts.insert(1, f"*Customer:* {escape_mrkdwn(one_line(customer.name, 60))}")
        if request.sla.due_at is not None:
            facts.append(f"*SLA due:* {_when(request.sla.due_at, tz)}")
        lines.append(" · ".join(facts))
        homes = [_link(url, _home_noun(name)) for name, url in request.links.items() if url]
        if homes:
            lines.append(" · ".join(homes))
    return strip_broadcasts("\n".join(lines))


def _home_noun(name: str) -> str:
    integration = registry.find(name)
    return integration.home_noun if integration is not None else name


class Notifier:
    """Queues the support-channel notifications after each poll (see the module docstring).

    Args:
        store: the open store.
        settings: configuration (``[notify]``, the team's timezone).
        clock: the current time (default: ``IDQUEUE_NOW`` or UTC now).
    """

    def __init__(self, store: Store, settings: Settings, *, clock: Clock | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or clock_for(settings)
        self.outbox = OutboxStore(store)

    @property
    def channel(self) -> str:
        """The channel notifications go to (empty: off)."""
        return self.settings.notify.channel

    def after_poll(self, created: Iterable[str] = ()) -> NotifyReport:
        """Queue what the last poll makes worth announcing.

        Args:
            created: the request ids the poll created (:attr:`idqueue.sync.SyncReport.created`).
        """
        report = NotifyReport(self.channel)
        if not self.channel:
            return report
        now = self.clock()
        cfg = self.settings.notify
        since = cfg.since or enabled_since(self.store, self.channel, now)
        for request, event in self._candidates(list(created), since, now):
            if self._wanted(request):
                action = self._queue(request, event, now)
                if action is not None:
                    report.queued.append(action)
        return report

    def _candidates(self, created: list[str], since: datetime, now: datetime) -> list[tuple[Request, str]]:
        """Every (request, event) that may be announced, not yet checked against the outbox."""
        events = set(self.settings.notify.events)
        out: list[tuple[Request, str]] = []
        if "new" in events:
            fresh = {r.id: r for r in requests_by_id(self.store, created)}
            for r in recent_open(self.store, max(since, now - RECENT)):
                fresh.setdefault(r.id, r)
            out += [(r, "new") for r in fresh.values() if r.status.is_open and r.created_at >= since]
        out += [(r, e) for r, e in crossed_since(self.store, since) if e in events]
        if REPLY in events:
            out += [(r, reply_event(r)) for r in replied_since(self.store, since)]
        # Already announced (the common case every poll): one indexed read, no write.
        ids = {notification_id(self.channel, e, i) for r, e in out for i in self._items(r)}
        known = self.outbox.existing(sorted(ids))
        return [(r, e) for r, e in out
                if not any(notification_id(self.channel, e, i) in known for i in self._items(r))]

    def _wanted(self, request: Request) -> bool:
        cfg = self.settings.notify
        if cfg.types and request.type.casefold() not in {t.casefold() for t in cfg.types}:
            return False
        if cfg.customers:
            # The customer key, where the assembler records one.
            customer = getattr(request, "customer", None)
            return customer in cfg.customers
        return True

    def _latest_outside(self, request: Request) -> TimelineEvent | None:
        """The message a reply notification is about: the request's latest at its
        ``last_outside_at`` (None when it is gone)."""
        at = request.last_outside_at
        return next((e for e in reversed(self.store.timeline(request.id)) if e.at == at and e.body), None)

    @staticmethod
    def _items(request: Request) -> list[str]:
        return sorted(request.item_ids) or [request.id]

    def _queue(self, request: Request, event: str, now: datetime) -> Action | None:
        """Queue one notification unless it exists; returns it when queued."""
        channel, items = self.channel, self._items(request)
        ids = [notification_id(channel, event, i) for i in items]
        kind = REPLY if event.startswith(f"{REPLY}@") else event
        root = self.outbox.first_of([notification_id(channel, e, i) for e in EVENTS for i in items])
        request_id = f"{NOTIFY_PREFIX}{request.id}"
        if root is None and kind == REPLY:  # an earlier reply's message opened the thread
            live = [s for s in ActionState if s is not ActionState.DROPPED]
            root = next(iter(self.outbox.select(states=live, request_ids=[request_id], limit=1)), None)
        params: dict[str, object] = {"channel": channel, "thread_ts": None, "action": "notify", "notify": kind,
                                     "automation": True, "items": items}
        if root is not None:
            # Later notifications reply under the first one, in order after it.
            params["thread_from"] = root.id
            if root.state is ActionState.SENT and root.result.get("ts"):
                params["thread_ts"] = root.result["ts"]
            request_id = root.request_id
        words = {"new": "new request", REPLY: "new message on", "at_risk": "at risk", "breached": "breached"}[kind]
        where = f"{channel} (thread)" if root is not None else channel
        message = self._latest_outside(request) if kind == REPLY else None
        action = Action(
            id=ids[0], request_id=request_id, kind=ActionKind.REPLY, target="slack", params=dict(params),
            text=notification_text(request, kind, self.settings, top_level=root is None, message=message),
            state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None, created_at=now,
            sent_at=None, group_id="g" + ids[0], summary=f'notify in {where}: {words} {request.key} '
            f'"{one_line(request.title, 50)}"',
        )
        if not self.outbox.insert_once(action, unless=ids):
            return None
        log.info("notify: queued %s for %s", event, request.key)
        return action
