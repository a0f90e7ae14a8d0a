"""``idqueue doctor``'s Jira checks: the credentials (``/myself``; Atlassian API tokens expire
within a year, so a 401 says so), access to the request and backlog projects, and the workflow
transitions ``jira.transitions`` relies on (looked up on one issue of the configured JQL: a target
is fine when that issue is in it or has a transition into it). Returns
:class:`~idqueue.integrations.base.Check` lines; nothing raises and no secret reaches a message.
"""

from __future__ import annotations

from idqueue.config import Settings
from idqueue.integrations.base import Check, SourceError
from idqueue.integrations.jira.api import JiraApi
from idqueue.integrations.jira.writer import reaches


def doctor_checks(settings: Settings, *, skip: bool = False, timeout: float = 15.0) -> list[Check]:
    """Jira's doctor checks (none when Jira is not configured, or when ``skip``: the reader's
    own check already failed and these would only say the same thing again)."""
    jira = settings.jira
    if skip or not jira.base_url or (jira.api_token is None and jira.pat is None):
        return []
    try:
        api = JiraApi(settings, timeout=timeout)
    except SourceError as exc:
        return [Check("credentials", False, exc.title)]
    try:
        return _run(api, settings)
    finally:
        api.close()


def _run(api: JiraApi, settings: Settings) -> list[Check]:
    checks: list[Check] = []
    try:
        me = api.call("GET", "myself", "read the account")
    except SourceError as exc:
        return [Check("token", False, exc.title)]
    name = me.get("displayName") if isinstance(me, dict) else None
    checks.append(Check("token", True, f"signed in as {name or 'an unnamed account'}"
                        + (" (API tokens expire within a year: note the date you made this one)"
                           if api.version == "3" else "")))
    jira = settings.jira
    for key, role in ((jira.project, "requests"), (jira.backlog_project, "backlog")):
        if not key or (role == "backlog" and key == jira.project):
            continue
        try:
            api.call("GET", f"project/{key}", f"read project {key}")
            checks.append(Check(f"{role} project", True, f"{key}: the account can see it"))
        except SourceError as exc:
            checks.append(Check(f"{role} project", False, f"{key}: {exc.title}"))
    checks.append(_transitions(api, settings))
    return checks


def _transitions(api: JiraApi, settings: Settings) -> Check:
    """Whether one issue of the JQL can reach every configured transition target."""
    jql = settings.jira.effective_jql
    if not jql:
        return Check("transitions", False, "no JQL or project configured to find an issue to check them on")
    try:
        path = "search/jql" if api.version == "3" else "search"
        found = api.call("POST", path, "run the configured JQL", body={"jql": jql, "maxResults": 1,
                                                                        "fields": ["status"]})
        issues = found.get("issues") if isinstance(found, dict) else None
        if not issues:
            return Check("transitions", True, "not checked: the JQL finds no issue yet")
        key = str(issues[0]["key"])
        status = (issues[0].get("fields") or {}).get("status") or {}
        data = api.call("GET", f"issue/{key}/transitions", f"read the transitions of {key}")
    except SourceError as exc:
        return Check("transitions", False, exc.title)
    except (KeyError, TypeError, AttributeError):
        return Check("transitions", False, "Jira sent an unreadable search answer")
    targets = [t.get("to") or {} for t in (data or {}).get("transitions") or [] if isinstance(t, dict)]
    missing = [f"{verb} → {target}" for verb, target in settings.jira.transitions.items()
               if not reaches(status, target) and not any(reaches(t, target) for t in targets)]
    if missing:
        reachable = ", ".join(sorted({str(t.get("name")) for t in targets})) or "none"
        return Check("transitions", False, f"{key} ({status.get('name')}) cannot reach {'; '.join(missing)} "
                     f"(it can go to: {reachable}); fix jira.transitions")
    return Check("transitions", True, f"every configured target is reachable from {key} ({status.get('name')})")
