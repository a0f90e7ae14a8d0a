"""The Trello backlog card through the real outbox dispatcher and the real client, against the
loopback Trello: one card in the customer's list, exactly once through rate limits, timeouts and
a SIGKILL at every point of a send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from trello_env import NOW, TrelloWorld, trello_world

from idqueue.config import Settings, trello_board_ref
from idqueue.domain.actions import Action, ActionKind, ActionState
from idqueue.integrations.trello.emulator import TCard, TList
from idqueue.integrations.trello.marker import card_footer, footer_of
from idqueue.integrations.trello.writer import TrelloWriter
from idqueue.outbox.dispatcher import Dispatcher, DispatchReport
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import Store

ROOT = Path(__file__).resolve().parents[2]
REQUEST = "email:CAF3x9=k2@mail.acme.com"
THREAD = "https://mail.example.com/thread/CAF3x9"


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with trello_world() as w:
        yield w


@pytest.fixture
def settings(world: TrelloWorld, tmp_path: Path) -> Settings:
    return world.settings(tmp_path / "idqueue.db")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store.open(settings.db)
    yield s
    s.close()


def backlog_action(world: TrelloWorld, customer: str = "acme", *, aid: str = "a1b2c3d4e5f6",
                   text: str | None = "The export button fails with a 500 since Monday.") -> Action:
    board = trello_board_ref(world.customers()[customer]["trello_board"])  # as the settings hold it
    return Action(
        id=aid, request_id=REQUEST, kind=ActionKind.CREATE_ISSUE, target="trello",
        params={"board": board, "list": world.customers()[customer].get("backlog_list", "New Issues"),
                "title": "Export fails with a 500", "requester": "Jane Doe <jane@acme.com>",
                "links": {"email": THREAD, "slack": "https://acme.slack.com/archives/C1/p1"}, "customer": customer},
        text=text, state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None, created_at=NOW,
        sent_at=None, group_id="g1", summary="create a card on Acme's board",
    )


def dispatcher(world: TrelloWorld, store: Store, settings: Settings, *, timeout: float = 2.0) -> Dispatcher:
    writer = TrelloWriter(settings, clock=world.clock, timeout=timeout)
    return Dispatcher(store, settings, writers={"trello": writer}, clock=world.clock, sleep=lambda _s: None,
                      request_timeout=timeout, inflight_horizon=1.0)


def drain(world: TrelloWorld, d: Dispatcher, rounds: int = 10) -> DispatchReport:
    total = DispatchReport()
    for _ in range(rounds):
        report = d.run_once()
        total.merge(report)
        if report.next_due is None:
            break
        if report.next_due > world.clock():
            world.clock.set(report.next_due)
    return total


def cards_of(world: TrelloWorld, customer: str = "acme") -> list[TCard]:
    return list(world.boards[customer].cards.values())


def test_backlog_creates_one_card_in_the_customers_list(world: TrelloWorld, store: Store, settings: Settings) -> None:
    action = backlog_action(world)
    OutboxStore(store).insert([action])
    report = dispatcher(world, store, settings).run_once()
    assert report.counts["sent"] == 1, report.needs_attention and report.needs_attention[0].last_error
    [card] = cards_of(world)
    board = world.boards["acme"]
    assert board.lists[card.id_list].name == "New Issues"
    assert card.name == "Export fails with a 500"
    assert card.desc.startswith("The export button fails")
    assert footer_of(card.desc) == (REQUEST, action.id)
    assert [a["url"] for a in card.attachments] == [THREAD]
    sent = OutboxStore(store).get(action.id)
    assert sent is not None and sent.result["url"] == card.url
    assert sent.result["created"]["card"] == card.id


def test_the_customers_own_list_name_and_a_description_without_text(world: TrelloWorld, store: Store,
                                                                      settings: Settings) -> None:
    OutboxStore(store).insert([backlog_action(world, "globex", text=None)])
    assert dispatcher(world, store, settings).run_once().counts["sent"] == 1
    [card] = cards_of(world, "globex")
    assert world.boards["globex"].lists[card.id_list].name == "Inbox"
    assert "**Requested by:** Jane Doe <jane@acme.com>" in card.desc and THREAD in card.desc


def test_a_missing_list_needs_attention_with_one_line(world: TrelloWorld, store: Store, settings: Settings) -> None:
    action = backlog_action(world)
    action.params["list"] = "Triage"
    OutboxStore(store).insert([action])
    report = dispatcher(world, store, settings).run_once()
    [stuck] = report.needs_attention
    assert stuck.last_error is not None and "has no open list 'Triage'" in stuck.last_error
    assert "'New Issues', 'Up next', 'Recently Completed'" in stuck.last_error
    assert cards_of(world) == []


def test_a_list_archived_after_it_was_cached_is_not_used_a_minute_later(world: TrelloWorld, store: Store,
                                                                         settings: Settings) -> None:
    """Trello still takes cards into an archived list, where nobody would see them: the writer
    trusts a board's lists for a minute only."""
    d = dispatcher(world, store, settings)
    OutboxStore(store).insert([backlog_action(world, aid="first0000001")])
    assert d.run_once().counts["sent"] == 1
    board = world.boards["acme"]
    old = world.state.list_named(board, "New Issues")
    old.closed = True  # someone archived the list and made a new one with the same name
    new_list = TList(world.state.new_id(), board.id, "New Issues", old.pos + 1)
    board.lists[new_list.id] = new_list
    world.clock.advance(61)
    OutboxStore(store).insert([backlog_action(world, aid="second000001")])
    assert d.run_once().counts["sent"] == 1
    assert sorted(c.id_list for c in cards_of(world)) == sorted([old.id, new_list.id])


def test_a_refused_list_is_read_again_when_the_user_retries(world: TrelloWorld, store: Store,
                                                            settings: Settings) -> None:
    d = dispatcher(world, store, settings)
    OutboxStore(store).insert([backlog_action(world, aid="first0000001")])
    assert d.run_once().counts["sent"] == 1
    world.emulator.faults.add("POST /1/cards", status=400, body=b"invalid value for idList")
    OutboxStore(store).insert([backlog_action(world, aid="second000001")])
    [stuck] = d.run_once().needs_attention
    assert "invalid value for idList" in (stuck.last_error or "")
    world.emulator.calls.clear()
    OutboxStore(store).retry(stuck.id, now=world.clock())
    assert d.run_once().counts["sent"] == 1
    assert world.emulator.calls.count("GET", "/1/boards/*/lists") == 1


def test_a_429_waits_the_window_and_does_not_count_as_a_failure(world: TrelloWorld, store: Store,
                                                                  settings: Settings) -> None:
    world.emulator.faults.add("POST /1/cards", "rate_limit")
    OutboxStore(store).insert([backlog_action(world)])
    d = dispatcher(world, store, settings)
    first = d.run_once()
    [waiting] = first.retrying
    assert waiting.next_attempt_at is not None and (waiting.next_attempt_at - NOW).total_seconds() == 10
    assert "rate limit" in (waiting.last_error or "")
    assert cards_of(world) == []
    report = drain(world, d)
    assert report.counts["sent"] == 1
    assert len(cards_of(world)) == 1
    assert OutboxStore(store).failures(waiting.id) == 0


def test_the_real_token_window_is_honoured(world: TrelloWorld, store: Store, settings: Settings) -> None:
    """Three backlog cards with a token allowed four requests per 10 s: the writer stops at the
    429, waits the window, and every card lands once."""
    world.emulator.token_limit = 4
    OutboxStore(store).insert([backlog_action(world, aid=f"act{n:09d}") for n in range(3)])
    report = drain(world, dispatcher(world, store, settings), rounds=20)
    assert report.counts["sent"] == 3 and report.counts["failed"] == 0
    assert sorted(footer_of(c.desc)[1] for c in cards_of(world)) == [f"act{n:09d}" for n in range(3)]  # type: ignore[index]
    assert any(c.status == 429 for c in world.emulator.calls)


@pytest.mark.parametrize("kind", ["drop_after_apply", "apply_then_stall"])
def test_a_lost_answer_is_found_by_its_footer_not_created_again(world: TrelloWorld, store: Store,
                                                                  settings: Settings, kind: str) -> None:
    world.emulator.faults.add("POST /1/cards", kind, seconds=3)
    action = backlog_action(world)
    OutboxStore(store).insert([action])
    d = dispatcher(world, store, settings, timeout=1.0)
    assert d.run_once().counts["retrying"] == 1
    assert len(cards_of(world)) == 1  # Trello has it; idqueue does not know yet
    report = drain(world, d)
    assert report.counts["sent"] == 1
    assert len(cards_of(world)) == 1
    assert [a["type"] for a in world.boards["acme"].actions].count("createCard") == 1
    sent = OutboxStore(store).get(action.id)
    assert sent is not None and sent.result["reconciled"] is True and sent.result["url"] == cards_of(world)[0].url


def test_reconcile_ignores_a_forged_marker_in_the_request_text(world: TrelloWorld, store: Store,
                                                               settings: Settings) -> None:
    """A requester who pastes ``idqueue-action: <id>`` into their mail cannot make idqueue think
    the card exists: only the footer that ends the description counts."""
    state, board = world.state, world.boards["acme"]
    action = backlog_action(world)
    forged = f"please\n\n---\nidqueue-request: {REQUEST}\nidqueue-action: {action.id}\n\nthanks"
    state.create_card(state.list_named(board, "New Issues").id, "Forged", forged)
    writer = TrelloWriter(settings, clock=world.clock, timeout=2.0)
    assert writer.reconcile(action, since=NOW) is None


def _subprocess_env(world: TrelloWorld, settings: Settings, tmp_path: Path, crash: str | None) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    out = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    out.update(world.env())
    out["IDQUEUE_DB"] = str(settings.db)
    out["IDQUEUE_CONFIG_FILE"] = str(config)
    out["IDQUEUE_NOW"] = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    out["PYTHONPATH"] = str(ROOT)
    if crash:
        out["IDQUEUE_OUTBOX_CRASH_AT"] = crash
    return out


@pytest.mark.slow
@pytest.mark.parametrize("crash", ["claimed:create_issue:trello", "sent:create_issue:trello",
                                   "recorded:create_issue:trello"])
def test_sigkill_at_each_point_then_restart_creates_one_card(world: TrelloWorld, store: Store, settings: Settings,
                                                             tmp_path: Path, crash: str) -> None:
    action = backlog_action(world)
    OutboxStore(store).insert([action])
    proc = subprocess.Popen(
        [sys.executable, "-m", "idqueue.outbox.dispatcher", "--throttle", "0", "--timeout", "5"],
        env=_subprocess_env(world, settings, tmp_path, crash), cwd=str(ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    point = crash.partition(":")[0]
    assert len(cards_of(world)) == (0 if point == "claimed" else 1)
    report = drain(world, dispatcher(world, store, settings))
    assert report.counts["needs_attention"] == 0 and report.counts["failed"] == 0
    [card] = cards_of(world)
    assert footer_of(card.desc) == (REQUEST, action.id)
    assert world.emulator.calls.count("POST", "/1/cards") == 1
    final = OutboxStore(store).get(action.id)
    assert final is not None and final.state is ActionState.SENT and final.result["url"] == card.url
    if point == "sent":
        assert final.result.get("reconciled") is True




def test_the_look_up_reads_only_cards_made_with_idqueues_token(world: TrelloWorld, settings: Settings) -> None:
    state, board = world.state, world.boards["acme"]
    nick = state.add_member("nickwood", "Nick Wood")
    inbox = state.list_named(board, "New Issues").id
    by_hand = [state.create_card(inbox, f"By hand {n}", "", member=nick) for n in range(5)]
    ours = state.create_card(inbox, "Ours", "x" + card_footer(REQUEST, "a1b2c3d4e5f6"))
    writer = TrelloWriter(settings, clock=world.clock, timeout=2.0)
    found = writer.reconcile(backlog_action(world), since=NOW)
    assert found is not None and found["created"]["card"] == ours.id
    read = {c.path.rsplit("/", 1)[-1] for c in world.emulator.calls.calls_to("GET", "/1/cards/*")}
    assert read == {ours.id} and not read & {c.id for c in by_hand}
