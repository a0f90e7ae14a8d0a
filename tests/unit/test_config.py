from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from idqueue.config import ConfigError, load_settings
from idqueue.integrations import registry

ENV_KEYS = [
    "IDQUEUE_CONFIG_FILE", "IDQUEUE_DB", "IDQUEUE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN",
    "IDQUEUE_GITHUB_REPOS", "IDQUEUE_SLACK_TOKEN", "SLACK_BOT_TOKEN", "IDQUEUE_SLACK_CHANNELS",
    "IDQUEUE_GITHUB_BASE_URL", "IDQUEUE_SLACK_BASE_URL", "IDQUEUE_NOW", "IDQUEUE_GITHUB_LABEL",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(tmp_path / "missing-ok.toml"))
    monkeypatch.delenv("IDQUEUE_CONFIG_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_env_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDQUEUE_GITHUB_TOKEN", "ghp_secretsecret")
    monkeypatch.setenv("IDQUEUE_GITHUB_REPOS", "va/support, va/other")
    monkeypatch.setenv("IDQUEUE_GITHUB_LABEL", "Identity")
    monkeypatch.setenv("IDQUEUE_SLACK_TOKEN", "xoxb-1-secret")
    monkeypatch.setenv("IDQUEUE_SLACK_CHANNELS", "C1,C2")
    monkeypatch.setenv("IDQUEUE_SLACK_BASE_URL", "http://127.0.0.1:9/api/")
    s = load_settings()
    assert s.github.repos == ["va/support", "va/other"]
    assert s.github.label == "Identity"
    assert s.github.token is not None and s.github.token.get_secret_value() == "ghp_secretsecret"
    assert s.slack.channels == ["C1", "C2"]
    assert s.slack.base_url == "http://127.0.0.1:9/api/"
    assert registry.any_configured(s)
    assert "ghp_secret" not in repr(s) and "xoxb-1" not in repr(s)


def test_fallback_token_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_fromgh")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-fromslack")
    s = load_settings()
    assert s.github.token is not None and s.github.token.get_secret_value() == "ghp_fromgh"
    assert s.slack.token is not None and s.slack.token.get_secret_value() == "xoxb-fromslack"


def test_toml_file_and_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'me = "ana"\n[team.ana]\nname = "Ana"\ngithub = "ana-gh"\nslack = "U1"\n'
        '[github]\nrepos = ["a/b"]\nlabel = "FromFile"\n[sla]\nat_risk_ratio = 0.8\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(path))
    monkeypatch.setenv("IDQUEUE_GITHUB_LABEL", "FromEnv")
    s = load_settings()
    assert s.me == "ana" and s.team["ana"].github == "ana-gh"
    assert s.github.repos == ["a/b"]
    assert s.github.label == "FromEnv"
    assert s.sla.at_risk_ratio == 0.8
    assert s.member_by_github("ANA-GH") == "ana"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[sla]\nat_risk_ratio = 3\n', "sla.at_risk_ratio"),
        ('[github]\nrepos = ["nope"]\n', "github.repos"),
        ('bogus_key = 1\n', "bogus_key"),
        ('me = "zed"\n[team.ana]\nname = "Ana"\n', "zed"),
        ('[ui]\npoll_interval = "soon"\n', "ui.poll_interval"),
    ],
)
def test_invalid_config_names_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(path))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert key in str(err.value)


def test_invalid_toml_syntax(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[github\n", encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(path))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_cli_exits_2_on_bad_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from idqueue.cli import cli

    path = tmp_path / "config.toml"
    path.write_text('[sla]\nat_risk_ratio = 3\n', encoding="utf-8")
    monkeypatch.setenv("IDQUEUE_CONFIG_FILE", str(path))
    monkeypatch.setenv("IDQUEUE_DB", str(tmp_path / "db.sqlite"))
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 2
    assert "sla.at_risk_ratio" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_env_repos_names_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDQUEUE_GITHUB_REPOS", "notarepo")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "github_repos" in str(err.value)
