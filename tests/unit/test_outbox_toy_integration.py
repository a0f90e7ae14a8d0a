"""One more system takes part in write-back through the registry alone: a toy integration.

The toy (``tests/toy_integration.py``) brings a planner and a writer against an in-memory
tracker that counts writes; nothing in the outbox names it. ``Actions`` plans a reply and a
close on a toy-only request, the real dispatcher sends each action exactly once (also when an
answer is lost and the action is reconciled), ``--target toy`` is accepted, and the outbox
screen names the system by its display name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from toy_integration import NAME, Tracker, assemble_toy, ticket, toy_registered

from idqueue.cli import Context, cli
from idqueue.config import Settings
from idqueue.outbox.backlog import backlog_destination
from idqueue.outbox.dispatcher import Dispatcher
from idqueue.outbox.models import (
    LINK_PLACEHOLDER,
    ActionError,
    ActionKind,
    ActionState,
    NothingToDo,
)
from idqueue.outbox.service import Actions, reply_targets
from idqueue.store.db import Store

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
RID = "toy:T-1"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def tracker(isolated_settings_env: Path) -> object:
    with toy_registered() as tracker:
        yield tracker


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "queue.db", me="ana",
                    team={"ana": {"name": "Ana Reyes", "github": "ana-reyes", "slack": "U0ANA"}})


@pytest.fixture
def store(settings: Settings) -> Store:
    store = Store.open(settings.db)
    store.apply(NAME, items=[ticket(1, NOW)], assembler=assemble_toy, now=NOW)
    return store


def dispatcher(store: Store, settings: Settings, clock: Clock) -> Dispatcher:
    # Writers built from the registry (the toy is the only writable system here).
    return Dispatcher(store, settings, clock=clock, sleep=lambda _: None, throttle=0)


def test_a_toy_request_is_planned_by_the_toy_planner(tracker: Tracker, settings: Settings, store: Store) -> None:
    actions = Actions(store, settings, clock=Clock())
    reply = actions.plan_reply(RID, text="We're **on it**")
    assert [(s.kind, s.target) for s in reply] == [(ActionKind.REPLY, NAME)]
    assert reply[0].text == "We're **on it**"  # the toy writes Markdown: posted as written
    assert reply[0].summary == "reply on the toy tracker: \"We're **on it**\""
    close = actions.plan_close(RID)
    assert [(s.kind, s.target) for s in close] == [(ActionKind.CLOSE, NAME), (ActionKind.REPLY, NAME)]
    assert close[0].params == {"ticket": RID, "reason": "completed"}
    assert "request is closed" in (close[1].text or "") and "survey" in (close[1].text or "")
    assert [s.target for s in actions.plan_reply(RID, text="x", target=NAME)] == [NAME]
    assert [s.target for s in actions.plan_reply(RID, text="x", target="all")] == [NAME]
    with pytest.raises(Exception, match="this request has no Slack thread"):
        actions.plan_reply(RID, text="x", target="slack")
    assert tracker.writes == 0  # planning writes nothing


def test_the_dispatcher_sends_each_toy_action_exactly_once(tracker: Tracker, settings: Settings,
                                                           store: Store) -> None:
    clock = Clock()
    actions = Actions(store, settings, clock=clock)
    queued = [*actions.reply(RID, text="On it"), *actions.close(RID)]
    with pytest.raises(NothingToDo, match="already closed"):
        actions.plan_close(RID)  # the queued close counts as done
    tracker.lose_answers = 1  # the first write lands, its answer does not
    sender = dispatcher(store, settings, clock)
    first = sender.run_once()
    assert first.counts["sent"] == 0 and first.counts["retrying"] == 1  # the reply timed out; the rest waits
    assert tracker.writes == 1
    clock.now += timedelta(hours=2)  # past the in-flight horizon
    second = sender.run_once()
    assert second.counts["sent"] == 3
    assert tracker.writes == 3  # the reply was found upstream, not written again
    assert tracker.written_by == {a.id: 1 for a in queued}
    assert tracker.replies[RID][0] == (queued[0].id, "On it") and len(tracker.replies[RID]) == 2
    assert tracker.states[RID] == f"closed by {queued[1].id}"
    assert {a.state for a in actions.for_request(RID, unsent_only=False)} == {ActionState.SENT}
    reconciled = actions.get(queued[0].id)
    assert reconciled.result.get("reconciled") is True
    assert sender.run_once().counts["sent"] == 0 and tracker.writes == 3
    sender.close()


def test_target_toy_is_accepted_by_the_cli(tracker: Tracker, settings: Settings, store: Store) -> None:
    assert reply_targets() == ["auto", "github", "jira", "slack", "email", NAME, "all", "both"]
    ctx = Context()
    ctx.use_settings(settings)
    ctx._store = store
    result = CliRunner().invoke(cli, ["reply", RID, "--text", "Hello", "--target", NAME, "--dry-run"], obj=ctx)
    assert result.exit_code == 0, result.output
    assert "reply on the toy tracker" in result.output and "text for Toy Tracker (Markdown):" in result.output
    bad = CliRunner().invoke(cli, ["reply", RID, "--text", "Hello", "--target", "fax"], obj=ctx)
    assert bad.exit_code != 0 and "'fax' is not one of auto, github, jira, slack, email, toy, all, both" in bad.output
    assert tracker.writes == 0


def test_the_outbox_screen_names_the_toy_system(tracker: Tracker) -> None:
    from idqueue.screens.outbox import OutboxScreen

    assert OutboxScreen._system(NAME) == "Toy Tracker"
    assert OutboxScreen._systems() == ["GitHub", "Jira", "Slack", "Email", "Toy Tracker"]


def test_backlog_destinations_are_registered_and_chosen_by_the_config(tracker: Tracker, settings: Settings) -> None:
    # Unset: the first registered one that can keep a backlog and may write (registry order).
    assert backlog_destination(settings).target == NAME  # no GitHub token here
    with_github = settings.model_copy(update={"github": settings.github.model_copy(update={"token": SecretStr("ghp-x")})})
    assert backlog_destination(with_github).target == "github"
    toy = settings.model_copy(update={"backlog": settings.backlog.model_copy(update={"destination": NAME})})
    assert backlog_destination(toy).noun == "the backlog card"
    slack = settings.model_copy(update={"backlog": settings.backlog.model_copy(update={"destination": "slack"})})
    with pytest.raises(ActionError, match="'slack' cannot keep a backlog"):
        backlog_destination(slack)


def test_a_backlog_card_is_created_and_linked_by_its_own_noun(tracker: Tracker, settings: Settings, store: Store,
                                                              tmp_path: Path) -> None:
    team = tmp_path / "templates"
    team.mkdir()
    (team / "parked.md").write_text('+++\nkey = "parked"\ntitle = "Parked"\n+++\n'
                                    "Parked: follow it on [{{ backlog.noun }}]({{ request.backlog_url }}).\n")
    settings = settings.model_copy(update={
        "templates_dir": team,
        "backlog": settings.backlog.model_copy(update={"destination": NAME}),
        "automation": settings.automation.model_copy(update={"on_backlog_template": "parked"}),
    })
    clock = Clock()
    actions = Actions(store, settings, clock=clock)
    steps = actions.plan_backlog(RID)
    assert [(s.kind, s.target) for s in steps] == [(ActionKind.CREATE_ISSUE, NAME), (ActionKind.REPLY, NAME)]
    assert steps[1].text == f"Parked: follow it on [the backlog card]({LINK_PLACEHOLDER}).\n"
    assert steps[1].link_from == 0
    queued = actions.backlog(RID)
    sender = dispatcher(store, settings, clock)
    assert sender.run_once().counts["sent"] == 2
    card = tracker.cards[queued[0].id]
    assert tracker.replies[RID] == [(queued[1].id, f"Parked: follow it on [the backlog card]({card}).\n")]
    assert tracker.writes == 2
    sender.close()


def test_a_template_for_an_unknown_system_is_refused(tracker: Tracker, settings: Settings, store: Store,
                                                     tmp_path: Path) -> None:
    team = tmp_path / "templates"
    team.mkdir()
    (team / "faxed.md").write_text('+++\nkey = "faxed"\ndestination = "fax"\n+++\nSent by fax.\n')
    actions = Actions(store, settings.model_copy(update={"templates_dir": team}), clock=Clock())
    with pytest.raises(ActionError, match="destination 'fax' is not a system idqueue writes to"):
        actions.plan_reply(RID, template="faxed")
