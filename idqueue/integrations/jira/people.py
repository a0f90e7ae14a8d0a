"""Who can be assigned a Jira issue, for people off the roster (or without a ``jira`` field).

Jira assigns by account id (Cloud; a user name on Server/Data Center), which the roster's
``jira`` field holds. For anyone else, what the triager typed is looked up with Jira's
*Find users assignable to issues* (``GET /rest/api/3/user/assignable/search?issueKey=…&query=…``:
only people who may be assigned that very issue; ``username`` instead of ``query`` on
Server/DC), and only an **exact** match is taken: the email address, the display name (case and
spacing aside) or the account id. Jira matches prefixes, so "ana" finds Ana and Anabel: several
exact matches, or none, refuse with one line naming the candidates — never a guess. An email
address that Jira matched to exactly one person whose address the site hides (Cloud's profile
privacy) is that person: Jira compared the whole address.

:func:`assignable_people` lists everyone who can be assigned issues of a project (the same search
by ``project``), for the assign picker.
"""

from __future__ import annotations

from typing import Any

from idqueue.config import Settings
from idqueue.integrations.base import SourceError
from idqueue.integrations.jira.api import JiraApi
from idqueue.integrations.planning import ActionError, Assignee
from idqueue.safety import one_line

__all__ = ["assignable_people", "find_assignee"]

PAGE = 50
"""Users per page of the search (Jira's default ``maxResults``)."""
MAX_PAGES = 20
SHOWN = 5
"""Candidates named in a refusal."""


def _person(user: dict[str, Any]) -> Assignee | None:
    """A Jira user as an assignee (key and id: the account id, or the Server/DC user name)."""
    account = user.get("accountId") or user.get("name")
    if not isinstance(account, str) or not account or user.get("active") is False:
        return None
    name = one_line(str(user.get("displayName") or account), 60)
    return Assignee(key=account, name=name, ids={"jira": account})


def _label(user: dict[str, Any]) -> str:
    """How a refusal names a candidate: ``Ana Reyes <ana@example.org>`` or ``Ana Reyes (account id)``."""
    name = one_line(str(user.get("displayName") or "?"), 60)
    email = user.get("emailAddress")
    if isinstance(email, str) and email:
        return f"{name} <{one_line(email, 80)}>"
    return f"{name} ({one_line(str(user.get('accountId') or user.get('name') or '?'), 60)})"


class _Directory:
    """The user search of one Jira site (a short-lived client)."""

    def __init__(self, settings: Settings) -> None:
        try:
            self.api = JiraApi(settings, timeout=10.0)
        except SourceError as exc:
            raise ActionError(f"cannot ask Jira who can be assigned: {exc.title}") from None

    def __enter__(self) -> _Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.close()

    def search(self, key: str, *, query: str | None = None, account: str | None = None,
               every_page: bool = False, project: str | None = None) -> list[dict[str, Any]]:
        """The users who can be assigned the issue ``key`` (or issues of ``project``) matching
        ``query`` (or with ``account``)."""
        params: dict[str, Any] = {"project": project} if project else {"issueKey": key}
        params["maxResults"] = PAGE
        if account is not None:
            params["accountId"] = account
        else:
            params["username" if self.api.version == "2" else "query"] = query or ""
        users: list[dict[str, Any]] = []
        for page in range(MAX_PAGES if every_page else 1):
            params["startAt"] = page * PAGE
            try:
                data = self.api.call("GET", "user/assignable/search", f"look up who can be assigned {key}",
                                     params=params)
            except SourceError as exc:
                raise ActionError(f"cannot ask Jira who can be assigned {key}: {exc.title}") from None
            rows = [u for u in data if isinstance(u, dict)] if isinstance(data, list) else []
            users.extend(rows)
            if len(rows) < PAGE:
                break
        return users


def _exact(text: str, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The users ``text`` names exactly: email, display name (case and spacing aside), account id."""
    wanted = " ".join(text.split()).casefold()
    return [u for u in users if wanted in {
        str(u.get("emailAddress") or "").casefold(),
        " ".join(str(u.get("displayName") or "").split()).casefold(),
        str(u.get("accountId") or u.get("name") or "").casefold()}]


def _names(users: list[dict[str, Any]]) -> str:
    shown = ", ".join(_label(u) for u in users[:SHOWN])
    return shown + (f" and {len(users) - SHOWN} more" if len(users) > SHOWN else "")


def find_assignee(settings: Settings, key: str, text: str, known: str = "") -> Assignee:
    """The one person ``text`` names who can be assigned the issue ``key``.

    Args:
        settings: the Jira site and credentials.
        key: the issue key (``ID-12``).
        text: what the triager typed: an email address, a display name (an ``@`` in front is
            ignored) or an account id.
        known: the end of a refusal (``; roster: …``).

    Raises:
        ActionError: nobody, or several people, match exactly (the line names the candidates),
            or Jira could not be asked.
    """
    typed = text.strip()
    bare = typed if "@" in typed[1:] else typed.removeprefix("@").strip()
    with _Directory(settings) as directory:
        users = directory.search(key, query=bare)
        found = _exact(bare, users)
        if not found and "@" in bare and len(users) == 1 and not users[0].get("emailAddress"):
            found = users  # the whole address matched a person whose address the site hides
        if not found and not users and " " not in bare and "@" not in bare:
            found = directory.search(key, account=bare)  # an account id
    people = [p for p in (_person(u) for u in found) if p is not None]
    if len(people) == 1:
        return people[0]
    if len(found) > 1:
        raise ActionError(f"{typed!r} matches {len(found)} Jira users who can be assigned {key}: {_names(found)}; "
                          f"give the email address or account id")
    if users:
        raise ActionError(f"{typed!r} names no Jira user exactly; who can be assigned {key} and matches it: "
                          f"{_names(users)}: type the full name, email address or account id{known}")
    raise ActionError(f"{typed!r} cannot be assigned {key}: no Jira user who can be assigned it matches{known}")


def assignable_people(settings: Settings, keys: list[str]) -> list[Assignee]:
    """Everyone who can be assigned issues of these issues' projects (one search per project,
    every page; in order, no repeats).

    Raises:
        ActionError: Jira could not be asked.
    """
    people: dict[str, Assignee] = {}
    with _Directory(settings) as directory:
        for project in dict.fromkeys(key.rsplit("-", 1)[0] for key in keys):
            for user in directory.search(project, query="", every_page=True, project=project):
                person = _person(user)
                if person is not None:
                    people.setdefault(person.key, person)
    return list(people.values())
