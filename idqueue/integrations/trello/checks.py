"""``idqueue doctor``'s Trello checks: the key and token log in, and every customer's board
exists for that token and has the customer's backlog list (where backlogged requests become
cards). Each returns a :class:`~idqueue.integrations.base.Check`; nothing raises and no secret
reaches a message.
"""

from __future__ import annotations

from idqueue.config import CustomerConfig, Settings
from idqueue.integrations.base import Check, SourceError
from idqueue.integrations.trello.api import TrelloApi
from idqueue.safety import one_line, redact

__all__ = ["check_board", "check_login", "doctor_checks"]


def _failed(name: str, exc: SourceError) -> Check:
    return Check(name, False, one_line(redact(exc.title), 240))


def check_login(api: TrelloApi) -> Check:
    """Whether the key and token log in (``GET /members/me``)."""
    try:
        me = api.get("/members/me", "read your Trello member", {"fields": "id,username,fullName"})
    except SourceError as exc:
        return _failed("login", exc)
    name = me.get("username") if isinstance(me, dict) else None
    if not name:
        return Check("login", False, "Trello sent no member for this token")
    return Check("login", True, f"key and token work (Trello member @{one_line(str(name), 60)})")


def check_board(api: TrelloApi, key: str, customer: CustomerConfig) -> Check:
    """Whether a customer's board exists for the token and has its backlog list (open)."""
    name = f"board {key}"
    ref = customer.trello_board or ""
    try:
        board = api.get(f"/boards/{ref}", f"read {key}'s board {ref}", {"fields": "id,name,url"})
        lists = api.get(f"/boards/{ref}/lists", f"read the lists of {key}'s board", {"filter": "open",
                                                                                   "fields": "id,name"})
    except SourceError as exc:
        return _failed(name, exc)
    title = one_line(str(board.get("name") if isinstance(board, dict) else ref), 60)
    names = [str(x.get("name")) for x in lists if isinstance(x, dict)] if isinstance(lists, list) else []
    if customer.backlog_list not in names:
        shown = ", ".join(f"'{one_line(n, 40)}'" for n in names) or "none"
        return Check(name, False, f"{title}: no open list '{one_line(customer.backlog_list, 60)}' (lists: {shown}); "
                                  f"set customers.{key}.backlog_list or add the list")
    return Check(name, True, f"{title}: backlog list '{one_line(customer.backlog_list, 60)}' found")


def doctor_checks(settings: Settings, *, skip: bool = False, timeout: float = 15.0) -> list[Check]:
    """Trello's checks: login when no board is configured (the reader's own check does it
    otherwise), then each customer's board and list. Nothing when Trello has no key and token,
    or when the reader's check already failed (``skip``)."""
    trello = settings.trello
    if trello.key is None or trello.token is None or skip:
        return []
    api = TrelloApi(settings, timeout=timeout)
    try:
        boards = [(key, c) for key, c in settings.customers.items() if c.trello_board]
        if not boards:
            login = check_login(api)
            note = Check("boards", False, "no customer has a trello_board: backlogged requests have nowhere to go "
                                          "(IDQUEUE_CUSTOMERS)")
            return [login, note]
        return [check_board(api, key, customer) for key, customer in boards]
    finally:
        api.close()
