"""Versioned schema migrations. ``PRAGMA user_version`` records the applied version.

Add a migration by appending to :data:`MIGRATIONS`; never edit a released one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: items, links, events, requests, aliases, cursors, local state, FTS.
    """
    CREATE TABLE items (
        id          TEXT PRIMARY KEY,
        source      TEXT NOT NULL,
        request_id  TEXT,
        data        TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        deleted     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX items_request ON items(request_id);

    CREATE TABLE item_links (
        from_id TEXT NOT NULL,
        to_id   TEXT NOT NULL,
        PRIMARY KEY (from_id, to_id)
    ) WITHOUT ROWID;
    CREATE INDEX item_links_to ON item_links(to_id);

    CREATE TABLE events (
        uid         TEXT PRIMARY KEY,
        item_id     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        at          TEXT NOT NULL,
        actor_id    TEXT,
        actor_name  TEXT,
        body        TEXT NOT NULL DEFAULT '',
        url         TEXT,
        source      TEXT NOT NULL,
        is_bot      INTEGER NOT NULL DEFAULT 0,
        data        TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_item ON events(item_id, at);

    CREATE TABLE requests (
        id                  TEXT PRIMARY KEY,
        seq                 INTEGER NOT NULL UNIQUE,
        key                 TEXT NOT NULL UNIQUE,
        source              TEXT NOT NULL,
        sources             TEXT NOT NULL,
        title               TEXT NOT NULL,
        body                TEXT NOT NULL,
        requester_id        TEXT,
        requester_name      TEXT,
        type                TEXT NOT NULL,
        type_reason         TEXT NOT NULL DEFAULT '',
        fields              TEXT NOT NULL DEFAULT '{}',
        status              TEXT NOT NULL,
        status_reason       TEXT NOT NULL DEFAULT '',
        is_open             INTEGER NOT NULL,
        assignee            TEXT,
        labels              TEXT NOT NULL DEFAULT '[]',
        priority            TEXT NOT NULL,
        priority_rank       INTEGER NOT NULL,
        priority_reason     TEXT NOT NULL DEFAULT '',
        priority_override   TEXT,
        created_at          TEXT NOT NULL,
        updated_at          TEXT NOT NULL,
        first_response_at   TEXT,
        resolved_at         TEXT,
        url                 TEXT,
        links               TEXT NOT NULL DEFAULT '{}',
        item_ids            TEXT NOT NULL DEFAULT '[]',
        sla_state           TEXT NOT NULL DEFAULT 'none',
        sla_policy          TEXT,
        sla_reason          TEXT NOT NULL DEFAULT '',
        first_response_due  TEXT,
        resolution_due      TEXT,
        sla_due_at          TEXT,
        sla_at_risk_at      TEXT,
        sla_remaining       REAL,
        snoozed_until       TEXT
    );
    CREATE INDEX requests_open_due ON requests(is_open, sla_due_at);
    CREATE INDEX requests_open_priority ON requests(is_open, priority_rank, created_at);
    CREATE INDEX requests_open_type ON requests(is_open, type);
    CREATE INDEX requests_open_assignee ON requests(is_open, assignee);
    CREATE INDEX requests_created ON requests(created_at);
    CREATE INDEX requests_status ON requests(status);

    CREATE TABLE aliases (
        alias       TEXT PRIMARY KEY,
        request_id  TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE cursors (
        source      TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (source, key)
    ) WITHOUT ROWID;

    -- Local-only state that survives request rebuilds (keyed by item id so merges keep it).
    CREATE TABLE local_state (
        item_id             TEXT PRIMARY KEY,
        snoozed_until       TEXT,
        priority_override   TEXT,
        seen_at             TEXT
    ) WITHOUT ROWID;

    CREATE VIRTUAL TABLE requests_fts USING fts5(
        title, body, fields, requester,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    # 2: the outbox (write-back): one row per action, plus an attempt log.
    """
    CREATE TABLE outbox (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        group_id        TEXT NOT NULL,
        request_id      TEXT NOT NULL,
        kind            TEXT NOT NULL,
        target          TEXT NOT NULL,
        params          TEXT NOT NULL DEFAULT '{}',
        text            TEXT,
        summary         TEXT NOT NULL DEFAULT '',
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        next_attempt_at TEXT,
        lease_owner     TEXT,
        lease_until     TEXT,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        sent_at         TEXT,
        result          TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX outbox_state ON outbox(state, seq);
    CREATE INDEX outbox_request ON outbox(request_id, seq);
    CREATE INDEX outbox_group ON outbox(group_id, seq);

    CREATE TABLE outbox_log (
        action_id   TEXT NOT NULL,
        n           INTEGER NOT NULL,
        at          TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        detail      TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (action_id, n)
    ) WITHOUT ROWID;
    """,
    # Satisfaction ratings imported from the survey tool's CSV export (metrics issue).
    # ``uid`` is a hash of the normalised row, so re-importing an export adds nothing.
    # In-Slack 1-5 reactions are read from the events table, not copied here.
    # ``events_kind_at`` lets the metrics find a period's closing messages and pause events
    # without a scan; ``events_pending_label`` finds (un)labeling with a pending label.
    """
    CREATE TABLE IF NOT EXISTS ratings (
        uid         TEXT PRIMARY KEY,
        source      TEXT NOT NULL,
        rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
        at          TEXT NOT NULL,
        request_ref TEXT NOT NULL DEFAULT '',
        request_id  TEXT,
        comment     TEXT NOT NULL DEFAULT '',
        imported_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ratings_at ON ratings(at);
    CREATE INDEX IF NOT EXISTS ratings_request ON ratings(request_id);
    CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at);
    CREATE INDEX IF NOT EXISTS events_pending_label ON events(lower(json_extract(data, '$.label')))
        WHERE kind IN ('labeled', 'unlabeled');
    """,
    # The outbox's fencing: every claim bumps ``fence`` (a sender re-checks it before each write
    # and before recording), ``first_attempt_at`` bounds the look-up for an earlier attempt,
    # ``inflight_until`` holds an action whose write may still be applied upstream, and
    # ``timeouts`` counts consecutive timeouts (the wait doubles).
    """
    ALTER TABLE outbox ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN first_attempt_at TEXT;
    ALTER TABLE outbox ADD COLUMN inflight_until TEXT;
    ALTER TABLE outbox ADD COLUMN timeouts INTEGER NOT NULL DEFAULT 0;
    """,
    # Every assignee of a request (JSON list; ``assignee`` stays the first). Rows written before
    # this read their single ``assignee`` back until the next sync rewrites them.
    """
    ALTER TABLE requests ADD COLUMN assignees TEXT NOT NULL DEFAULT '[]';
    """,
    # Undo before sending: an action may be held in the outbox until ``hold_until`` (real UTC
    # time) so the user can take it back; and the moment a priority override was set, so a new
    # SLA policy applies from then on, never to the past.
    """
    ALTER TABLE outbox ADD COLUMN hold_until TEXT;
    ALTER TABLE local_state ADD COLUMN priority_override_at TEXT;
    """,
    # A reply typed in the composer and closed without sending (JSON, per request; kept on each
    # of its items like the other local values, so a merge or split keeps it).
    """
    ALTER TABLE local_state ADD COLUMN draft TEXT;
    """,
    # Customers: the request's customer key (from the requester's mail address or domain, or
    # set by hand), indexed like type and assignee for the queue's pane and filter; and the
    # hand-set customer, kept locally on each item like the priority override.
    """
    ALTER TABLE requests ADD COLUMN customer TEXT;
    CREATE INDEX requests_open_customer ON requests(is_open, customer);
    ALTER TABLE local_state ADD COLUMN customer_override TEXT;
    """,
    # Where a request's backlog item stands (a Trello card's list name, or "archived").
    """
    ALTER TABLE requests ADD COLUMN backlog_state TEXT;
    """,
    # PostgreSQL only (a covering index for the queue's order, panes and id list); SQLite reads
    # its rows in-process and sorts the window's narrow rows fast enough without one.
    "",
    # Team mode: the team service's state for its clients (one row, rewritten after each poll:
    # who is active, its heartbeat, per-source health as JSON), who queued each action, and each
    # person's own snoozes, drafts and read marks (``local_state`` keeps the single user's).
    """
    CREATE TABLE service_state (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        heartbeat_at TEXT NOT NULL,
        last_poll_at TEXT,
        poll_interval REAL NOT NULL,
        data         TEXT NOT NULL DEFAULT '{}'
    );
    ALTER TABLE outbox ADD COLUMN actor TEXT NOT NULL DEFAULT '';
    CREATE TABLE person_state (
        person        TEXT NOT NULL,
        item_id       TEXT NOT NULL,
        snoozed_until TEXT,
        seen_at       TEXT,
        draft         TEXT,
        PRIMARY KEY (person, item_id)
    ) WITHOUT ROWID;
    """,
    # 12: every assignee of a request, one row each (``requests.assignee`` is only the first):
    # the assignee filter, "mine" and the member's load find a request whoever of its several
    # assignees they are, from an index.
    """
    CREATE TABLE request_assignees (
        assignee TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (assignee, seq)
    ) WITHOUT ROWID;
    CREATE INDEX request_assignees_seq ON request_assignees(seq);
    INSERT OR IGNORE INTO request_assignees(assignee, seq)
        SELECT j.value, r.seq FROM requests r, json_each(r.assignees) j WHERE j.value IS NOT NULL;
    INSERT OR IGNORE INTO request_assignees(assignee, seq)
        SELECT assignee, seq FROM requests WHERE assignee IS NOT NULL;
    """,
    # 13: when someone outside the team (the requester) last wrote: with each person's read mark
    # (``seen_at``), what makes a request they have looked at unread again. Filled as requests
    # are next assembled (a poll that sees them change, or a rebuild).
    """
    ALTER TABLE requests ADD COLUMN last_outside_at TEXT;
    CREATE INDEX requests_last_outside ON requests(last_outside_at) WHERE last_outside_at IS NOT NULL;
    """,
]


SCHEMA_VERSION = len(MIGRATIONS)
"""The newest schema this idqueue writes (``PRAGMA user_version`` after every migration)."""


def newer_schema_message(found: int) -> str:
    """The refusal for a database written by a newer idqueue (schema ``found`` > ours)."""
    return (
        f"this database was written by a newer idqueue (schema {found} > {SCHEMA_VERSION}); "
        "upgrade idqueue"
    )
