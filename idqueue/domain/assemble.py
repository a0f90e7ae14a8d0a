"""Merge a request's source items and timeline into one :class:`Request`.

This is where "one request, two homes" happens: a Slack intake message and the GitHub issue
the bot created for it are linked (by the store) and assembled here into one row whose
status, assignee, first response, type, priority and SLA clocks come from both timelines.
Pure: the clock and settings are passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from idqueue.config import Settings
from idqueue.domain.classify import classify
from idqueue.domain.intake import parse_intake
from idqueue.domain.models import (
    EventKind,
    Person,
    Request,
    SourceItem,
    SourceKind,
    Status,
    TimelineEvent,
    parse_iso,
)
from idqueue.domain.priority import compute_priority, priority_from_labels
from idqueue.domain.sla import compute_sla

RESPONSE_KINDS = frozenset({EventKind.MESSAGE, EventKind.COMMENT})


class TeamIndex:
    """Fast "is this actor on the team?" checks over the roster."""

    def __init__(self, settings: Settings) -> None:
        self.by_github = {m.github.lower(): key for key, m in settings.team.items() if m.github}
        self.by_slack = {m.slack: key for key, m in settings.team.items() if m.slack}
        self.bot_logins = {b.lower() for b in settings.github.bot_logins}
        self.bot_ids = set(settings.slack.intake_bot_ids)
        self.has_roster = bool(settings.team)

    def member(self, actor_id: str | None) -> str | None:
        """Roster key of a GitHub login or Slack user id."""
        if not actor_id:
            return None
        return self.by_slack.get(actor_id) or self.by_github.get(actor_id.lower())

    def is_bot(self, actor_id: str | None) -> bool:
        """True for known bots (intake bot, GitHub bot logins)."""
        if not actor_id:
            return False
        return actor_id in self.bot_ids or actor_id.lower() in self.bot_logins or actor_id.endswith("[bot]")

    def is_teammate(self, actor_id: str | None, requester_ids: set[str]) -> bool:
        """Whether a person acts for the team: a roster member, or (no roster) any non-bot
        other than the requester (DESIGN.md "Triage semantics")."""
        if not actor_id or actor_id in requester_ids or self.is_bot(actor_id):
            return False
        return self.member(actor_id) is not None if self.has_roster else True

    def is_response(self, event: TimelineEvent, requester_ids: set[str]) -> bool:
        """Whether an event counts as a first response (DESIGN.md "Triage semantics")."""
        if event.kind not in RESPONSE_KINDS or event.is_bot or self.is_bot(event.actor_id):
            return False
        if event.data.get("idqueue_automation"):
            # idqueue's own automatic messages (e.g. "created") are not a human response,
            # but a reply sent by a triager through idqueue is.
            return False
        if event.actor_id in requester_ids:
            return False
        if self.has_roster:
            return self.member(event.actor_id) is not None or bool(event.data.get("idqueue_actor"))
        return True


def assemble(
    items: list[SourceItem],
    events: list[TimelineEvent],
    local: dict[str, str],
    *,
    settings: Settings,
    now: datetime,
    team: TeamIndex | None = None,
) -> Request:
    """Build the request for a group of linked items.

    Args:
        items: the request's homes (one GitHub issue and/or one Slack message; more when
            several items link together — the GitHub issue wins as the canonical id).
        events: the merged timeline, oldest first.
        local: local-only state (``snoozed_until``, ``priority_override``).
        settings: configuration (roster, intake rules, SLA policies, priority rules).
        now: the clock.
        team: a prepared :class:`TeamIndex` (built from settings when omitted).
    """
    team = team or TeamIndex(settings)
    gh_items = sorted((i for i in items if i.source == "github"), key=lambda i: i.created_at)
    sl_items = sorted((i for i in items if i.source == "slack"), key=lambda i: i.created_at)
    live_gh = [i for i in gh_items if i.state != "deleted"]
    live_sl = [i for i in sl_items if i.state != "deleted"]
    canonical = (live_gh or live_sl or gh_items or sl_items)[0]
    gh = live_gh[0] if live_gh else None
    sl = live_sl[0] if live_sl else None

    requester = _requester(gh, sl, team)
    requester_ids = {p.id for p in (requester,) if p} | {
        i.requester.id for i in items if i.requester and not i.requester.is_bot
    }

    # Intake fields: GitHub's template body first, then the Slack bot's structured fields.
    fields: dict[str, str] = {}
    sections: list[str] = []
    template_map = None
    for item in (gh, sl):
        if item is None:
            continue
        parsed = parse_intake(item.body, settings.intake.templates, structured=item.fields or None)
        for key, value in parsed.fields.items():
            fields.setdefault(key, value)
        sections.extend(s for s in parsed.sections if s not in sections)
        if parsed.template and template_map is None:
            template_map = next((t for t in settings.intake.templates if t.name == parsed.template), None)

    labels = list(gh.labels) if gh else []
    created_at = min(i.created_at for i in items)
    updated_at = max([i.updated_at for i in items] + [e.at for e in events])

    assignees = _assignees(gh, sl, events, settings, team, requester_ids)
    assignee = assignees[0] if assignees else None

    first_response_at = next(
        (e.at for e in events if e.at >= created_at and team.is_response(e, requester_ids)), None
    )

    status, status_reason, resolved_at = _status(
        items, gh, sl, events, labels, settings, assignee, first_response_at, team, requester_ids
    )
    if gh is None and status is Status.BACKLOG:
        # Backlog means "unassigned, out of the live queue" (DESIGN.md); a Slack message keeps
        # its :eyes: reaction, so drop what it implied.
        assignee, assignees = None, []

    request_type, type_reason = classify(
        fields=fields,
        sections=sections,
        labels=labels,
        title=canonical.title,
        body=canonical.body,
        intake=settings.intake,
        template=template_map,
    )

    links: dict[str, str] = {}
    if gh is not None and gh.url:
        links["github"] = gh.url
    if sl is not None and sl.url:
        links["slack"] = sl.url
    override = local.get("priority_override") or None

    request = Request(
        id=canonical.id,
        key="",
        sources=[s for s in (SourceKind("github"), SourceKind("slack")) if any(i.source == s for i in items)],
        title=canonical.title,
        body=canonical.body,
        requester=requester,
        type=request_type,
        type_reason=type_reason,
        fields=fields,
        status=status,
        status_reason=status_reason,
        assignee=assignee,
        assignees=assignees,
        labels=labels,
        priority_override=override,
        created_at=created_at,
        updated_at=updated_at,
        first_response_at=first_response_at,
        resolved_at=resolved_at,
        url=canonical.url or (sl.url if sl else None),
        links=links,
        item_ids=sorted(i.id for i in items),
        snoozed_until=parse_iso(local.get("snoozed_until")),
    )
    # Priority feeds the SLA policy choice, and the SLA state feeds priority rules: compute a
    # provisional priority, the clocks, then the final priority with the SLA state known.
    request.priority, request.priority_reason = compute_priority(request, settings.priority_rules, sla_state="ok")
    since = _priority_since(request, events, local, settings)
    request.sla = compute_sla(request, events, settings.sla, now=now, priority_since=since)
    request.priority, request.priority_reason = compute_priority(
        request, settings.priority_rules, sla_state=request.sla.state
    )
    return request


def _assignees(
    gh: SourceItem | None,
    sl: SourceItem | None,
    events: list[TimelineEvent],
    settings: Settings,
    team: TeamIndex,
    requester_ids: set[str],
) -> list[str]:
    """Everyone a request is assigned to, each as a roster key when known, else login / user id.

    GitHub assignees are the truth when the request lives there (all of them, in GitHub's
    order); Slack-only requests carry assignment as idqueue action events in their thread, or
    else as the "taken" reaction of a teammate.
    """
    if gh is not None:
        return list(dict.fromkeys(team.member(login) or login for login in gh.assignees))
    assignee: str | None = None
    assigned_by_event = False
    for ev in events:
        if ev.kind is EventKind.ASSIGNED:
            named = ev.data.get("assignee")
            if named:  # a roster key, or (someone off the roster) their Slack id or GitHub login
                assignee = str(named) if named in settings.team else team.member(str(named)) or str(named)
            else:
                assignee = team.member(ev.actor_id) or ev.actor_id
            assigned_by_event = True
        elif ev.kind is EventKind.UNASSIGNED:
            assignee = None
            assigned_by_event = True
    if not assigned_by_event:
        # A teammate who took it without idqueue leaves only the "taken" reaction (the
        # same one idqueue adds when it assigns), e.g. :eyes:.
        taken = _reactors(sl, settings.automation.slack_reactions.get("taken"), team, requester_ids)
        if taken:
            assignee = team.member(taken[0]) or taken[0]
    return [assignee] if assignee else []

def _priority_since(
    request: Request, events: list[TimelineEvent], local: dict[str, str], settings: Settings
) -> tuple[datetime, str] | None:
    """``(when, priority before)`` of a manual priority (override or ``priority:Pn`` label).

    The override's time is kept with it in the local state; a label's is its ``labeled``
    event. Without a known time (an override set before that was recorded) None: the
    priority then applies to the whole life of the request, as it always did.
    """
    if request.priority_override:
        at = parse_iso(local.get("priority_override_at"))
        if at is None:
            return None
    else:
        labelled = priority_from_labels(request.labels)
        if labelled is None:
            return None
        wanted = labelled[1].casefold()
        times = [e.at for e in events if e.kind is EventKind.LABELED and _label_of(e).casefold() == wanted]
        if not times:
            return None
        at = max(times)
    # The automatic priority: neither the override nor a priority label (the override's label
    # arrives from GitHub once sent, with a later time than the override itself).
    bare = dataclasses.replace(request, priority_override=None,
                               labels=[x for x in request.labels if priority_from_labels([x]) is None])
    before, _ = compute_priority(bare, settings.priority_rules, sla_state="ok")
    return at, before


def _label_of(event: TimelineEvent) -> str:
    value = event.data.get("label") or event.data.get("name") or event.body
    if isinstance(value, dict):
        value = value.get("name", "")
    return str(value or "")


def _requester(gh: SourceItem | None, sl: SourceItem | None, team: TeamIndex) -> Person | None:
    """The human who asked: the Slack requester (the bot posts on their behalf), else GitHub's."""
    for item in (sl, gh):
        if item is not None and item.requester is not None and not item.requester.is_bot:
            if not team.is_bot(item.requester.id):
                return item.requester
    for item in (sl, gh):
        if item is not None and item.requester is not None:
            return item.requester
    return None


def _status(
    items: list[SourceItem],
    gh: SourceItem | None,
    sl: SourceItem | None,
    events: list[TimelineEvent],
    labels: list[str],
    settings: Settings,
    assignee: str | None,
    first_response_at: datetime | None,
    team: TeamIndex,
    requester_ids: set[str],
) -> tuple[Status, str, datetime | None]:
    """Derive (status, reason, resolved_at) from the items and the event log."""
    lower = {label.lower() for label in labels}
    backlog_label = settings.github.backlog_label.lower()
    pending_labels = {p.lower() for p in settings.sla.pending_labels}
    last = _last_event_of(events)

    if gh is None and sl is None:
        deleted_at = max((i.updated_at for i in items), default=None)
        return Status.DELETED, _deleted_reason(events), deleted_at
    if gh is not None:
        if backlog_label in lower:
            at = last(EventKind.LABELED, lambda e: str(e.data.get("label", "")).lower() == backlog_label)
            return Status.BACKLOG, "moved to the backlog", at or gh.closed_at or gh.updated_at
        if gh.state == "closed":
            reason = {"not_planned": "closed: not planned", "duplicate": "closed: duplicate"}.get(
                gh.state_reason or "", "closed: completed"
            )
            return Status.CLOSED, reason, gh.closed_at or gh.updated_at
        if lower & pending_labels:
            return Status.PENDING, "waiting on the requester", None
    else:
        # Slack-only: state comes from idqueue's own action events in the thread; without
        # any, from what a teammate did by hand (reactions, a backlog link).
        final = _last_state_event(events)
        if final is not None and final.kind is EventKind.CLOSED:
            return Status.CLOSED, str(final.data.get("reason") or "closed"), final.at
        if final is not None and final.kind is EventKind.BACKLOG:
            return Status.BACKLOG, "moved to the backlog", final.at
        if final is not None and final.kind is EventKind.PENDING:
            return Status.PENDING, "waiting on the requester", None
        if final is None and sl is not None:
            found = _slack_state_without_idqueue(sl, events, settings, team, requester_ids)
            if found is not None:
                return found
    if assignee:
        return Status.ASSIGNED, f"assigned to {assignee}", None
    if first_response_at is not None:
        return Status.ACKNOWLEDGED, "first response sent", None
    return Status.NEW, "no response yet", None


def _deleted_reason(events: list[TimelineEvent]) -> str:
    """Why every home of a request is gone: its GitHub filter label was removed, or deleted.

    The GitHub source flags the ``UNLABELED`` event of the configured label
    (``filter_label_removed``); it counts when no later event put that label back.
    """
    removed: str | None = None
    for e in events:
        if e.kind is EventKind.UNLABELED and e.data.get("filter_label_removed"):
            removed = str(e.data.get("label") or "")
        elif e.kind is EventKind.LABELED and removed is not None and str(e.data.get("label") or "") == removed:
            removed = None
    if removed is None:
        return "deleted at the source"
    return f"label removed ({removed})" if removed else "label removed"


def _reactors(
    item: SourceItem | None, name: str | None, team: TeamIndex, requester_ids: set[str]
) -> list[str]:
    """Slack user ids of teammates who reacted with ``name`` to a request message, in order."""
    if item is None or not name:
        return []
    reactions = item.raw.get("reactions")
    if not isinstance(reactions, dict):
        return []
    users = reactions.get(name.strip(":")) or []
    return [u for u in users if isinstance(u, str) and team.is_teammate(u, requester_ids)]


def _slack_state_without_idqueue(
    sl: SourceItem,
    events: list[TimelineEvent],
    settings: Settings,
    team: TeamIndex,
    requester_ids: set[str],
) -> tuple[Status, str, datetime | None] | None:
    """The state a teammate gave a Slack-only request *without* idqueue, if any.

    idqueue records Slack-only state in thread messages with metadata, and also adds the
    configured reactions (``automation.slack_reactions``). A teammate working by hand leaves
    only the reaction (:white_check_mark: when done) or, for the backlog, a thread reply that
    links the issue they opened in the backlog repo. Reading those back keeps everyone's queue
    right whoever did the work. Reactions carry no time, so the teammate's last thread reply
    (or the message's last activity) stands in for when it happened.
    """
    reactions = settings.automation.slack_reactions
    replies = [e for e in events if e.kind is EventKind.MESSAGE and e.item_id == sl.id]

    def when(actors: list[str]) -> datetime:
        by_them = [e.at for e in replies if e.actor_id in actors]
        return max(by_them or [e.at for e in replies] or [sl.updated_at])

    done = _reactors(sl, reactions.get("done"), team, requester_ids)
    if done:
        name = reactions.get("done", "").strip(":")
        return Status.CLOSED, f"closed (:{name}: reaction)", when(done)
    backlog = _reactors(sl, reactions.get("backlog"), team, requester_ids)
    if backlog:
        name = reactions.get("backlog", "").strip(":")
        return Status.BACKLOG, f"moved to the backlog (:{name}: reaction)", when(backlog)
    backlog_repo = settings.github.backlog_repo
    if backlog_repo:
        prefix = f"gh:{backlog_repo}#".lower()
        for event in reversed(replies):
            links = event.data.get("links") or []
            if (
                isinstance(links, list)
                and team.is_teammate(event.actor_id, requester_ids)
                and not event.is_bot
                and any(isinstance(link, str) and link.lower().startswith(prefix) for link in links)
            ):
                return Status.BACKLOG, f"moved to the backlog ({backlog_repo} issue linked)", event.at
    return None


STATE_KINDS = frozenset(
    {EventKind.CLOSED, EventKind.REOPENED, EventKind.BACKLOG, EventKind.PENDING, EventKind.RESUMED}
)


def _last_state_event(events: list[TimelineEvent]) -> TimelineEvent | None:
    state = [e for e in events if e.kind in STATE_KINDS]
    return state[-1] if state else None


def _last_event_of(events: list[TimelineEvent]) -> Callable[..., datetime | None]:
    def find(kind: EventKind, predicate: Callable[[TimelineEvent], bool]) -> datetime | None:
        hits = [e.at for e in events if e.kind is kind and predicate(e)]
        return hits[-1] if hits else None

    return find


def make_assembler(settings: Settings, now: datetime) -> Callable[[list[SourceItem], list[TimelineEvent], dict[str, str]], Request]:
    """An assembler bound to settings and a moment, for :meth:`Store.apply`."""
    team = TeamIndex(settings)

    def _assemble(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
        return assemble(items, events, local, settings=settings, now=now, team=team)

    return _assemble
