"""Configuration: one pydantic-settings model.

Sources, in order of precedence (highest first):

1. ``IDQUEUE_*`` environment variables (nested keys use ``__``, e.g.
   ``IDQUEUE_SLA__AT_RISK_RATIO=0.8``); ``GITHUB_TOKEN``/``GH_TOKEN`` and ``SLACK_BOT_TOKEN``
   are accepted as fallbacks for the tokens;
2. the TOML file named by ``IDQUEUE_CONFIG_FILE`` (default: ``config.toml`` in the platform's
   user config dir);
3. the defaults below, which describe a VA-Identity-style team.

Tokens are :class:`~pydantic.SecretStr`: they print as ``**********`` and never reach logs.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import platformdirs
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from idqueue.safety import register_secret

APP_NAME = "idqueue"


class ConfigError(Exception):
    """The configuration is invalid; the message names the bad key."""


def default_config_file() -> Path:
    """The default TOML config path (platform user config dir)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_db_path() -> Path:
    """The default SQLite path (platform user data dir)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "idqueue.db"


class Section(BaseModel):
    """Base of every config table: an unknown key is an error, never silently dropped.

    A misspelt key (``on_asign``, ``lable``) would otherwise leave the default in force
    without a word; the error names the key and suggests the closest known one.
    """

    model_config = ConfigDict(extra="forbid")


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class TeamMember(Section):
    """A member of the support team (the roster)."""

    name: str
    """Display name, e.g. "Ana Reyes"."""
    github: str | None = None
    """GitHub login, used for assignment and to recognise team comments."""
    slack: str | None = None
    """Slack user id (``U…``), used for mentions and to recognise team replies."""
    email: str | None = None
    """Optional email, for the survey import's matching."""
    jira: str | None = None
    """Jira account id (``accountId``), used for assignment and to recognise team comments."""


class RotaConfig(Section):
    """Who is on triage when: explicit dates win over the repeating rota."""

    weekly: list[str] = Field(default_factory=list)
    """Roster keys in rotation order, one per week (Monday to Sunday)."""
    start: date = date(2026, 1, 5)
    """The Monday on which ``weekly[0]`` is on triage."""
    overrides: dict[date, list[str]] = Field(default_factory=dict)
    """Explicit days: date → roster keys on triage that day (swaps, holidays)."""
    per_week: int = 1
    """How many people are on triage at once (consecutive entries of ``weekly``)."""


class GitHubConfig(Section):
    """GitHub source settings."""

    token: SecretStr | None = None
    """A token with ``repo`` (or ``public_repo``) scope."""
    base_url: str = "https://api.github.com"
    """API root (GitHub Enterprise: ``https://HOST/api/v3``)."""
    repos: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Repositories to poll, ``owner/name``."""
    label: str | None = None
    """Only issues with this label are requests (e.g. ``Identity``)."""
    backlog_label: str = "backlog"
    """Label that marks an issue as moved to the backlog."""
    backlog_repo: str | None = None
    """Repo where Slack-only requests become issues when backlogged (default: first repo)."""
    web_url: str | None = None
    """Web root for links (derived from ``base_url`` when unset)."""
    per_page: int = Field(default=100, ge=1, le=100)
    """Page size for list calls."""
    bot_logins: list[str] = Field(default_factory=lambda: ["github-actions[bot]"])
    """Logins whose comments never count as a first response."""

    _csv = field_validator("repos", mode="before")(_split_csv)

    @field_validator("repos")
    @classmethod
    def _check_repos(cls, value: list[str]) -> list[str]:
        for repo in value:
            if repo.count("/") != 1 or not all(repo.split("/")):
                raise ValueError(f"{repo!r} is not owner/name")
        return value


class JiraConfig(Section):
    """Jira source and backlog settings (Jira Cloud REST v3; Server/Data Center by a PAT)."""

    base_url: str | None = None
    """The site, e.g. ``https://your-site.atlassian.net`` (request ids use its host)."""
    web_url: str | None = None
    """The site's address for people, when the API is reached at another one (a proxy, an API
    gateway, the sandbox): the ``/browse/KEY`` links and request ids use it. Default: ``base_url``."""
    email: str | None = None
    """Jira Cloud: the account's email, with ``api_token`` (basic auth)."""
    api_token: SecretStr | None = None
    """Jira Cloud: an API token (they expire within a year of their creation)."""
    pat: SecretStr | None = None
    """Server/Data Center: a personal access token (sent as a bearer token)."""
    project: str | None = None
    """The project key whose issues are requests (the default JQL reads it)."""
    jql: str | None = None
    """The requests' JQL (default ``project = <project> ORDER BY updated DESC``)."""
    backlog_project: str | None = None
    """Project key where backlogged Slack or email requests become issues (default: ``project``)."""
    backlog_issue_type: str = "Task"
    """Issue type of a backlog issue."""
    page_size: int = Field(default=50, ge=1, le=100)
    """``maxResults`` of one search page."""
    pending_statuses: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["Waiting for customer", "Pending"])
    """Statuses in which a request waits on its requester (the SLA clock pauses)."""
    transitions: dict[str, str] = Field(default_factory=lambda: {
        "pending": "Waiting for customer", "resume": "category:indeterminate",
        "close": "category:done", "reopen": "category:new", "backlog": "Backlog",
    })
    """What idqueue's verbs move an issue to: a target status name, or ``category:<key>`` for
    the first transition into a status of that category (``new``, ``indeterminate``, ``done``)."""
    bot_accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Account ids whose comments never count as a first response (automation rules)."""

    _csv = field_validator("pending_statuses", "bot_accounts", mode="before")(_split_csv)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value

    @property
    def effective_jql(self) -> str | None:
        """The JQL the source runs (None when neither ``jql`` nor ``project`` is set)."""
        if self.jql:
            return self.jql
        return f"project = {self.project} ORDER BY updated DESC" if self.project else None


class SlackConfig(Section):
    """Slack source settings."""

    token: SecretStr | None = None
    """Bot token (``xoxb-…``) with channels:history, users:read, chat:write, reactions:write."""
    app_token: SecretStr | None = None
    """Optional app-level token (``xapp-…``) for Socket Mode; polling is the fallback."""
    base_url: str = "https://slack.com/api/"
    """API root."""
    channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Intake channel ids (``C…``)."""
    intake_bot_ids: list[str] = Field(default_factory=list)
    """``bot_id``s (``B…``) or user ids of intake bots whose posts are requests."""
    intake_reaction: str = "ticket"
    """A teammate's reaction that turns a human message into a request."""
    lookback_hours: int = 72
    """How far back each poll re-reads history to see edits and deletions."""
    history_days: int = 31
    """How far back the first sync reads."""
    page_limit: int = Field(default=200, ge=1, le=1000)
    """Items per history page (non-Marketplace apps get at most 15)."""
    workspace_url: str | None = None
    """Web root for permalinks when ``chat.getPermalink`` is not used."""
    thread_checks_per_minute: float = Field(default=50.0, gt=0)
    """``conversations.replies`` calls a minute spent re-checking request threads (Slack's Tier 3,
    about 50 a minute for an internal app; set 1 for a non-Marketplace app, which Slack limits to
    one call a minute). Each poll may spend this times ``ui.poll_interval`` / 60 (at least one):
    open requests' threads first, most urgent first; what does not fit is reported as skipped."""

    _csv = field_validator("channels", mode="before")(_split_csv)


_TRELLO_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_TRELLO_SHORT = re.compile(r"^[A-Za-z0-9]{8}$")
_TRELLO_BOARD_URL = re.compile(r"^https?://(?:www\.)?trello\.com/b/([A-Za-z0-9]{8})(?:[/?#].*)?$")


def trello_board_ref(value: str) -> str:
    """A Trello board as the API addresses it: its id or short link (a board URL gives its short
    link, ``https://trello.com/b/AbCd1234/acme`` → ``AbCd1234``).

    Raises:
        ValueError: not a board id, short link or board URL.
    """
    text = value.strip()
    found = _TRELLO_BOARD_URL.match(text)
    if found:
        return found.group(1)
    if _TRELLO_ID.match(text) or _TRELLO_SHORT.match(text):
        return text
    raise ValueError(f"{value!r} is not a Trello board id, short link or board URL (https://trello.com/b/…)")


class TrelloConfig(Section):
    """Trello, the customers' backlog boards (``[trello]``)."""

    base_url: str = "https://api.trello.com/1"
    """API root."""
    key: SecretStr | None = None
    """The API key of your Trello Power-Up (https://trello.com/power-ups/admin)."""
    token: SecretStr | None = None
    """A user token authorised for that key (read and write on the customers' boards)."""
    webhook_secret: SecretStr | None = None
    """The Power-Up's secret, to verify the signature of Trello webhook calls (optional)."""
    callback_url: str | None = None
    """The public URL Trello webhooks call (optional; polling is used without it)."""


class CustomerConfig(Section):
    """A customer: who writes from where, and where their backlog lives (``[customers.<key>]``)."""

    name: str
    """Display name, e.g. "Acme Ltd"."""
    domains: list[str] = Field(default_factory=list)
    """Mail domains of the customer's staff (subdomains included), e.g. ``["acme.com"]``."""
    addresses: list[str] = Field(default_factory=list)
    """Single addresses that belong to this customer (they win over any domain)."""
    trello_board: str | None = None
    """The customer's Trello board: its id, short link or URL."""
    backlog_list: str = "New Issues"
    """The board's list where backlogged requests become cards."""
    sla_policy: str | None = None
    """Name of the SLA policy (``[[sla.policies]]``) for this customer's requests, if not the usual one."""

    @field_validator("domains")
    @classmethod
    def _check_domains(cls, value: list[str]) -> list[str]:
        out = []
        for raw in value:
            domain = raw.strip().lower().lstrip("@").rstrip(".")
            if not domain or "@" in domain or "." not in domain or any(c.isspace() for c in domain):
                raise ValueError(f"{raw!r} is not a mail domain (e.g. acme.com)")
            out.append(domain)
        return out

    @field_validator("addresses")
    @classmethod
    def _check_addresses(cls, value: list[str]) -> list[str]:
        out = []
        for raw in value:
            address = raw.strip().lower()
            local, at, domain = address.rpartition("@")
            if not at or not local or "." not in domain or any(c.isspace() for c in address):
                raise ValueError(f"{raw!r} is not a mail address")
            out.append(address)
        return out

    @field_validator("trello_board")
    @classmethod
    def _check_board(cls, value: str | None) -> str | None:
        return trello_board_ref(value) if value else None

    @field_validator("backlog_list")
    @classmethod
    def _check_list(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the backlog list name is empty")
        return value.strip()


class TemplateFieldMap(Section):
    """How one intake template's prompts map to typed fields."""

    name: str
    """Template name (e.g. ``1identity-help``)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Prompt text as written in the body (case-insensitive) → field key."""
    sections: dict[str, str] = Field(default_factory=dict)
    """Section heading (``## **Data Request**``) → request type it implies."""
    match: list[str] = Field(default_factory=list)
    """Substrings that identify a body as this template (case-insensitive; most hits wins)."""
    options: dict[str, list[str]] = Field(default_factory=dict)
    """Field key → the options the template lists under its prompt; the one the requester
    marked (``[x]``, bold, ✅, or the only one left) becomes the value, in this spelling."""
    prompts: list[str] = Field(default_factory=list)
    """Beginnings of the template's own instruction lines (case-insensitive): they are never
    answers, so a section that holds only them is not "answered"."""


_VA_LABELS: dict[str, str] = {
        "name": "name",
        "email address": "email",
        "email": "email",
        "team name": "team",
        "team": "team",
        "issue type": "issue_type",
        "type": "issue_type",
        "request type": "issue_type",
        "select issue type (for \"other\" stop here and provide details)": "issue_type",
        "additional details": "details",
        "details": "details",
        "provide additional details to describe your request (optional)": "details",
        "issue description": "description",
        "requested by": "requested_by",
        "which environment did you use to sign in?": "environment",
        "environment": "environment",
        "which user email did you use to sign in?": "user_email",
        "which credential service provider (csp) did you use?": "csp",
        "csp": "csp",
        "which browser(s) did you try to sign in with?": "browsers",
        "have you tried clearing your browser cache?": "cleared_cache",
        "have you tried clearing your browser cookies?": "cleared_cookies",
        "have you tried signing in incognito?": "tried_incognito",
        "does this impact veterans on production servers?": "impacts_production",
        "impacts veterans on production servers": "impacts_production",
        "impacts production": "impacts_production",
        "please provide a url to link to your pr:": "pr_url",
        "pr url": "pr_url",
        "have you tested your changes?": "tested",
        "what data do you need pulled?": "data_needed",
        "what data do you need pulled? please don't include any personal identifying information (pii)":
            "data_needed",
        "is this sensitive data that requires special permissions?": "sensitive_data",
        "provide the first and last name of the primary point of contact": "poc_name",
        "provide an email address for the primary point of contact": "poc_email",
        "does your application interact with end users, api's or both?": "app_users",
        "do you need to use our unified sign-in page (usip)?": "usip",
        "will your application be using our unified sign-in page?": "usip",
        "if your application is used by end users, is it used in a web browser?": "web_browser",
        "is the application used in a web browser": "web_browser",
        "is your authentication facilitated by a frontend or a secure backend?": "auth_backend",
        "briefly describe your application": "app_description",
    }
"""The VA template's prompts (and the ID Bot's and common variants) → field keys."""


def _va_template() -> TemplateFieldMap:
    # Labels are the VA template's prompts (research/features.md §c) plus the ID Bot's and
    # common variants; they are compared case-insensitively without trailing ":"/"?".
    return TemplateFieldMap(
        name="1identity-help",
        match=["**Issue Type:**", "**Team Name:**", "To properly assist with your issue", "Identity Help"],
        labels=dict(_VA_LABELS),
        options={
            "issue_type": ["Authentication Help", "Sign-In-Service Integration", "Pull Request Review",
                           "Data Request", "Other"],
            "environment": ["Local Host", "Development", "Review", "Staging", "Production"],
            "csp": ["Login.gov", "ID.me", "DSLogon", "My HealthVet"],
            "browsers": ["Chrome", "Safari", "Firefox", "MS Edge", "VA Mobile iOS", "VA Mobile Android", "Other"],
        },
        prompts=[
            "this is a github issue template",
            "review troubleshooting documentation",
            "provide additional details below",
            "provide additional informational information below",
            "we maintain a sign-in service overview",
            "if end users",
            "if so, your application",
            "if not, your application",
            "if frontend",
            "if backend",
            "the identity team maintains",
            "you may reach out to an identity team member",
            "please review the",
        ],
        sections={
            "authentication help request": "Test User / Mock Auth",
            "data request": "Data Pull",
            "pull review request": "PR Review",
            "pull request review": "PR Review",
            "sign-in service": "Sign-in Service / USiP",
            "begin onboarding": "Sign-in Service / USiP",
            "onboarding questionnaire": "Sign-in Service / USiP",
            "client configuration": "Sign-in Service / USiP",
            "service configuration": "Sign-in Service / USiP",
        },
    )


class TypeRule(Section):
    """Maps evidence to a request type."""

    type: str
    """The request type this rule yields."""
    field_values: list[str] = Field(default_factory=list)
    """Values of the ``issue_type`` intake field that mean this type. Case, punctuation, spacing
    and plurals do not matter ("USiP Question" matches "usip questions"); a value that contains
    one of them as whole words matches too, the longest one winning."""
    products: list[str] = Field(default_factory=list)
    """Product names: an ``issue_type`` value that names one means this type, ahead of any
    generic value it also contains ("Question about USiP" is about USiP, not a Help Request)."""
    labels: list[str] = Field(default_factory=list)
    """Labels that mean this type."""
    keywords: list[str] = Field(default_factory=list)
    """Words in the title/body that suggest this type (last resort)."""


def _default_type_rules() -> list[TypeRule]:
    return [
        TypeRule(type="PR Review", field_values=["pull request review", "pr review", "pull review request"],
                 labels=["pr-review"], keywords=["pull request", "PR review", "review my PR", "/pull/"]),
        TypeRule(type="Data Pull", field_values=["data request", "data pull"], labels=["data-request"],
                 keywords=["data pull", "pull data", "data request", "query", "export", "pull counts",
                           "pull the number", "counts of", "number of", "how many"]),
        TypeRule(type="Test User / Mock Auth", field_values=["authentication help", "test user", "mock auth"],
                 products=["Mock Auth"], labels=["auth-help"],
                 keywords=["mock auth", "test user", "sign in", "login.gov", "id.me", "dslogon"]),
        TypeRule(type="Sign-in Service / USiP",
                 field_values=["sign-in-service integration", "sign-in service integration", "sign-in service",
                               "usip", "usip questions", "begin onboarding process",
                               "register service configuration", "register client configuration"],
                 products=["USiP", "Sign-in Service", "Unified Sign-in Page"],
                 labels=["sis", "usip"], keywords=["sign-in service", "USiP", "onboarding", "client configuration"]),
        TypeRule(type="Bug Fix", field_values=["bug fix", "bug fixes", "bug"], labels=["bug"],
                 keywords=["bug", "error", "broken", "500 error", "exception", "fails", "not working",
                           "reproducible"]),
        TypeRule(type="Feature Request", field_values=["feature request", "feature requests"],
                 labels=["enhancement", "feature"], keywords=["feature request", "would be nice", "add support"]),
        TypeRule(type="Task Request", field_values=["task request", "task"], labels=["task"],
                 keywords=["please update", "rotate", "add me to", "allowlist", "add our team"]),
        TypeRule(type="Help Request", field_values=["help request", "help", "question"], labels=["question"],
                 keywords=["how do i", "how to", "question", "help", "can you look", "any idea",
                           "does anyone know"]),
        TypeRule(type="Other", field_values=["other"]),
    ]


class IntakeConfig(Section):
    """How requests are recognised, parsed and classified."""

    templates: list[TemplateFieldMap] = Field(default_factory=lambda: [_va_template()])
    """Per-template prompt → field mappings."""
    type_rules: list[TypeRule] = Field(default_factory=_default_type_rules)
    """Type classification rules, tried in order per evidence kind (fields, labels, keywords)."""
    default_type: str = "Other"
    """Type when nothing matches."""
    docs: dict[str, str] = Field(default_factory=dict)
    """Request type → documentation link, offered in templates."""


class CalendarConfig(Section):
    """Business hours for SLA clocks."""

    timezone: str = "America/New_York"
    """IANA timezone of the team."""
    start: time = time(9, 0)
    """Start of the business day."""
    end: time = time(17, 0)
    """End of the business day."""
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    """Working weekdays, Monday = 0."""
    holidays: list[date] = Field(default_factory=list)
    """Days off."""
    always_on: bool = False
    """24×7: ignore hours, weekends and holidays."""

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("workdays")
    @classmethod
    def _check_workdays(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= day <= 6 for day in value):
            raise ValueError("workdays must be a non-empty list of 0 (Monday) … 6 (Sunday)")
        return value

    @field_validator("end")
    @classmethod
    def _check_end(cls, value: time, info: Any) -> time:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError(f"end {value} must be after start {start} (overnight hours are not supported)")
        return value


class SlaPolicy(Section):
    """First-response and resolution targets for matching requests."""

    name: str
    """Shown in the detail pane and reports."""
    types: list[str] = Field(default_factory=list)
    """Request types it applies to (empty = any)."""
    priorities: list[str] = Field(default_factory=list)
    """Priorities it applies to (empty = any)."""
    impacts_production: bool | None = None
    """If set, only requests whose "impacts production" field matches."""
    first_response: float = Field(default=8.0, gt=0)
    """Hours to first response (business hours unless ``calendar`` is ``24x7``)."""
    resolution: float = Field(default=48.0, gt=0)
    """Hours to resolution (backlog counts as resolved)."""
    resolution_calendar: Literal["business", "24x7"] = "24x7"
    """The 48-hour triage rule runs on the wall clock."""
    first_response_calendar: Literal["business", "24x7"] = "business"
    """Which calendar the first-response clock uses."""
    calendar: Literal["business", "24x7"] | None = None
    """Shorthand for both clocks: ``calendar = "24x7"`` makes an urgent policy count every hour,
    nights and weekends included (it wins over the two settings above)."""

    def model_post_init(self, __context: Any) -> None:
        if self.calendar is not None:
            self.first_response_calendar = self.calendar
            self.resolution_calendar = self.calendar


def _default_policies() -> list[SlaPolicy]:
    return [
        SlaPolicy(name="Urgent (production)", impacts_production=True, first_response=1.0),
        SlaPolicy(name="Engineering", types=["Bug Fix", "PR Review", "Test User / Mock Auth"], first_response=1.0),
        SlaPolicy(name="Urgent priority", priorities=["P1"], first_response=1.0),
        SlaPolicy(name="Standard", first_response=8.0),
    ]


class SlaConfig(Section):
    """SLA policies and the business calendar."""

    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    """Business hours, weekends, holidays, timezone."""
    policies: list[SlaPolicy] = Field(default_factory=_default_policies)
    """First matching policy wins."""
    at_risk_ratio: float = Field(default=0.75, gt=0, lt=1)
    """Share of a budget used after which a clock is at risk."""
    pending_labels: list[str] = Field(default_factory=lambda: ["pending", "waiting-on-requester"])
    """GitHub labels meaning "waiting on the requester" (the clock pauses)."""


class PriorityRule(Section):
    """A declarative priority rule; the first matching rule wins."""

    priority: Literal["P1", "P2", "P3", "P4"]
    name: str = ""
    """Shown as the reason."""
    types: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    impacts_production: bool | None = None
    sla_states: list[str] = Field(default_factory=list)


def _default_priority_rules() -> list[PriorityRule]:
    return [
        PriorityRule(priority="P1", name="impacts production", impacts_production=True),
        PriorityRule(priority="P1", name="outage keywords", keywords=["outage", "blocker", "sev1", "prod", "is down", "are down", "went down"]),
        PriorityRule(priority="P1", name="label priority:P1", labels=["priority:P1", "P1"]),
        PriorityRule(priority="P2", name="SLA breached", sla_states=["breached"]),
        PriorityRule(priority="P2", name="engineering request", types=["Bug Fix", "Test User / Mock Auth", "PR Review"]),
        PriorityRule(priority="P3", name="standard request", types=["Data Pull", "Sign-in Service / USiP", "Task Request", "Help Request"]),
        PriorityRule(priority="P4", name="feature request", types=["Feature Request", "Other"]),
    ]


class AutomationConfig(Section):
    """Messages idqueue posts by itself (the seed's Slackbot automation)."""

    on_assign: bool = True
    """Tell the requester who has their request."""
    on_assign_template: str = "assigned"
    on_close: bool = True
    """Tell the requester it is done, with the survey link."""
    on_close_template: str = "closed"
    on_backlog_template: str = "backlog"
    disabled_types: list[str] = Field(default_factory=list)
    """Request types for which no automatic messages are sent."""
    type_templates: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Per request type, other templates for the automatic messages: type → {"assign" | "close" |
    "backlog": template key}; an empty key turns that one message off for the type."""
    slack_reactions: dict[str, str] = Field(
        default_factory=lambda: {"taken": "eyes", "done": "white_check_mark", "backlog": "card_file_box"}
    )
    """Reaction added to the Slack request message per state."""
    slack_rating: bool = False
    """Ask for a 1–5 reaction rating in the closing Slack message."""


class SurveyConfig(Section):
    """The satisfaction survey."""

    url: str = "https://example.org/survey/identity-support"
    """Link put in closing messages."""
    columns: dict[str, str] = Field(
        default_factory=lambda: {"rating": "rating", "date": "date", "request": "request", "comment": "comment"}
    )
    """CSV column names for rating, date, request link or id, comment."""
    goal: float = 70.0
    """CSAT goal in percent."""


KeyContexts = dict[str, list[tuple[str, str]]]
"""Where keys are live together (e.g. ``queue``) → [(binding id, default keys)]."""


def check_keymap(keymap: dict[str, str], contexts: KeyContexts) -> None:
    """Refuse a keymap that names an unknown binding id or binds one key to two actions.

    The TUI passes the bindings it has (this module knows no screens). A key counts as bound
    twice only when two bindings live together and the user's keymap moved at least one of them
    there, so built-in overlaps between a screen and its dialogs stay allowed.

    Raises:
        ConfigError: one line naming the id or the key, with a suggestion for a typo.
    """
    from difflib import get_close_matches

    known = {bid for bindings in contexts.values() for bid, _ in bindings}
    for bid in keymap:
        if bid not in known:
            close = get_close_matches(bid, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (press ? in the TUI for the ids)"
            raise ConfigError(f"ui.keymap: unknown binding id {bid!r}{hint}")
    for context, bindings in contexts.items():
        owners: dict[str, str] = {}
        for bid, default in bindings:
            for key in (k.strip() for k in keymap.get(bid, default).split(",")):
                other = owners.setdefault(key, bid)
                if other != bid and (bid in keymap or other in keymap):
                    raise ConfigError(f"ui.keymap: key {key!r} is bound twice on the {context} screen "
                                      f"({other} and {bid})")


class SavedView(Section):
    """A named search shown as a tab in the TUI and usable as ``idqueue list --view NAME``."""

    name: str = Field(min_length=1)
    """Tab label and ``--view`` name (case-insensitive)."""
    query: str = ""
    """A search in the queue's search language, e.g. ``"is:mine is:open"`` or ``"priority:p1,p2 source:slack"``."""


class UiConfig(Section):
    """TUI preferences."""

    poll_interval: float = Field(default=60.0, ge=1.0)
    """Seconds between polls."""
    bell: bool = False
    """Ring the terminal bell on new requests."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id → keys, e.g. ``{"queue.assign" = "A"}``."""
    key_prefix: str = "REQ"
    """Prefix of the short keys (``REQ-42``)."""
    undo_seconds: float = Field(default=5.0, ge=0.0, le=60.0)
    """How long an action waits in the outbox before it is sent, so ``ctrl+z`` can undo it
    (0 sends at once and turns undo off). The action is stored at once: quitting meanwhile loses
    nothing, it is sent at the next start."""
    theme: str = "textual-dark"
    read_after: float = Field(default=1.5, ge=0.0, le=3600.0)
    """Seconds the cursor rests on a request before it counts as read (its read mark), so
    scrolling past does not; 0 marks it read at once."""


class EmailConfig(Section):
    """The support mailbox: read over IMAP, answered over SMTP (email is on when ``imap_host`` is set)."""

    imap_host: str | None = None
    """IMAP server (``imap.gmail.com``, ``outlook.office365.com``); unset turns email off."""
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    """IMAP port (default: 993 for ``ssl``, 143 otherwise)."""
    imap_security: Literal["ssl", "starttls", "none"] = "ssl"
    """``ssl`` (implicit TLS), ``starttls`` (upgrade a plain connection) or ``none`` (loopback only)."""
    smtp_host: str | None = None
    """SMTP server for replies (default: none, so replies wait until it is set)."""
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    """SMTP port (default: 465 for ``ssl``, 587 for ``starttls``, 25 for ``none``)."""
    smtp_security: Literal["ssl", "starttls", "none"] = "starttls"
    """How the SMTP connection is protected (as ``imap_security``)."""
    username: str | None = None
    """Login for IMAP and SMTP (default: ``address``)."""
    password: SecretStr | None = None
    """Password or app password, for IMAP and SMTP (a secret: never logged or stored)."""
    address: str | None = None
    """The support address (``support@example.com``): replies go out From it, and mail from it
    is the team's response."""
    display_name: str = ""
    """The name shown with ``address`` in a reply's From (default: the team name)."""
    mailbox: str = "INBOX"
    """The folder where requests arrive."""
    sent_mailbox: str = "Sent"
    """The sent folder: the team's replies are read from it, idqueue's are appended to it."""
    server_saves_sent: bool = False
    """True when the SMTP server files sent mail in the sent folder itself (Gmail, Microsoft
    365): idqueue then does not append its replies there."""
    bcc_self: bool = True
    """Send a blind copy of each reply to the support address, so a reply whose sending was
    interrupted before it was filed is still found in the mailbox and never sent twice."""
    thread_window_days: int = Field(default=14, ge=0)
    """Broken-threading fallback: a message without a known ``In-Reply-To``/``References`` joins
    the thread with the same normalised subject from the same sender domain within this many
    days (0 turns the fallback off)."""
    history_days: int = Field(default=90, ge=1)
    """How far back the first sync reads (``SINCE``)."""
    fetch_batch: int = Field(default=200, ge=1, le=5000)
    """Messages fetched per IMAP ``UID FETCH`` (one committed batch each)."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for an IMAP or SMTP server to answer."""

    @property
    def login(self) -> str | None:
        """The login name (``username``, else ``address``)."""
        return self.username or self.address

    def imap_port_or_default(self) -> int:
        """The IMAP port, defaulted from the security mode."""
        return self.imap_port or (993 if self.imap_security == "ssl" else 143)

    def smtp_port_or_default(self) -> int:
        """The SMTP port, defaulted from the security mode."""
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587}.get(self.smtp_security, 25)


class OutboxConfig(Section):
    """How the outbox sends (``[outbox]``; see "Actions and write-back" in the README).

    The defaults suit GitHub and Slack; tests shrink them to run in seconds.
    """

    request_timeout: float = Field(default=20.0, gt=0)
    """Seconds a write request may take before it counts as timed out."""
    inflight_horizon: float = Field(default=90.0, ge=0)
    """Seconds after a timed-out (or interrupted) write during which the destination may still
    apply it: nothing looks for it or sends it again before then (doubled on each further
    timeout of the same action)."""
    lease_seconds: float = Field(default=180.0, gt=0)
    """How long a sender's claim on an action holds without renewal (renewed while it works on
    the action); must exceed ``request_timeout + inflight_horizon``."""

    @model_validator(mode="after")
    def _lease_outlives_requests(self) -> OutboxConfig:
        if self.lease_seconds <= self.request_timeout + self.inflight_horizon:
            raise ValueError(
                f"outbox.lease_seconds ({self.lease_seconds:g}) must exceed outbox.request_timeout + "
                f"outbox.inflight_horizon ({self.request_timeout + self.inflight_horizon:g})")
        return self


NotifyEvent = Literal["new", "reply", "at_risk", "breached"]
_ALL_EVENTS: tuple[NotifyEvent, ...] = ("new", "reply", "at_risk", "breached")


class NotifyConfig(Section):
    """Messages to the team's support channel about the queue itself (``[notify]``).

    One message per request and event, never twice: the first is a top-level message in the
    channel, later ones reply in its thread. Off while ``channel`` is empty.
    """

    channel: str = ""
    """The Slack channel id (``C…``) to post to; empty: no notifications."""
    events: Annotated[list[NotifyEvent], NoDecode] = Field(default_factory=lambda: list(_ALL_EVENTS))
    """Which events are announced: a new request, a new message from the requester (or anyone
    outside the team) on one, one that turns at risk, one that breaches."""
    types: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Only requests of these types (empty: every type)."""
    customers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Only requests of these customers, by key in ``[customers]`` (empty: every request)."""
    since: datetime | None = None
    """Announce only requests created, and SLA lines crossed, from then on. Default: the moment
    notifications to this channel were first turned on (recorded in the database), so turning
    them on never announces the whole backlog."""

    _csv = field_validator("events", "types", "customers", mode="before")(_split_csv)

    @field_validator("channel")
    @classmethod
    def _check_channel(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[CG][A-Z0-9]{2,}", value):
            raise ValueError(f"{value!r} is not a Slack channel id (C… or G…; not a #name)")
        return value

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class WebhooksConfig(Section):
    """Signed push receivers of the team service, ``POST /hooks/<system>`` (``[webhooks]``).

    A receiver is mounted only when its system's secret is set. A delivery is a hint: it names
    the items that changed and wakes that system's poll, which reads the truth from the API.
    """

    slack_signing_secret: SecretStr | None = None
    """The Slack app's Signing Secret (Basic Information → App Credentials): ``/hooks/slack``."""
    github_secret: SecretStr | None = None
    """The secret given to the GitHub repository's (or organisation's) webhook: ``/hooks/github``."""
    trello_secret: SecretStr | None = None
    """The Trello Power-Up's secret, which signs its webhook calls: ``/hooks/trello``
    (``trello.webhook_secret`` is read when this is unset)."""
    jira_secret: SecretStr | None = None
    """The secret given to the Jira webhook (Jira settings → System → WebHooks): ``/hooks/jira``."""
    public_url: str | None = None
    """The service's address as the outside world calls it, e.g. ``https://idqueue.example.org``
    (behind a proxy the service cannot know it). Trello signs the callback URL, so its receiver
    needs it: ``<public_url>/hooks/trello`` (or ``trello.callback_url`` exactly as registered)."""
    max_body: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    """The largest delivery accepted, in bytes (larger ones are refused with 413 unread)."""

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.strip()
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError(f"{value!r} is not an http(s) URL without query or fragment")
        return value.rstrip("/")


class BacklogConfig(Section):
    """Where backlogged requests are tracked when they cannot be backlogged in place (``[backlog]``)."""

    destination: str = ""
    """The integration that keeps the backlog (``github``: an issue in ``github.backlog_repo``;
    ``trello``, ``jira`` where registered). Empty: the first registered integration that can be
    one and is writable (GitHub when it has a token)."""


class WebConfig(Section):
    """The queue in a browser (``[web]``; ``idqueue web``): who may open it and as whom.

    Nobody gets in without one of the two: a ``secret`` (or personal ``tokens``), or a
    ``trusted_header`` set by an authenticating reverse proxy. A person on the roster works
    as themselves; anyone else only reads (``read_only``).
    """

    secret: SecretStr | None = None
    """The shared secret (``IDQUEUE_WEB__SECRET``): whoever signs in with it views the queue
    read-only."""
    tokens: dict[str, SecretStr] = Field(default_factory=dict)
    """Personal sign-in tokens: roster key → token (``[web.tokens]``, ``IDQUEUE_WEB__TOKENS``
    as JSON). Whoever signs in with one works as that team member."""
    trusted_header: str | None = None
    """The header naming the signed-in person (e.g. ``X-Forwarded-User``), honoured only when
    set. Set it only behind a reverse proxy that authenticates everyone and sets (or strips)
    this header on every request: anyone who can reach idqueue directly could send it."""
    session_days: float = Field(default=14.0, gt=0, le=366)
    """How long a browser stays signed in after the secret or a token was given."""
    max_sessions: int = Field(default=20, ge=1, le=1000)
    """Browser sessions at once (each runs its own idqueue process, about 100 MB)."""

    @field_validator("tokens")
    @classmethod
    def _register_tokens(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # Their table keys are roster keys, so the config file's secret scan cannot see them.
        for token in value.values():
            if len(token.get_secret_value()) < 16:
                raise ValueError("a web token must be at least 16 characters (e.g. `openssl rand -hex 16`)")
            register_secret(token.get_secret_value())
        return value

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the web secret must be at least 16 characters (e.g. `openssl rand -hex 16`)")
        return value

    @field_validator("trusted_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value or None


class Settings(BaseSettings):
    """All of idqueue's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="IDQUEUE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    config_file: Path | None = None
    """TOML config path (``IDQUEUE_CONFIG_FILE``)."""
    db: Path = Field(default_factory=default_db_path)
    """SQLite path (``IDQUEUE_DB``)."""
    database_url: SecretStr | None = None
    """A ``postgresql://user:password@host:port/dbname`` URL (``IDQUEUE_DATABASE_URL``): use that
    PostgreSQL database instead of the SQLite file ``db`` (team mode). Secret: it may hold a
    password, so it is never printed."""
    now: str | None = None
    """Frozen "now" (ISO 8601) for demos, screenshots and tests (``IDQUEUE_NOW``)."""
    busy_timeout: float = Field(default=10.0, gt=0, le=3600)
    """Seconds a command waits for another idqueue process's write to the database to end
    before it gives up with "the database is locked" (``IDQUEUE_BUSY_TIMEOUT``)."""
    me: str | None = None
    """Your roster key (who "take" assigns)."""
    team_name: str = "Identity"
    """Shown in templates and reports."""
    team: dict[str, TeamMember] = Field(default_factory=dict)
    """The roster: key → member."""
    rota: RotaConfig = Field(default_factory=RotaConfig)
    github: GitHubConfig = Field(default_factory=GitHubConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    trello: TrelloConfig = Field(default_factory=TrelloConfig)
    customers: dict[str, CustomerConfig] = Field(default_factory=dict)
    """Customers (``IDQUEUE_CUSTOMERS``, JSON): key → name, mail domains and addresses, Trello board."""
    jira: JiraConfig = Field(default_factory=JiraConfig)
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    priority_rules: list[PriorityRule] = Field(default_factory=_default_priority_rules)
    templates_dir: Path | None = None
    """The team's own response templates (override shipped ones by key)."""
    automation: AutomationConfig = Field(default_factory=AutomationConfig)
    survey: SurveyConfig = Field(default_factory=SurveyConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    backlog: BacklogConfig = Field(default_factory=BacklogConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    views: list[SavedView] = Field(default_factory=list)
    """Saved views (``[[views]]`` tables with ``name`` and ``query``), in tab order."""
    history_months: int = 13
    """How far back closed items are backfilled for metrics."""
    sandbox: bool = False
    """Set by ``idqueue demo``: the sources are the built-in emulators."""
    web: WebConfig = Field(default_factory=WebConfig)
    team_client: Literal["auto", "on", "off"] = "auto"
    """Whether this TUI or CLI is a *client* of a team service (``IDQUEUE_TEAM_CLIENT``): a client
    never polls the APIs or sends the outbox itself (``idqueue serve`` does), it only reads the
    shared store and queues actions. ``auto`` (the default): a client exactly when
    ``database_url`` is set; ``on``/``off`` force it (see :func:`team_client`)."""
    read_only: bool = False
    """Refuse every action that would change anything (``IDQUEUE_READ_ONLY=1``): ``idqueue web``
    sets it for a browser session of someone who is not on the roster."""

    # Flat aliases from the env-var contract (DESIGN.md).
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("IDQUEUE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"),
        exclude=True,
    )
    github_base_url: str | None = Field(default=None, exclude=True)
    github_repos: Annotated[list[str] | None, NoDecode] = Field(default=None, exclude=True)
    github_label: str | None = Field(default=None, exclude=True)
    slack_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("IDQUEUE_SLACK_TOKEN", "SLACK_BOT_TOKEN"), exclude=True
    )
    slack_base_url: str | None = Field(default=None, exclude=True)
    slack_channels: Annotated[list[str] | None, NoDecode] = Field(default=None, exclude=True)

    _csv = field_validator("github_repos", "slack_channels", mode="before")(_split_csv)

    @field_validator("me")
    @classmethod
    def _blank_me(cls, value: str | None) -> str | None:
        # IDQUEUE_ME="" clears a `me` from the config file (a browser viewer is nobody on the roster).
        return value.strip() or None if value is not None else None

    @field_validator("now")
    @classmethod
    def _check_now(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC).astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"{value!r} is not an ISO 8601 date-time (e.g. 2026-03-02T14:00:00Z)") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def model_post_init(self, __context: Any) -> None:
        """Fold the flat env-var contract into the nested sections."""
        gh, sl = self.github, self.slack
        if self.github_token is not None:
            gh.token = self.github_token
        if self.github_base_url:
            gh.base_url = self.github_base_url
        if self.github_repos is not None:
            try:
                GitHubConfig.model_validate({"repos": self.github_repos})
            except ValidationError as exc:
                raise ValueError(f"github_repos (IDQUEUE_GITHUB_REPOS): {exc.errors()[0]['msg']}") from None
            gh.repos = self.github_repos
        if self.github_label is not None:
            gh.label = self.github_label or None
        if self.slack_token is not None:
            sl.token = self.slack_token
        if self.slack_base_url:
            sl.base_url = self.slack_base_url
        if self.slack_channels is not None:
            sl.channels = self.slack_channels
        _check_customers(self.customers, {p.name for p in self.sla.policies})
        for key in (self.me, *self.rota.weekly):
            if key is not None and self.team and key not in self.team:
                raise ValueError(f"me/rota: {key!r} is not in [team]")
        for key in self.web.tokens:
            if self.team and key not in self.team:
                raise ValueError(f"web.tokens: {key!r} is not in [team] (a personal token is a team member's)")

    def member_by_github(self, login: str) -> str | None:
        """The roster key of a GitHub login."""
        low = login.lower()
        return next((k for k, m in self.team.items() if m.github and m.github.lower() == low), None)

    def member_by_slack(self, user_id: str) -> str | None:
        """The roster key of a Slack user id."""
        return next((k for k, m in self.team.items() if m.slack == user_id), None)

    def github_web_url(self) -> str:
        """Web root for issue links."""
        if self.github.web_url:
            return self.github.web_url.rstrip("/")
        base = self.github.base_url.rstrip("/")
        if base == "https://api.github.com":
            return "https://github.com"
        return base.removesuffix("/api/v3")


def _check_customers(customers: dict[str, CustomerConfig], policies: set[str]) -> None:
    """A domain or address claimed by two customers is ambiguous, and an SLA policy must exist:
    refuse either, naming what is wrong."""
    owner: dict[str, str] = {}
    for key, customer in customers.items():
        if customer.sla_policy is not None and customer.sla_policy not in policies:
            known = ", ".join(repr(p) for p in sorted(policies)) or "none"
            raise ValueError(f"customers.{key}.sla_policy: no SLA policy named {customer.sla_policy!r} "
                             f"(known: {known})")
        for name in (*customer.domains, *customer.addresses):
            if name in owner and owner[name] != key:
                raise ValueError(f"customers: {name!r} belongs to both {owner[name]!r} and {key!r}")
            owner[name] = key


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by ``IDQUEUE_CONFIG_FILE`` (or the default path)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env_path = os.environ.get("IDQUEUE_CONFIG_FILE")
        path = Path(env_path) if env_path else default_config_file()
        if not path.exists():
            if env_path:
                raise ConfigError(f"config_file: {path} does not exist")
            return {}
        if path.is_dir():
            raise ConfigError(f"config_file: {path} is a folder, not a TOML file")
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config_file: {path} is not valid TOML ({exc})") from exc
        except UnicodeDecodeError:
            raise ConfigError(f"config_file: {path} is not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"config_file: cannot read {path} ({exc.strerror or exc})") from None
        register_config_secrets(data)
        data["config_file"] = path
        return data


def _format_validation_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    msg = err["msg"].replace("Value error, ", "")
    if err["type"] == "extra_forbidden":
        msg = _unknown_key_message(tuple(err["loc"]))
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def _unknown_key_message(loc: tuple[str | int, ...]) -> str:
    """"unknown key" with the closest known key of that table and the env variable, if set."""
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]).lower(), known, n=1, cutoff=0.6)
    msg = "unknown key"
    if close:
        msg += f" (did you mean {close[0]!r}?)"
    env = "IDQUEUE_" + "__".join(str(part) for part in loc).upper()
    if env in os.environ:
        msg += f" (from {env})"
    return msg


def _known_keys(table: tuple[str | int, ...]) -> list[str]:
    """The field names of the config table at ``table`` (dict keys and list indexes skipped)."""
    model: type[BaseModel] | None = Settings
    for part in table:
        if model is None:
            return []
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        if field is not None:
            model = _inner_model(field.annotation)
    return sorted(model.model_fields) if model is not None else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation such as ``GitHubConfig``, ``list[SlaPolicy]`` or
    ``dict[str, TeamMember]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


_SECRET_KEY = re.compile(r"(?i)(token|password|secret|api_key|(^|_)pat$|(^|_)key$)")
"""Setting names whose values are secrets (``token``, ``app_token``, ``password``, ``pat``, ``key``…)."""


def register_config_secrets(data: Any, name: str = "") -> None:
    """Register with :func:`~idqueue.safety.register_secret` every secret-named value in
    ``data`` (a TOML table, nested), so errors never echo it, even when it is misplaced."""
    if isinstance(data, dict):
        for key, value in data.items():
            register_config_secrets(value, str(key))
    elif isinstance(data, list):
        for value in data:
            register_config_secrets(value, name)
    elif isinstance(data, str) and _SECRET_KEY.search(name):
        register_secret(data)


def _register_env_secrets() -> None:
    for name, value in os.environ.items():
        if name.startswith("IDQUEUE_") or name in ("GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN"):
            register_config_secrets({name.rsplit("__", 1)[-1].removeprefix("IDQUEUE_"): value})


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from env, the TOML file and defaults.

    Every secret it reads (tokens, passwords) is registered for redaction first, so neither a
    config error nor a later message can echo it.

    Raises:
        ConfigError: with a one-line message naming the bad key.
    """
    _register_env_secrets()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


TEAM_CLIENT_REFUSAL = ("team mode: the team service (`idqueue serve`) syncs and sends; this command would "
                       "poll/send beside it (--force does it anyway)")
"""What ``sync`` and ``outbox --send`` say in a client of the team service without ``--force``."""


def team_client(settings: Any) -> bool:
    """True when this process is a client of the team service: it reads the shared store and
    queues actions, and never polls the APIs or sends the outbox itself.

    ``team_client = "auto"`` (the default) means: exactly when a ``database_url`` is set.
    """
    mode = getattr(settings, "team_client", "auto")
    if mode != "auto":
        return bool(mode == "on")
    url = getattr(settings, "database_url", None)
    return bool(url is not None and url.get_secret_value().strip())
