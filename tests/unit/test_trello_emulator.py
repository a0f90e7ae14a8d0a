"""The Trello emulator's answers checked against Trello's official OpenAPI description
(``tests/specs/trello.openapi.json``), and its behaviour where the description says nothing:
action filters and paging, rate-limit windows, webhook creation.

Known gaps of the description (the emulator follows Trello's real behaviour there):
``POST /cards/{id}/attachments`` answers one attachment object (the description says an array),
and errors are plain text (``invalid token``, ``The requested resource was not found.``) where
the description names a JSON ``Error``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT7
from test_emulator_conformance import SPECS, Spec
from trello_env import NOW, TrelloWorld, trello_world

from idqueue.integrations.trello.emulator import TRELLO_KEY, TRELLO_TOKEN


def _nullable_refs(node: Any) -> Any:
    """Two quirks of Trello's description, read as its authors meant them: ``{"$ref": …,
    "nullable": true}`` ("an id or null") becomes ``anyOf`` (a ``$ref`` hides its siblings in JSON
    Schema draft 7, which would forbid the null), and ``format: date`` on timestamps becomes
    ``date-time`` (the description's own examples are timestamps)."""
    if isinstance(node, list):
        return [_nullable_refs(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_refs(v) for k, v in node.items()}
    if out.get("format") == "date":  # Trello's "date" fields hold timestamps (its own examples do)
        out["format"] = "date-time"
    kind = out.get("type")
    if "$ref" in out and ((isinstance(kind, list) and "null" in kind) or "anyOf" in out):
        return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def spec() -> Spec:
    loaded = Spec(SPECS / "trello.openapi.json", lenient=False, uri="urn:idqueue:trello-spec")
    loaded.doc = _nullable_refs(loaded.doc)
    loaded.registry = Registry().with_resource(loaded.uri, DRAFT7.create_resource(loaded.doc))
    return loaded


@pytest.fixture
def world() -> Iterator[TrelloWorld]:
    with trello_world() as w:
        yield w


@pytest.fixture
def api(world: TrelloWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.emulator.url, params={"key": TRELLO_KEY, "token": TRELLO_TOKEN}) as c:
        yield c


def check(spec: Spec, path: str, method: str, resp: httpx.Response, *, schema: str | None = None,
          each: bool = False) -> Any:
    """The answer is a 200 whose body matches the operation's 200 schema (or ``schema``)."""
    assert resp.status_code == 200, resp.text[:300]
    escaped = path.replace("~", "~0").replace("/", "~1")
    assert method in spec.raw["paths"][path], f"{method} {path} is not in the description"
    pointer = schema or f"/paths/{escaped}/{method}/responses/200/content/application~1json/schema"
    body = resp.json()
    for item in (body if each else [body]):
        errors = spec.errors(pointer, item)
        assert errors == [], errors[:5]
    return body


def params_of(spec: Spec, path: str, method: str) -> set[str]:
    return {p["name"] for p in spec.raw["paths"][path][method].get("parameters", [])} | {
        p["name"] for p in spec.raw["paths"][path].get("parameters", [])}


def test_member_board_and_lists(spec: Spec, world: TrelloWorld, api: httpx.Client) -> None:
    check(spec, "/members/{id}", "get", api.get("/members/me"))
    board = world.boards["acme"]
    for ref in (board.id, board.short_link):
        assert check(spec, "/boards/{id}", "get", api.get(f"/boards/{ref}"))["id"] == board.id
    lists = check(spec, "/boards/{id}/lists", "get", api.get(f"/boards/{board.short_link}/lists"))
    assert [x["name"] for x in lists] == ["New Issues", "Up next", "Recently Completed"]
    assert {"filter", "fields"} <= params_of(spec, "/boards/{id}/lists", "get")


def test_cards_create_read_move_archive(spec: Spec, world: TrelloWorld, api: httpx.Client) -> None:
    board = world.boards["acme"]
    lists = {x.name: x.id for x in board.lists.values()}
    assert {"idList", "name", "desc", "pos", "urlSource"} <= params_of(spec, "/cards", "post")
    card = check(spec, "/cards", "post", api.post("/cards", json={
        "idList": lists["New Issues"], "name": "Export fails", "desc": "line\nidqueue-action: a1", "pos": "top",
        "urlSource": "https://mail.example/thread/1"}))
    assert card["idList"] == lists["New Issues"] and card["url"].startswith("https://trello.com/c/")
    check(spec, "/cards/{id}", "get", api.get(f"/cards/{card['id']}"))
    assert {"idList", "closed"} <= params_of(spec, "/cards/{id}", "put")
    moved = check(spec, "/cards/{id}", "put", api.put(f"/cards/{card['id']}", json={"idList": lists["Up next"]}))
    assert moved["idList"] == lists["Up next"]
    assert check(spec, "/cards/{id}", "put", api.put(f"/cards/{card['id']}", params={"closed": "true"}))["closed"]
    attachments = check(spec, "/cards/{id}/attachments", "get", api.get(f"/cards/{card['id']}/attachments"))
    assert [a["url"] for a in attachments] == ["https://mail.example/thread/1"]
    one = api.post(f"/cards/{card['id']}/attachments", json={"url": "https://slack.example/p1"})
    check(spec, "/cards/{id}/attachments", "post", one, schema="/components/schemas/Attachment")
    everything = check(spec, "/boards/{id}/cards/{filter}", "get", api.get(f"/boards/{board.id}/cards/all"),
                       schema="/components/schemas/Card", each=True)
    assert [c["id"] for c in everything] == [card["id"]]
    assert api.get(f"/boards/{board.id}/cards").json() == []  # open cards only: it is archived


def test_actions_shapes_filter_and_paging(spec: Spec, world: TrelloWorld, api: httpx.Client) -> None:
    state, board = world.state, world.boards["acme"]
    assert {"filter", "since", "before", "limit"} <= params_of(spec, "/boards/{boardId}/actions", "get")
    new_issues = state.list_named(board, "New Issues")
    card = state.create_card(new_issues.id, "Broken SSO", "desc")
    world.clock.advance(60)
    state.move_card(card, "Up next")
    world.clock.advance(60)
    state.comment(card, "Agreed with the customer for next week")
    world.clock.advance(60)
    state.archive(card)
    path = f"/boards/{board.id}/actions"
    actions = check(spec, "/boards/{boardId}/actions", "get", api.get(path), schema="/components/schemas/Action",
                    each=True)
    assert [a["type"] for a in actions] == ["updateCard", "commentCard", "updateCard", "createCard"]  # newest first
    archived, comment, move, created = actions
    assert archived["data"]["old"] == {"closed": False} and archived["data"]["card"]["closed"] is True
    assert comment["data"]["text"] == "Agreed with the customer for next week"
    assert move["data"]["old"] == {"idList": new_issues.id}
    assert move["data"]["listAfter"]["name"] == "Up next" and move["data"]["listBefore"]["name"] == "New Issues"
    assert created["data"]["list"]["name"] == "New Issues" and created["data"]["card"]["id"] == card.id
    moves = api.get(path, params={"filter": "updateCard:idList"}).json()
    assert [a["id"] for a in moves] == [move["id"]]
    page = api.get(path, params={"limit": 2}).json()
    rest = api.get(path, params={"limit": 2, "before": page[-1]["id"]}).json()
    assert [a["id"] for a in page + rest] == [a["id"] for a in actions]
    assert [a["id"] for a in api.get(path, params={"since": move["id"]}).json()] == [archived["id"], comment["id"]]
    since_date = (NOW + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert [a["id"] for a in api.get(path, params={"since": since_date}).json()] == [archived["id"], comment["id"]]
    assert api.get(path, params={"limit": 1001}).status_code == 400


def test_errors_are_trellos(world: TrelloWorld, api: httpx.Client) -> None:
    assert api.get("/boards/ZZZZ9999").status_code == 404
    assert api.get("/boards/not-an-id!").status_code == 400
    bad = httpx.get(f"{world.emulator.url}/members/me", params={"key": TRELLO_KEY, "token": "x"})
    assert (bad.status_code, bad.text) == (401, "invalid token")
    bad_key = httpx.get(f"{world.emulator.url}/members/me", params={"key": "0" * 32, "token": TRELLO_TOKEN})
    assert (bad_key.status_code, bad_key.text) == (401, "invalid key")


def test_rate_limit_bodies_and_headers(world: TrelloWorld, api: httpx.Client) -> None:
    world.emulator.token_limit = 3
    for n in range(3):
        ok = api.get("/members/me")
        assert int(ok.headers["x-rate-limit-api-token-remaining"]) == 2 - n
    limited = api.get("/members/me")
    assert limited.status_code == 429
    assert limited.json() == {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
    assert "retry-after" not in limited.headers
    world.clock.advance(10)
    assert api.get("/members/me").status_code == 200


class _Callback(BaseHTTPRequestHandler):
    status = 200

    def do_HEAD(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("status", [200, 404])
def test_webhook_creation_checks_the_callback_with_head(spec: Spec, world: TrelloWorld, api: httpx.Client,
                                                        status: int) -> None:
    handler = type("Handler", (_Callback,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/trello"
        assert {"callbackURL", "idModel", "description"} <= params_of(spec, "/webhooks/", "post")
        resp = api.post("/webhooks/", json={"callbackURL": url, "idModel": world.boards["acme"].id,
                                            "description": "idqueue"})
        if status == 200:
            hook = check(spec, "/webhooks/", "post", resp)
            assert hook["callbackURL"] == url and world.state.webhooks == [hook]
        else:
            assert resp.status_code == 400 and "did not return 200" in resp.text
            assert world.state.webhooks == []
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_never_reach_the_request_log(world: TrelloWorld, api: httpx.Client) -> None:
    api.get("/members/me")
    for call in world.emulator.calls:
        assert TRELLO_KEY not in str(call) and TRELLO_TOKEN not in str(call)
