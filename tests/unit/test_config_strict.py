"""Unknown config keys are errors in every table, from TOML and from env, with a suggestion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from idqueue.config import ConfigError, Section, Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("IDQUEUE_") or name in ("GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN"):
            monkeypatch.delenv(name)
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(config))
    return config


def _error(config: Path, text: str) -> str:
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings()
    return str(info.value)


TOML_CASES = [
    ("top level", 'team_nme = "Identity"\n', "team_nme", "team_name"),
    ("team member", '[team.ana]\nname = "Ana"\nslak = "U1"\n', "team.ana.slak", "slack"),
    ("rota", '[rota]\nweekley = []\n', "rota.weekley", "weekly"),
    ("github", '[github]\nlable = "Identity"\n', "github.lable", "label"),
    ("slack", '[slack]\nchanels = ["C1"]\n', "slack.chanels", "channels"),
    ("intake", '[intake]\ndefault_typ = "Other"\n', "intake.default_typ", "default_type"),
    ("intake template", '[[intake.templates]]\nname = "t"\nlabel = {}\n', "intake.templates.0.label", "labels"),
    ("intake type rule", '[[intake.type_rules]]\ntype = "Bug Fix"\nkeyword = ["x"]\n',
     "intake.type_rules.0.keyword", "keywords"),
    ("sla", '[sla]\nat_risk_ration = 0.5\n', "sla.at_risk_ration", "at_risk_ratio"),
    ("sla calendar", '[sla.calendar]\ntimezon = "UTC"\n', "sla.calendar.timezon", "timezone"),
    ("sla policy", '[[sla.policies]]\nname = "x"\nfirst_respons = 2\n', "sla.policies.0.first_respons",
     "first_response"),
    ("priority rule", '[[priority_rules]]\npriority = "P1"\nlabel = ["x"]\n', "priority_rules.0.label", "labels"),
    ("automation", '[automation]\non_asign = false\n', "automation.on_asign", "on_assign"),
    ("survey", '[survey]\nurll = "https://example.org"\n', "survey.urll", "url"),
    ("ui", '[ui]\npoll_intervall = 30\n', "ui.poll_intervall", "poll_interval"),
]


@pytest.mark.parametrize(("table", "text", "loc", "suggestion"), TOML_CASES, ids=[c[0] for c in TOML_CASES])
def test_unknown_toml_key_is_an_error_with_a_suggestion(
    _clean_env: Path, table: str, text: str, loc: str, suggestion: str
) -> None:
    message = _error(_clean_env, text)
    assert message.startswith(f"{loc}: unknown key (did you mean {suggestion!r}?)"), message


def test_every_config_table_forbids_unknown_keys() -> None:
    """No table can slip back to "ignore": every model reachable from Settings is a Section."""
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        for info in model.model_fields.values():
            from idqueue.config import _inner_model

            inner = _inner_model(info.annotation)
            if inner is not None and inner not in seen:
                seen.add(inner)
                walk(inner)

    walk(Settings)
    assert seen
    assert all(issubclass(model, Section) and model.model_config.get("extra") == "forbid" for model in seen), [
        m.__name__ for m in seen if not issubclass(m, Section)
    ]
    assert Settings.model_config.get("extra") == "forbid"


ENV_CASES = [
    ("IDQUEUE_AUTOMATION__ON_ASIGN", "false", "automation.on_asign", "on_assign"),
    ("IDQUEUE_GITHUB__LABLE", "Identity", "github.lable", "label"),
    ("IDQUEUE_SLACK__LOOKBACK_HOUR", "5", "slack.lookback_hour", "lookback_hours"),
    ("IDQUEUE_ROTA__PER_WEK", "2", "rota.per_wek", "per_week"),
    ("IDQUEUE_INTAKE__DEFAULT_TYP", "Other", "intake.default_typ", "default_type"),
    ("IDQUEUE_SLA__AT_RISK_RATIOO", "0.5", "sla.at_risk_ratioo", "at_risk_ratio"),
    ("IDQUEUE_SLA__CALENDAR__ALWAYS_ONN", "true", "sla.calendar.always_onn", "always_on"),
    ("IDQUEUE_SURVEY__GOLE", "80", "survey.gole", "goal"),
    ("IDQUEUE_UI__BEL", "true", "ui.bel", "bell"),
]


@pytest.mark.parametrize(("name", "value", "loc", "suggestion"), ENV_CASES, ids=[c[0] for c in ENV_CASES])
def test_unknown_env_key_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, loc: str, suggestion: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == f"{loc}: unknown key (did you mean {suggestion!r}?) (from {name})"


def test_a_json_env_table_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDQUEUE_TEAM", '{"ana": {"name": "Ana", "githb": "ana"}}')
    with pytest.raises(ConfigError, match=r"team\.ana\.githb: unknown key \(did you mean 'github'\?\)"):
        load_settings()


def test_no_suggestion_when_nothing_is_close(_clean_env: Path) -> None:
    assert _error(_clean_env, "[ui]\nzzzzzz = 1\n") == "ui.zzzzzz: unknown key"


def test_known_keys_still_load(_clean_env: Path) -> None:
    _clean_env.write_text('[automation]\non_assign = false\n[github]\nlabel = "Identity"\n', encoding="utf-8")
    settings = load_settings()
    assert settings.automation.on_assign is False and settings.github.label == "Identity"


@pytest.mark.parametrize("value", ["notadate", "2026-13-01", "9999-12-31T23:59:59-14:00"])
def test_a_bad_frozen_now_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("IDQUEUE_NOW", value)
    with pytest.raises(ConfigError, match=r"now: .* is not an ISO 8601 date-time"):
        load_settings()


def test_a_config_path_that_is_a_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(tmp_path))
    with pytest.raises(ConfigError, match="is a folder, not a TOML file"):
        load_settings()
