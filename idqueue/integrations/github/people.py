"""Who can be assigned on GitHub beyond the roster: a repository's assignable users.

A login the triager types is checked with the repository's "check if a user can be assigned"
endpoint, ``GET /repos/{owner}/{repo}/assignees/{login}`` (204 yes, 404 no); the assign picker
lists ``GET /repos/{owner}/{repo}/assignees`` (every page). Over httpx, read-only. Failures are
one readable :class:`~idqueue.integrations.planning.ActionError` line; the token never shows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from idqueue.config import Settings
from idqueue.integrations.planning import ActionError, Assignee

if TYPE_CHECKING:  # httpx loads on the first look-up, not when the TUI starts
    import httpx

__all__ = ["GITHUB_LOGIN_RE", "GitHubPeople"]

GITHUB_LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
"""A GitHub login: letters, digits and single hyphens, at most 39 characters."""
_MAX_PAGES = 20


class GitHubPeople:
    """GitHub's directory for assigning off the roster (see the module docstring).

    Args:
        settings: the token and API root.
        timeout: HTTP timeout in seconds.
        client: a prepared ``httpx.Client`` whose base URL is the API root (tests).
    """

    def __init__(self, settings: Settings, *, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._timeout = timeout
        self._client = client

    def close(self) -> None:
        """Release the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        import httpx

        if self._client is None:
            token = self.settings.github.token
            if token is None:
                raise ActionError("cannot check GitHub logins: no GitHub token configured (IDQUEUE_GITHUB_TOKEN)")
            self._client = httpx.Client(
                base_url=self.settings.github.base_url.rstrip("/") + "/",
                headers={"Authorization": f"Bearer {token.get_secret_value()}",
                         "Accept": "application/vnd.github+json", "User-Agent": "idqueue"},
                timeout=self._timeout,
            )
        return self._client

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        import httpx

        try:
            return self._http().get(path.lstrip("/"), params=params)
        except httpx.HTTPError as exc:
            raise ActionError(f"cannot reach GitHub to check the assignee ({type(exc).__name__})") from None

    @staticmethod
    def _failed(resp: httpx.Response, what: str) -> ActionError:
        if resp.status_code in (401, 403):
            return ActionError(f"GitHub refused to {what} ({resp.status_code}): check the token and its scopes")
        return ActionError(f"GitHub answered {resp.status_code} while trying to {what}")

    def can_assign(self, repo: str, login: str) -> bool:
        """Whether ``login`` can be assigned to issues in ``repo`` (204 yes, 404 no)."""
        if not GITHUB_LOGIN_RE.match(login):
            return False
        resp = self._get(f"repos/{repo}/assignees/{quote(login, safe='')}")
        if resp.status_code == 204:
            return True
        if resp.status_code == 404:
            return False
        raise self._failed(resp, f"check @{login} in {repo}")

    def assignees(self, repo: str) -> list[Assignee]:
        """The users who can be assigned to issues in ``repo`` (every page)."""
        people: list[Assignee] = []
        for page in range(1, _MAX_PAGES + 1):
            resp = self._get(f"repos/{repo}/assignees", params={"per_page": 100, "page": page})
            if resp.status_code != 200:
                raise self._failed(resp, f"list who can be assigned in {repo}")
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
