"""The triage rota, "mine + unowned", and the handover note."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from idqueue.config import Settings
from idqueue.domain.models import Person, Request, SlaInfo, SourceKind, Status
from idqueue.domain.rota import (
    escape_markdown,
    handover_note,
    is_mine,
    mine_or_unowned,
    next_on_triage,
    on_triage,
    week_rota,
)

TEAM = {
    "ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA"},
    "ben": {"name": "Ben Okafor", "github": "ben-okafor", "slack": "U0BEN"},
    "chloe": {"name": "Chloe Park", "github": "chloe-park", "slack": "U0CHLOE"},
}
MON = date(2026, 3, 9)  # a Monday, the rota start below

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(isolated_settings_env: Path) -> MakeSettings:
    """Settings from explicit values only (see ``isolated_settings_env`` in conftest.py)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"team": TEAM, "rota": {"weekly": ["ana", "ben", "chloe"], "start": MON}}
        values.update(overrides)
        return Settings(**values)

    return make


# ------------------------------------------------------------------------------ rota
@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 9), ["ana"]),
        (date(2026, 3, 15), ["ana"]),  # Sunday: still week 0
        (date(2026, 3, 16), ["ben"]),
        (date(2026, 3, 25), ["chloe"]),
        (date(2026, 3, 30), ["ana"]),  # wraps around
        (date(2026, 3, 6), ["chloe"]),  # the week before start counts backwards
    ],
)
def test_weekly_rota(make_settings: MakeSettings, day: date, expected: list[str]) -> None:
    assert on_triage(make_settings(), day) == expected


def test_per_week_takes_consecutive_people(make_settings: MakeSettings) -> None:
    settings = make_settings(rota={"weekly": ["ana", "ben", "chloe"], "start": MON, "per_week": 2})
    assert on_triage(settings, MON) == ["ana", "ben"]
    assert on_triage(settings, date(2026, 3, 16)) == ["chloe", "ana"]
    assert on_triage(settings, date(2026, 3, 23)) == ["ben", "chloe"]


def test_overrides_win(make_settings: MakeSettings) -> None:
    settings = make_settings(rota={"weekly": ["ana", "ben"], "start": MON, "overrides": {"2026-03-11": ["ben", "chloe"]}})
    assert on_triage(settings, date(2026, 3, 11)) == ["ben", "chloe"]
    assert on_triage(settings, date(2026, 3, 12)) == ["ana"]


def test_no_rota_means_nobody(make_settings: MakeSettings) -> None:
    assert on_triage(make_settings(rota={}), MON) == []


def test_week_rota_lists_workdays_and_override_days(make_settings: MakeSettings) -> None:
    settings = make_settings(
        rota={"weekly": ["ana", "ben"], "start": MON, "overrides": {"2026-03-14": ["chloe"]}},
        sla={"calendar": {"holidays": ["2026-03-12"]}},
    )
    week = week_rota(settings, date(2026, 3, 11))
    assert week == [
        (date(2026, 3, 9), ["ana"]),
        (date(2026, 3, 10), ["ana"]),
        (date(2026, 3, 11), ["ana"]),
        (date(2026, 3, 12), ["ana"]),  # a holiday stays listed; the display marks it
        (date(2026, 3, 13), ["ana"]),
        (date(2026, 3, 14), ["chloe"]),  # Saturday, but someone swapped in
    ]


def test_week_rota_on_a_24x7_calendar_has_seven_days(make_settings: MakeSettings) -> None:
    settings = make_settings(sla={"calendar": {"always_on": True}})
    assert [d.weekday() for d, _ in week_rota(settings, MON)] == list(range(7))


def test_next_on_triage_skips_weekends_and_holidays(make_settings: MakeSettings) -> None:
    settings = make_settings(sla={"calendar": {"holidays": ["2026-03-16"]}})
    assert next_on_triage(settings, date(2026, 3, 10)) == (date(2026, 3, 11), ["ana"])
    # Friday → Monday is a holiday → Tuesday, which is Ben's week.
    assert next_on_triage(settings, date(2026, 3, 13)) == (date(2026, 3, 17), ["ben"])
    assert next_on_triage(make_settings(rota={}), MON) is None


# ------------------------------------------------------------------------------ mine + unowned
def req(n: int, **changes: Any) -> Request:
    values: dict[str, Any] = {
        "id": f"gh:va/support#{n}",
        "key": f"REQ-{n}",
        "sources": [SourceKind("github")],
        "title": f"Request {n}",
        "body": "",
        "requester": Person("sam", "Sam"),
        "type": "Help Request",
        "url": f"https://github.com/va/support/issues/{n}",
        "status": Status.NEW,
    }
    values.update(changes)
    return Request(**values)


def test_is_mine_matches_roster_key_login_and_slack_id(make_settings: MakeSettings) -> None:
    settings = make_settings()
    assert is_mine(req(1, assignee="ana"), settings, "ana")
    assert is_mine(req(2, assignee="Ana-Reyes"), settings, "ana")
    assert is_mine(req(3, assignee="U0ANA"), settings, "ana")
    assert not is_mine(req(4, assignee="ben"), settings, "ana")
    assert not is_mine(req(5), settings, "ana")


def test_mine_or_unowned_keeps_order(make_settings: MakeSettings) -> None:
    settings = make_settings()
    queue = [req(1, assignee="ben"), req(2), req(3, assignee="ana"), req(4, assignee="someone-else"), req(5)]
    assert [r.key for r in mine_or_unowned(queue, settings, "ana")] == ["REQ-2", "REQ-3", "REQ-5"]
    assert [r.key for r in mine_or_unowned(queue, settings, None)] == ["REQ-2", "REQ-5"]


# ------------------------------------------------------------------------------ handover
def test_escape_markdown_defuses_links_and_formatting() -> None:
    assert escape_markdown("[click](https://evil) *now* <b>`x`</b>\n# hi") == (
        r"\[click\]\(https://evil\) \*now\* \<b\>\`x\`\</b\> \# hi"
    )


NOW = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)  # still Tuesday 10 March in New York


def queue() -> list[Request]:
    return [
        req(1, title="Prod login outage", priority="P1", type="Bug Fix",
            sla=SlaInfo(state="breached", remaining_seconds=-7500)),
        req(2, title="Data pull [urgent](https://evil.example)", assignee="ben", priority="P2", status=Status.ASSIGNED,
            sla=SlaInfo(state="at_risk", remaining_seconds=2700)),
        req(3, title="Mock auth user", sla=SlaInfo(state="ok", remaining_seconds=11400)),
        req(4, title="Waiting on screenshots", status=Status.PENDING, assignee="ana", sla=SlaInfo(state="paused")),
        req(5, title="Review my PR", status=Status.ASSIGNED, assignee="chloe", sla=SlaInfo(state="met")),
        req(6, title="Already closed", status=Status.CLOSED, sla=SlaInfo(state="met")),
        req(7, title="In the backlog", status=Status.BACKLOG),
    ]


def test_handover_note(make_settings: MakeSettings) -> None:
    note = handover_note(queue(), make_settings(), now=NOW)
    assert note == """\
# Triage handover — Tue 10 Mar 2026

**Next on triage:** Ana Reyes (Wed 11 Mar)
**Written:** 2026-03-10 23:00 America/New_York

**5 open:** 1 breached, 1 at risk, 1 unassigned, 1 pending, 1 open

## Breached (1) — past an SLA target

- [REQ-1](https://github.com/va/support/issues/1) Prod login outage — Bug Fix, P1, breached, overdue 2h 05m, unassigned

## At risk (1) — SLA target close

- [REQ-2](https://github.com/va/support/issues/2) Data pull \\[urgent\\]\\(https://evil.example\\) — Help Request, P2, at risk, 45m left, Ben Okafor

## Unassigned (1) — nobody owns these yet

- [REQ-3](https://github.com/va/support/issues/3) Mock auth user — Help Request, P3, ok, 3h 10m left, unassigned

## Pending (1) — waiting on the requester

- [REQ-4](https://github.com/va/support/issues/4) Waiting on screenshots — Help Request, P3, clock paused, Ana Reyes

## Open (1) — assigned, in progress

- [REQ-5](https://github.com/va/support/issues/5) Review my PR — Help Request, P3, SLA met, Chloe Park
"""


def test_handover_empty_sections_say_none_and_for_member(make_settings: MakeSettings) -> None:
    note = handover_note([], make_settings(rota={}), now=NOW)
    assert "**Next on triage:** nobody on the rota" in note
    assert "**0 open:**" in note
    assert note.count("\nnone\n") == 5
    addressed = handover_note([], make_settings(), now=NOW, for_member="chloe")
    assert "**To:** Chloe Park" in addressed and "Next on triage" not in addressed


def test_handover_link_urls_cannot_break_out(make_settings: MakeSettings) -> None:
    odd = req(9, url="https://x.example/a b)(c", sla=SlaInfo(state="ok", remaining_seconds=60))
    no_url = req(10, url="javascript:alert(1)")
    note = handover_note([odd, no_url], make_settings(), now=NOW)
    assert "[REQ-9](https://x.example/a%20b%29%28c)" in note
    assert "- REQ-10 Request 10" in note  # not a web link: shown as plain text
