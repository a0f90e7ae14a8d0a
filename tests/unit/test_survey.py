"""Survey ratings: CSV parsing with the configured columns, linking, idempotent import, Slack reactions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from idqueue.cli import cli
from idqueue.domain.metrics import Period
from idqueue.domain.models import (
    EventKind,
    Person,
    Request,
    SourceItem,
    SourceKind,
    Status,
    TimelineEvent,
)
from idqueue.domain.survey import (
    SurveyError,
    parse_rating,
    parse_survey_csv,
    parse_when,
    ratings_from_reactions,
    request_ref_to_id,
)
from idqueue.store.db import Store
from idqueue.store.metrics_queries import fetch_ratings
from idqueue.store.ratings import import_ratings, link_request

TZ = "America/New_York"
COLUMNS = {"rating": "rating", "date": "date", "request": "request", "comment": "comment"}
NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


def test_parse_rating_cells() -> None:
    assert [parse_rating(v) for v in ("5", " 4 ", "3.0", "5 - Very satisfied", "★★★★☆")] == [5, 4, 3, 5, 4]
    assert [parse_rating(v) for v in ("", "0", "6", "4.5", "great", "-1")] == [None] * 6


def test_parse_dates_in_the_team_timezone() -> None:
    # A bare date is local midnight: 1 March in New York is 05:00Z.
    assert parse_when("2026-03-01", TZ) == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert parse_when("03/01/2026", TZ) == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert parse_when("2026-03-01T10:00:00Z", TZ) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert parse_when("2026-03-01 10:00", TZ) == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    assert parse_when("yesterday", TZ) is None and parse_when("", TZ) is None


def test_request_references() -> None:
    assert request_ref_to_id("https://github.com/va-identity/support/issues/12") == "gh:va-identity/support#12"
    assert request_ref_to_id("https://ghe.example/api/v3/repos/o/r/issues/3") == "gh:o/r#3"
    assert request_ref_to_id("https://x.slack.com/archives/C0ID/p1712345678000100") == "slack:C0ID/1712345678.000100"
    thread = "https://x.slack.com/archives/C0ID/p1712345999000200?thread_ts=1712345678.000100&cid=C0ID"
    assert request_ref_to_id(thread) == "slack:C0ID/1712345678.000100"
    assert request_ref_to_id("gh:o/r#5") == "gh:o/r#5"
    assert request_ref_to_id("REQ-4") is None


def test_csv_with_a_custom_column_mapping_and_bad_rows() -> None:
    text = (
        "\ufeffSubmitted,How satisfied were you?,Ticket,Anything else?\n"
        "2026-03-02,5,https://github.com/o/r/issues/1,Great\n"
        "2026-03-02,meh,https://github.com/o/r/issues/2,\n"
        "not a date,4,,\n"
        ",,,\n"
        "2026-03-03,4,REQ-9,\"Fine, thanks\"\n"
    )
    columns = {"rating": "how satisfied were you?", "date": "SUBMITTED", "request": "Ticket", "comment": "Anything else?"}
    parsed = parse_survey_csv(text, columns, tz=TZ)
    assert [(r.line, r.rating, r.ref, r.comment) for r in parsed.rows] == [
        (2, 5, "https://github.com/o/r/issues/1", "Great"),
        (6, 4, "REQ-9", "Fine, thanks"),
    ]
    assert parsed.skipped == ["line 3: rating 'meh' is not 1–5", "line 4: date 'not a date' is not a date"]


def test_missing_columns_and_empty_files_are_errors() -> None:
    with pytest.raises(SurveyError, match=r"survey\.columns\.rating"):
        parse_survey_csv("score,date\n5,2026-03-01\n", COLUMNS, tz=TZ)
    with pytest.raises(SurveyError, match="empty"):
        parse_survey_csv("", COLUMNS, tz=TZ)
    # The request and comment columns are optional.
    parsed = parse_survey_csv("rating,date\n5,2026-03-01\n", COLUMNS, tz=TZ)
    assert parsed.rows[0].ref == "" and parsed.rows[0].comment == ""


def test_uids_are_stable_and_identical_rows_both_count() -> None:
    text = "rating,date,request,comment\n5,2026-03-01,REQ-1,\n5,2026-03-01,REQ-1,\n4,2026-03-01,REQ-1,\n"
    first = parse_survey_csv(text, COLUMNS, tz=TZ)
    again = parse_survey_csv(text, COLUMNS, tz=TZ)
    assert [r.uid for r in first.rows] == [r.uid for r in again.rows]
    assert len({r.uid for r in first.rows}) == 3
    assert first.rows[1].uid == first.rows[0].uid + "#2"


def test_reactions_by_the_requester_become_ratings() -> None:
    reactions = {"five": ["U1"], "four": ["U2"], "one": ["U1"], "tada": ["U1"], "white_check_mark": ["U3"]}
    # The requester's lowest number counts; a teammate's reaction does not.
    assert ratings_from_reactions(reactions, "U1") == [("U1", 1)]
    # Unknown requester: everyone's.
    assert ratings_from_reactions(reactions, None) == [("U1", 1), ("U2", 4)]
    assert ratings_from_reactions({"thumbsup": ["U1"]}, "U1") == []


# --------------------------------------------------------------------------- storage


def simple_assembler(items: list[SourceItem], events: list[TimelineEvent], local: dict[str, str]) -> Request:
    """One GitHub item → one request; the type comes from ``raw``."""
    item = items[0]
    return Request(id=item.id, key="", sources=[item.source], title=item.title, body=item.body,
                   requester=item.requester, type=item.raw.get("type", "Other"), status=Status.NEW,
                   created_at=item.created_at, updated_at=item.updated_at, url=item.url, item_ids=[item.id])


def _store(target: str | Path) -> Store:
    store = Store.open(target)
    items = [
        SourceItem(id="gh:o/r#1", source=SourceKind("github"), title="One", body="", url="https://github.com/o/r/issues/1",
                   created_at=datetime(2026, 2, 20, 15, tzinfo=UTC), updated_at=datetime(2026, 2, 20, 15, tzinfo=UTC),
                   requester=Person("req", "Req"), raw={"type": "Data Pull"}),
        SourceItem(id="gh:o/r#2", source=SourceKind("github"), title="Two", body="", url="https://github.com/o/r/issues/2",
                   created_at=datetime(2026, 2, 21, 15, tzinfo=UTC), updated_at=datetime(2026, 2, 21, 15, tzinfo=UTC),
                   requester=Person("req", "Req"), raw={"type": "Bug Fix"}),
    ]
    store.apply("github", items=items, assembler=simple_assembler, now=NOW)
    return store


CSV = (
    "rating,date,request,comment\n"
    "5,2026-03-02,https://github.com/o/r/issues/1,Great\n"
    "2,2026-03-03,REQ-2,Slow\n"
    "4,2026-03-04,https://github.com/o/r/issues/99,Later\n"
    "3,2026-02-27,,No link\n"
)


def test_import_links_requests_and_is_idempotent(db_target: str | Path) -> None:
    store = _store(db_target)
    assert link_request(store, "REQ-1") == "gh:o/r#1"
    assert link_request(store, "gh:o/r#2") == "gh:o/r#2"
    assert link_request(store, "https://github.com/o/r/issues/1") == "gh:o/r#1"
    assert link_request(store, "") is None
    rows = parse_survey_csv(CSV, COLUMNS, tz=TZ).rows
    first = import_ratings(store, rows, now=NOW)
    assert (first.added, first.already, first.unlinked) == (4, 0, 2)
    second = import_ratings(store, rows, now=NOW)
    assert (second.added, second.already) == (0, 4)
    march = Period.month(2026, 3, TZ)
    ratings = fetch_ratings(store, march.start, march.end)
    assert sorted((r.rating, r.request_id, r.type) for r in ratings) == [
        (2, "gh:o/r#2", "Bug Fix"), (4, None, None), (5, "gh:o/r#1", "Data Pull"),
    ]


def test_unlinked_ratings_link_once_the_request_arrives(db_target: str | Path) -> None:
    store = _store(db_target)
    import_ratings(store, parse_survey_csv(CSV, COLUMNS, tz=TZ).rows, now=NOW)
    late = SourceItem(id="gh:o/r#99", source=SourceKind("github"), title="Late", body="",
                      url="https://github.com/o/r/issues/99", created_at=datetime(2026, 3, 1, 15, tzinfo=UTC),
                      updated_at=datetime(2026, 3, 1, 15, tzinfo=UTC), requester=None)
    store.apply("github", items=[late], assembler=simple_assembler, now=NOW)
    result = import_ratings(store, [], now=NOW)
    assert result.relinked == 1
    linked = {r.request_id for r in fetch_ratings(store, Period.month(2026, 3, TZ).start, NOW)}
    assert "gh:o/r#99" in linked


def test_survey_import_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "cli.db"
    _store(tmp_path / "s.db").close()
    (tmp_path / "s.db").rename(db)
    export = tmp_path / "export.csv"
    export.write_text(CSV + "x,2026-03-05,,\n", encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_DB", str(db))
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["survey", "import", str(export)])
    assert result.exit_code == 0, result.output
    assert "imported 4 ratings (0 already imported, 2 not linked" in result.output
    assert "line 6: rating 'x' is not 1–5" in result.output
    again = runner.invoke(cli, ["survey", "import", str(export)])
    assert "imported 0 ratings (4 already imported" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text("score,when\n5,2026-03-01\n", encoding="utf-8")
    failed = runner.invoke(cli, ["survey", "import", str(bad)])
    assert failed.exit_code == 1 and "survey.columns.rating" in failed.output


def test_custom_columns_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[survey.columns]\nrating = "Score"\ndate = "Answered"\n', encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text("Answered,Score\n2026-03-02,5\n2026-03-03,1\n", encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_DB", str(tmp_path / "c.db"))
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    result = CliRunner().invoke(cli, ["survey", "import", str(export)])
    assert result.exit_code == 0, result.output
    assert "imported 2 ratings" in result.output


def test_slack_reactions_on_closing_messages_count_as_ratings(db_target: str | Path) -> None:
    store = Store.open(db_target)
    item = SourceItem(id="slack:C1/1772000000.000100", source=SourceKind("slack"), title="Help", body="",
                      url=None, created_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
                      updated_at=datetime(2026, 3, 2, 15, tzinfo=UTC), requester=Person("UREQ", "Req"),
                      raw={"type": "Help Request"})

    def reply(ts: str, *, is_bot: bool = False, reactions: dict[str, list[str]] | None = None,
              **data: object) -> TimelineEvent:
        return TimelineEvent(uid=f"slack:C1/{ts}", item_id=item.id, kind=EventKind.MESSAGE,
                             at=datetime.fromtimestamp(float(ts), UTC), actor_id="B1" if is_bot else "UANA",
                             source=SourceKind("slack"), is_bot=is_bot, data={"reactions": reactions or {}, **data})

    events = [
        # The intake bot's closing message: the requester's :four: counts, a teammate's :five: does not.
        reply("1772600000.000100", is_bot=True, reactions={"four": ["UREQ"], "five": ["UANA"]}),
        # A triager's close sent through idqueue (not automation, so not a bot message).
        reply("1772700000.000100", reactions={"two": ["UREQ"]}, idqueue_action="a1"),
        TimelineEvent(uid="slack:C1/1772700000.000100:close", item_id=item.id, kind=EventKind.CLOSED,
                      at=datetime.fromtimestamp(1772700000.0001, UTC), source=SourceKind("slack")),
        # A human's ordinary reply with a :five: reaction is not a rating.
        reply("1772800000.000100", reactions={"five": ["UREQ"]}),
    ]
    store.apply("slack", items=[item], events=events, assembler=simple_assembler, now=NOW)
    march = Period.month(2026, 3, TZ)
    got = sorted((r.rating, r.source, r.request_id) for r in fetch_ratings(store, march.start, march.end))
    assert got == [(2, "slack", item.id), (4, "slack", item.id)]
