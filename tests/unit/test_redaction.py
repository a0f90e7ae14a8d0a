"""Every token shape idqueue handles is redacted from messages, wherever it was pasted."""

from __future__ import annotations

import pytest

from idqueue.safety import redact, register_secret

CLASSIC_HEX = "0123456789abcdef0123456789abcdef01234567"

SECRETS = {
    "github classic ghp": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "github oauth gho": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "github server ghs": "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "github user ghu": "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
    "github refresh ghr": "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
    "github fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
    "slack bot": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "slack user": "xoxp-17653672481-19874698323-19874698324-abcdef",
    "slack refresh": "xoxe-1-My0xLTE3NjUzNjcyNDgxLTE5ODc0Njk4MzIz",
    "slack app-level": "xapp-1-A0123456789-1234567890123-abcdef0123456789",
    "atlassian api token": "ATATT3xFfGF0T4mBvZ1eNQxTh4nY2b8lO7-wKzz_Ue2p9=A1B2C3D4",
    "trello ATTA token": "ATTA0f3c7e1f8f2b4a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4",
}


@pytest.mark.parametrize("secret", SECRETS.values(), ids=list(SECRETS))
def test_token_shapes_are_redacted_anywhere(secret: str) -> None:
    for text in (secret, f"error: {secret!r} is not owner/name", f"https://x/?t={secret}&a=1"):
        out = redact(text)
        assert secret not in out and "[redacted]" in out


@pytest.mark.parametrize("context", [
    "token {}", "IDQUEUE_GITHUB_TOKEN={}", "Authorization: token {}", "api_key: '{}'", "github.token = {}",
])
def test_classic_hex_token_in_a_token_like_context(context: str) -> None:
    assert CLASSIC_HEX not in redact(context.format(CLASSIC_HEX))


def test_hex_elsewhere_is_kept_unless_asked() -> None:
    text = f"commit {CLASSIC_HEX} landed"
    assert redact(text) == text  # a commit SHA in an ordinary message stays
    assert CLASSIC_HEX not in redact(text, bare_hex=True)  # config errors hide any hex secret shape


@pytest.mark.parametrize("secret", ["a" * 32, "b" * 64])
def test_trello_key_and_token_hex(secret: str) -> None:
    assert secret not in redact(f"trello key={secret}")
    assert secret not in redact(f"Trello token {secret}")
    assert secret not in redact(f"'{secret}' is not a board", bare_hex=True)


def test_secret_named_values_and_registered_passwords() -> None:
    assert "hunter22" not in redact("login failed: password=hunter22")
    assert "s3cr3t-Pa55" not in redact('{"api_token": "s3cr3t-Pa55"}')
    register_secret("correct horse battery staple")
    assert redact("IMAP said: bad credentials correct horse battery staple") == (
        "IMAP said: bad credentials [redacted]")


def test_ordinary_messages_survive() -> None:
    for text in ("github.token: unknown key (did you mean 'token'?)", "Input should be a valid string",
                 "no request 'REQ-12' (try `idqueue list`)"):
        assert redact(text) == text


@pytest.mark.parametrize(
    "url",
    [
        "https://api.trello.com/1/cards?idList=5f0c&key=sandbox-key&token=short",
        "http://127.0.0.1:9/1/boards/AbCd1234/lists?token=abc&key=xyz&fields=name",
        "GET /1/members/me?KEY=Some-Key-Without-Digits&Token=x",
    ],
)
def test_query_string_credentials_are_hidden_whatever_their_shape(url: str) -> None:
    out = redact(url)
    for secret in ("sandbox-key", "short", "abc", "xyz", "Some-Key-Without-Digits", "Token=x"):
        assert secret not in out
    assert "[redacted]" in out
    assert "idList=5f0c" in redact(url) or "idList" not in url
