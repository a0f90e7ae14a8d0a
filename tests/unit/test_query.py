"""The search language: parsing (pure) and the SQL the store runs for it (indexed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from test_store import NOW, apply, gh_item, slack_item

from idqueue.domain.models import Person
from idqueue.domain.query import (
    Member,
    Reference,
    SearchContext,
    SearchError,
    SearchSpec,
    parse_reference,
    parse_search,
)
from idqueue.store.db import Store
from idqueue.store.queue import QueueQuery, fetch_window

CTX = SearchContext(
    members=(Member("ana", ("ana", "ana reyes", "ana-reyes", "reyes")), Member("ben", ("ben", "ben okafor", "okafor"))),
    me="ana",
    repos=("va/support",),
    types=("Bug Fix", "Data Pull", "Test User / Mock Auth", "Help Request"),
)


def test_references_by_key_number_url_and_permalink() -> None:
    assert parse_reference("req-44") == Reference(keys=("REQ-44",))
    assert parse_reference("#35", CTX) == Reference(ids=("gh:va/support#35",), seqs=(35,), issue_first=True)
    assert parse_reference("44", CTX) == Reference(ids=("gh:va/support#44",), seqs=(44,))
    assert parse_reference("https://github.com/va/support/issues/12") == Reference(ids=("gh:va/support#12",))
    link = "https://x.slack.com/archives/C1/p1712345678000100"
    assert parse_reference(link) == Reference(ids=("slack:C1/1712345678.000100",))
    assert not parse_reference("login error")
    assert not parse_reference("hello")


def test_qualifiers_parse_case_insensitively_and_name_valid_values() -> None:
    spec = parse_search('type:bug priority:p1,2 assignee:Reyes source:SLACK is:breached is:open login', CTX)
    assert spec == SearchSpec(words=("login",), types=("Bug Fix",), priorities=("P1", "P2"), assignees=("ana",),
                              sources=("slack",), sla_states=("breached",), open_state="open")
    assert parse_search('type:"data pull" is:mine is:unassigned', CTX).assignees == ("ana", "")
    assert parse_search("assignee:none", CTX).assignees == ("",)
    with pytest.raises(SearchError, match="valid: Bug Fix, Data Pull"):
        parse_search("type:nonsense", CTX)
    with pytest.raises(SearchError, match="valid: breached, at-risk"):
        parse_search("is:lost", CTX)
    with pytest.raises(SearchError, match="exclude"):
        parse_search("is:open is:closed", CTX)
    with pytest.raises(SearchError, match="needs `me`"):
        parse_search("is:mine")
    # An unknown name:value and a number among words are searched as text.
    assert parse_search("error:403 code 500", CTX).words == ("error:403", "code", "500")


def test_member_names_also_match_the_assignee() -> None:
    spec = parse_search("okafor token", CTX)
    assert spec.words == ("token",) and spec.name_words == (("okafor", ("ben",)),)


@pytest.fixture
def store(db_target: str | Path) -> Store:
    s = Store.open(db_target)
    items = [gh_item(i, title="Routine", priority="P3", type="Data Pull") for i in range(1, 41)]
    items[34].title = "Sign-in broken"
    items[34].assignees = ["ben"]
    items[34].raw.update(type="Bug Fix", priority="P1")
    items[3].requester = Person("U7", "Okafor Requester")
    items[5].state = "closed"
    apply(s, items=[*items, slack_item("1712345678.000100", title="Slack-only question")])
    return s


def ids(store: Store, text: str, **kw: object) -> list[str]:
    spec = parse_search(text, CTX)
    return [r.id for r in fetch_window(store, QueueQuery(search=text, spec=spec, **kw), now=NOW)]  # type: ignore[arg-type]


def test_search_finds_by_key_number_url_permalink_and_closed_ones(store: Store) -> None:
    key = store.get_request("gh:va/support#35")
    assert key is not None
    assert ids(store, key.key) == ["gh:va/support#35"]
    assert ids(store, key.key.lower()) == ["gh:va/support#35"]
    # "#35" is issue 35 of a configured repo, or the request whose key number is 35.
    assert "gh:va/support#35" in ids(store, "#35")
    assert ids(store, f"#{key.key.split('-')[1]}")[0:1] != []
    assert ids(store, "https://github.com/va/support/issues/35") == ["gh:va/support#35"]
    assert ids(store, "https://x.slack.com/archives/C1/p1712345678000100") == ["slack:C1/1712345678.000100"]
    # A closed request is found by its reference although the view shows the open queue.
    assert ids(store, "https://github.com/va/support/issues/6") == ["gh:va/support#6"]
    assert ids(store, "gh:va/support#999") == []


def test_search_by_qualifiers_and_names(store: Store) -> None:
    assert ids(store, "type:bug") == ["gh:va/support#35"]
    assert ids(store, "priority:p1 is:open") == ["gh:va/support#35"]
    assert ids(store, "assignee:okafor") == ["gh:va/support#35"]
    # "okafor" names Ben (assignee of #35) and appears in #4's requester name.
    assert sorted(ids(store, "okafor")) == ["gh:va/support#35", "gh:va/support#4"]
    assert ids(store, "source:slack") == ["slack:C1/1712345678.000100"]
    assert ids(store, "is:closed") == ["gh:va/support#6"]
    assert len(ids(store, "assignee:none")) == 39


def test_saved_view_and_search_combine(store: Store) -> None:
    view = parse_search("type:data", CTX)
    hits = fetch_window(store, QueueQuery(view="Data", view_spec=view, search="routine 7",
                                          spec=parse_search("routine 7", CTX)), now=NOW)
    assert [r.id for r in hits] == ["gh:va/support#7"]
    assert "view Data" in QueueQuery(view="Data").describe()


# SQLite's query plans only: PostgreSQL's planner scans a 41-row table whatever the indexes
# (its plans at 50k requests are in the PostgreSQL store benchmark).
@pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
def test_search_sql_uses_indexes(store: Store) -> None:
    from idqueue.store.queue import _order, _where

    for text in ("REQ-35", "#35", "https://github.com/va/support/issues/35", "okafor token",
                 "assignee:ben type:bug"):
        query = QueueQuery(search=text, spec=parse_search(text, CTX))
        where, params = _where(query, NOW, store.dialect)
        plan = " | ".join(row[3] for row in store.conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM requests WHERE {where} ORDER BY {_order(query)}", params))
        assert "SCAN requests" not in plan.replace("SCAN requests_fts", ""), (text, plan)
        assert "SCAN aliases" not in plan, (text, plan)


def test_urgent_lane_leads_whatever_the_clock_says(store: Store) -> None:
    # #40 is an at-risk P3 due soon; #35 is a P1 with no running clock: the P1 leads.
    soon, past = (NOW + timedelta(minutes=30)).isoformat(), (NOW - timedelta(hours=1)).isoformat()
    apply(store, items=[gh_item(40, title="Routine", priority="P3", due=soon, risk=past)])
    order = [r.id for r in fetch_window(store, QueueQuery(), now=NOW, limit=3)]
    assert order[:2] == ["gh:va/support#35", "gh:va/support#40"]


def test_a_request_with_several_assignees_is_found_for_each(store: Store) -> None:
    """GitHub issues can have several assignees: filters, "mine", names and the load count
    find the second one too, not only the first."""
    from idqueue.store.queue import open_load

    shared = gh_item(41, title="Shared incident", priority="P2", type="Bug Fix")
    shared.assignees = ["ana", "ben"]
    apply(store, items=[shared])
    rid = "gh:va/support#41"
    assert rid in ids(store, "assignee:ben") and "gh:va/support#35" in ids(store, "assignee:ben")
    assert rid in ids(store, "assignee:ana")
    assert rid in ids(store, "okafor")  # Ben's surname: a name word also matches his assignments
    mine = [r.id for r in fetch_window(store, QueueQuery(mine="ben"), now=NOW)]
    assert rid in mine and "gh:va/support#35" in mine
    assert rid not in [r.id for r in fetch_window(store, QueueQuery(mine="cy"), now=NOW)]
    assert open_load(store) == {"ben": 2, "ana": 1}
    # Unassigned on GitHub: gone from every filter at once.
    shared.assignees = []
    apply(store, items=[shared])
    assert rid not in ids(store, "assignee:ben") and rid in ids(store, "assignee:none")
    assert open_load(store) == {"ben": 1}


def test_the_migration_fills_in_the_assignees_of_existing_requests(db_target: str | Path) -> None:
    """A database from before ``request_assignees`` gets it filled from the stored requests."""
    from idqueue.store.queue import open_load

    before = 11  # the schema before request_assignees (migration 12)
    store = Store.open(db_target)
    shared = gh_item(41, title="Shared incident")
    shared.assignees = ["ana", "ben"]
    apply(store, items=[shared, gh_item(42, title="Unassigned")])
    solo = gh_item(43)
    solo.assignees = ["cy"]
    apply(store, items=[solo])
    with store.write() as conn:  # back to schema 11: every later migration taken back
        conn.execute("DROP TABLE request_assignees")
        conn.execute("DROP INDEX requests_last_outside")  # 13
        conn.execute("ALTER TABLE requests DROP COLUMN last_outside_at")
        if store.dialect.is_postgres:
            conn.execute("UPDATE idqueue_schema SET version = ?", (before,))
    if not store.dialect.is_postgres:
        store.conn.execute(f"PRAGMA user_version={before}")
    store.close()
    upgraded = Store.open(db_target)
    assert open_load(upgraded) == {"ana": 1, "ben": 1, "cy": 1}
    assert [r.id for r in fetch_window(upgraded, QueueQuery(assignees=("ben",)), now=NOW)] == ["gh:va/support#41"]


def test_is_unread_parses_and_combines() -> None:
    spec = parse_search("is:unread type:bug login", CTX)
    assert spec.unread and spec.types == ("Bug Fix",) and spec.words == ("login",)
    assert not parse_search("login", CTX).unread
    with pytest.raises(SearchError, match="unread"):
        parse_search("is:lost", CTX)  # the valid values name it
