"""The triage rotation: who is on triage when, "mine + unowned", and the handover note.

The roster comes from config (:class:`~idqueue.config.RotaConfig`): a repeating weekly rota
(``per_week`` consecutive roster keys per ISO week, counted from ``start``) and explicit
per-day overrides for swaps and holidays, which always win. The handover note follows the
Made Tech rule: whoever ends a triage shift hands incomplete issues to the next triager.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from idqueue.config import Settings
from idqueue.domain.models import Request, Status
from idqueue.domain.sla import describe_remaining

__all__ = [
    "HANDOVER_SECTIONS",
    "escape_markdown",
    "handover_note",
    "is_mine",
    "is_workday",
    "member_name",
    "mine_or_unowned",
    "next_on_triage",
    "on_triage",
    "week_rota",
]

HANDOVER_SECTIONS = ("Breached", "At risk", "Unassigned", "Pending", "Open")
"""Section titles of the handover note, in order."""

_SECTION_HINTS = {
    "Breached": "past an SLA target",
    "At risk": "SLA target close",
    "Unassigned": "nobody owns these yet",
    "Pending": "waiting on the requester",
    "Open": "assigned, in progress",
}
# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can
# start a link, emphasis, code, HTML or a heading/table inside a list item.
_MD_SPECIALS = re.compile(r"([\\`*_\[\]()<>#!|~])")
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "[": "%5B", "]": "%5D"}
_LOOKAHEAD_DAYS = 28


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def on_triage(settings: Settings, day: date) -> list[str]:
    """Roster keys on triage on ``day``: the override for that date, else the weekly rota.

    The weekly rota advances ``per_week`` entries every ISO week (Monday to Sunday) since the
    week of ``rota.start`` and wraps around; dates before ``start`` count backwards.
    """
    rota = settings.rota
    if day in rota.overrides:
        return list(rota.overrides[day])
    if not rota.weekly:
        return []
    size = len(rota.weekly)
    per_week = max(1, min(rota.per_week, size))
    weeks = (_monday(day) - _monday(rota.start)).days // 7
    first = (weeks * per_week) % size
    return [rota.weekly[(first + i) % size] for i in range(per_week)]


def is_workday(settings: Settings, day: date) -> bool:
    """Whether the team works on ``day`` (its calendar's weekdays, minus holidays)."""
    cal = settings.sla.calendar
    if cal.always_on:
        return True
    return day.weekday() in cal.workdays and day not in cal.holidays


def week_rota(settings: Settings, day: date) -> list[tuple[date, list[str]]]:
    """Who is on triage each day of ``day``'s week (Monday first).

    Lists the calendar's working weekdays (all seven when the calendar is 24×7) plus any
    other day with an override. Holidays stay in the list so a display can mark them.
    """
    cal = settings.sla.calendar
    monday = _monday(day)
    days = (monday + timedelta(days=i) for i in range(7))
    return [
        (d, on_triage(settings, d))
        for d in days
        if cal.always_on or d.weekday() in cal.workdays or d in settings.rota.overrides
    ]


def next_on_triage(settings: Settings, after: date) -> tuple[date, list[str]] | None:
    """The first working day after ``after`` with someone on triage, and who (or None)."""
    for offset in range(1, _LOOKAHEAD_DAYS + 1):
        day = after + timedelta(days=offset)
        if is_workday(settings, day) or day in settings.rota.overrides:
            people = on_triage(settings, day)
            if people:
                return day, people
    return None


def member_name(settings: Settings, key: str | None) -> str:
    """A roster key's display name (the key itself when it is not on the roster)."""
    if not key:
        return "unassigned"
    member = settings.team.get(key)
    return member.name if member else key


def is_mine(request: Request, settings: Settings, me: str) -> bool:
    """Whether ``me`` (a roster key) is the request's assignee.

    The store records a roster key when it knows the person, else the raw GitHub login or
    Slack user id, so all three are compared.
    """
    if request.assignee is None:
        return False
    if request.assignee == me:
        return True
    member = settings.team.get(me)
    if member is None:
        return False
    return request.assignee == member.slack or (
        member.github is not None and request.assignee.lower() == member.github.lower()
    )


def mine_or_unowned(requests: Iterable[Request], settings: Settings, me: str | None) -> list[Request]:
    """The "mine + unowned" view: requests assigned to ``me`` or to nobody, order kept.

    With no ``me`` configured this is just the unowned requests.
    """
    return [r for r in requests if r.assignee is None or (me is not None and is_mine(r, settings, me))]


def escape_markdown(text: str) -> str:
    """Make untrusted text inert in Markdown: one line, every control character escaped.

    A title such as ``[click](https://evil)`` then shows literally instead of forging a link.
    """
    return _MD_SPECIALS.sub(r"\\\1", " ".join(text.split()))


def _link(request: Request) -> str:
    key = escape_markdown(request.key)
    # The primary home's link, else the first other home's (links are in order of preference).
    url = request.url or next(iter(request.links.values()), None)
    if not url or not url.startswith(("https://", "http://")):
        return key
    safe_url = "".join(_URL_UNSAFE.get(c, c) for c in url)
    return f"[{key}]({safe_url})"


def _sla_text(request: Request) -> str:
    sla = request.sla
    remaining = sla.remaining_seconds
    if sla.state == "breached":
        return f"breached, overdue {describe_remaining(-remaining)}" if remaining is not None else "breached"
    if sla.state in ("ok", "at_risk"):
        label = "at risk" if sla.state == "at_risk" else "ok"
        return f"{label}, {describe_remaining(remaining)} left" if remaining is not None else label
    if sla.state == "paused":
        return "clock paused"
    if sla.state == "met":
        return "SLA met"
    return "no SLA"


def _section(request: Request) -> str:
    # One section per request, most urgent first: an overdue request is "Breached" even if it
    # is also unassigned, so nothing is listed twice.
    if request.sla.state == "breached":
        return "Breached"
    if request.sla.state == "at_risk":
        return "At risk"
    if request.status == Status.PENDING:
        return "Pending"
    if request.assignee is None:
        return "Unassigned"
    return "Open"


def _item(request: Request, settings: Settings) -> str:
    details = ", ".join(
        (
            escape_markdown(request.type),
            request.priority,
            _sla_text(request),
            escape_markdown(member_name(settings, request.assignee)),
        )
    )
    return f"- {_link(request)} {escape_markdown(request.title)} — {details}"


def handover_note(
    requests: list[Request], settings: Settings, *, now: datetime, for_member: str | None = None
) -> str:
    """A Markdown handover note for the next triager.

    Args:
        requests: the queue (closed and backlogged requests are skipped), in the order the
            items should be listed (the store's ranking).
        settings: roster, rota and the team's timezone.
        now: the moment the note is written (aware); its date in the team's timezone heads
            the note.
        for_member: roster key the note is addressed to; default: whoever is next on triage.

    Returns:
        Markdown: a title with the date and the next triager, a summary line with counts, then
        the sections Breached, At risk, Unassigned, Pending and Open (each says "none" when
        empty). Each item reads ``- [REQ-12](url) Title — type, priority, SLA, assignee``;
        titles and names are escaped so they cannot forge links or formatting.
    """
    tz = ZoneInfo(settings.sla.calendar.timezone)
    local_now = now.astimezone(tz)
    today = local_now.date()
    lines = [f"# Triage handover — {today:%a %d %b %Y}", ""]
    if for_member is not None:
        lines.append(f"**To:** {escape_markdown(member_name(settings, for_member))}")
    else:
        upcoming = next_on_triage(settings, today)
        if upcoming is None:
            lines.append("**Next on triage:** nobody on the rota")
        else:
            day, people = upcoming
            names = ", ".join(escape_markdown(member_name(settings, p)) for p in people)
            lines.append(f"**Next on triage:** {names} ({day:%a %d %b})")
    lines.append(f"**Written:** {local_now:%Y-%m-%d %H:%M} {settings.sla.calendar.timezone}")

    sections: dict[str, list[Request]] = {name: [] for name in HANDOVER_SECTIONS}
    open_requests = [r for r in requests if r.status.is_open]
    for request in open_requests:
        sections[_section(request)].append(request)
    counts = ", ".join(f"{len(sections[name])} {name.lower()}" for name in HANDOVER_SECTIONS)
    lines += ["", f"**{len(open_requests)} open:** {counts}"]

    for name in HANDOVER_SECTIONS:
        items = sections[name]
        lines += ["", f"## {name} ({len(items)}) — {_SECTION_HINTS[name]}", ""]
        lines += [_item(r, settings) for r in items] or ["none"]
    return "\n".join(lines) + "\n"
