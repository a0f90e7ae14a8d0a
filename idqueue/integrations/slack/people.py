"""Who can be assigned on Slack beyond the roster: the workspace's users.

A Slack user id (``U0123ABCD``) is checked with ``users.info``; an ``@name`` (handle, display
name or real name) with ``users.list``; the assign picker lists a channel's members
(``conversations.members``, named through ``users.list``). Through slack-sdk's ``WebClient``,
read-only. Failures are one readable :class:`~idqueue.integrations.planning.ActionError` line;
the token never shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idqueue.config import Settings
from idqueue.integrations.planning import ActionError, Assignee
from idqueue.safety import one_line

if TYPE_CHECKING:  # slack-sdk loads on the first look-up, not when the TUI starts
    from slack_sdk import WebClient

__all__ = ["SlackPeople"]

_MAX_PAGES = 20


def _slack_person(user: dict[str, Any]) -> Assignee | None:
    """A Slack ``objs_user`` as an assignee; None for bots, apps and deactivated accounts."""
    uid = user.get("id")
    if not isinstance(uid, str) or user.get("deleted") or user.get("is_bot") or user.get("is_app_user"):
        return None
    if uid == "USLACKBOT":
        return None
    raw = user.get("profile")
    profile: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = next(
        (str(v) for v in (user.get("real_name"), profile.get("real_name"), profile.get("display_name"),
                          user.get("name")) if isinstance(v, str) and v.strip()),
        uid,
    )
    return Assignee(key=uid, name=one_line(name, 60), slack=uid)


def _slack_names(user: dict[str, Any]) -> set[str]:
    """The names an ``@name`` may refer to: handle, display name, real name (casefolded)."""
    raw = user.get("profile")
    profile: dict[str, Any] = raw if isinstance(raw, dict) else {}
    names = (user.get("name"), user.get("real_name"), profile.get("display_name"), profile.get("real_name"))
    return {" ".join(n.split()).casefold() for n in names if isinstance(n, str) and n.strip()}


class SlackPeople:
    """Slack's directory for assigning off the roster (see the module docstring).

    Args:
        settings: the token and API root.
        timeout: HTTP timeout in seconds.
        client: a prepared ``WebClient`` (tests).
    """

    def __init__(self, settings: Settings, *, timeout: float = 10.0, client: WebClient | None = None) -> None:
        self.settings = settings
        self._timeout = timeout
        self._client = client
        self._users: list[dict[str, Any]] | None = None

    def close(self) -> None:
        """Nothing to release (slack-sdk opens a connection per call)."""

    def _web(self) -> WebClient:
        from slack_sdk import WebClient

        if self._client is None:
            token = self.settings.slack.token
            if token is None:
                raise ActionError("cannot look up Slack users: no Slack token configured (IDQUEUE_SLACK_TOKEN)")
            base = self.settings.slack.base_url
            self._client = WebClient(token=token.get_secret_value(), base_url=base if base.endswith("/") else base + "/",
                                     timeout=round(self._timeout))
        return self._client

    def _call(self, method: str, what: str, **params: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            resp = self._web().api_call(method, http_verb="GET", params=params)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error == "user_not_found":
                return {"ok": False, "error": "user_not_found"}
            raise ActionError(f"Slack refused to {what} ({one_line(str(error or 'error'), 40)})") from None
        except (SlackClientError, OSError) as exc:
            raise ActionError(f"cannot reach Slack to {what} ({type(exc).__name__})") from None
        data = resp.data
        if not isinstance(data, dict):
            raise ActionError(f"Slack sent an unexpected answer while trying to {what}")
        return data

    def _pages(self, method: str, what: str, key: str, **params: Any) -> list[Any]:
        """Every page of a cursor-paginated list (``members`` of ``users.list``…), bounded."""
        found: list[Any] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            data = self._call(method, what, **params, limit=200, **({"cursor": cursor} if cursor else {}))
            found.extend(data.get(key) or [])
            meta = data.get("response_metadata")
            cursor = str(meta.get("next_cursor") or "") if isinstance(meta, dict) else ""
            if not cursor:
                break
        return found

    def user(self, user_id: str) -> Assignee | None:
        """A Slack user by id (``users.info``); None when there is no such (active, human) user."""
        data = self._call("users.info", f"look up {user_id}", user=user_id)
        user = data.get("user")
        return _slack_person(user) if data.get("ok") and isinstance(user, dict) else None

    def _all_users(self) -> list[dict[str, Any]]:
        """Every workspace user (``users.list``, all pages), fetched once per instance."""
        if self._users is None:
            self._users = [u for u in self._pages("users.list", "list Slack users", "members") if isinstance(u, dict)]
        return self._users

    def by_name(self, name: str) -> list[Assignee]:
        """Active human Slack users whose handle, display name or real name is ``name``."""
        wanted = " ".join(name.removeprefix("@").split()).casefold()
        found = [_slack_person(u) for u in self._all_users() if wanted in _slack_names(u)]
        return [p for p in found if p is not None]

    def channel_members(self, channel: str) -> list[Assignee]:
        """The active human members of a channel (``conversations.members`` + ``users.list``)."""
        ids = [m for m in self._pages("conversations.members", f"list the members of {channel}", "members",
                                      channel=channel) if isinstance(m, str)]
        by_id = {u.get("id"): u for u in self._all_users()}
        people = [_slack_person(by_id[i]) for i in dict.fromkeys(ids) if i in by_id]
        return [p for p in people if p is not None]
