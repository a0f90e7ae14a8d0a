"""The outbox tables (schema migration 2) and every query on them.

Claiming is the heart of "exactly once" between processes: a dispatcher claims one action at a
time inside ``BEGIN IMMEDIATE`` (so two processes on one database serialize), flipping it from
``queued`` to ``sending`` with a *lease* (owner + expiry) and a new *fencing token* (``fence``,
bumped by every claim). The owner renews the lease while it works, re-checks the token
(compare-and-set, :meth:`OutboxStore.fence`) immediately before every write to the destination,
and records the outcome only while the token is still its own. A lease whose owner died (a
crashed process on this host) or expired (a paused process) can be taken over, but not while a
write may still be in flight (``inflight_until``); the new owner then reconciles with the
destination before writing again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from idqueue.domain.models import parse_iso
from idqueue.outbox.models import UNSENT_STATES, Action, ActionError, ActionKind, ActionState
from idqueue.store.codec import Connection, Row, iso_us
from idqueue.store.db import Store

__all__ = ["Claim", "LogEntry", "OutboxStore"]


@dataclass(slots=True)
class Claim:
    """An action this dispatcher now owns.

    Attributes:
        action: the action (``attempts`` already counts this attempt).
        recovered: True when it was taken over from a dead or expired lease: a previous
            sender may have reached the destination, so the writer must reconcile first.
    """

    action: Action
    recovered: bool


@dataclass(slots=True)
class LogEntry:
    """One line of an action's attempt log."""

    n: int
    at: datetime
    outcome: str
    detail: str


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _unfinished_row(
    conn: Connection, action_id: str, why_not: str = "", *, lock: str = ""
) -> tuple[Row, ActionState]:
    """An action's row and state, for a user's decision (retry, drop) about it.

    ``lock`` is the dialect's row-lock suffix: on PostgreSQL a sender's claim takes only row
    locks, so the decision waits for one in progress and reads the state it committed.

    Raises:
        ActionError: the action is unknown, or already sent or dropped (the message ends with
            ``why_not``).
    """
    row = conn.execute(f"SELECT * FROM outbox WHERE id=?{lock}", (action_id,)).fetchone()  # noqa: S608
    if row is None:
        raise ActionError(f"no outbox action {action_id!r}")
    state = ActionState(row["state"])
    if state in (ActionState.SENT, ActionState.DROPPED):
        raise ActionError(f"action {action_id} is already {state.value}{why_not}")
    return row, state


def _row_to_action(row: Row) -> Action:
    return Action(
        id=row["id"],
        request_id=row["request_id"],
        kind=ActionKind(row["kind"]),
        target=row["target"],
        params=json.loads(row["params"] or "{}"),
        text=row["text"],
        state=ActionState(row["state"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        next_attempt_at=parse_iso(row["next_attempt_at"]),
        created_at=parse_iso(row["created_at"]),  # type: ignore[arg-type]
        sent_at=parse_iso(row["sent_at"]),
        group_id=row["group_id"],
        summary=row["summary"],
        result=json.loads(row["result"] or "{}"),
        seq=int(row["seq"]),
        fence=int(row["fence"]),
        first_attempt_at=parse_iso(row["first_attempt_at"]),

        hold_until=parse_iso(row["hold_until"]),
        actor=row["actor"] if "actor" in row.keys() else "",
    )


class OutboxStore:
    """Queries over the ``outbox`` and ``outbox_log`` tables of a :class:`Store`.

    Args:
        store: the open store (already migrated to schema 2).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ writing
    def insert(self, actions: Sequence[Action]) -> None:
        """Queue actions in one transaction (one user verb is all-or-nothing).

        An action with ``hold_until`` is stored held in the same transaction, so no dispatcher
        can claim it before the user's undo window ends.
        """
        if not actions:
            return
        with self.store.write() as conn:
            self._insert(conn, actions)

    def _insert(self, conn: Connection, actions: Sequence[Action]) -> None:
        for a in actions:
            conn.execute(
                "INSERT INTO outbox(id, group_id, request_id, kind, target, params, text, summary, state, "
                "attempts, last_error, next_attempt_at, created_at, updated_at, result, hold_until, actor) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    a.id, a.group_id, a.request_id, a.kind.value, a.target, _dumps(a.params), a.text,
                    a.summary, a.state.value, a.attempts, a.last_error, iso_us(a.next_attempt_at),
                    iso_us(a.created_at), iso_us(a.created_at), _dumps(a.result), iso_us(a.hold_until), a.actor,
                ),
            )
            a.seq = int(conn.execute("SELECT seq FROM outbox WHERE id=?", (a.id,)).fetchone()[0])
            self._log(conn, a.id, a.created_at, "queued", a.summary)

    def insert_once(self, action: Action, *, unless: Sequence[str]) -> bool:
        """Queue ``action`` unless an action with one of the ids ``unless`` exists (any state).

        The look and the insert are one write transaction, so two processes on one database
        queue it once between them. ``unless`` lists the deterministic ids an action with the
        same meaning may already have (a notification of the same request under another of its
        item ids).

        Returns:
            True when it was queued.
        """
        ids = list(dict.fromkeys([action.id, *unless]))
        with self.store.write() as conn:
            marks = ",".join("?" * len(ids))
            if conn.execute(f"SELECT 1 FROM outbox WHERE id IN ({marks}) LIMIT 1", ids).fetchone():  # noqa: S608
                return False
            self._insert(conn, [action])
        return True

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are actions in the outbox (any state)."""
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.store.conn.execute(
                f"SELECT id FROM outbox WHERE id IN ({marks})", chunk))  # noqa: S608
        return found

    def first_of(self, ids: Sequence[str], *, exclude: Iterable[ActionState] = (ActionState.DROPPED,)) -> Action | None:
        """The earliest queued action among ``ids`` (in queue order) not in a state of ``exclude``."""
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        skip = [ActionState(s).value for s in exclude] or [""]
        row = self.store.conn.execute(
            f"SELECT * FROM outbox WHERE id IN ({marks}) AND state NOT IN ({','.join('?' * len(skip))}) "  # noqa: S608
            "ORDER BY seq LIMIT 1",
            [*ids, *skip],
        ).fetchone()
        return _row_to_action(row) if row else None

    def _log(self, conn: Connection, action_id: str, at: datetime, outcome: str, detail: str = "") -> None:
        if self.store.dialect.is_postgres:
            # The log's next number is read then written: under the action's row lock, so a
            # claim (which takes only row locks) and another writer never pick the same one.
            conn.execute(f"SELECT 1 FROM outbox WHERE id=?{self.store.dialect.for_update}", (action_id,))  # noqa: S608
        n = int(conn.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM outbox_log WHERE action_id=?", (action_id,)).fetchone()[0])
        conn.execute(
            "INSERT INTO outbox_log(action_id, n, at, outcome, detail) VALUES (?,?,?,?,?)",
            (action_id, n, iso_us(at), outcome, detail[:2000]),
        )

    # ------------------------------------------------------------------ reading
    def get(self, action_id: str) -> Action | None:
        """One action by its exact id."""
        row = self.store.conn.execute("SELECT * FROM outbox WHERE id=?", (action_id,)).fetchone()
        return _row_to_action(row) if row else None

    def find(self, id_or_prefix: str) -> Action:
        """An action by id or unique id prefix (at least 4 characters).

        Raises:
            ActionError: no such action, or the prefix is ambiguous.
        """
        text = id_or_prefix.strip()
        found = self.get(text)
        if found is not None:
            return found
        if len(text) < 4:
            raise ActionError(f"no outbox action {text!r} (use the id shown by `idqueue outbox`)")
        rows = self.store.conn.execute(
            "SELECT * FROM outbox WHERE id LIKE ? ESCAPE '\\' ORDER BY seq LIMIT 2",
            (text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if not rows:
            raise ActionError(f"no outbox action {text!r} (use the id shown by `idqueue outbox`)")
        if len(rows) > 1:
            raise ActionError(f"{text!r} matches several actions; give more of the id")
        return _row_to_action(rows[0])

    def select(
        self,
        *,
        states: Iterable[ActionState] | None = None,
        request_ids: Iterable[str] | None = None,
        group_id: str | None = None,
        limit: int | None = None,
    ) -> list[Action]:
        """Actions in queue order, optionally filtered."""
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            values = [ActionState(s).value for s in states]
            if not values:
                return []
            where.append(f"state IN ({','.join('?' * len(values))})")
            params += values
        if request_ids is not None:
            ids = sorted(set(request_ids))
            if not ids:
                return []
            where.append(f"request_id IN ({','.join('?' * len(ids))})")
            params += ids
        if group_id is not None:
            where.append("group_id=?")
            params.append(group_id)
        sql = "SELECT * FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_row_to_action(r) for r in self.store.conn.execute(sql, params)]

    def log(self, action_id: str) -> list[LogEntry]:
        """The attempt log of an action, oldest first."""
        rows = self.store.conn.execute(
            "SELECT n, at, outcome, detail FROM outbox_log WHERE action_id=? ORDER BY n", (action_id,)
        )
        return [LogEntry(r["n"], parse_iso(r["at"]), r["outcome"], r["detail"]) for r in rows]  # type: ignore[arg-type]

    def next_due(self) -> datetime | None:
        """The earliest time a waiting action may be tried again.

        A queued action waits for ``next_attempt_at`` and for its in-flight horizon; an action
        left ``sending`` with a write possibly in flight waits for the horizon.
        """
        row = self.store.conn.execute(
            f"SELECT MIN(due) FROM (SELECT {self.store.dialect.greatest}(COALESCE(next_attempt_at, ''), "  # noqa: S608
            "COALESCE(inflight_until, '')) AS due FROM outbox WHERE state IN ('queued', 'sending')) AS waits WHERE due != ''"
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def next_release(self) -> datetime | None:
        """The earliest ``hold_until`` (real time) of a queued action held for undo."""
        row = self.store.conn.execute(
            "SELECT MIN(hold_until) FROM outbox WHERE state='queued' AND hold_until IS NOT NULL"
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def unsent_count(self) -> int:
        """How many actions have not reached their destination yet."""
        marks = ",".join("?" * len(UNSENT_STATES))
        return int(
            self.store.conn.execute(
                f"SELECT COUNT(*) FROM outbox WHERE state IN ({marks})",  # noqa: S608
                [s.value for s in UNSENT_STATES],
            ).fetchone()[0]
        )

    def depth(self, now: datetime) -> dict[str, int]:
        """How many actions are in each state (every :class:`ActionState` value, zeros included),
        plus ``due``: the queued ones whose next attempt time has come (the team service's health
        and metrics)."""
        counts = {state.value: 0 for state in ActionState}
        for row in self.store.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
            counts[str(row[0])] = int(row[1])
        due = self.store.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE state='queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            (iso_us(now),),
        ).fetchone()
        counts["due"] = int(due[0])
        return counts

    # ------------------------------------------------------------------ claiming
    def claim(
        self,
        owner: str,
        *,
        now: datetime,
        lease_seconds: float,
        targets: set[str] | None,
        owner_dead: Callable[[str], bool],
        wall: datetime | None = None,
    ) -> Claim | None:
        """Claim the next action that may be sent now, or None.

        Order is kept per request: an action waits while an earlier action of the same request
        is unsent (queued, being sent, failed or waiting for the user), so "assign" lands before
        the message that announces it, and nothing follows a conflict the user has not seen.

        Args:
            owner: this dispatcher's lease owner id.
            now: the clock.
            lease_seconds: how long the claim holds without renewal.
            targets: destinations this dispatcher can write to (others wait); None = all.
            owner_dead: tells whether another lease owner is known to be dead (so its
                ``sending`` claim can be taken over before the lease expires).
            wall: the real time, for undo holds (default: the system clock; ``now`` may be
                frozen for a demo). A held action blocks its request like a waiting retry.
        """
        stamp = iso_us(now)
        wall_s = iso_us(wall or datetime.now(UTC))
        # SQLite: the whole claim is one BEGIN IMMEDIATE (writers take turns). PostgreSQL: the
        # claim locks only the row it looks at, skipping one another sender is looking at.
        row_locks = self.store.dialect.is_postgres
        with self.store.write(serialize=not row_locks) as conn:
            rows = conn.execute(
                "SELECT * FROM outbox WHERE state IN ('queued','sending','failed','needs_attention') ORDER BY seq"
            ).fetchall()
            blocked: set[str] = set()
            for row in rows:
                request_id = row["request_id"]
                if request_id in blocked:
                    continue
                if row_locks:
                    row = self._lock_unsent(conn, row["id"])
                    if row is None:
                        # Another sender holds it (claiming or finishing it): its request waits,
                        # so nothing of that request is sent out of order.
                        blocked.add(request_id)
                        continue
                    if row["state"] not in ("queued", "sending", "failed", "needs_attention"):
                        continue  # finished since the first look
                state = row["state"]
                if state in ("failed", "needs_attention") or (row["hold_until"] or "") > (wall_s or ""):
                    blocked.add(request_id)
                    continue
                if targets is not None and row["target"] not in targets:
                    blocked.add(request_id)
                    continue
                recovered = False
                inflight = parse_iso(row["inflight_until"])
                if inflight is not None and inflight > now:
                    # A write of an earlier attempt may still be applied upstream: wait, then
                    # look for it, rather than race it.
                    blocked.add(request_id)
                    continue
                if state == "sending":
                    lease_until = parse_iso(row["lease_until"])
                    other = row["lease_owner"] or ""
                    expired = lease_until is None or lease_until <= now
                    if not expired and (other == owner or not owner_dead(other)):
                        blocked.add(request_id)
                        continue
                    recovered = True
                else:
                    due = parse_iso(row["next_attempt_at"])
                    if due is not None and due > now:
                        blocked.add(request_id)
                        continue
                lease_until_s = iso_us(now + timedelta(seconds=lease_seconds))
                conn.execute(
                    "UPDATE outbox SET state='sending', lease_owner=?, lease_until=?, attempts=attempts+1, "
                    "fence=fence+1, first_attempt_at=COALESCE(first_attempt_at, ?), inflight_until=NULL, "
                    "updated_at=? WHERE id=?",
                    (owner, lease_until_s, stamp, stamp, row["id"]),
                )
                detail = f"taken over from {row['lease_owner']}" if recovered else ""
                self._log(conn, row["id"], now, "recovered" if recovered else "claimed", detail)
                fresh = conn.execute("SELECT * FROM outbox WHERE id=?", (row["id"],)).fetchone()
                return Claim(_row_to_action(fresh), recovered)
        return None

    def _lock_unsent(self, conn: Connection, action_id: str) -> Row | None:
        """The action's current row, locked for this transaction; None when another
        transaction holds its lock (PostgreSQL ``SKIP LOCKED``)."""
        sql = f"SELECT * FROM outbox WHERE id=?{self.store.dialect.skip_locked}"  # noqa: S608
        row: Row | None = conn.execute(sql, (action_id,)).fetchone()
        return row

    def fence(
        self,
        action_id: str,
        owner: str,
        token: int,
        *,
        now: datetime,
        lease_seconds: float,
        inflight_until: datetime | None = None,
    ) -> bool:
        """Compare-and-set on the fencing token: True while this claim still owns the action.

        Renews the lease; with ``inflight_until`` (a write is about to go out) also marks until
        when that write may still be applied upstream, so nobody takes the action over and
        writes again before then.
        """
        sql = "UPDATE outbox SET lease_until=?"
        params: list[Any] = [iso_us(now + timedelta(seconds=lease_seconds))]
        if inflight_until is not None:
            sql += f", inflight_until={self.store.dialect.greatest}(COALESCE(inflight_until, ''), ?)"
            params.append(iso_us(inflight_until))
        sql += " WHERE id=? AND state='sending' AND lease_owner=? AND fence=?"
        with self.store.write() as conn:
            cur = conn.execute(sql, [*params, action_id, owner, token])
            return cur.rowcount == 1

    def note(self, action_id: str, *, now: datetime, outcome: str, detail: str = "") -> None:
        """Add a line to an action's attempt log without changing the action."""
        with self.store.write() as conn:
            self._log(conn, action_id, now, outcome, detail)

    def landed(self, action_id: str, owner: str, token: int) -> bool:
        """The writes of this claim have answered: nothing of it is in flight any more."""
        with self.store.write() as conn:
            cur = conn.execute(
                "UPDATE outbox SET inflight_until=NULL WHERE id=? AND state='sending' AND lease_owner=? AND fence=?",
                (action_id, owner, token),
            )
            return cur.rowcount == 1

    def _finish(
        self,
        action_id: str,
        owner: str,
        *,
        now: datetime,
        sets: dict[str, Any],
        outcome: str,
        detail: str,
        token: int | None = None,
    ) -> bool:
        cols = ", ".join(f"{k}=?" for k in sets)
        fence_sql, fence_params = ("", []) if token is None else (" AND fence=?", [token])
        with self.store.write() as conn:
            cur = conn.execute(
                f"UPDATE outbox SET {cols}, lease_owner=NULL, lease_until=NULL, updated_at=? "  # noqa: S608
                f"WHERE id=? AND state='sending' AND lease_owner=?{fence_sql}",
                [*sets.values(), iso_us(now), action_id, owner, *fence_params],
            )
            if cur.rowcount != 1:
                # Someone took the lease over (ours expired): they reconcile and record.
                self._log(conn, action_id, now, "lease-lost", f"{outcome}: {detail}")
                return False
            self._log(conn, action_id, now, outcome, detail)
            return True

    def mark_sent(
        self, action_id: str, owner: str, *, now: datetime, result: dict[str, Any], detail: str = "",
        token: int | None = None,
    ) -> bool:
        """Record success; False when this owner (with this fencing token) no longer holds the lease."""
        return self._finish(
            action_id, owner, now=now,
            sets={"state": "sent", "sent_at": iso_us(now), "result": _dumps(result), "last_error": None,
                  "next_attempt_at": None, "inflight_until": None, "timeouts": 0},
            outcome="sent", detail=detail, token=token,
        )

    def reschedule(
        self, action_id: str, owner: str, *, now: datetime, next_at: datetime, error: str, rate_limited: bool = False,
        token: int | None = None, inflight_until: datetime | None = None, timeouts: int = 0,
    ) -> bool:
        """Put an action back in the queue after a transient failure (or a rate limit).

        Args:
            action_id: the action.
            owner: this dispatcher's lease owner id.
            now: the clock.
            next_at: not before this instant.
            error: the reason, for the user.
            rate_limited: a rate limit (a wait, not a failure).
            token: the claim's fencing token (checked when given).
            inflight_until: a write may still be applied upstream until then (a timeout).
            timeouts: consecutive timeouts so far (0 after any other outcome).
        """
        return self._finish(
            action_id, owner, now=now,
            sets={"state": "queued", "next_attempt_at": iso_us(next_at), "last_error": error,
                  "inflight_until": iso_us(inflight_until), "timeouts": timeouts},
            outcome="rate-limited" if rate_limited else "retry", detail=f"{error} (next attempt {iso_us(next_at)})",
            token=token,
        )

    def timeouts(self, action_id: str) -> int:
        """Consecutive timeouts of an action's writes so far."""
        row = self.store.conn.execute("SELECT timeouts FROM outbox WHERE id=?", (action_id,)).fetchone()
        return int(row[0]) if row else 0

    def failures(self, action_id: str) -> int:
        """Transient failures since queued or last retried by the user (rate limits are waits)."""
        row = self.store.conn.execute(
            "SELECT COUNT(*) FROM outbox_log WHERE action_id=:a AND outcome='retry' AND n > COALESCE("
            "(SELECT MAX(n) FROM outbox_log WHERE action_id=:a AND outcome='retry-requested'), 0)",
            {"a": action_id},
        ).fetchone()
        return int(row[0])

    def give_up(
        self, action_id: str, owner: str, *, now: datetime, state: ActionState, error: str, token: int | None = None,
        inflight_until: datetime | None = None,
    ) -> bool:
        """Stop trying: ``failed`` (too many transient failures) or ``needs_attention``.

        ``inflight_until`` keeps a user's retry from racing a write that may still land.
        """
        return self._finish(
            action_id, owner, now=now,
            sets={"state": state.value, "last_error": error, "next_attempt_at": None,
                  "inflight_until": iso_us(inflight_until)},
            outcome=state.value, detail=error, token=token,
        )

    # ------------------------------------------------------------------ user decisions
    def retry(self, action_id: str, *, now: datetime, force: bool = False) -> Action:
        """Queue a failed / needs-attention / waiting action again, now.

        Args:
            action_id: the action.
            now: the clock.
            force: skip the conflict check on the next attempt (the user saw who changed the
                target and wants the action anyway).

        Raises:
            ActionError: unknown action, or one that is sent, dropped or being sent.
        """
        with self.store.write() as conn:
            row, state = _unfinished_row(conn, action_id, "; nothing to retry", lock=self.store.dialect.for_update)
            if state is ActionState.SENDING:
                raise ActionError(f"action {action_id} is being sent right now")
            params = json.loads(row["params"] or "{}")
            if force:
                params["force"] = True
            conn.execute(
                "UPDATE outbox SET state='queued', next_attempt_at=NULL, params=?, updated_at=? WHERE id=?",
                (_dumps(params), iso_us(now), action_id),
            )
            self._log(conn, action_id, now, "retry-requested", "forced (conflict check skipped)" if force else "")
            fresh = conn.execute("SELECT * FROM outbox WHERE id=?", (action_id,)).fetchone()
            return _row_to_action(fresh)

    def drop(self, action_id: str, *, now: datetime) -> list[Action]:
        """Drop an unsent action and the later unsent steps of the same verb (group).

        The later steps of a verb depend on the earlier ones (the Slack "assigned to Ana"
        message announces the GitHub assignment), so they go too.

        Returns:
            The dropped actions, the named one first.

        Raises:
            ActionError: unknown action, already sent/dropped, or being sent right now.
        """
        with self.store.write() as conn:
            row, state = _unfinished_row(conn, action_id, lock=self.store.dialect.for_update)
            if state is ActionState.SENDING:
                lease_until = parse_iso(row["lease_until"])
                if lease_until is not None and lease_until > now:
                    raise ActionError(f"action {action_id} is being sent right now; try again in a moment")
            later_sql = (
                "SELECT id FROM outbox WHERE group_id=? AND seq>? AND state IN ('queued','failed','needs_attention') "  # noqa: S608
                f"ORDER BY seq{self.store.dialect.for_update}"
            )
            later = conn.execute(later_sql, (row["group_id"], row["seq"])).fetchall()
            ids = [action_id] + [r["id"] for r in later]
            for i in ids:
                conn.execute(
                    "UPDATE outbox SET state='dropped', lease_owner=NULL, lease_until=NULL, next_attempt_at=NULL, "
                    "updated_at=? WHERE id=?",
                    (iso_us(now), i),
                )
                self._log(conn, i, now, "dropped", "" if i == action_id else f"with {action_id}")
            return [_row_to_action(conn.execute("SELECT * FROM outbox WHERE id=?", (i,)).fetchone()) for i in ids]

    def cancel(self, group_ids: Iterable[str], *, now: datetime) -> list[Action]:
        """Undo verbs that were not sent yet: drop every action of these groups, in one transaction.

        All or nothing: when any action of the groups was claimed by a dispatcher or sent,
        nothing is cancelled (part of a verb would be left half done).

        Returns:
            The cancelled actions.

        Raises:
            ActionError: an action of the groups is being sent or was sent already.
        """
        groups = sorted(set(group_ids))
        if not groups:
            return []
        marks = ",".join("?" * len(groups))
        with self.store.write() as conn:
            rows = conn.execute(
                f"SELECT * FROM outbox WHERE group_id IN ({marks}) ORDER BY seq{self.store.dialect.for_update}",  # noqa: S608
                groups,
            ).fetchall()
            gone = [r for r in rows if r["state"] in ("sending", "sent") or int(r["attempts"]) > 0]
            if gone:
                what = "is being sent" if gone[0]["state"] == "sending" else "was sent already"
                raise ActionError(f"too late to undo: {gone[0]['summary']} {what}")
            undone = [r for r in rows if r["state"] != "dropped"]
            for r in undone:
                conn.execute(
                    "UPDATE outbox SET state='dropped', hold_until=NULL, next_attempt_at=NULL, updated_at=? "
                    "WHERE id=?",
                    (iso_us(now), r["id"]),
                )
                self._log(conn, r["id"], now, "dropped", "undone before sending")
            return [_row_to_action(conn.execute("SELECT * FROM outbox WHERE id=?", (r["id"],)).fetchone())
                    for r in undone]
