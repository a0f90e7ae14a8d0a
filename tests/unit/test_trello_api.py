"""The Trello client (httpx) against the loopback emulator: answers, and every failure mapped to
one clear error without credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from trello_env import NOW, TrelloWorld, trello_world

from idqueue.integrations.base import (
    AuthError,
    BadPayload,
    NotFound,
    RateLimited,
    TimedOut,
    Unavailable,
    ValidationFailed,
)
from idqueue.integrations.trello.api import TrelloApi
from idqueue.integrations.trello.emulator import TRELLO_KEY, TRELLO_TOKEN


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with trello_world() as w:
        yield w


def _api(world: TrelloWorld, tmp_path: Path, **trello: str) -> TrelloApi:
    settings = world.settings(tmp_path / "db.sqlite")
    for key, value in trello.items():
        setattr(settings.trello, key, type(settings.trello.key)(value) if key in ("key", "token") else value)
    return TrelloApi(settings, timeout=0.5, clock=world.clock)


def _no_secret(text: str) -> None:
    assert TRELLO_KEY not in text and TRELLO_TOKEN not in text


def test_reads_lists_by_short_link_and_sends_credentials_in_a_header(world: TrelloWorld, tmp_path: Path) -> None:
    api = _api(world, tmp_path)
    lists = api.get(f"/boards/{world.boards['acme'].short_link}/lists", "read lists")
    assert [x["name"] for x in lists] == ["New Issues", "Up next", "Recently Completed"]
    call = world.emulator.calls.last
    assert call is not None and "key" not in call.query and "token" not in call.query
    assert call.headers["authorization"] == "[redacted]"


@pytest.mark.parametrize(("field", "value", "line"), [("key", "0" * 32, "invalid key"), ("token", "nope", "invalid token")])
def test_bad_credentials_are_one_auth_line(world: TrelloWorld, tmp_path: Path, field: str, value: str, line: str) -> None:
    api = _api(world, tmp_path, **{field: value})
    with pytest.raises(AuthError) as err:
        api.get("/members/me", "read your Trello member")
    assert line in str(err.value) and "IDQUEUE_TRELLO__KEY" in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.permanent


def test_missing_board_is_not_found(world: TrelloWorld, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        _api(world, tmp_path).get("/boards/ZZZZ9999/lists", "read lists")


def test_bad_list_id_is_a_validation_error(world: TrelloWorld, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed):
        _api(world, tmp_path).post("/cards", "create a card", {"idList": "nope", "name": "x"})


@pytest.mark.parametrize(("kind", "code"), [("rate_limit", "API_TOKEN_LIMIT_EXCEEDED"),
                                            ("secondary_limit", "API_KEY_LIMIT_EXCEEDED")])
def test_429_without_retry_after_waits_one_window(world: TrelloWorld, tmp_path: Path, kind: str, code: str) -> None:
    world.emulator.faults.add("GET /1/members/me", kind)
    with pytest.raises(RateLimited) as err:
        _api(world, tmp_path).get("/members/me", "read your Trello member")
    assert err.value.until == NOW.replace(second=10)
    assert err.value.detail == code
    assert ("token" if "TOKEN" in code else "key") in err.value.title


def test_429_with_retry_after_waits_that_long(world: TrelloWorld, tmp_path: Path) -> None:
    world.emulator.faults.add("GET /1/members/me", "rate_limit", retry_after=37)
    with pytest.raises(RateLimited) as err:
        _api(world, tmp_path).get("/members/me", "read your Trello member")
    assert (err.value.until - NOW).total_seconds() == 37


def test_the_token_window_is_real_100_per_10_seconds(world: TrelloWorld, tmp_path: Path) -> None:
    api = _api(world, tmp_path)
    for _ in range(100):
        api.get("/members/me", "read")
    with pytest.raises(RateLimited) as err:
        api.get("/members/me", "read")
    assert err.value.detail == "API_TOKEN_LIMIT_EXCEEDED"
    world.clock.advance(10)
    assert api.get("/members/me", "read")["username"] == "idqueue-bot"


def test_the_key_window_is_300_per_10_seconds_across_tokens(world: TrelloWorld, tmp_path: Path) -> None:
    world.emulator.token_limit = 1000  # one key, many tokens: the key's limit bites first
    api = _api(world, tmp_path)
    for _ in range(300):
        api.get("/members/me", "read")
    with pytest.raises(RateLimited) as err:
        api.get("/members/me", "read")
    assert err.value.detail == "API_KEY_LIMIT_EXCEEDED"


def test_5xx_and_timeouts(world: TrelloWorld, tmp_path: Path) -> None:
    api = _api(world, tmp_path)
    world.emulator.faults.add("GET /1/members/me", status=503, body={"message": "down"})
    with pytest.raises(Unavailable):
        api.get("/members/me", "read")
    world.emulator.faults.add("GET /1/members/me", "timeout", seconds=1.5)
    with pytest.raises(Unavailable) as read_err:
        api.get("/members/me", "read")
    assert not isinstance(read_err.value, TimedOut)
    list_id = next(iter(world.boards["acme"].lists))
    world.emulator.faults.add("POST /1/cards", "timeout", seconds=1.5)
    with pytest.raises(TimedOut):  # a write that timed out may still land
        api.post("/cards", "create a card", {"idList": list_id, "name": "x"})


def test_malformed_json_is_bad_payload(world: TrelloWorld, tmp_path: Path) -> None:
    world.emulator.faults.add("GET /1/members/me", "malformed")
    with pytest.raises(BadPayload) as err:
        _api(world, tmp_path).get("/members/me", "read")
    _no_secret(str(err.value))


def test_unreachable_trello(world: TrelloWorld, tmp_path: Path) -> None:
    api = _api(world, tmp_path, base_url="http://127.0.0.1:9/1")
    with pytest.raises(Unavailable) as err:
        api.get("/members/me", "read")
    _no_secret(str(err.value))
