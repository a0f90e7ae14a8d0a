"""The KPI report: md / csv / json / html content, the JSON schema, the CLI, and a real browser.

Most tests run on the seeded sandbox month (synced once per worker, with the seeded survey
export imported); the escaping and empty-period tests build reports from hand-made rows.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from idqueue.cli import Context, cli
from idqueue.config import Settings
from idqueue.domain.metrics import Period, Rating, RequestRow
from idqueue.domain.survey import parse_survey_csv
from idqueue.report import REPORT_SCHEMA, build_report, collect, render, report_json
from idqueue.sandbox import seed as seed_mod
from idqueue.sandbox.runner import Sandbox
from idqueue.store.db import Store
from idqueue.store.ratings import import_ratings
from idqueue.sync import SyncEngine, build_sources

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
TZ = "America/New_York"
MARCH = Period.month(2026, 3, TZ)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Month:
    db: Path
    settings: Settings


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    """The sandbox month synced into a database, with the seeded survey export imported."""
    db = tmp_path_factory.mktemp("report") / "month.db"
    sb = Sandbox.start(seed=True, now=NOW)
    try:
        settings = Settings(**sb.settings_overrides(), db=db, now="2026-03-11T15:30:00Z")
        store = Store.open(db)
        report = SyncEngine(store, build_sources(settings), settings).poll()
        assert not report.errors, report.errors
        rows = parse_survey_csv(sb.survey_csv(), settings.survey.columns, tz=TZ).rows
        assert import_ratings(store, rows, now=NOW).added == len(rows) > 0
        store.close()
    finally:
        sb.stop()
    yield Month(db, settings)


@pytest.fixture
def store(month: Month) -> Iterator[Store]:
    s = Store.open(month.db)
    yield s
    s.close()


def invoke(month: Month, *args: str) -> tuple[int, str, str]:
    ctx = Context()
    ctx.use_settings(month.settings)
    result = CliRunner().invoke(cli, list(args), obj=ctx)
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- JSON


def test_json_report_validates_against_the_documented_schema(month: Month, store: Store) -> None:
    code, out, _ = invoke(month, "report", "--month", "2026-03", "--format", "json")
    assert code == 0
    data = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)
    jsonschema.Draft202012Validator(REPORT_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(data)
    assert data["period"] == {"label": "March 2026", "start": "2026-03-01T05:00:00Z", "end": "2026-04-01T04:00:00Z",
                              "timezone": TZ}
    assert data["previous_period"]["label"] == "Feb 1–11"  # the month runs: the same days of February
    received = store.count("created_at >= ? AND created_at < ? AND status != 'deleted'",
                           ("2026-03-01T05:00:00", "2026-04-01T04:00:00"))
    summary = data["summary"]
    assert summary["received"] == received > 0
    assert summary["resolved"] + summary["backlogged"] + summary["pending"] + summary["open"] == received
    # Every panel of the seeded month has something in it.
    assert summary["backlogged"] >= 1 and summary["pending"] >= 1 and summary["reopened"]["count"] >= 1
    assert summary["first_response_hours"]["business"]["median"] > 0
    assert summary["sla"]["of"] > 0 and summary["sla"]["by_policy"]
    assert data["previous"]["csat"]["responses"] >= 5 and summary["csat"]["responses"] >= 1
    assert data["previous"]["resolution_hours"]["wall_clock"]["p90"] > 0
    assert len(data["weekly"]) == 8 and data["weekly"][-1]["week_start"] == "2026-03-09"
    assert {b["clock"] for b in data["breached"]} <= {"first response", "resolution", "both"} and data["breached"]
    assert sum(g["received"] for g in data["breakdowns"]["type"]) == received
    assert sum(m["assigned"] for m in data["workload"]) == received


def test_report_schema_option_prints_the_schema(month: Month) -> None:
    code, out, _ = invoke(month, "report", "--schema")
    assert code == 0 and json.loads(out) == REPORT_SCHEMA


def test_the_schema_rejects_a_malformed_report(month: Month, store: Store) -> None:
    data = report_json(collect(store, month.settings, MARCH, now=NOW))
    validator = jsonschema.Draft202012Validator(REPORT_SCHEMA)
    for mutate in (
        lambda d: d["summary"].pop("received"),
        lambda d: d["summary"]["csat"]["ratings"].update({"6": 1}),
        lambda d: d["breached"].append({"id": "x"}),
        lambda d: d.update(schema="other/1"),
        lambda d: d["summary"]["sla"].update(pct=101),
    ):
        broken = copy.deepcopy(data)
        mutate(broken)
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(broken)


# --------------------------------------------------------------------------- md / csv / html


def test_markdown_report_content(month: Month, store: Store) -> None:
    report = collect(store, month.settings, MARCH, now=NOW)
    text = render(report, "md")
    assert text.startswith("# Identity support metrics — March 2026\n")
    k, p = report.kpis, report.previous_kpis
    assert f"| Requests received | {k.received} | {p.received} |" in text
    assert f"| Reopen rate | {k.reopened.pct:.0f} % ({k.reopened.hits}/{k.reopened.total}) |" in text
    for heading in ("## Summary", "## SLA attainment by policy", "## Satisfaction", "## By request type",
                    "## By assignee", "## Workload per team member", "## Weekly trend",
                    "## Requests that breached their SLA"):
        assert heading in text
    # Hostile titles are inert: no raw HTML or live Markdown link syntax from user text.
    assert "<script>" not in text and "\\<script\\>" in text


def test_csv_report_is_long_format_with_every_section(month: Month, store: Store) -> None:
    report = collect(store, month.settings, MARCH, now=NOW)
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert rows and all(set(r) == {"section", "group", "metric", "value"} for r in rows)
    value = {(r["section"], r["group"], r["metric"]): r["value"] for r in rows}
    assert value[("summary", "", "received")] == str(report.kpis.received)
    assert value[("summary", "", "csat.responses")] == str(report.kpis.csat.responses)
    assert value[("period", "", "label")] == "March 2026"
    sections = {r["section"] for r in rows}
    assert {"summary", "previous", "summary.sla_policy", "by_type", "by_assignee", "by_team", "by_source",
            "by_priority", "workload", "weekly", "breached"} <= sections


def test_html_report_is_self_contained_with_charts(month: Month, store: Store) -> None:
    html = render(collect(store, month.settings, MARCH, now=NOW), "html")
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert html.count("<svg") == 4  # volume, first response, resolution, CSAT distribution
    lowered = html.lower()
    for external in ("<script", " src=", "<link", "url(", "@import", "<iframe"):
        assert external not in lowered
    assert "Identity support metrics — March 2026" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "[@click=app.quit]" in html  # shown literally, it is just text in HTML


def _row(key: str, title: str, **kw: object) -> RequestRow:
    base: dict[str, object] = dict(id=f"gh:o/r#{key}", key=f"REQ-{key}", title=title, type="Bug Fix",
                                   status="new", created_at=datetime(2026, 3, 2, 15, tzinfo=UTC))
    base.update(kw)
    return RequestRow(**base)  # type: ignore[arg-type]


def test_untrusted_text_is_escaped_in_every_format() -> None:
    settings = Settings(now="2026-03-11T15:30:00Z")
    rows = [
        _row("1", "=HYPERLINK(\"http://evil\")|<b>bold</b> [x](javascript:alert(1))", team="=cmd|' /C calc'!A0",
             url="javascript:alert(1)", sla_policy="Standard", first_response_due=datetime(2026, 3, 2, 16, tzinfo=UTC)),
    ]
    report = build_report(rows, [Rating("r", 5, NOW, request_id="gh:o/r#1", team="@SUM(1)")], settings, MARCH,
                          now=NOW)
    md = render(report, "md")
    assert "\\|\\<b\\>bold\\</b\\>" in md and "[x](javascript" not in md
    assert "](<javascript" not in md  # unsafe URLs are not linked
    table = list(csv.reader(io.StringIO(render(report, "csv"))))
    cells = [cell for line in table for cell in line]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    html = render(report, "html")
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'href="javascript' not in html


def test_an_empty_period_renders_in_every_format() -> None:
    settings = Settings(now="2026-03-11T15:30:00Z")
    report = build_report([], [], settings, Period.month(2025, 7, TZ), now=NOW)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(json.loads(render(report, "json")))
    md = render(report, "md")
    assert "| Requests received | 0 | 0 | ±0 |" in md and "No requests with an SLA policy" in md
    assert "| First response, median (business) | — | — |  |" in md
    assert "no ratings" in render(report, "html")
    assert render(report, "csv").count("\n") > 20
    with pytest.raises(ValueError):
        render(report, "pdf")


# --------------------------------------------------------------------------- CLI


def test_report_command_periods_and_output_file(month: Month, tmp_path: Path) -> None:
    code, out, _ = invoke(month, "report")  # default: the current month (IDQUEUE_NOW)
    assert code == 0 and out.startswith("# Identity support metrics — March 2026")
    code, out, _ = invoke(month, "report", "--from", "2026-02-23", "--to", "2026-03-08", "--format", "md")
    assert code == 0 and "2026-02-23 – 2026-03-08" in out and "2026-02-09 – 2026-02-22" in out
    target = tmp_path / "out" / "march.html"
    code, out, err = invoke(month, "report", "--month", "2026-03", "--format", "html", "--output", str(target))
    assert code == 0 and out == "" and f"wrote {target} (html, March 2026" in err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    code, out, _ = invoke(month, "report", "--month", "2025-06", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["received"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-3x"], "not a month"),
        (["--month", "2026-03", "--from", "2026-03-01"], "either --month or --from/--to"),
        (["--to", "2026-03-01"], "--to needs --from"),
        (["--from", "2026-03-05", "--to", "2026-03-01"], "before --from"),
        (["--format", "pdf"], "pdf"),
    ],
)
def test_report_command_rejects_bad_options(month: Month, args: list[str], message: str) -> None:
    code, _, err = invoke(month, "report", *args)
    assert code == 2 and message in err


# --------------------------------------------------------------------------- history


def test_closed_requests_no_longer_polled_still_count(month: Month, tmp_path: Path) -> None:
    """History: the store keeps closed requests; metrics never depend on a source still listing them."""
    copy_db = tmp_path / "copy.db"
    with sqlite3.connect(month.db) as src, sqlite3.connect(copy_db) as dst:
        src.backup(dst)
    store = Store.open(copy_db)
    february = Period.month(2026, 2, TZ)
    # The sandbox is gone (its emulators stopped when the fixture finished): nothing is polled.
    later = datetime(2027, 1, 15, 15, tzinfo=UTC)
    report = collect(store, month.settings, february, now=later)
    assert report.kpis.received >= 25 and report.kpis.resolved >= 20
    assert report.kpis.csat.responses >= 10


def test_first_sync_backfills_closed_issues_for_history_months(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    gh = empty_sandbox.github.state
    inside = gh.add_issue(seed_mod.SUPPORT_REPO, "Old but in the window", "body", user="octocat",
                          labels=[seed_mod.LABEL], created_at=datetime(2025, 3, 2, 15, tzinfo=UTC))
    gh.close_issue(seed_mod.SUPPORT_REPO, inside.number, at=datetime(2025, 3, 3, 15, tzinfo=UTC))
    outside = gh.add_issue(seed_mod.SUPPORT_REPO, "Older than the window", "body", user="octocat",
                           labels=[seed_mod.LABEL], created_at=datetime(2024, 12, 2, 15, tzinfo=UTC))
    gh.close_issue(seed_mod.SUPPORT_REPO, outside.number, at=datetime(2024, 12, 3, 15, tzinfo=UTC))
    overrides = empty_sandbox.settings_overrides()
    overrides["slack"]["channels"] = []
    settings = Settings(**overrides, db=tmp_path / "h.db", now="2026-03-11T15:30:00Z", history_months=13)
    store = Store.open(settings.db)
    SyncEngine(store, build_sources(settings), settings).poll()
    assert store.get_request(f"gh:{seed_mod.SUPPORT_REPO}#{inside.number}") is not None
    assert store.get_request(f"gh:{seed_mod.SUPPORT_REPO}#{outside.number}") is None
    march_2025 = collect(store, settings, Period.month(2025, 3, TZ), now=NOW)
    assert (march_2025.kpis.received, march_2025.kpis.resolved) == (1, 1)
    assert march_2025.kpis.within_48h.hits == 1


# --------------------------------------------------------------------------- a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_a_headless_browser(month: Month, store: Store, tmp_path: Path) -> None:
    """Chromium parses and paints the report; set IDQUEUE_UPDATE_SCREENSHOTS=1 to refresh screenshots/report.png."""
    page = tmp_path / "report.html"
    page.write_text(render(collect(store, month.settings, MARCH, now=NOW), "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    common = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    assert "Identity support metrics — March 2026" in dom
    assert dom.count("<svg") == 4 and "<polyline" in dom and "<rect" in dom
    if os.environ.get("IDQUEUE_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "screenshots").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "screenshots" / "report.png")
