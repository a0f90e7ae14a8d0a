"""Customers as a dimension of a request: derived from the sender, set by hand, stored, filtered,
searched, shown by ``list --json`` and ``idqueue customer``, and choosing the SLA policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import customers_world as world
import pytest
from click.testing import CliRunner

from idqueue.cli import cli
from idqueue.config import CustomerConfig, Settings, SlaConfig
from idqueue.domain.assemble import assemble, make_assembler
from idqueue.domain.customers import NO_CUSTOMER, customer_of_request
from idqueue.domain.models import Person, Request, SourceItem, SourceKind
from idqueue.domain.query import SearchContext, SearchError, parse_search
from idqueue.domain.sla import select_policy
from idqueue.integrations.registry import rulebook
from idqueue.outbox.models import ActionError
from idqueue.outbox.service import Actions
from idqueue.store.db import Store
from idqueue.store.queue import QueueQuery, facets, fetch_window, json_item
from idqueue.store.schema import MIGRATIONS


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Settings, Store]]:
    cfg, store = world.build(tmp_path / "desk.db")
    yield cfg, store
    store.close()


def _customers(store: Store, **query: object) -> dict[str, str | None]:
    rows = fetch_window(store, QueueQuery(include_closed=True, **query), now=world.NOW, limit=-1)  # type: ignore[arg-type]
    return {r.id.removeprefix("email:").removesuffix("@mail.example"): r.customer for r in rows}


def test_the_sender_decides_the_customer(desk: tuple[Settings, Store]) -> None:
    _, store = desk
    assert _customers(store) == {
        "acme-new": "acme",
        "acme-bl": "acme",  # mail.acme.com: a subdomain of the customer's domain
        "acme-late": "acme",
        "globex-pat": "globex",  # a gmail address listed under the customer
        "globex-open": "globex",
        "initech-pd": "initech",
        "stray-new": None,
        "stray-done": None,
    }


def test_customer_of_request_rules() -> None:
    customers = world.CUSTOMERS
    assert customer_of_request(["U0SLACK", "jane@acme.com"], None, customers) == "acme"  # a chat id is skipped
    assert customer_of_request(["octocat"], None, customers) is None  # a GitHub login is no address
    assert customer_of_request(["jane@acme.com"], "globex", customers) == "globex"  # set by hand wins
    assert customer_of_request(["jane@acme.com"], NO_CUSTOMER, customers) is None
    assert customer_of_request(["jane@acme.com"], "gone", customers) == "acme"  # a removed customer: the address
    assert customer_of_request(["jane@acme.com"], None, {}) is None


def test_a_chat_request_without_an_address_has_no_customer(tmp_path: Path) -> None:
    cfg = world.settings(tmp_path / "x.db")
    item = SourceItem(id="slack:C1/1712.0001", source=SourceKind("slack"), title="help", body="help", url=None,
                      created_at=world.NOW, updated_at=world.NOW, requester=Person("U0REQ", "Marcus"))
    request = assemble([item], [], {}, settings=cfg, now=world.NOW, rules=rulebook(cfg))
    assert request.customer is None


def test_setting_a_customer_by_hand_is_local_and_undoable(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    actions = Actions(store, cfg, clock=lambda: world.NOW)
    stray = world.by_name("stray-new").id
    before = actions.local_state(stray)
    actions.set_customer(stray, "initech")
    assert store.get_request(stray).customer == "initech"  # type: ignore[union-attr]
    assert actions.local_state(stray)["customer_override"] == "initech"
    actions.set_customer(world.by_name("acme-new").id, NO_CUSTOMER)
    assert store.get_request(world.by_name("acme-new").id).customer is None  # type: ignore[union-attr]
    actions.set_customer(world.by_name("acme-new").id, None)  # automatic again
    assert store.get_request(world.by_name("acme-new").id).customer == "acme"  # type: ignore[union-attr]
    with pytest.raises(ActionError, match="no customer 'nope'"):
        actions.set_customer(stray, "nope")
    actions.undo([], {stray: before})
    assert store.get_request(stray).customer is None  # type: ignore[union-attr]
    assert not actions.all()  # nothing was queued for any system


def test_the_customer_survives_a_rebuild(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    Actions(store, cfg, clock=lambda: world.NOW).set_customer(world.by_name("stray-done").id, "globex")
    store.conn.execute("UPDATE requests SET customer = NULL")  # forget the derived values
    store.conn.commit()
    assert store.rebuild_all(make_assembler(cfg, world.NOW, rules=rulebook(cfg))) == len(world.MAILS)
    assert _customers(store)["stray-done"] == "globex"  # from the local state
    assert _customers(store)["acme-new"] == "acme"  # from the sender


def test_the_migration_adds_an_indexed_column(desk: tuple[Settings, Store]) -> None:
    _, store = desk
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    plan = " ".join(str(r[3]) for r in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM requests WHERE is_open = 1 AND customer = 'acme'"))
    assert "requests_open_customer" in plan


def test_filter_facets_sort_and_group_by_customer(desk: tuple[Settings, Store]) -> None:
    _, store = desk
    assert set(_customers(store, customers=("acme",))) == {"acme-new", "acme-bl", "acme-late"}
    assert set(_customers(store, customers=("", "initech"))) == {"stray-new", "stray-done", "initech-pd"}
    live = facets(store, QueueQuery(customers=("acme",)), now=world.NOW, customers=True)
    # Counts of the open queue, each customer counted without the customer filter itself.
    assert live.customer == {"acme": 1, "globex": 1, "initech": 1, "": 1}
    assert live.total == 1
    assert facets(store, QueueQuery(), now=world.NOW).customer == {}  # not counted without customers
    ordered = fetch_window(store, QueueQuery(include_closed=True, sort="customer"), now=world.NOW, limit=-1)
    assert [r.customer for r in ordered] == ["acme"] * 3 + ["globex"] * 2 + ["initech"] + [None] * 2
    assert QueueQuery(customers=("acme", "")).describe() == ["customer acme/none"]


def test_customer_search_qualifier(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    ctx = SearchContext.from_settings(cfg)
    assert parse_search("customer:acme", ctx).customers == ("acme",)
    assert parse_search('customer:"acme ltd"', ctx).customers == ("acme",)
    assert parse_search("customer:Glob", ctx).customers == ("globex",)  # a start of the name
    assert parse_search("customer:none login", ctx).customers == ("",)
    with pytest.raises(SearchError, match="unknown customer:zzz; valid: acme, globex, initech, none"):
        parse_search("customer:zzz", ctx)
    spec = parse_search("customer:globex is:open", ctx)
    assert set(_customers(store, spec=spec)) == {"globex-open"}


def test_list_json_carries_the_customer(desk: tuple[Settings, Store]) -> None:
    _, store = desk
    items = {r.id: json_item(r) for r in fetch_window(store, QueueQuery(include_closed=True), now=world.NOW, limit=-1)}
    assert items[world.by_name("globex-pat").id]["customer"] == "globex"
    assert items[world.by_name("stray-new").id]["customer"] is None


def test_a_customers_policy_wins_over_type_and_priority(desk: tuple[Settings, Store]) -> None:
    cfg, store = desk
    policies = {r.customer: r.sla.policy for r in fetch_window(store, QueueQuery(include_closed=True),
                                                                 now=world.NOW, limit=-1)}
    assert policies["acme"] == "Acme contract"
    assert policies["globex"] == "Standard" and policies[None] == "Standard"
    request = Request(id="email:x", key="REQ-1", sources=[SourceKind("email")], title="", body="", requester=None,
                      type="Bug Fix", priority="P1", fields={"impacts_production": "yes"}, customer="acme")
    assert select_policy(request, cfg.sla.policies).name != "Acme contract"  # type: ignore[union-attr]
    assert select_policy(request, cfg.sla.policies, {"acme": "Acme contract"}).name == "Acme contract"  # type: ignore[union-attr]
    # A name that no policy has (a stale config) falls back on the usual match.
    fallback = select_policy(request, cfg.sla.policies, {"acme": "Gone"})
    assert fallback == select_policy(request, cfg.sla.policies)


def test_customer_command_end_to_end(desk: tuple[Settings, Store], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, store = desk
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(
        '[customers.acme]\nname = "Acme Ltd"\ndomains = ["acme.com"]\n'
        '[customers.globex]\nname = "Globex"\ndomains = ["globex.co.uk"]\naddresses = ["pat.contractor@gmail.com"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    monkeypatch.setenv("IDQUEUE_DB", str(tmp_path / "desk.db"))
    monkeypatch.setenv("IDQUEUE_NOW", world.NOW_ISO)
    runner = CliRunner()
    stray = world.by_name("stray-new").id

    shown = runner.invoke(cli, ["customer", stray])
    assert shown.exit_code == 0 and shown.output.endswith("  customer: no customer\n")
    set_ = runner.invoke(cli, ["customer", stray, "globex"])
    assert set_.exit_code == 0 and set_.output.endswith("  customer: Globex (globex)\n"), set_.output
    listed = json.loads(runner.invoke(cli, ["list", "--json", "--search", "customer:globex"]).output)
    assert sorted(i["id"] for i in listed) == sorted([stray, world.by_name("globex-open").id])
    assert {i["customer"] for i in listed} == {"globex"}
    shown_json = json.loads(runner.invoke(cli, ["show", stray, "--json"]).output)
    assert shown_json["customer"] == "globex"
    assert "\n  customer  Globex\n" in runner.invoke(cli, ["show", stray]).output
    assert runner.invoke(cli, ["customer", stray, "auto"]).output.endswith("  customer: no customer\n")
    bad = runner.invoke(cli, ["customer", stray, "initech"])
    assert bad.exit_code == 2 and "no customer 'initech'; valid: acme, globex, none, auto" in bad.output


def test_a_customer_config_without_domains_still_loads() -> None:
    cfg = Settings(customers={"solo": CustomerConfig(name="Solo")}, sla=SlaConfig())
    assert customer_of_request(["a@solo.example"], None, cfg.customers) is None
