"""The PostgreSQL store's own guarantees: migrations, refusals, writers in several processes,
the outbox's row-locked claim, search parity with SQLite, change notifications, error lines.

The store and outbox suites run on both backends already (the ``db_target`` fixture); these
are the properties only PostgreSQL has, or that compare the two backends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg_cluster import free_port

from idqueue.domain.models import Person, Request, SourceItem, SourceKind, Status, TimelineEvent
from idqueue.outbox.models import Action, ActionKind, ActionState
from idqueue.outbox.store import OutboxStore
from idqueue.store.db import NewerSchemaError, Store, StoreError
from idqueue.store.dialect import POSTGRES, SQLITE, redact_url, to_postgres
from idqueue.store.pg_schema import PG_MIGRATIONS
from idqueue.store.queue import QueueQuery, fetch_window
from idqueue.store.schema import MIGRATIONS, SCHEMA_VERSION, newer_schema_message

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def assemble(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
    """One item, one open request (enough for the store's own logic)."""
    item = items[0]
    return Request(id=item.id, key="", sources=[item.source], title=item.title, body=item.body,
                   requester=item.requester, type="Other", status=Status.NEW, created_at=item.created_at,
                   updated_at=item.updated_at, url=item.url, item_ids=[item.id])


def item(n: int, title: str = "Issue", body: str = "") -> SourceItem:
    at = NOW - timedelta(hours=n)
    return SourceItem(id=f"gh:o/r#{n}", source=SourceKind("github"), title=title, body=body,
                      url=f"https://github.com/o/r/issues/{n}", created_at=at, updated_at=at,
                      requester=Person("req", "Requester"))


def action(aid: str, request: str) -> Action:
    return Action(id=aid, request_id=request, kind=ActionKind.REPLY, target="github", params={}, text="hi",
                  state=ActionState.QUEUED, attempts=0, last_error=None, next_attempt_at=None, created_at=NOW,
                  sent_at=None, group_id=aid, summary=f"reply {aid}")


# --------------------------------------------------------------------------- without a server


def test_both_backends_have_the_same_schema_versions() -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS) == SCHEMA_VERSION


def test_statements_are_rewritten_for_postgres() -> None:
    assert to_postgres("SELECT * FROM t WHERE a=? AND b=:name") == "SELECT * FROM t WHERE a=%s AND b=%(name)s"
    # Literals keep their ? and :words; their % is doubled for psycopg.
    assert to_postgres("SELECT uid || ':close', '?' FROM e WHERE d LIKE '%x%'") == (
        "SELECT uid || ':close', '?' FROM e WHERE d LIKE '%%x%%'"
    )
    assert to_postgres("SELECT value FROM json_each(?)") == (
        "SELECT value FROM jsonb_array_elements_text(CAST(%s AS jsonb)) AS je(value)"
    )
    assert to_postgres("json_extract(r.fields, '$.team')") == "(CAST(r.fields AS jsonb) ->> 'team')"
    assert to_postgres("ORDER BY COALESCE(customer, '~') COLLATE NOCASE") == "ORDER BY lower(COALESCE(customer, '~'))"
    assert to_postgres("WHERE key COLLATE NOCASE = ?") == "WHERE lower(key) = lower(%s)"
    assert to_postgres("WHERE a IS NOT excluded.a") == "WHERE a IS DISTINCT FROM excluded.a"
    with pytest.raises(ValueError, match="numbered"):
        to_postgres("SELECT ?1")


def test_search_queries_per_dialect() -> None:
    assert SQLITE.fts_query("Café sign-in") == '"Café"* "sign"* "in"*'
    assert POSTGRES.fts_query("Café sign-in") == "'cafe':* & 'sign':* & 'in':*"
    assert POSTGRES.fts_query("  --  ") == ""


def test_urls_are_redacted() -> None:
    assert redact_url("postgresql://ana:s3cret@db.example:5433/idq") == "postgresql://ana:***@db.example:5433/idq"
    assert redact_url("postgresql://db.example/idq") == "postgresql://db.example/idq"


def test_the_sqlite_path_never_imports_psycopg(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from idqueue.store.db import Store\n"
        "import idqueue.cli, idqueue.outbox.store\n"
        f"Store.open({str(tmp_path / 'x.db')!r}).count()\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def _cli(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "none.toml"
    config.write_text("", encoding="utf-8")
    full = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    full.update({"IDQUEUE_CONFIG_FILE": str(config), "IDQUEUE_DB": str(tmp_path / "unused.db"), **env})
    return subprocess.run([sys.executable, "-m", "idqueue", *args], capture_output=True, text=True, env=full,
                          cwd=ROOT, timeout=60)


def test_a_server_that_is_down_gives_one_line(tmp_path: Path) -> None:
    url = f"postgresql://ana:s3cret@127.0.0.1:{free_port()}/idq"
    result = _cli({"IDQUEUE_DATABASE_URL": url}, tmp_path, "list", "--json")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach the PostgreSQL server at 127.0.0.1" in lines[0]
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_url_that_is_not_postgres_is_one_line(tmp_path: Path) -> None:
    result = _cli({"IDQUEUE_DATABASE_URL": "mysql://ana:s3cret@host/db"}, tmp_path, "list")
    assert result.returncode != 0
    assert "must be a postgresql:// URL" in result.stderr and "s3cret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_refused_login_is_one_line_without_the_password() -> None:
    import psycopg

    from idqueue.store.db import describe_db_error

    url = "postgresql://ana:s3cret@db.example:5433/idq"
    exc = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.5", port 5433 failed: '
        'FATAL:  password authentication failed for user "ana"'
    )
    line = describe_db_error(exc, url)
    assert line == (
        "the PostgreSQL server at db.example:5433 refused the login: "
        "check the user and password of IDQUEUE_DATABASE_URL"
    )


# --------------------------------------------------------------------------- with a server


def test_a_missing_database_gives_one_line(pg_url: str, tmp_path: Path) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_db"
    result = _cli({"IDQUEUE_DATABASE_URL": missing}, tmp_path, "list")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip()
    ] and "the PostgreSQL database no_such_db does not exist" in result.stderr


def test_an_unknown_user_gives_one_line(pg_url: str, tmp_path: Path) -> None:
    nobody = pg_url.replace("postgresql://idqueue@", "postgresql://nobody:pw@")
    result = _cli({"IDQUEUE_DATABASE_URL": nobody}, tmp_path, "list")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the login" in lines[0], result.stderr


def test_migrations_are_idempotent_and_run_once_when_two_processes_start(pg_url: str) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            stores.append(Store.open(pg_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(stores) == 3
    again = Store.open(pg_url)
    assert again.migrate() == SCHEMA_VERSION
    assert again.conn.execute("SELECT version FROM idqueue_schema").fetchall() == [(SCHEMA_VERSION,)]
    tables = {r[0] for r in again.conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"items", "events", "requests", "requests_fts", "outbox", "outbox_log", "ratings"} <= tables


def test_a_newer_schema_is_refused_before_anything_is_written(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as raw:
        raw.execute("CREATE TABLE idqueue_schema (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO idqueue_schema VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(NewerSchemaError) as caught:
        Store.open(pg_url)
    assert str(caught.value) == newer_schema_message(SCHEMA_VERSION + 1)
    with psycopg.connect(pg_url, autocommit=True) as raw:
        tables = [r[0] for r in raw.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        version = raw.execute("SELECT version FROM idqueue_schema").fetchone()
    assert tables == ["idqueue_schema"] and version == (SCHEMA_VERSION + 1,)


_WRITER = """
import sys
from datetime import UTC, datetime, timedelta
sys.path[:0] = [{tests!r}, {tests_root!r}]
from test_store_postgres import assemble, item, NOW
from idqueue.store.db import Store
store = Store(sys.argv[1])
offset = int(sys.argv[2])
for n in range(offset, offset + 15):
    store.apply("t", items=[item(n)], assembler=assemble, now=NOW)
"""


def test_writers_in_two_processes_keep_the_short_keys_unique(pg_url: str) -> None:
    Store.open(pg_url)
    code = _WRITER.format(tests=str(Path(__file__).parent), tests_root=str(Path(__file__).parents[1]))
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url, str(offset)], cwd=ROOT) for offset in (100, 200)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Store(pg_url)
    seqs = [r[0] for r in store.conn.execute("SELECT seq FROM requests ORDER BY seq")]
    assert seqs == list(range(1, 31))
    keys = {r[0] for r in store.conn.execute("SELECT key FROM requests")}
    assert len(keys) == 30


def test_a_claim_skips_an_action_another_sender_holds_and_keeps_its_request_waiting(pg_url: str) -> None:
    import psycopg

    box = OutboxStore(Store.open(pg_url))
    box.insert([action("a1", "r1"), action("a2", "r1"), action("b1", "r2")])
    got: list[str | None] = []
    with psycopg.connect(pg_url) as other:  # another sender, in the middle of claiming a1
        other.execute("SELECT 1 FROM outbox WHERE id = 'a1' FOR UPDATE")

        def claim() -> None:
            c = box.claim("me", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)
            got.append(c.action.id if c else None)

        worker = threading.Thread(target=claim)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the claim waited for the other sender's row lock"
        other.rollback()
    # a1 is skipped, and a2 waits behind it (same request): b1 is the one to send.
    assert got == ["b1"]
    second = box.claim("you", now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)
    assert second is not None and second.action.id == "a1" and second.action.fence == 1


def test_senders_in_threads_never_claim_one_action_twice(pg_url: str) -> None:
    Store.open(pg_url)
    OutboxStore(Store(pg_url)).insert([action(f"x{i:02d}", f"r{i % 7}") for i in range(42)])
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def sender(owner: str) -> None:
        box = OutboxStore(Store(pg_url))
        while (c := box.claim(owner, now=NOW, lease_seconds=60, targets=None, owner_dead=lambda _o: False)):
            with lock:
                claimed.append((c.action.id, c.action.fence))
            assert box.mark_sent(c.action.id, owner, now=NOW, result={}, token=c.action.fence)

    threads = [threading.Thread(target=sender, args=(f"s{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(a for a, _ in claimed) == [f"x{i:02d}" for i in range(42)]
    assert {fence for _, fence in claimed} == {1}
    logs = Store(pg_url).conn.execute(
        "SELECT action_id, COUNT(*) FROM outbox_log GROUP BY action_id HAVING COUNT(*) != 3").fetchall()
    assert logs == []  # queued, claimed, sent: once each


SEARCH_ITEMS = [
    ("Café crème outage", "the espresso machine is down"),
    ("Sign-in broken for ana@example.com", "SSO via https://login.example.com/path?x=1 fails"),
    ("Résumé upload", "naïve coöperation with Zoë"),
    ("x-ray data-pull", "foo_bar baz 2026-03-11"),
    ("東京 office VPN", "Ünïcödé Straße 12"),
    ("error 500 on /api/v2", "HTTP 500 Internal Server Error at 10:30"),
    ("Data pull request", "quarterly data for finance"),
]
SEARCH_QUERIES = [
    "cafe", "CAFÉ", "caf", "outage cafe", "example", "ana@example", "ana example com", "sign in",
    "résumé", "resume", "naive", "cooperation", "zoe", "data pull", "data", "x", "ray", "500",
    "api v2", "東京", "straße", "strasse", "unicode", "foo", "bar", "foo_bar", "baz foo", "2026",
    "10 30", "nothing here", "login", "https", "path", "pull request finance", "'; DROP TABLE x; --",
    '"quoted"', "a*b", "p:q",
]


def test_search_gives_the_same_requests_on_both_backends(pg_url: str, tmp_path: Path) -> None:
    lite, pg = Store.open(tmp_path / "s.db"), Store.open(pg_url)
    items = [item(n, title, body) for n, (title, body) in enumerate(SEARCH_ITEMS, start=1)]
    for store in (lite, pg):
        store.apply("t", items=items, assembler=assemble, now=NOW)
    differ = {}
    for text in SEARCH_QUERIES:
        query = QueueQuery(search=text, include_closed=True)
        a = [r.id for r in fetch_window(lite, query, now=NOW, limit=-1)]
        b = [r.id for r in fetch_window(pg, query, now=NOW, limit=-1)]
        if a != b:
            differ[text] = (a, b)
    assert differ == {}
    # And the table is not trivial: some queries find something, some nothing.
    found = [text for text in SEARCH_QUERIES
             if fetch_window(pg, QueueQuery(search=text, include_closed=True), now=NOW, limit=-1)]
    assert "cafe" in found and "resume" in found and "nothing here" not in found


def test_listeners_hear_committed_writes_only(pg_url: str) -> None:
    writer = Store.open(pg_url)
    with Store(pg_url).listen() as listener:
        assert listener.wait(0.05) == []
        writer.apply("t", items=[item(1)], assembler=assemble, now=NOW)
        assert listener.wait(10) == ["requests"]
        with pytest.raises(RuntimeError), writer.write() as conn:
            conn.execute("DELETE FROM requests")
            raise RuntimeError("rolled back")
        assert listener.wait(0.3) == []
        OutboxStore(writer).insert([action("n1", "gh:o/r#1")])
        assert listener.wait(10) == ["outbox"]
        assert writer.count() == 1


def test_sqlite_has_no_listener(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="PostgreSQL"):
        Store.open(tmp_path / "x.db").listen()


def test_an_undo_waits_for_a_claim_in_progress_and_then_says_too_late(pg_url: str) -> None:
    import psycopg

    from idqueue.outbox.models import ActionError

    box = OutboxStore(Store.open(pg_url))
    box.insert([action("u1", "r1")])
    outcome: list[str] = []
    with psycopg.connect(pg_url) as sender:  # a claim that has taken u1 but not committed yet
        sender.execute("UPDATE outbox SET state = 'sending', attempts = 1, fence = fence + 1 WHERE id = 'u1'")

        def undo() -> None:
            try:
                box.cancel(["u1"], now=NOW)
                outcome.append("undone")
            except ActionError as exc:
                outcome.append(str(exc))

        worker = threading.Thread(target=undo)
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive() and outcome == []  # waiting for the claim's row lock
        sender.commit()
    worker.join(timeout=30)
    assert outcome == ["too late to undo: reply u1 is being sent"]
    assert box.get("u1").state is ActionState.SENDING  # type: ignore[union-attr]


def test_a_process_that_waited_for_another_s_migration_sees_its_tables(pg_url: str) -> None:
    import time

    from idqueue.store.pg import PgConnection, apply_migrations, migration_lock

    first = PgConnection(pg_url)
    opened: list[object] = []
    with migration_lock(first):
        first.begin()
        apply_migrations(first, 0, SCHEMA_VERSION)  # the first process, mid-migration

        def second() -> None:
            try:
                opened.append(Store.open(pg_url).migrate())
            except BaseException as exc:
                opened.append(exc)

        worker = threading.Thread(target=second)
        worker.start()
        deadline = time.monotonic() + 30
        while not first.raw.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone():
            assert time.monotonic() < deadline, "the second process never waited for the first"
            worker.join(timeout=0.01)
        first.commit()
    worker.join(timeout=30)
    first.close()
    assert opened == [SCHEMA_VERSION]


def test_every_sort_and_grouping_orders_the_same_on_both_backends(pg_url: str, tmp_path: Path) -> None:
    from idqueue.store.queue import GROUPABLE, SORTABLE, group_counts, order_index

    titles = ["apple", "Banana", "cherry", "Äpfel", "banana", "_under", "Zed", "éclair", "10 items", "9 items"]
    items = []
    for n, title in enumerate(titles, start=1):
        it = item(n, title)
        it.assignees = [["ana"], ["Ben"], [], ["ana"], [], ["carl"], [], ["Ben"], [], ["zoe"]][n - 1]
        if n % 3 == 0:
            it.requester = None
        items.append(it)

    def assemble_with_assignee(its: list[SourceItem], evs: list[TimelineEvent], local: dict[str, str]) -> Request:
        request = assemble(its, evs, local)
        request.assignee = its[0].assignees[0] if its[0].assignees else None
        request.assignees = list(its[0].assignees)
        return request

    lite, pg = Store.open(tmp_path / "s.db"), Store.open(pg_url)
    for store in (lite, pg):
        store.apply("t", items=items, assembler=assemble_with_assignee, now=NOW)
    for sort in (*SORTABLE, "rank"):
        for descending in (False, True):
            for group in (None, *GROUPABLE):
                query = QueueQuery(sort=sort, descending=descending, group=group, include_closed=True)
                assert order_index(pg, query, now=NOW) == order_index(lite, query, now=NOW), (sort, descending, group)
                assert group_counts(pg, query, now=NOW) == group_counts(lite, query, now=NOW), (sort, group)


def test_migrate_to_leaves_the_copy_analyzed_and_the_queue_index_visible(pg_url: str, tmp_path: Path) -> None:
    from idqueue.store.transfer import copy_to_postgres

    lite = Store.open(tmp_path / "s.db")
    lite.apply("t", items=[item(n) for n in range(1, 30)], assembler=assemble, now=NOW)
    copy_to_postgres(lite, pg_url)
    pg = Store.open(pg_url)
    analyzed = pg.conn.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'requests'")
    assert analyzed.fetchone()[0]
    # VACUUM marked every page all-visible: the covering index answers without reading rows.
    visible = pg.conn.execute(
        "SELECT relallvisible = relpages AND relpages > 0 FROM pg_class WHERE relname = 'requests'"
    ).fetchone()[0]
    assert visible
    assert [r.id for r in fetch_window(pg, QueueQuery(), now=NOW, limit=-1)] == [
        r.id for r in fetch_window(lite, QueueQuery(), now=NOW, limit=-1)]


def test_a_client_refuses_an_older_team_database_and_the_service_upgrades_it(pg_url: str, tmp_path: Path) -> None:
    """Clients never migrate the team's database: one line says the service upgrades it; the
    service (or any non-client) then migrates it forward."""
    from click.testing import CliRunner

    from idqueue.cli import Context, cli
    from idqueue.store.db import OlderSchemaError, older_schema_message
    from idqueue.store.pg import PgConnection
    from idqueue.store.pg import migrate as pg_migrate

    older = Store(pg_url)
    conn = older.conn
    assert isinstance(conn, PgConnection)
    assert pg_migrate(conn, SCHEMA_VERSION - 1) == SCHEMA_VERSION - 1
    older.close()
    with pytest.raises(OlderSchemaError) as caught:
        Store.open(pg_url, upgrade=False)
    assert str(caught.value) == older_schema_message(SCHEMA_VERSION - 1)
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    env = {k: None for k in os.environ if k.startswith("IDQUEUE_")}
    env.update({"IDQUEUE_DATABASE_URL": pg_url, "IDQUEUE_CONFIG_FILE": str(config)})
    result = CliRunner().invoke(cli, ["list", "--json"], env=env, obj=Context())
    assert result.exit_code == 2 and "upgrade and restart `idqueue serve` first" in result.output
    assert "Traceback" not in result.output
    check = Store(pg_url)
    assert check.conn.execute("SELECT version FROM idqueue_schema").fetchall() == [(SCHEMA_VERSION - 1,)]
    check.close()
    assert Store.open(pg_url).migrate() == SCHEMA_VERSION  # the service's open upgrades it
