"""Customers: configuration (``IDQUEUE_CUSTOMERS``) and who a mail address belongs to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idqueue.config import ConfigError, CustomerConfig, load_settings, trello_board_ref
from idqueue.domain.customers import customer_for

CUSTOMERS = {
    "acme": CustomerConfig(name="Acme", domains=["Acme.com"], trello_board="AbCd1234"),
    "acme-eu": CustomerConfig(name="Acme Europe", domains=["eu.acme.com"]),
    "globex": CustomerConfig(name="Globex", domains=["globex.co.uk"], addresses=["Pat.Contractor@gmail.com"]),
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text("", encoding="utf-8")


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("jane@acme.com", "acme"),
        ("JANE@ACME.COM", "acme"),
        ("Jane Doe <jane@Acme.Com>", "acme"),
        ("acme.com", "acme"),
        ("@acme.com", "acme"),
        ("ops@mail.acme.com", "acme"),  # a subdomain belongs to the parent's customer
        ("anna@eu.acme.com", "acme-eu"),  # … unless a customer claims the subdomain itself
        ("x@de.eu.acme.com", "acme-eu"),
        ("pat.contractor@gmail.com", "globex"),  # a single address wins over any domain
        ("someone@gmail.com", None),
        ("jane@notacme.com", None),  # a suffix that is not a parent domain
        ("jane@acme.com.evil.example", None),
        ("", None),
        ("   ", None),
    ],
)
def test_customer_for(who: str, expected: str | None) -> None:
    assert customer_for(who, CUSTOMERS) == expected


def test_no_customers_means_no_customer() -> None:
    assert customer_for("jane@acme.com", {}) is None


def test_customers_from_the_env_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDQUEUE_CUSTOMERS", json.dumps({
        "acme": {"name": "Acme", "domains": ["acme.com"],
                 "trello_board": "https://trello.com/b/AbCd1234/acme-support", "backlog_list": "Inbox"},
        "globex": {"name": "Globex", "domains": ["globex.com"], "trello_board": "5f0c1a2b3c4d5e6f7a8b9c0d"},
    }))
    monkeypatch.setenv("IDQUEUE_TRELLO__KEY", "fedcba98765432100f1e2d3c4b5a6978")
    monkeypatch.setenv("IDQUEUE_TRELLO__TOKEN", "ATTAsecretsecretsecret0123456789")
    s = load_settings()
    assert s.customers["acme"].trello_board == "AbCd1234"
    assert s.customers["acme"].backlog_list == "Inbox"
    assert s.customers["globex"].backlog_list == "New Issues"
    assert s.customers["globex"].trello_board == "5f0c1a2b3c4d5e6f7a8b9c0d"
    assert s.trello.base_url == "https://api.trello.com/1"
    assert s.trello.key is not None and s.trello.key.get_secret_value().startswith("fedc")
    assert "ATTAsecret" not in repr(s) and "fedcba9876543210" not in repr(s)


@pytest.mark.parametrize(
    ("customers", "message"),
    [
        ({"a": {"name": "A", "trello_board": "https://example.com/b/x"}}, "not a Trello board"),
        ({"a": {"name": "A", "domains": ["not a domain"]}}, "not a mail domain"),
        ({"a": {"name": "A", "addresses": ["nobody"]}}, "not a mail address"),
        ({"a": {"name": "A", "domains": ["x.com"]}, "b": {"name": "B", "domains": ["X.com"]}}, "belongs to both"),
        ({"a": {"name": "A", "board": "AbCd1234"}}, "unknown key"),
        ({"a": {"name": "A", "sla_policy": "Gold"}}, "no SLA policy named 'Gold'"),
    ],
)
def test_bad_customers_are_one_line(monkeypatch: pytest.MonkeyPatch, customers: object, message: str) -> None:
    monkeypatch.setenv("IDQUEUE_CUSTOMERS", json.dumps(customers))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("value", "ref"),
    [
        ("AbCd1234", "AbCd1234"),
        ("https://trello.com/b/AbCd1234/acme", "AbCd1234"),
        ("https://trello.com/b/AbCd1234", "AbCd1234"),
        (" 5f0c1a2b3c4d5e6f7a8b9c0d ", "5f0c1a2b3c4d5e6f7a8b9c0d"),
    ],
)
def test_board_refs(value: str, ref: str) -> None:
    assert trello_board_ref(value) == ref


def test_customers_in_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[customers.acme]\nname = "Acme"\ndomains = ["acme.com"]\ntrello_board = "AbCd1234"\n'
                    'sla_policy = "Standard"\n', encoding="utf-8")
    s = load_settings()
    assert s.customers["acme"].sla_policy == "Standard"
    assert customer_for("bob@acme.com", s.customers) == "acme"
