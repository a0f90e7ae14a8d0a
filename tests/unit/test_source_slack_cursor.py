"""The Slack source's cursor layout: small keys per request, written only when they change.

A channel's state is spread over ``channel:<C>`` (scan position, last complete scan, pending
threads), ``req:<C>/<ts>`` (one per known request) and ``seen:<C>/<n>`` (what the scan in
progress met), so a batch stores only what it changed and its cost does not grow with the
channel. The older layout (every request inside ``channel:<C>``) is split on the next poll.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_source_slack_emulator import (
    CH,
    NOW,
    Harness,
    bot_intake,
    history_calls,
    param,
    post_form,
    stored_requests,
)

from idqueue.domain.models import slack_id
from idqueue.integrations.base import Batch, Unavailable
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store


@pytest.fixture
def sb(empty_sandbox: Sandbox, sandbox_now: datetime) -> Sandbox:
    """The empty sandbox of ``tests/conftest.py``; this module's ``NOW`` is its frozen time."""
    assert sandbox_now == NOW
    return empty_sandbox


def request_keys(batch: Batch, channel: str = CH) -> dict[str, Any]:
    """The per-request cursor values a batch carries, by ts (None: the key is deleted)."""
    prefix = f"req:{channel}/"
    return {k[len(prefix):]: v for k, v in batch.cursors.items() if k.startswith(prefix)}


def to_legacy_layout(store: Store, channel: str = CH) -> dict[str, Any]:
    """Rewrite a channel's stored cursors in the layout before per-request keys; return the value.

    That layout kept every request entry under ``requests`` in ``channel:<C>`` and the scan's
    whole ``seen`` list in the scan, with the same entry and scan fields.
    """
    cursors = store.cursors("slack")
    value = cursors[f"channel:{channel}"]
    assert "requests" not in value
    requests = {k.split("/", 1)[1]: v for k, v in cursors.items() if k.startswith(f"req:{channel}/")}
    scan = value["scan"]
    if scan is not None:
        seen = [ts for n in range(1, scan["chunks"] + 1) for ts in cursors[f"seen:{channel}/{n}"]]
        scan = {"oldest": scan["oldest"], "start": scan["start"], "next": scan["next"], "seen": seen,
                "pages": scan["pages"]}
    legacy = {"requests": requests, "scan": scan, "synced": value["synced"], "pending": value["pending"]}
    with store.write() as conn:
        conn.execute("DELETE FROM cursors WHERE source='slack' AND (key LIKE 'req:%' OR key LIKE 'seen:%')")
        store.set_cursors(conn, "slack", {f"channel:{channel}": legacy}, NOW)
    return legacy


def fail_history_after_first_page(sb: Sandbox, h: Harness) -> None:
    """A poll whose history scan stops with a 502 after its first page was committed."""

    def inject(batch: Batch) -> None:
        if len(h.batches) == 1:
            sb.slack.faults.add("conversations.history", status=502, times=-1)

    assert isinstance(h.poll(inject), Unavailable)


# --------------------------------------------------------------------------- the store


def test_a_null_cursor_value_deletes_the_key(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite")
    with store.write() as conn:
        store.set_cursors(conn, "slack", {"a": 1, "b": {"x": 2}}, NOW)
        store.set_cursors(conn, "github", {"a": 1}, NOW)
    with store.write() as conn:
        store.set_cursors(conn, "slack", {"a": None, "c": [3], "never-stored": None}, NOW)
    assert store.cursors("slack") == {"b": {"x": 2}, "c": [3]}
    assert store.cursors("github") == {"a": 1}  # another source's key of the same name stays


# --------------------------------------------------------------------------- the layout


def test_each_batch_stores_only_the_requests_it_changed(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 120, step=timedelta(minutes=1))
    h = Harness(sb, tmp_path, slack={"page_limit": 20})
    assert h.poll() is None
    assert len(h.batches) == 6
    for batch in h.batches:
        # Exactly the entries of the requests on its page, not every request known so far.
        assert set(request_keys(batch)) == {i.id.split("/", 1)[1] for i in batch.items}
        assert len(batch.items) == 20
        # Nothing in a batch grows with the channel (the old channel value carried them all).
        assert all(len(json.dumps(v)) < 600 for k, v in batch.cursors.items() if not k.startswith("seen:"))
        assert all(v is None or len(v) <= 20 for k, v in batch.cursors.items() if k.startswith("seen:"))
    stored = h.store.cursors("slack")
    assert set(stored_requests(h)) == {m.ts for m in msgs}
    assert "requests" not in stored[f"channel:{CH}"] and stored[f"channel:{CH}"]["scan"] is None
    assert not [k for k in stored if k.startswith("seen:")]  # the scan completed: its chunks are gone

    # An idle poll stores no request entry; an edit stores exactly the edited one.
    sb.clock.advance(60)
    before = len(h.batches)
    assert h.poll() is None
    assert not any(request_keys(b) for b in h.batches[before:])
    sb.slack.state.edit(CH, msgs[50].ts, "*Type:* Help Request\n*Details:* question 50, edited")
    sb.clock.advance(60)
    before = len(h.batches)
    assert h.poll() is None
    assert [ts for b in h.batches[before:] for ts in request_keys(b)] == [msgs[50].ts]
    assert stored_requests(h)[msgs[50].ts]["e"] == msgs[50].edited["ts"]  # type: ignore[index]

    # A deleted request: its entry is deleted in the batch that retires it.
    sb.slack.state.delete(CH, msgs[10].ts)
    sb.clock.advance(60)
    before = len(h.batches)
    assert h.poll() is None
    (retiring,) = [b for b in h.batches[before:] if b.deleted_items]
    assert retiring.deleted_items == [slack_id(CH, msgs[10].ts)]
    assert request_keys(retiring) == {msgs[10].ts: None}
    assert msgs[10].ts not in stored_requests(h) and len(stored_requests(h)) == 119


def test_a_cut_short_scan_leaves_the_cursor_matching_the_stored_items(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 30)
    h = Harness(sb, tmp_path, slack={"page_limit": 10})
    fail_history_after_first_page(sb, h)
    first_page = {m.ts for m in msgs[-10:]}
    assert h.live_ids() == {slack_id(CH, ts) for ts in first_page}
    stored = h.store.cursors("slack")
    assert set(stored_requests(h)) == first_page
    assert stored[f"channel:{CH}"]["scan"]["chunks"] == 1
    assert set(stored[f"seen:{CH}/1"]) == first_page


# --------------------------------------------------------------------------- the older layout


def test_a_legacy_channel_cursor_is_split_on_the_next_poll(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 25)
    # Outside the lookback window, with a thread: only its cursor entry knows the thread was read.
    parent = bot_intake(sb, NOW - timedelta(days=5))
    sb.slack.state.post(CH, "U0ANA", "on it <https://github.com/va-identity/support/issues/5|#5>",
                        thread_ts=parent.ts, at=NOW - timedelta(days=4))
    h = Harness(sb, tmp_path, slack={"page_limit": 10})
    assert h.poll() is None
    entries = stored_requests(h)
    assert entries[parent.ts]["l"] == ["gh:va-identity/support#5"] and entries[parent.ts]["r"]
    legacy = to_legacy_layout(h.store)
    assert set(legacy["requests"]) == {m.ts for m in msgs} | {parent.ts}
    assert stored_requests(h) == {}

    sb.clock.advance(60)
    before, replies = len(h.batches), len(sb.slack.calls.api("conversations.replies"))
    assert h.poll() is None
    new = h.batches[before:]
    # The first batch stores every entry under its own key and the channel value without them.
    assert request_keys(new[0]) == entries
    assert "requests" not in new[0].cursors[f"channel:{CH}"]
    assert not any(request_keys(b) for b in new[1:])
    assert stored_requests(h) == entries
    assert "requests" not in h.store.cursors("slack")[f"channel:{CH}"]
    # The entries carried over whole: nothing was re-sent and no thread was read again.
    assert not any(b.items or b.events or b.deleted_items or b.deleted_events for b in new)
    assert len(sb.slack.calls.api("conversations.replies")) == replies
    assert h.items()[slack_id(CH, parent.ts)][0].links == ["gh:va-identity/support#5"]


def test_a_legacy_cursor_mid_scan_resumes_without_losing_what_it_saw(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 30)
    h = Harness(sb, tmp_path, slack={"page_limit": 10})
    fail_history_after_first_page(sb, h)
    legacy = to_legacy_layout(h.store)
    assert legacy["scan"]["next"] and set(legacy["scan"]["seen"]) == {m.ts for m in msgs[-10:]}

    sb.slack.faults.clear()
    sb.clock.advance(120)
    before = len(h.batches)
    assert h.poll() is None
    new = h.batches[before:]
    # The scan resumed from its stored page and still counts what it met before the split: a
    # lost "seen" list would retire the first page's requests (and re-send them after).
    assert param(history_calls(sb)[-len(new)], "cursor") == legacy["scan"]["next"]
    assert set(legacy["scan"]["seen"]) <= set(new[0].cursors[f"seen:{CH}/1"])
    assert not any(b.deleted_items for b in new)
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}
    assert Counter(h.emitted_item_ids()).most_common(1)[0][1] == 1
    stored = h.store.cursors("slack")
    assert set(stored_requests(h)) == {m.ts for m in msgs}
    assert not [k for k in stored if k.startswith("seen:")] and "requests" not in stored[f"channel:{CH}"]


def test_a_failed_first_batch_keeps_the_legacy_cursor_until_the_next_poll(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_form(sb, 12)
    h = Harness(sb, tmp_path)
    assert h.poll() is None
    entries = stored_requests(h)
    to_legacy_layout(h.store)
    legacy_cursors = h.store.cursors("slack")
    (fresh,) = post_form(sb, 1, start=NOW + timedelta(minutes=2))
    sb.clock.advance(300)

    real = h.store.set_cursors

    def write_then_fail(conn: sqlite3.Connection, source: str, cursors: dict[str, Any], now: datetime) -> None:
        real(conn, source, cursors, now)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(h.store, "set_cursors", write_then_fail)
    with pytest.raises(sqlite3.OperationalError):
        h.poll()
    # The batch (the new item, the split cursor) was rolled back whole.
    assert h.store.cursors("slack") == legacy_cursors
    assert slack_id(CH, fresh.ts) not in h.live_ids()

    monkeypatch.undo()
    assert h.poll() is None
    assert slack_id(CH, fresh.ts) in h.live_ids()
    assert set(stored_requests(h)) == set(entries) | {fresh.ts}
    assert "requests" not in h.store.cursors("slack")[f"channel:{CH}"]


def test_a_missing_seen_chunk_restarts_the_scan(sb: Sandbox, tmp_path: Path) -> None:
    msgs = post_form(sb, 30)
    h = Harness(sb, tmp_path, slack={"page_limit": 10})
    fail_history_after_first_page(sb, h)
    with h.store.write() as conn:
        conn.execute("DELETE FROM cursors WHERE key=?", (f"seen:{CH}/1",))
    sb.slack.faults.clear()
    sb.clock.advance(120)
    calls = len(history_calls(sb))
    assert h.poll() is None
    # Without it the first page's requests would look deleted: the scan starts over instead.
    assert param(history_calls(sb)[calls], "cursor") is None
    assert not any(b.deleted_items for b in h.batches)
    assert h.live_ids() == {slack_id(CH, m.ts) for m in msgs}
