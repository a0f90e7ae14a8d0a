"""``idqueue doctor``'s email checks against the loopback servers, and the registry entry."""

from __future__ import annotations

from pathlib import Path

from idqueue.config import Settings
from idqueue.integrations import registry
from idqueue.integrations.email.checks import doctor_checks
from idqueue.integrations.email.emulator import MailServers


def _doctor(mail: MailServers, tmp_path: Path, **env: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from idqueue.cli import cli

    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    variables = {**mail.env(), **env, "IDQUEUE_DB": str(tmp_path / "q.db"), "IDQUEUE_CONFIG_FILE": str(config)}
    result = CliRunner().invoke(cli, ["doctor"], env=variables)
    return result.exit_code, result.output


def test_doctor_all_good_then_each_failure(tmp_path: Path) -> None:
    with MailServers() as s:
        code, out = _doctor(s, tmp_path)
        assert code == 0, out
        assert "email        ok" in out and "INBOX" in out and "Sent" in out and "email SMTP login" in out
        code, out = _doctor(s, tmp_path, IDQUEUE_EMAIL__PASSWORD="bad-password-1")
        assert code == 1 and "IMAP login refused" in out and "SMTP login refused" in out
        assert "bad-password-1" not in out
        code, out = _doctor(s, tmp_path, IDQUEUE_EMAIL__SENT_MAILBOX="Sent Items")
        assert code == 1 and "'Sent Items' does not exist" in out
        checks = doctor_checks(Settings(db=tmp_path / "q.db", email=s.settings_overrides(smtp_host=None)))
        assert [(c.name, c.ok) for c in checks] == [("SMTP", False)]


def test_registry_entry(tmp_path: Path) -> None:
    email = registry.get("email")
    assert (email.code, email.id_prefix, email.roster_field, email.verbs) == ("@", "email:", "email",
                                                                             {"reply", "assign", "close", "reopen",
                                                                              "pending", "backlog"})
    assert email.fold is not None and email.planner is not None and email.text_format == "plain"
    assert registry.for_id("email:m1@acme.example") is email
    off = Settings(db=tmp_path / "q.db")
    assert email not in registry.configured(off)
    on = Settings(db=tmp_path / "q.db", email={"imap_host": "imap.example.com", "smtp_host": "smtp.example.com",
                                                 "address": "support@example.com"})
    assert email in registry.configured(on) and email in registry.writable(on)


def test_env_contract_and_password_secret(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    from idqueue.config import load_settings
    from idqueue.safety import redact

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    mp.setenv("IDQUEUE_CONFIG_FILE", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    for key, value in {"IMAP_HOST": "imap.example.com", "IMAP_PORT": "1993", "IMAP_SECURITY": "starttls",
                       "SMTP_HOST": "smtp.example.com", "SMTP_SECURITY": "ssl", "USERNAME": "desk",
                       "PASSWORD": "s3cret-app-pass", "ADDRESS": "support@example.com"}.items():
        mp.setenv(f"IDQUEUE_EMAIL__{key}", value)
    email = load_settings(db=tmp_path / "q.db").email
    assert (email.imap_host, email.imap_port_or_default(), email.imap_security) == ("imap.example.com", 1993, "starttls")
    assert (email.smtp_port_or_default(), email.login, email.mailbox, email.sent_mailbox) == (465, "desk", "INBOX", "Sent")
    assert "s3cret-app-pass" not in repr(email) and "s3cret-app-pass" not in redact("login s3cret-app-pass failed")


def test_the_foreground_mailbox_prints_exports_that_doctor_accepts(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from click.testing import CliRunner

    from idqueue.cli import cli

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDQUEUE_")}
    env["PYTHONPATH"] = str(root)
    proc = subprocess.Popen([sys.executable, "-m", "idqueue.integrations.email.emulator"], cwd=str(root), env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        for line in proc.stdout:
            if line.startswith("#"):
                break
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value.strip("'")
        config = tmp_path / "config.toml"
        config.write_text("", encoding="utf-8")
        result = CliRunner().invoke(cli, ["doctor"], env={**exports, "IDQUEUE_DB": str(tmp_path / "q.db"),
                                                          "IDQUEUE_CONFIG_FILE": str(config)})
        assert result.exit_code == 0, result.output
        assert "INBOX" in result.output and "messages" in result.output
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_exchange_online_basic_auth_off_is_named(tmp_path: Path) -> None:
    from idqueue.integrations.email.checks import check_smtp

    with MailServers() as s:
        s.smtp.faults.add("AUTH", "auth", times=-1,
                          error="535 5.7.139 Authentication unsuccessful, basic authentication is disabled.")
        check = check_smtp(Settings(db=tmp_path / "q.db", email=s.settings_overrides()))
    assert check is not None and not check.ok
    assert "has basic authentication turned off (Microsoft 365)" in check.detail
