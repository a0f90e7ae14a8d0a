"""The 48-hour rule per customer: metrics, the report (Markdown, CSV, JSON, HTML) with exact numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import customers_world as world
import jsonschema
import pytest

from idqueue.config import Settings
from idqueue.domain.calendar import AlwaysOn
from idqueue.domain.metrics import (
    NO_CUSTOMER,
    Period,
    RequestRow,
    breakdown,
    compute_kpis,
    resolved_within,
)
from idqueue.report import REPORT_SCHEMA, MetricsReport, collect, render, report_json
from idqueue.store.db import Store
from idqueue.store.metrics_queries import fetch_rows


@pytest.fixture
def desk(tmp_path: Path, db_target: str | Path) -> Iterator[tuple[Settings, Store]]:
    cfg, store = world.build(tmp_path / "desk.db", target=db_target)
    yield cfg, store
    store.close()


def _report(cfg: Settings, store: Store) -> MetricsReport:
    return collect(store, cfg, Period.month(2026, 3, cfg.sla.calendar.timezone), now=world.NOW)


def _row(hours_old: float, status: str, resolved_after: float | None = None) -> RequestRow:
    created = world.NOW - timedelta(hours=hours_old)
    resolved = created + timedelta(hours=resolved_after) if resolved_after is not None else None
    return RequestRow("r", "REQ-1", "t", "Other", status, created, resolved_at=resolved)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (_row(10, "new"), None),  # open and younger than 48 h: not yet due
        (_row(47.9, "pending"), None),  # waiting on the requester does not stop the wall clock
        (_row(48.1, "pending"), False),  # … and past 48 h it is a miss
        (_row(72, "assigned"), False),
        (_row(72, "backlog", 48), True),  # exactly 48 h counts; the backlog is a resolution
        (_row(72, "closed", 48.01), False),
        (_row(5, "closed", 1), True),  # resolved early: decided even though younger than 48 h
    ],
)
def test_the_48_hour_rule_definition(row: RequestRow, expected: bool | None) -> None:
    assert resolved_within(row, world.NOW) is expected


def test_rows_carry_the_customer(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    period = Period.month(2026, 3, cfg.sla.calendar.timezone)
    rows = fetch_rows(store, period.start, period.end, now=world.NOW, sla=cfg.sla)
    assert sorted((r.customer or "-") for r in rows) == ["-", "-", "acme", "acme", "acme", "globex", "globex",
                                                        "initech"]


def test_per_customer_48_hour_shares(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    period = Period.month(2026, 3, cfg.sla.calendar.timezone)
    rows = fetch_rows(store, period.start, period.end, now=world.NOW, sla=cfg.sla)
    overall = compute_kpis(rows, now=world.NOW, business=AlwaysOn())
    assert (overall.within_48h.hits, overall.within_48h.total, overall.not_yet_due) == (3, 6, 2)
    assert overall.within_48h.pct == 50.0
    groups = breakdown(rows, [], "customer", now=world.NOW, business=AlwaysOn())
    assert list(groups) == ["acme", "(no customer)", "globex", "initech"]  # largest first, then by name
    shares = {name: (k.within_48h.hits, k.within_48h.total, k.not_yet_due) for name, k in groups.items()}
    assert shares == {"acme": (1, 2, 1), "globex": (1, 2, 0), "initech": (0, 1, 0), NO_CUSTOMER: (1, 1, 1)}
    assert groups["acme"].backlogged == 1 and groups["acme"].resolved == 1 and groups["acme"].open == 1


def test_report_json_breaks_down_by_customer(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    data = report_json(_report(cfg, store))
    jsonschema.Draft202012Validator(REPORT_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(data)
    assert data["summary"]["resolved_within_48h"] == {"count": 3, "of": 6, "pct": 50.0, "not_yet_due": 2}
    by_customer = {g["group"]: g for g in data["breakdowns"]["customer"]}
    assert by_customer["acme"]["name"] == "Acme Ltd"
    assert by_customer["acme"]["resolved_within_48h"] == {"count": 1, "of": 2, "pct": 50.0, "not_yet_due": 1}
    assert by_customer["initech"]["resolved_within_48h"] == {"count": 0, "of": 1, "pct": 0.0, "not_yet_due": 0}
    assert by_customer["(no customer)"]["name"] == "(no customer)"
    assert by_customer["(no customer)"]["received"] == 2
    # Acme's requests were all measured against its contract's policy.
    assert [p["policy"] for p in by_customer["acme"]["sla"]["by_policy"]] == ["Acme contract"]


def test_markdown_csv_and_html_show_the_customer_table(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    report = _report(cfg, store)
    md = render(report, "md")
    table = md.split("## By customer (the 48-hour rule)", 1)[1].split("\n## ", 1)[0]
    assert "| Customer | Received | Resolved | Backlogged | Open | Within 48 h | Not yet due | SLA | CSAT |" in table
    assert "| Acme Ltd | 3 | 1 | 1 | 1 | 50 % (1/2) | 1 |" in table
    assert "| Initech | 1 | 0 | 0 | 1 | 0 % (0/1) | 0 |" in table
    assert "| (no customer) | 2 | 1 | 0 | 1 | 100 % (1/1) | 1 |" in table
    assert "| All requests | 8 | 3 | 1 | 4 | 50 % (3/6) | 2 |" in table
    csv_lines = render(report, "csv").splitlines()
    assert "by_customer,globex,resolved_within_48h.pct,50.0" in csv_lines
    assert "by_customer,globex,resolved_within_48h.not_yet_due,0" in csv_lines
    html = render(report, "html")
    assert "<h2>By customer (the 48-hour rule)</h2>" in html and "Acme Ltd" in html


def test_without_customers_the_text_reports_have_no_customer_section(tmp_path: Path) -> None:
    cfg, store = world.build(tmp_path / "plain.db", customers={})
    try:
        report = _report(cfg, store)
        assert "By customer" not in render(report, "md") and "By customer" not in render(report, "html")
        data = json.loads(render(report, "json"))
        assert [g["group"] for g in data["breakdowns"]["customer"]] == ["(no customer)"]
    finally:
        store.close()
