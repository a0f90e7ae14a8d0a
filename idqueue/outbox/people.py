"""Who a request can be assigned to, beyond the roster: GitHub assignees and Slack users.

A team that has not written a roster can still assign. What the triager types is checked
where the request lives before anything is queued:

* a GitHub login (``ben-okafor`` or ``@ben-okafor``) with the repository's "check if a user
  can be assigned" endpoint, ``GET /repos/{owner}/{repo}/assignees/{login}`` (204 yes,
  404 no), over httpx;
* a Slack user id (``U0123ABCD``) with ``users.info``, and an ``@name`` (handle, display name
  or real name) with ``users.list``, through slack-sdk's ``WebClient``.

For the assign picker, :meth:`People.github_assignees` lists a repository's assignable users
(``GET /repos/{owner}/{repo}/assignees``) and :meth:`People.channel_members` a channel's
members (``conversations.members``, named through ``users.list``).

Failures map to :class:`~idqueue.outbox.models.ActionError` with one readable line; tokens
never appear in them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from idqueue.config import Settings
from idqueue.integrations.planning import Assignee
from idqueue.outbox.models import ActionError
from idqueue.safety import one_line

if TYPE_CHECKING:  # the clients load on the first look-up, not when the TUI starts
    import httpx
    from slack_sdk import WebClient

__all__ = ["GITHUB_LOGIN_RE", "SLACK_USER_ID_RE", "Assignee", "People"]

SLACK_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
"""A Slack user id (``U…`` or, on Enterprise Grid, ``W…``)."""
GITHUB_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
"""A GitHub login: letters, digits and single hyphens, at most 39 characters."""
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


class People:
    """Checks and lists people on GitHub and Slack (read-only API calls).

    Args:
        settings: tokens and API roots.
        timeout: HTTP timeout in seconds.
        slack: a prepared ``WebClient`` (tests); built from settings otherwise.
        github: a prepared ``httpx.Client`` whose base URL is the GitHub API root (tests).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,
        slack: WebClient | None = None,
        github: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self._timeout = timeout
        self._slack = slack
        self._github = github
        self._slack_users: list[dict[str, Any]] | None = None

    def close(self) -> None:
        """Release the GitHub HTTP connection pool."""
        if self._github is not None:
            self._github.close()
            self._github = None

    # ------------------------------------------------------------------ clients
    def _gh(self) -> httpx.Client:
        import httpx

        if self._github is None:
            token = self.settings.github.token
            if token is None:
                raise ActionError("cannot check GitHub logins: no GitHub token configured (IDQUEUE_GITHUB_TOKEN)")
            self._github = httpx.Client(
                base_url=self.settings.github.base_url.rstrip("/") + "/",
                headers={"Authorization": f"Bearer {token.get_secret_value()}",
                         "Accept": "application/vnd.github+json", "User-Agent": "idqueue"},
                timeout=self._timeout,
            )
        return self._github

    def _sl(self) -> WebClient:
        from slack_sdk import WebClient

        if self._slack is None:
            token = self.settings.slack.token
            if token is None:
                raise ActionError("cannot look up Slack users: no Slack token configured (IDQUEUE_SLACK_TOKEN)")
            base = self.settings.slack.base_url
            self._slack = WebClient(token=token.get_secret_value(), base_url=base if base.endswith("/") else base + "/",
                                    timeout=round(self._timeout))
        return self._slack

    def _gh_get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        import httpx

        try:
            return self._gh().get(path.lstrip("/"), params=params)
        except httpx.HTTPError as exc:
            raise ActionError(f"cannot reach GitHub to check the assignee ({type(exc).__name__})") from None

    @staticmethod
    def _gh_failed(resp: httpx.Response, what: str) -> ActionError:
        if resp.status_code in (401, 403):
            return ActionError(f"GitHub refused to {what} ({resp.status_code}): check the token and its scopes")
        return ActionError(f"GitHub answered {resp.status_code} while trying to {what}")

    def _slack_call(self, method: str, what: str, **params: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            resp = self._sl().api_call(method, http_verb="GET", params=params)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error == "user_not_found":
                return {"ok": False, "error": "user_not_found"}
            raise ActionError(f"Slack refused to {what} ({one_line(str(error or 'error'), 40)})") from None
        except SlackClientError as exc:
            raise ActionError(f"cannot reach Slack to {what} ({type(exc).__name__})") from None
        except OSError as exc:
            raise ActionError(f"cannot reach Slack to {what} ({type(exc).__name__})") from None
        data = resp.data
        if not isinstance(data, dict):
            raise ActionError(f"Slack sent an unexpected answer while trying to {what}")
        return data

    # ------------------------------------------------------------------ GitHub
    def github_assignable(self, repo: str, login: str) -> bool:
        """Whether ``login`` can be assigned to issues in ``repo`` (204 yes, 404 no)."""
        if not GITHUB_LOGIN_RE.match(login):
            return False
        resp = self._gh_get(f"repos/{repo}/assignees/{quote(login, safe='')}")
        if resp.status_code == 204:
            return True
        if resp.status_code == 404:
            return False
        raise self._gh_failed(resp, f"check @{login} in {repo}")

    def github_assignees(self, repo: str) -> list[Assignee]:
        """The users who can be assigned to issues in ``repo`` (every page)."""
        people: list[Assignee] = []
        for page in range(1, _MAX_PAGES + 1):
            resp = self._gh_get(f"repos/{repo}/assignees", params={"per_page": 100, "page": page})
            if resp.status_code != 200:
                raise self._gh_failed(resp, f"list who can be assigned in {repo}")
            data = resp.json()
            if not isinstance(data, list):
                raise ActionError(f"GitHub sent an unexpected list of assignees for {repo}")
            for user in data:
                login = user.get("login") if isinstance(user, dict) else None
                if isinstance(login, str) and user.get("type", "User") == "User":
                    people.append(Assignee(key=login, name=login, github=login))
            if len(data) < 100 or 'rel="next"' not in resp.headers.get("link", ""):
                break
        return people

    # ------------------------------------------------------------------ Slack
    def slack_user(self, user_id: str) -> Assignee | None:
        """A Slack user by id (``users.info``); None when there is no such (active, human) user."""
        data = self._slack_call("users.info", f"look up {user_id}", user=user_id)
        user = data.get("user")
        return _slack_person(user) if data.get("ok") and isinstance(user, dict) else None

    def _users(self) -> list[dict[str, Any]]:
        """Every workspace user (``users.list``, all pages), fetched once per instance."""
        if self._slack_users is None:
            users: list[dict[str, Any]] = []
            cursor = ""
            for _ in range(_MAX_PAGES):
                params: dict[str, Any] = {"limit": 200}
                if cursor:
                    params["cursor"] = cursor
                data = self._slack_call("users.list", "list Slack users", **params)
                users.extend(u for u in data.get("members") or [] if isinstance(u, dict))
                meta = data.get("response_metadata")
                cursor = str(meta.get("next_cursor") or "") if isinstance(meta, dict) else ""
                if not cursor:
                    break
            self._slack_users = users
        return self._slack_users

    def slack_by_name(self, name: str) -> list[Assignee]:
        """Active human Slack users whose handle, display name or real name is ``name``."""
        wanted = " ".join(name.removeprefix("@").split()).casefold()
        found = [_slack_person(u) for u in self._users() if wanted in _slack_names(u)]
        return [p for p in found if p is not None]

    def channel_members(self, channel: str) -> list[Assignee]:
        """The active human members of a channel (``conversations.members`` + ``users.list``)."""
        ids: list[str] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            params: dict[str, Any] = {"channel": channel, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            data = self._slack_call("conversations.members", f"list the members of {channel}", **params)
            ids.extend(m for m in data.get("members") or [] if isinstance(m, str))
            meta = data.get("response_metadata")
            cursor = str(meta.get("next_cursor") or "") if isinstance(meta, dict) else ""
            if not cursor:
                break
        by_id = {u.get("id"): u for u in self._users()}
        people = [_slack_person(by_id[i]) for i in dict.fromkeys(ids) if i in by_id]
        return [p for p in people if p is not None]
