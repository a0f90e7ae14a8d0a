"""Merge a request's source items and timeline into one :class:`Request`.

This is where "one request, several homes" happens: a chat intake message and the issue a bot
filed for it are linked (by the store) and assembled here into one row whose status,
assignee, first response, type, priority and SLA clocks come from every home's timeline. What
differs between systems (whose requester wins, where assignment and status live) is asked of
each system's :class:`~idqueue.domain.homes.HomeRules`, passed in as a
:class:`~idqueue.domain.homes.Rulebook`. Pure: the clock, settings and rules are passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from idqueue.config import Settings, TemplateFieldMap
from idqueue.domain.classify import classify
from idqueue.domain.customers import customer_of_request
from idqueue.domain.homes import FoldContext, HomeRules, Rulebook, TeamIndex, assignee_from_events
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


def assemble(
    items: list[SourceItem],
    events: list[TimelineEvent],
    local: dict[str, str],
    *,
    settings: Settings,
    now: datetime,
    rules: Rulebook,
    team: TeamIndex | None = None,
) -> Request:
    """Build the request for a group of linked items.

    Args:
        items: the request's items: one per home, more when several items of one system link
            together (the first live one of each system is its home there).
        events: the merged timeline, oldest first.
        local: local-only state (``snoozed_until``, ``priority_override``, ``customer_override``).
        settings: configuration (roster, intake rules, SLA policies, priority rules).
        now: the clock.
        rules: each system's fold rules, in the order of preference of homes (the first
            system with a live item is the primary home: the canonical id).
        team: a prepared :class:`TeamIndex` (built from settings when omitted).
    """
    team = team or TeamIndex(settings, rules.rules)
    homes = _Homes(items, rules)
    canonical = homes.canonical
    requester = _requester(homes, team)
    requester_ids = {p.id for p in (requester,) if p} | {
        i.requester.id for i in items if i.requester and not i.requester.is_bot
    }
    fields, sections, template_map = _intake(homes.own, settings)
    labels = list(dict.fromkeys(label for rule, item in homes.own for label in rule.labels(item)))
    created_at = min(i.created_at for i in items)
    updated_at = max([i.updated_at for i in items] + [e.at for e in events])

    ctx = FoldContext(settings, team, events, requester_ids)
    lead = homes.lead
    assignees = lead[0].assignees(lead[1], ctx) if lead else assignee_from_events(ctx)[0]
    assignee = assignees[0] if assignees else None
    first_response_at = next(
        (e.at for e in events if e.at >= created_at and team.is_response(e, requester_ids)), None
    )
    status, status_reason, resolved_at = _status(homes, ctx, assignee, first_response_at)
    if status is Status.BACKLOG and not (lead and homes.keeps_state(*lead)):
        # Backlog means "unassigned, out of the live queue" (DESIGN.md); a home that does not
        # keep state (a chat message's "taken" reaction) still shows who had it, so drop that.
        assignee, assignees = None, []

    request_type, type_reason = classify(
        fields=fields, sections=sections, labels=labels, title=canonical.title, body=canonical.body,
        intake=settings.intake, template=template_map,
    )
    request = Request(
        id=canonical.id, key="", sources=homes.sources, title=canonical.title, body=canonical.body,
        requester=requester, type=request_type, type_reason=type_reason, fields=fields,
        status=status, status_reason=status_reason, assignee=assignee, assignees=assignees, labels=labels,
        priority_override=local.get("priority_override") or None,
        created_at=created_at, updated_at=updated_at, first_response_at=first_response_at, resolved_at=resolved_at,
        url=canonical.url or next((item.url for _, item in homes.live if item.url), None),
        links={rule.name: item.url for rule, item in homes.live if item.url},
        item_ids=sorted(i.id for i in items),
        snoozed_until=parse_iso(local.get("snoozed_until")),
        customer=customer_of_request(_addresses(requester, homes), local.get("customer_override"),
                                     settings.customers),
        backlog_state=next((found for rule, item in homes.live if (found := rule.backlog_state(item))), None),
        last_outside_at=max((e.at for e in events if team.is_outside_message(e, requester_ids)), default=None),
        listed=any(rules.of(item.source).standalone and not rules.of(item.source).backlog_item(item)
                   for item in items),
    )
    _prioritise(request, events, local, settings, now)
    return request


def _prioritise(
    request: Request, events: list[TimelineEvent], local: dict[str, str], settings: Settings, now: datetime
) -> None:
    """Set the request's priority and SLA clocks.

    Priority feeds the SLA policy choice, and the SLA state feeds priority rules: compute a
    provisional priority, the clocks, then the final priority with the SLA state known.
    """
    request.priority, request.priority_reason = compute_priority(request, settings.priority_rules, sla_state="ok")
    since = _priority_since(request, events, local, settings)
    customer_policies = {key: c.sla_policy for key, c in settings.customers.items() if c.sla_policy}
    request.sla = compute_sla(request, events, settings.sla, now=now, priority_since=since,
                              customer_policies=customer_policies)
    request.priority, request.priority_reason = compute_priority(
        request, settings.priority_rules, sla_state=request.sla.state
    )


class _Homes:
    """A request's items by system, in the order of preference of homes.

    Attributes:
        live: ``(rules, item)`` per system that has a live (not deleted) item: the first of
            them (by creation; backlog items after the others) is the request's home there.
            Systems whose items are all backlog items (:meth:`HomeRules.backlog_item`) come last.
        own: the live homes that are not backlog items (labels and intake fields come from them).
        canonical: the item whose id, title and body the request takes: the primary live
            home, else (every home deleted) the first item in the same order.
        lead: the live home whose rules decide assignees and status (see
            :attr:`HomeRules.keeps_state`), or None when every home is deleted.
        sources: every system the request has items in (deleted ones too), in order.
    """

    def __init__(self, items: list[SourceItem], rules: Rulebook) -> None:
        by_system: dict[str, list[SourceItem]] = {}
        for item in sorted(items, key=lambda i: (rules.of(i.source).backlog_item(i), i.created_at)):
            by_system.setdefault(item.source, []).append(item)
        order = sorted(by_system, key=lambda name: (
            all(rules.of(name).backlog_item(i) for i in by_system[name]), rules.order(name)))
        self.all_items = items
        self.sources = [SourceKind(name) for name in order]
        self.live: list[tuple[HomeRules, SourceItem]] = []
        for name in order:
            alive = [i for i in by_system[name] if i.state != "deleted"]
            if alive:
                self.live.append((rules.of(name), alive[0]))
        self.own = [(rule, item) for rule, item in self.live if not rule.backlog_item(item)]
        self.canonical = self.live[0][1] if self.live else by_system[order[0]][0]
        self.lead = next((home for home in self.live if self.keeps_state(*home)), self.live[0] if self.live else None)

    @staticmethod
    def keeps_state(rule: HomeRules, item: SourceItem) -> bool:
        """Whether this home's own state is the request's (a backlog item's never is)."""
        return rule.keeps_state and not rule.backlog_item(item)


def _intake(
    live: list[tuple[HomeRules, SourceItem]], settings: Settings
) -> tuple[dict[str, str], list[str], TemplateFieldMap | None]:
    """Intake fields, sections and the template that matched, from every live home in order
    (an issue template's body first, then a chat bot's structured fields)."""
    fields: dict[str, str] = {}
    sections: list[str] = []
    template_map = None
    for _, item in live:
        parsed = parse_intake(item.body, settings.intake.templates, structured=item.fields or None)
        for key, value in parsed.fields.items():
            fields.setdefault(key, value)
        sections.extend(s for s in parsed.sections if s not in sections)
        if parsed.template and template_map is None:
            template_map = next((t for t in settings.intake.templates if t.name == parsed.template), None)
    return fields, sections, template_map

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


def _addresses(requester: Person | None, homes: _Homes) -> list[str]:
    """The requester's mail addresses, most trusted first: the chosen requester's id (a mail
    sender's id is their address), then every live home's requester (a chat user id has no
    ``@`` and is skipped by the caller)."""
    found = [requester.id] if requester is not None else []
    found += [item.requester.id for _, item in homes.live if item.requester is not None]
    return found


def _requester(homes: _Homes, team: TeamIndex) -> Person | None:
    """The human who asked: the first live home by requester rank (a chat message posted for
    them beats the issue a bot filed) whose requester is not a bot; else any requester."""
    ranked = sorted(homes.live, key=lambda home: home[0].requester_rank)  # stable: registry order
    for _, item in ranked:
        if item.requester is not None and not item.requester.is_bot and not team.is_bot(item.requester.id):
            return item.requester
    for _, item in ranked:
        if item.requester is not None:
            return item.requester
    return None


def _status(
    homes: _Homes, ctx: FoldContext, assignee: str | None, first_response_at: datetime | None
) -> tuple[Status, str, datetime | None]:
    """Derive (status, reason, resolved_at): every home deleted, else what the lead home's
    rules say, else assigned / acknowledged / new."""
    if homes.lead is None:
        deleted_at = max((i.updated_at for i in homes.all_items), default=None)
        return Status.DELETED, _deleted_reason(ctx.events), deleted_at
    rules, item = homes.lead
    found = rules.status(item, ctx)
    if found is not None:
        return found
    if assignee:
        return Status.ASSIGNED, f"assigned to {assignee}", None
    if first_response_at is not None:
        return Status.ACKNOWLEDGED, "first response sent", None
    return Status.NEW, "no response yet", None


def _deleted_reason(events: list[TimelineEvent]) -> str:
    """Why every home of a request is gone: its filter label was removed, or it was deleted.

    A reader that filters by a label flags the ``UNLABELED`` event of that label
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


Assembler = Callable[[list[SourceItem], list[TimelineEvent], dict[str, str]], Request]
"""What :meth:`Store.apply` calls to build a request from its items, timeline and local state."""


def make_assembler(settings: Settings, now: datetime, *, rules: Rulebook) -> Assembler:
    """An assembler bound to settings, the systems' fold rules and a moment, for
    :meth:`Store.apply` (the callers build ``rules`` from the integration registry)."""
    team = TeamIndex(settings, rules.rules)

    def _assemble(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
        return assemble(items, events, local, settings=settings, now=now, rules=rules, team=team)

    return _assemble
