"""The assign picker with an EMPTY roster on Jira requests (Pilot, identity-jira sandbox, real client).

It lists the people Jira says can be assigned the issue (``GET /rest/api/3/user/assignable/search``);
picking one assigns their account on Jira; a typed name that matches nobody exactly is refused
with one line and nothing is queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_assign_no_roster import _app, _open_picker, _shown
from tui_helpers import SIZE, first_sync, wait_for

from idqueue.integrations.registry import home_of
from idqueue.sandbox.identity_jira import IdentityJiraSandbox
from idqueue.screens.queue import QueueScreen

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[IdentityJiraSandbox]:
    with IdentityJiraSandbox.start(seed=True, now=NOW) as sb:
        sb.jira.state.user("acc-mia", "Mia Krystof", email="mia.krystof@example.gov")
        yield sb


async def test_picker_lists_jira_assignable_users_and_assigns_one(sandbox: IdentityJiraSandbox,
                                                                  tmp_path: Path) -> None:
    app = _app(sandbox, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await first_sync(pilot)
        rows = [r.request for r in screen.table.loaded_rows()]
        request = next(r for r in rows if r.source == "jira" and not r.assignee)
        key = str(home_of(request, "jira")).rsplit("/", 1)[1]

        picker = await _open_picker(pilot, app, request)
        shown = _shown(picker)
        assert any(line.startswith("Ben Okafor") and "Jira acc-ben" in line for line in shown)
        assert any(line.startswith("Mia Krystof") for line in shown)
        assert not any("cust-" in line for line in shown)  # requesters (customers) cannot be assigned

        await pilot.press(*"mia", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen), what="back to the queue")
        await wait_for(pilot, lambda: sandbox.jira.state.issue(key).assignee == "acc-mia", timeout=60,
                       what="assigned on Jira")

        other = next(r for r in rows if r.source == "jira" and not r.assignee and r.id != request.id)
        await _open_picker(pilot, app, other)
        await pilot.press(*"mallory", "enter")
        await wait_for(pilot, lambda: any("'mallory' cannot be assigned" in n.message for n in app._notifications),
                       timeout=30, what="the refusal")
        assert app.ctx.actions.for_request(other.id) == []
