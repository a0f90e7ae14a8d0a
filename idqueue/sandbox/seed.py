"""The seeded support month: a realistic VA-Identity-style queue for the sandbox and tests.

Everything is deterministic (a fixed random seed) and placed relative to ``now``: about 50
requests of every type over the last ~35 days, through the three intake paths the seeds
describe (the ID Bot's Slack post + GitHub issue + thread reply; GitHub-only issues from the
support template; Slack-only human messages a teammate marked with ``:ticket:``), with
responses, assignments, pending, backlog and closed items, SLA-breached and at-risk ones,
brand-new ones, chatter that is not a request, pull requests to ignore and hostile text.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from idqueue.sandbox.github_emulator import GitHubState
from idqueue.sandbox.slack_emulator import SlackState

SEED = 20240405
ORG = "va-identity"
SUPPORT_REPO = "va-identity/support"
BACKLOG_REPO = "va-identity/backlog"
LABEL = "Identity"
BACKLOG_LABEL = "backlog"
PENDING_LABEL = "pending"
CHANNEL = "C0IDENTITY"
CHANNEL_NAME = "vsp-identity"
SUPPORT_CHANNEL = "C0SUPPORT"
SUPPORT_CHANNEL_NAME = "identity-support"
INTAKE_BOT_USER = "U0IDBOT"
INTAKE_BOT_ID = "B0IDBOT01"
"""The ID Bot's ``bot_id`` (Slack bot ids are ``B`` + at least 8 characters)."""
INTAKE_BOT_NAME = "ID Bot"
GITHUB_BOT = "identity-support-bot[bot]"
"""The GitHub account the ID Bot creates issues as."""
WEB_URL = "https://github.com"
WORKSPACE_URL = "https://idqueue-sandbox.slack.com/"
SURVEY_URL = "https://example.org/survey/identity-support"
TEAM_TZ = ZoneInfo("America/New_York")


@dataclass(frozen=True, slots=True)
class Member:
    """A support-team member of the seeded roster."""

    key: str
    name: str
    github: str
    slack: str
    email: str


ROSTER: tuple[Member, ...] = (
    Member("ana", "Ana Reyes", "ana-reyes", "U0ANA", "ana.reyes@example.gov"),
    Member("ben", "Ben Okafor", "ben-okafor", "U0BEN", "ben.okafor@example.gov"),
    Member("chloe", "Chloe Park", "chloe-park", "U0CHLOE", "chloe.park@example.gov"),
    Member("dev", "Dev Patel", "dev-patel", "U0DEV", "dev.patel@example.gov"),
    Member("erin", "Erin Walsh", "erin-walsh", "U0ERIN", "erin.walsh@example.gov"),
)
ME = "ana"


@dataclass(frozen=True, slots=True)
class Requester:
    """Someone from another VA.gov team who asks the Identity team for help."""

    name: str
    github: str
    slack: str
    team: str

    @property
    def email(self) -> str:
        """A placeholder work email."""
        first, _, last = self.name.lower().partition(" ")
        return f"{first}.{last}@example.gov"


REQUESTERS: tuple[Requester, ...] = (
    Requester("Marcus Lee", "marcus-lee-va", "U0REQ01", "Benefits Portfolio"),
    Requester("Priya Shah", "priya-shah", "U0REQ02", "Health Apps"),
    Requester("Tom Nguyen", "tnguyen-va", "U0REQ03", "VA Mobile"),
    Requester("Rosa Diaz", "rosadiaz", "U0REQ04", "Facilities"),
    Requester("Sam Cohen", "scohen-dsva", "U0REQ05", "Debt Resolution"),
    Requester("Jordan Blake", "jblake", "U0REQ06", "Platform"),
    Requester("Fatima Noor", "fnoor-va", "U0REQ07", "Appeals"),
    Requester("Kenji Sato", "kenji-sato", "U0REQ08", "MHV on VA.gov"),
    Requester("Lena Fischer", "lfischer", "U0REQ09", "Lighthouse APIs"),
    Requester("Omar Haddad", "ohaddad", "U0REQ10", "Caregivers"),
    Requester("Grace Kim", "gracekim-va", "U0REQ11", "Public Websites"),
    Requester("Yusuf Ali", "yali-dsva", "U0REQ12", "Disability Benefits"),
)

# Request type → (ID Bot "*Type:*" value, template "**Issue Type:**" value, GitHub label).
TYPES: dict[str, tuple[str, str, str | None]] = {
    "PR Review": ("Pull review request", "Pull Request Review", "pr-review"),
    "Data Pull": ("Data request", "Data Request", "data-request"),
    "Test User / Mock Auth": ("Authentication help", "Authentication Help", "auth-help"),
    "Sign-in Service / USiP": ("Sign-in Service integration", "Sign-In-Service Integration", "sis"),
    "Bug Fix": ("Bug Fixes", "Bug Fix", "bug"),
    "Feature Request": ("Feature Requests", "Feature Request", "enhancement"),
    "Task Request": ("Task Request", "Task Request", "task"),
    "Help Request": ("Help Request", "Help Request", "question"),
    "Other": ("Other", "Other", None),
}

# (title, details) per type; details never contain real personal data.
CATALOG: dict[str, list[tuple[str, str]]] = {
    "PR Review": [
        ("Review PR: add MHV sign-in button to secure messaging",
         "Please review https://github.com/department-of-veterans-affairs/vets-website/pull/28811 — it swaps the "
         "legacy sign-in modal for the unified one on secure messaging. We tested on staging."),
        ("PR review for SiS token refresh in the mobile app",
         "Could someone review https://github.com/department-of-veterans-affairs/va-mobile-app/pull/9120? "
         "It moves refresh-token handling to Sign-in Service."),
        ("Review: terms of use redirect for caregivers",
         "PR https://github.com/department-of-veterans-affairs/vets-api/pull/16044 adds the terms-of-use redirect "
         "for the caregivers form. Need an Identity approval before Thursday's release."),
        ("Identity review needed on user_verification migration",
         "https://github.com/department-of-veterans-affairs/vets-api/pull/16102 backfills user_verifications. "
         "Tested locally and on review instance."),
    ],
    "Data Pull": [
        ("Data pull: count of ID.me vs Login.gov sign-ins last quarter",
         "For our OKR deck we need the number of sign-ins by CSP (ID.me, Login.gov, DS Logon, MHV) per month "
         "for the last quarter. Aggregates only, no PII."),
        ("Need MFA enrollment rates by CSP",
         "Could we get the share of users with MFA enabled per CSP for March? Aggregated numbers are fine."),
        ("Data request: LOA3 verification failures by reason",
         "We are seeing drop-off on the 526 intro page. Can you pull counts of LOA3 verification failures grouped "
         "by failure reason for the last 30 days?"),
        ("Export of sign-in errors for the caregivers form",
         "Please export counts of sign-in errors (by error code) for users who started the 10-10CG form last week."),
        ("Query: how many users still sign in with DS Logon",
         "Leadership asked how many unique users signed in with DS Logon in the past 90 days. Aggregate please."),
    ],
    "Test User / Mock Auth": [
        ("Test user for staging with LOA3 and MHV account",
         "We need a staging test user with LOA3, an MHV premium account and a linked ICN to test prescriptions."),
        ("Mock auth not working on localhost",
         "Mock auth on localhost:3001 returns 'invalid state' after choosing a user. Cleared cache and cookies, "
         "tried incognito. Environment: Local Host, CSP: Login.gov."),
        ("Login.gov sign in fails on review instance",
         "Signing in with Login.gov on our review instance loops back to the sign-in page. Environment: Review. "
         "Request ID from devtools: 3f2a-example."),
        ("Need ID.me test users with disability rating",
         "Could you share 3 staging ID.me test users that have a disability rating over 50%?"),
        ("Cannot sign in to staging with DS Logon test user",
         "Staging DS Logon test user from the test-user sheet gets error code 101. Tried Chrome and Firefox."),
    ],
    "Sign-in Service / USiP": [
        ("Begin onboarding: Sign-in Service for VA Notify admin",
         "We would like to onboard the VA Notify admin portal to Sign-in Service. It is a web app with a secure "
         "backend; we want to use the Unified Sign-in Page."),
        ("Register client configuration for Lighthouse sandbox",
         "Please register a client configuration for the Lighthouse developer sandbox (web browser, USiP yes)."),
        ("USiP question: can we hide DS Logon on our page",
         "Our product owner asked whether the Unified Sign-in Page can hide the DS Logon button for our app."),
        ("Service configuration for the appeals status API",
         "Register a service configuration for the appeals status API (backend only, no end users)."),
    ],
    "Bug Fix": [
        ("Sign-in modal closes immediately on iOS Safari",
         "On iOS Safari 17 the sign-in modal opens and closes right away on va.gov/my-va. Reproducible in "
         "production. Users cannot sign in from that page."),
        ("500 error after Login.gov callback",
         "We get a 500 from /v1/sessions/callback after Login.gov for some users since this morning's deploy."),
        ("Session timeout warning shows twice",
         "The session timeout modal appears twice on the profile page, then the user is signed out early."),
        ("Broken redirect after sign out on VA Mobile",
         "After sign out in VA Mobile (Android), the app lands on a blank page instead of the sign-in screen."),
    ],
    "Feature Request": [
        ("Feature request: show last sign-in CSP on the profile",
         "Would be nice to show users which credential they last used on the Account security page."),
        ("Add support for passkeys in mock auth",
         "Feature request: let mock auth simulate passkey sign-ins so we can test the new flow."),
        ("Feature request: expose verification level in the user API",
         "Could the user endpoint include the verification level so we can gate features without a second call?"),
    ],
    "Task Request": [
        ("Please update the Identity docs link in the header",
         "Please update the Identity docs link in the platform header to the new Sign-in Service docs page."),
        ("Rotate the staging client secret for our app",
         "Our staging client secret expires next week; please rotate it and share via the secure channel."),
        ("Add me to the identity-dashboard repo",
         "Add me to the identity-dashboard repository (read access) so I can look at the metrics code."),
    ],
    "Help Request": [
        ("How do I test the terms of use flow locally?",
         "How do I trigger the terms-of-use acceptance page locally with mock auth?"),
        ("Question about ICN lookup after sign in",
         "Question: after sign in, when is the ICN available on the user object? We see nil for a few seconds."),
        ("Help: which CSPs support LOA3 on staging",
         "Help please — which CSPs give LOA3 on staging today? Our test plan needs to cover each one."),
    ],
    "Other": [
        ("Office hours slot for the MHV team",
         "Could we get 30 minutes at Identity office hours next week to walk through our sign-in plans?"),
        ("Intro: new PM on the Debt Resolution team",
         "Hi! I'm the new PM on Debt Resolution; who is the best contact for Identity roadmap questions?"),
    ],
}

SECTION = {
    "Test User / Mock Auth": "## **Authentication Help Request**",
    "Data Pull": "## **Data Request**",
    "PR Review": "## **Pull review request**",
    "Sign-in Service / USiP": "## **Sign-in Service**",
}


@dataclass(slots=True)
class SeededRequest:
    """What the seed created for one request (for tests and the survey export)."""

    key: str
    type: str
    path: str
    """``bot`` (Slack + GitHub), ``github`` or ``slack``."""
    outcome: str
    """new, acknowledged, assigned, pending, backlog, closed, not_planned, deleted."""
    created_at: datetime
    requester: str
    title: str
    issue_number: int | None = None
    slack_ts: str | None = None
    channel: str | None = None
    assignee: str | None = None
    rating: int | None = None

    @property
    def github_url(self) -> str | None:
        """Web URL of the GitHub issue, if any."""
        if self.issue_number is None:
            return None
        return f"{WEB_URL}/{SUPPORT_REPO}/issues/{self.issue_number}"


@dataclass(slots=True)
class SeedSummary:
    """What :func:`seed_month` created."""

    now: datetime
    requests: list[SeededRequest] = field(default_factory=list)
    pull_requests: list[int] = field(default_factory=list)
    chatter: list[str] = field(default_factory=list)
    """Slack ts of non-request messages."""

    def by_key(self, key: str) -> SeededRequest:
        """One seeded request by its seed key (e.g. ``hostile-markup``)."""
        return next(r for r in self.requests if r.key == key)

    def closed(self) -> list[SeededRequest]:
        """Requests closed (completed or not planned)."""
        return [r for r in self.requests if r.outcome in ("closed", "not_planned")]


def default_now() -> datetime:
    """The current time, rounded down to the minute (UTC)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def business_hours_before(now: datetime, hours: float) -> datetime:
    """The instant ``hours`` business hours (Mon–Fri 9–17 New York) before ``now``."""
    remaining = timedelta(hours=hours)
    cursor = now.astimezone(TEAM_TZ)
    for _ in range(400):
        day_start = datetime.combine(cursor.date(), time(9), TEAM_TZ)
        day_end = datetime.combine(cursor.date(), time(17), TEAM_TZ)
        if cursor.weekday() < 5 and cursor > day_start:
            top = min(cursor, day_end)
            available = top - day_start
            if available >= remaining:
                return (top - remaining).astimezone(UTC)
            remaining -= available
        cursor = datetime.combine(cursor.date() - timedelta(days=1), time(23, 59), TEAM_TZ)
    return (now - timedelta(hours=hours)).astimezone(UTC)


def business_time(now: datetime, days_ago: float, rng: random.Random) -> datetime:
    """A weekday, 9:30–16:30 New York, roughly ``days_ago`` days before ``now``."""
    local = (now - timedelta(days=days_ago)).astimezone(TEAM_TZ)
    day = local.date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    minutes = rng.randint(9 * 60 + 30, 16 * 60 + 30)
    return datetime.combine(day, time(minutes // 60, minutes % 60), TEAM_TZ).astimezone(UTC)


# --------------------------------------------------------------------------- directory


def seed_directory(gh: GitHubState, slack: SlackState) -> None:
    """Repos, channels, the roster, requesters and the ID Bot (no messages or issues)."""
    with gh.lock, slack.lock:
        gh.web_url = WEB_URL
        gh.viewer = next(m.github for m in ROSTER if m.key == ME)
        for member in ROSTER:
            gh.user(member.github, name=member.name)
        gh.add_repo(SUPPORT_REPO, collaborators=[m.github for m in ROSTER])
        gh.add_repo(BACKLOG_REPO, collaborators=[m.github for m in ROSTER])
        for name, color, desc in (
            (LABEL, "1d76db", "Identity team support request"),
            (BACKLOG_LABEL, "c5def5", "Moved to the backlog"),
            (PENDING_LABEL, "fbca04", "Waiting on the requester"),
            ("priority:P1", "b60205", "Urgent"),
        ):
            gh.label(SUPPORT_REPO, name, color=color, description=desc)
        for _, _, label in TYPES.values():
            if label:
                gh.label(SUPPORT_REPO, label)
        gh.user(GITHUB_BOT, type="Bot")
        for req in REQUESTERS:
            gh.user(req.github, name=req.name)

        slack.workspace_url = WORKSPACE_URL
        slack.add_channel(CHANNEL, CHANNEL_NAME, topic="Identity team support — use /identity-support",
                          purpose="Ask the Identity team for help")
        slack.add_channel(SUPPORT_CHANNEL, SUPPORT_CHANNEL_NAME, purpose="Identity support overflow")
        for member in ROSTER:
            first = member.name.split()[0].lower()
            slack.add_user(member.slack, first, member.name, email=member.email, title="Identity engineer")
        for req in REQUESTERS:
            slack.add_user(req.slack, req.name.split()[0].lower() + req.name.split()[1][0].lower(), req.name,
                           email=req.email, title=req.team)
        slack.add_user(INTAKE_BOT_USER, "id_bot", INTAKE_BOT_NAME, is_bot=True, bot_id=INTAKE_BOT_ID)
        slack.add_bot(INTAKE_BOT_ID, INTAKE_BOT_NAME, user_id=INTAKE_BOT_USER, app_id="A0IDBOT001")
        slack.add_user("U0NEWHIRE", "alexm", "Alex Morgan", title="Benefits Portfolio")
        # Who is in the intake channels (``conversations.members``): the team, the requesters, the
        # intake bot and a newcomer who is on no roster (assignable by Slack id or @name).
        for channel in (CHANNEL, SUPPORT_CHANNEL):
            slack.join(channel, *(m.slack for m in ROSTER), *(r.slack for r in REQUESTERS), INTAKE_BOT_USER,
                       "U0NEWHIRE")


# --------------------------------------------------------------------------- builders


def intake_text(type_name: str, req: Requester, details: str, impacts: bool) -> str:
    """The ID Bot's intake message text (Slack mrkdwn, already escaped)."""
    bot_type = TYPES[type_name][0]
    return (
        f"*New Identity support request*\n*Type:* {bot_type}\n*Team:* {req.team}\n*Requested by:* <@{req.slack}>\n"
        f"*Impacts Veterans on production servers:* {'Yes' if impacts else 'No'}\n*Details:* {_mrkdwn(details)}"
    )


def intake_blocks(type_name: str, req: Requester, details: str, impacts: bool) -> list[dict[str, Any]]:
    """The ID Bot's Block Kit blocks (section fields of mrkdwn text)."""
    bot_type = TYPES[type_name][0]
    return [
        {"type": "section", "block_id": "head", "text": {"type": "mrkdwn", "text": "*New Identity support request*"}},
        {"type": "section", "block_id": "fields", "fields": [
            {"type": "mrkdwn", "text": f"*Type:*\n{bot_type}"},
            {"type": "mrkdwn", "text": f"*Team:*\n{req.team}"},
            {"type": "mrkdwn", "text": f"*Requested by:*\n<@{req.slack}>"},
            {"type": "mrkdwn", "text": f"*Impacts Veterans on production servers:*\n{'Yes' if impacts else 'No'}"},
        ]},
        {"type": "section", "block_id": "details", "text": {"type": "mrkdwn", "text": f"*Details:*\n{_mrkdwn(details)}"}},
    ]


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def va_body(type_name: str, req: Requester, details: str, impacts: bool, *, permalink: str | None = None,
            env: str = "Staging", csp: str = "Login.gov") -> str:
    """An issue body in the VA ``1identity-help`` template (bold prompts, checklists, sections)."""
    issue_type = TYPES[type_name][1]
    lines = [
        "## Identity Help",
        "",
        "- [x] **Complete this issue template**",
        "- [x] **Provide your name and email address**",
        "- [x] **Provide your team’s name**",
        "- [x] **Select issue type (for “other” stop here and provide details)**",
        "- [x] **Complete tasks for your issue type**",
        "- [ ] **Add additional details (optional)**",
        f"- [ ] **Complete the [post Identity team support survey]({SURVEY_URL}) before closing this ticket**",
        "",
        f"**Name:** {req.name}",
        f"**Email address:** {req.email}",
        f"**Team Name:** {req.team}",
        f"**Issue Type:** {issue_type}",
        f"**Does this impact Veterans on production servers?** {'Yes' if impacts else 'No'}",
        "",
    ]
    section = SECTION.get(type_name)
    if type_name == "Test User / Mock Auth":
        lines += [section or "", "", f"**Which Environment did you use to sign in?** {env}",
                  f"**Which Credential Service Provider (CSP) did you use?** {csp}",
                  "**Which browser(s) did you try to sign in with?** Chrome", "- [x] Cleared browser cache",
                  "- [x] Cleared cookies", "- [ ] Tried incognito", "", details, ""]
    elif type_name == "Data Pull":
        lines += [section or "", "",
                  "**What data do you need pulled? Please don’t include any Personal Identifying Information (PII)**",
                  details, "", "**Is this sensitive data that requires special permissions?** No", ""]
    elif type_name == "PR Review":
        url = next((w for w in details.split() if w.startswith("https://")), "")
        lines += [section or "", "", f"**Please provide a URL to link to your PR:** {url}",
                  "**Have you tested your changes?** Yes", "", details, ""]
    elif type_name == "Sign-in Service / USiP":
        lines += [section or "", "", "### **Begin Onboarding**",
                  f"**Provide the first and last name of the primary point of contact** {req.name}",
                  f"**Provide an email address for the primary point of contact** {req.email}", "",
                  "### **Onboarding Questionnaire**", "1. Does your application interact with end users, API’s or both? End users",
                  "2. Do you need to use our Unified Sign-in Page (USiP)? Yes", "", details, ""]
    else:
        lines += [details, ""]
    lines.append(f"**Additional Details:** {'Reported via the ID Bot in #vsp-identity.' if permalink else 'n/a'}")
    if permalink:
        lines += ["", f"Slack thread: {permalink}"]
    return "\n".join(lines)


def issue_form_body(req: Requester, type_name: str, details: str) -> str:
    """An issue body in GitHub issue-form style (``### Label`` blocks, ``_No response_``)."""
    return "\n".join([
        "### Issue Type", "", TYPES[type_name][1], "",
        "### Team Name", "", req.team, "",
        "### Name", "", req.name, "",
        "### Email address", "", req.email, "",
        "### Which Environment did you use to sign in?", "", "_No response_", "",
        "### Which Credential Service Provider (CSP) did you use?", "", "_No response_", "",
        "### Issue Description", "", details, "",
    ])


class _Builder:
    """Builds the month into the two states; keeps the clock and RNG in one place."""

    def __init__(self, gh: GitHubState, slack: SlackState, now: datetime) -> None:
        self.gh = gh
        self.slack = slack
        self.now = now
        self.rng = random.Random(SEED)
        self.summary = SeedSummary(now=now)
        self.members = {m.key: m for m in ROSTER}
        self._catalog_pos: dict[str, int] = {}

    def _clamp(self, at: datetime) -> datetime | None:
        """None when ``at`` would be in the future (that step has not happened yet)."""
        return at if at <= self.now - timedelta(seconds=30) else None

    def pick(self, type_name: str) -> tuple[str, str]:
        items = CATALOG[type_name]
        pos = self._catalog_pos.get(type_name, 0)
        self._catalog_pos[type_name] = pos + 1
        return items[pos % len(items)]

    # -- the three intake paths ---------------------------------------------------------------

    def bot_request(self, key: str, type_name: str, req: Requester, created: datetime, *, title: str,
                    details: str, impacts: bool = False, channel: str = CHANNEL) -> SeededRequest:
        """ID Bot flow: Slack post → GitHub issue with the permalink → thread reply with the link."""
        text = intake_text(type_name, req, details, impacts)
        msg = self.slack.post(channel, INTAKE_BOT_ID, text, intake_blocks(type_name, req, details, impacts),
                              at=created, subtype="bot_message", username=INTAKE_BOT_NAME)
        permalink = self.slack.permalink(channel, msg.ts)
        labels = [LABEL] + ([TYPES[type_name][2]] if TYPES[type_name][2] and self.rng.random() < 0.6 else [])
        issue = self.gh.add_issue(SUPPORT_REPO, title, va_body(type_name, req, details, impacts, permalink=permalink),
                                  user=GITHUB_BOT, user_type="Bot", labels=[x for x in labels if x],
                                  created_at=created + timedelta(seconds=12))
        link = f"{WEB_URL}/{SUPPORT_REPO}/issues/{issue.number}"
        self.slack.post(channel, INTAKE_BOT_ID,
                        f"There's a new <{link}|Github issue> for your Identity request.",
                        thread_ts=msg.ts, at=created + timedelta(seconds=20), subtype="bot_message",
                        username=INTAKE_BOT_NAME)
        seeded = SeededRequest(key=key, type=type_name, path="bot", outcome="new", created_at=created,
                               requester=req.name, title=title, issue_number=issue.number, slack_ts=msg.ts,
                               channel=channel)
        self.summary.requests.append(seeded)
        return seeded

    def github_request(self, key: str, type_name: str, req: Requester, created: datetime, *, title: str,
                       details: str, impacts: bool = False, form: bool = False,
                       body: str | None = None) -> SeededRequest:
        """A GitHub-only issue from the support template."""
        if body is None:
            body = issue_form_body(req, type_name, details) if form else va_body(type_name, req, details, impacts)
        labels = [LABEL] + ([TYPES[type_name][2]] if TYPES[type_name][2] and self.rng.random() < 0.5 else [])
        issue = self.gh.add_issue(SUPPORT_REPO, title, body, user=req.github,
                                  labels=[x for x in labels if x], created_at=created)
        seeded = SeededRequest(key=key, type=type_name, path="github", outcome="new", created_at=created,
                               requester=req.name, title=title, issue_number=issue.number)
        self.summary.requests.append(seeded)
        return seeded

    def slack_request(self, key: str, type_name: str, req: Requester, created: datetime, *, text: str,
                      marker: str = "ben", channel: str = CHANNEL) -> SeededRequest:
        """A human message a teammate marked with ``:ticket:``."""
        msg = self.slack.post(channel, req.slack, text, at=created)
        mark_at = self._clamp(created + timedelta(minutes=self.rng.randint(3, 25)))
        if mark_at is not None:
            self.slack.react(channel, msg.ts, "ticket", self.members[marker].slack)
        seeded = SeededRequest(key=key, type=type_name, path="slack", outcome="new", created_at=created,
                               requester=req.name, title=text.split("\n")[0][:80], slack_ts=msg.ts, channel=channel)
        self.summary.requests.append(seeded)
        return seeded

    # -- what happens next ----------------------------------------------------------------------

    def respond(self, r: SeededRequest, who: str, at: datetime, text: str | None = None) -> bool:
        """A teammate's first response (Slack thread reply where the request lives on Slack, else a comment)."""
        when = self._clamp(at)
        if when is None:
            return False
        member = self.members[who]
        requester = next(q for q in REQUESTERS if q.name == r.requester)
        if r.slack_ts and r.channel:
            self.slack.post(r.channel, member.slack,
                            text or f"Thanks <@{requester.slack}>! Looking into this now.",
                            thread_ts=r.slack_ts, at=when)
            also = self._clamp(when + timedelta(minutes=2))
            if r.issue_number and self.rng.random() < 0.4 and also is not None:
                self.gh.add_comment(SUPPORT_REPO, r.issue_number, "Picked this up from Slack — looking into it.",
                                    user=member.github, at=also)
        elif r.issue_number:
            self.gh.add_comment(SUPPORT_REPO, r.issue_number,
                                text or f"Thanks @{requester.github}, we're looking into this.",
                                user=member.github, at=when)
        if r.outcome == "new":
            r.outcome = "acknowledged"
        return True

    def assign(self, r: SeededRequest, who: str, at: datetime) -> bool:
        when = self._clamp(at)
        if when is None:
            return False
        member = self.members[who]
        if r.issue_number:
            self.gh.assign(SUPPORT_REPO, r.issue_number, [member.github], actor=member.github, at=when)
        if r.slack_ts and r.channel:
            self.slack.react(r.channel, r.slack_ts, "eyes", member.slack)
            if r.issue_number:
                link = f"{WEB_URL}/{SUPPORT_REPO}/issues/{r.issue_number}"
                self.slack.post(r.channel, INTAKE_BOT_ID,
                                f"Your <{link}|Github issue> for your Identity request is assigned to <@{member.slack}>.",
                                thread_ts=r.slack_ts, at=when + timedelta(seconds=5), subtype="bot_message",
                                username=INTAKE_BOT_NAME)
        r.assignee = who
        r.outcome = "assigned"
        return True

    def pend(self, r: SeededRequest, who: str, at: datetime, follow_up: datetime | None = None) -> None:
        """Ask the requester for information (and label ``pending`` on GitHub)."""
        when = self._clamp(at)
        if when is None:
            return
        member = self.members[who]
        requester = next(q for q in REQUESTERS if q.name == r.requester)
        ask = (f"<@{requester.slack}> could you share the request ID and the time of the failed attempt? "
               "We'll pick it back up as soon as we hear from you.")
        if r.slack_ts and r.channel:
            self.slack.post(r.channel, member.slack, ask, thread_ts=r.slack_ts, at=when)
        if r.issue_number:
            self.gh.add_comment(SUPPORT_REPO, r.issue_number,
                                f"@{requester.github} we need a bit more information: which environment and CSP, "
                                "and the request ID if you have it.", user=member.github, at=when)
            self.gh.add_labels(SUPPORT_REPO, r.issue_number, [PENDING_LABEL], actor=member.github, at=when)
        r.outcome = "pending"
        if follow_up is not None and (fu := self._clamp(follow_up)) is not None:
            # The requester answered: the clock resumes, the label goes.
            if r.slack_ts and r.channel:
                self.slack.post(r.channel, requester.slack, "Sure — request ID 7c1e-example, around 10:15 ET.",
                                thread_ts=r.slack_ts, at=fu)
            if r.issue_number:
                self.gh.add_comment(SUPPORT_REPO, r.issue_number, "Staging, Login.gov, request ID 7c1e-example.",
                                    user=requester.github, at=fu)
                cleared = self._clamp(fu + timedelta(minutes=30))
                if cleared is not None:
                    self.gh.remove_label(SUPPORT_REPO, r.issue_number, PENDING_LABEL, actor=member.github,
                                         at=cleared)
            r.outcome = "assigned" if r.assignee else "acknowledged"

    def backlog(self, r: SeededRequest, who: str, at: datetime) -> None:
        when = self._clamp(at)
        if when is None:
            return
        member = self.members[who]
        if r.issue_number:
            self.gh.add_comment(SUPPORT_REPO, r.issue_number,
                                "Moving this to our backlog; we'll schedule it in sprint planning.",
                                user=member.github, at=when)
            self.gh.add_labels(SUPPORT_REPO, r.issue_number, [BACKLOG_LABEL], actor=member.github, at=when)
            issue = self.gh.issue(SUPPORT_REPO, r.issue_number)
            self.gh.unassign(SUPPORT_REPO, r.issue_number, list(issue.assignees), actor=member.github, at=when)
        elif r.slack_ts and r.channel:
            created = self.gh.add_issue(BACKLOG_REPO, r.title, f"From Slack: {self.slack.permalink(r.channel, r.slack_ts)}",
                                        user=member.github, labels=[BACKLOG_LABEL], created_at=when)
            link = f"{WEB_URL}/{BACKLOG_REPO}/issues/{created.number}"
            self.slack.post(r.channel, member.slack, f"Moved to our backlog: <{link}|backlog issue>.",
                            thread_ts=r.slack_ts, at=when)
        r.assignee = None
        r.outcome = "backlog"

    def close(self, r: SeededRequest, who: str, at: datetime, *, reason: str = "completed",
              rating: int | None = None) -> None:
        when = self._clamp(at)
        if when is None:
            return
        member = self.members[who]
        if r.issue_number:
            link = f"{WEB_URL}/{SUPPORT_REPO}/issues/{r.issue_number}"
            note = ("This is done — closing. Please take a minute for our survey: " + SURVEY_URL
                    if reason == "completed" else "Closing as out of scope for the Identity team.")
            self.gh.add_comment(SUPPORT_REPO, r.issue_number, note, user=member.github, at=when)
            self.gh.close_issue(SUPPORT_REPO, r.issue_number, reason=reason, actor=member.github,
                                at=when + timedelta(seconds=10))
            if r.slack_ts and r.channel:
                msg = self.slack.post(
                    r.channel, INTAKE_BOT_ID,
                    f"Your <{link}|Github issue> for your Identity request is closed. How did we do? "
                    f"React :one: to :five: or take the <{SURVEY_URL}|survey>.",
                    thread_ts=r.slack_ts, at=when + timedelta(seconds=30), subtype="bot_message",
                    username=INTAKE_BOT_NAME)
                if rating is not None and self._clamp(when + timedelta(hours=2)) is not None:
                    requester = next(q for q in REQUESTERS if q.name == r.requester)
                    names = ("one", "two", "three", "four", "five")
                    self.slack.react(r.channel, msg.ts, names[rating - 1], requester.slack)
        elif r.slack_ts and r.channel:
            self.slack.post(r.channel, member.slack,
                            f"Done! Closing this out — feedback welcome: <{SURVEY_URL}|survey>.",
                            thread_ts=r.slack_ts, at=when)
            self.slack.react(r.channel, r.slack_ts, "white_check_mark", member.slack)
        r.outcome = "closed" if reason == "completed" else "not_planned"
        r.rating = rating


# --------------------------------------------------------------------------- the month


def seed_month(gh: GitHubState, slack: SlackState, now: datetime | None = None) -> SeedSummary:
    """Fill both states with the seeded support month relative to ``now``.

    Args:
        gh: GitHub emulator state.
        slack: Slack emulator state.
        now: the reference instant (default: now, rounded to the minute).

    Returns:
        A summary of what was created (keys, issue numbers, ts, outcomes).
    """
    now = (now or default_now()).astimezone(UTC)
    with gh.lock, slack.lock:
        seed_directory(gh, slack)
        b = _Builder(gh, slack, now)
        # Each part draws from the one seeded rng in this order: keep it, or every seeded
        # item after the change moves.
        _seed_chatter(b, now)
        _seed_bulk(b, now)
        _seed_live_queue(b, now)
        _seed_hostile(b, now)
        _seed_pull_requests(b, now)
        # -- a reopened request (for the metrics' reopen rate) ------------------------------------
        # The requester comes back after the latest close that is at least 2 days old; the team
        # fixes it again and closes it the next day. Added last and without the rng, so every
        # other seeded item stays exactly as it was.
        _seed_reopen(b, now)
        _seed_queue_truth(b, now)
        _seed_typed_usip(b, now)
        _seed_outage(b, now)
        return b.summary




def _req(i: int) -> Requester:
    return REQUESTERS[i % len(REQUESTERS)]


TEAM_KEYS = [m.key for m in ROSTER]


def _seed_chatter(b: _Builder, now: datetime) -> None:
    """Channel chatter that is not a request (oldest first so ts order looks natural)."""
    slack, rng = b.slack, b.rng
    chat = [
        (34.2, "U0DEV", "Reminder: Identity office hours are Thursdays 2–3pm ET. Bring your sign-in questions!"),
        (27.1, "U0REQ06", "good morning all :wave:"),
        (20.4, "U0BEN", "Heads up: staging Login.gov will be down for maintenance tonight 9–11pm ET."),
        (13.3, "U0REQ02", "thanks!"),
        (6.2, "U0REQ09", "Is anyone else seeing slow staging today? Seems better now."),
    ]
    for days, user, text in chat:
        m = slack.post(CHANNEL, user, text, at=business_time(now, days, rng))
        b.summary.chatter.append(m.ts)
    join = slack.post(CHANNEL, "U0NEWHIRE", "<@U0NEWHIRE> has joined the channel",
                      at=business_time(now, 3.1, rng), subtype="channel_join")
    b.summary.chatter.append(join.ts)
    m = slack.post(SUPPORT_CHANNEL, "U0ERIN", "This channel is for overflow; please use #vsp-identity.",
                   at=business_time(now, 30, rng))
    b.summary.chatter.append(m.ts)


def _seed_bulk(b: _Builder, now: datetime) -> None:
    """The bulk of the month: older requests, mostly resolved."""
    rng = b.rng
    types = list(TYPES)
    plan: list[tuple[str, float]] = []
    for i in range(34):
        plan.append((types[i % len(types)], 33.5 - i * 0.85 - rng.random() * 0.3))
    for i, (type_name, days) in enumerate(plan):
        created = business_time(now, max(days, 2.2), rng)
        title, details = b.pick(type_name)
        requester = _req(i * 5 + 1)
        path = ("bot", "bot", "github", "bot", "slack")[i % 5]
        impacts = type_name == "Bug Fix" and i % 2 == 0
        key = f"month-{i:02d}"
        if path == "bot":
            r = b.bot_request(key, type_name, requester, created, title=title, details=details, impacts=impacts)
        elif path == "github":
            r = b.github_request(key, type_name, requester, created, title=title, details=details,
                                 impacts=impacts, form=(i == 7))
        else:
            r = b.slack_request(key, type_name, requester, created,
                                text=f"Hi team! {details}", marker=TEAM_KEYS[i % 5])
        who = TEAM_KEYS[(i * 3) % 5]
        # Most replies land within an hour; every fifth is late (a breached first response).
        delay = timedelta(minutes=rng.randint(6, 55)) if i % 5 else timedelta(hours=rng.randint(10, 40))
        b.respond(r, who, created + delay)
        b.assign(r, who, created + delay + timedelta(minutes=rng.randint(5, 90)))
        fate = i % 9
        if fate == 3 and r.issue_number:
            b.pend(r, who, created + delay + timedelta(hours=3), follow_up=created + delay + timedelta(hours=26))
        if fate == 5 and days < 25:
            b.backlog(r, who, created + delay + timedelta(hours=rng.randint(4, 30)))
            continue
        if days > 6 or fate in (0, 2):
            reason = "not_planned" if fate == 8 else "completed"
            rating = (5, 4, 3, 5, 4, 2, 5, 1, 4)[i % 9] if i % 2 == 0 else None
            b.close(r, who, created + delay + timedelta(hours=rng.randint(3, 60)), reason=reason, rating=rating)


def _seed_live_queue(b: _Builder, now: datetime) -> None:
    """The live queue: open requests in every state, edits and a deletion."""
    gh, slack, rng = b.gh, b.slack, b.rng
    # Pending on the requester (GitHub label + the team's question).
    for j, (type_name, days) in enumerate((("Test User / Mock Auth", 2.0), ("Data Pull", 1.3))):
        title, details = b.pick(type_name)
        r = b.bot_request(f"pending-{j}", type_name, _req(j + 2), business_time(now, days, rng), title=title,
                          details=details)
        b.respond(r, "chloe", r.created_at + timedelta(minutes=20))
        b.assign(r, "chloe", r.created_at + timedelta(minutes=30))
        b.pend(r, "chloe", r.created_at + timedelta(minutes=45))

    # Assigned and acknowledged, recent.
    for j, type_name in enumerate(("Sign-in Service / USiP", "PR Review", "Task Request")):
        title, details = b.pick(type_name)
        r = b.github_request(f"assigned-{j}", type_name, _req(j + 6), business_time(now, 1.0 + j * 0.4, rng),
                             title=title, details=details)
        b.respond(r, TEAM_KEYS[j + 1], r.created_at + timedelta(minutes=25 + j * 10))
        if j < 2:
            b.assign(r, TEAM_KEYS[j + 1], r.created_at + timedelta(minutes=40 + j * 10))

    # Breached: no response for well over a business day / hour.
    title, details = b.pick("Help Request")
    b.bot_request("breached-help", "Help Request", _req(3), business_hours_before(now, 11), title=title,
                  details=details)
    title, details = b.pick("Bug Fix")
    b.github_request("breached-bug", "Bug Fix", _req(4), business_hours_before(now, 3), title=title,
                     details=details, impacts=True)
    b.slack_request("breached-slack", "Data Pull", _req(5), business_hours_before(now, 14),
                    text="Could someone pull the number of sign-ins with MHV credentials last week? "
                         "Need it for a leadership update.", marker="dev")

    # At risk: ~6–7 business hours into an 8-hour first-response budget, no response yet.
    title, details = b.pick("Data Pull")
    b.bot_request("at-risk-data", "Data Pull", _req(8), business_hours_before(now, 6.5), title=title,
                  details=details)
    title, details = b.pick("Feature Request")
    b.github_request("at-risk-feature", "Feature Request", _req(9), business_hours_before(now, 6.1), title=title,
                     details=details)
    title, details = b.pick("Sign-in Service / USiP")
    b.bot_request("at-risk-sis", "Sign-in Service / USiP", _req(10), business_hours_before(now, 6.8), title=title,
                  details=details, channel=SUPPORT_CHANNEL)

    # Brand new, from the last hour.
    title, details = b.pick("Test User / Mock Auth")
    b.bot_request("new-auth", "Test User / Mock Auth", _req(0), now - timedelta(minutes=47), title=title,
                  details=details)
    b.slack_request("new-slack", "Help Request", _req(1), now - timedelta(minutes=26),
                    text="Quick question: does mock auth support the new terms-of-use page yet?", marker="ana")
    title, details = b.pick("Bug Fix")
    b.github_request("new-bug", "Bug Fix", _req(11), now - timedelta(minutes=9), title=title, details=details)

    # An edited Slack request and an edited GitHub issue.
    r = b.slack_request("edited-slack", "Task Request", _req(6), business_time(now, 2.4, rng),
                        text="Can someone add our team to the SiS staging allowlist?", marker="erin")
    slack.edit(CHANNEL, r.slack_ts or "", "Can someone add the Caregivers team to the SiS staging allowlist? "
               "(edited: it's for the 10-10CG app)", user=next(q.slack for q in REQUESTERS if q.name == r.requester),
               at=r.created_at + timedelta(minutes=12))
    b.respond(r, "erin", r.created_at + timedelta(minutes=40))
    title, details = b.pick("Help Request")
    r = b.github_request("edited-github", "Help Request", _req(7), business_time(now, 4.2, rng), title=title,
                         details=details)
    gh.edit_issue(SUPPORT_REPO, r.issue_number or 0, title=title + " (updated)",
                  at=r.created_at + timedelta(minutes=30))
    b.respond(r, "dev", r.created_at + timedelta(hours=2))

    # A request the requester deleted from Slack (its thread went with it).
    r = b.slack_request("deleted-slack", "Other", _req(2), business_time(now, 1.6, rng),
                        text="Who owns the DS Logon sunset comms? (never mind, found it)", marker="ben")
    slack.delete(CHANNEL, r.slack_ts or "")
    r.outcome = "deleted"


def _seed_hostile(b: _Builder, now: datetime) -> None:
    """Hostile text: Rich markup, escapes, broadcasts, bidi/ZWJ, a huge body."""
    rng = b.rng
    b.github_request("hostile-markup", "Bug Fix", _req(5), business_time(now, 0.9, rng),
                     title="[bold red]pwn[/] [@click=app.quit]x[/] sign-in button missing",
                     details="The sign-in button is missing on /profile. [link=https://evil.example]click[/link]")
    b.github_request("hostile-escapes", "Help Request", _req(6), business_time(now, 1.9, rng),
                     title="Terminal output from the CLI looks odd",
                     details="Pasting the output:\n\x1b[2J\x1b[31mERROR\x1b[0m token refresh\n"
                             "\x1b]52;c;aGk=\x07 clipboard\n\x9b31m C1 CSI\n\x1b]0;pwned title\x07 done")
    b.slack_request("hostile-slack", "Help Request", _req(7), business_time(now, 0.7, rng),
                    text="<!channel> urgent!! <@U0ANA> can you look at &lt;script&gt;alert(1)&lt;/script&gt; "
                         "in the sign-in page source?", marker="ana")
    title, details = "Test user for ‮exe.live‬ 👩‍💻 测试用户 ログイン", (
        "Need a test user for our RTL check: \u202eevil.exe\u202c and ZWJ 👨‍👩‍👧‍👦 plus 中文 / 日本語 / 한국어 text.")
    b.bot_request("hostile-unicode", "Test User / Mock Auth", _req(8), business_time(now, 2.7, rng), title=title,
                  details=details)
    log_line = "2024-04-05T10:15:00Z INFO sign_in callback state=ok csp=logingov duration_ms=231 request_id=example\n"
    huge = va_body("Bug Fix", _req(9), "Full log below.", False) + "\n```\n" + log_line * 2200 + "```\n"
    b.github_request("huge-body", "Bug Fix", _req(9), business_time(now, 5.2, rng),
                     title="Sign-in callback log dump (large)", details="", body=huge)

    for key, who in (("hostile-escapes", "dev"), ("hostile-unicode", "erin"), ("huge-body", "ben")):
        hostile = b.summary.by_key(key)
        b.respond(hostile, who, hostile.created_at + timedelta(minutes=35))


def _seed_pull_requests(b: _Builder, now: datetime) -> None:
    """Pull requests, to be ignored."""
    gh, rng = b.gh, b.rng
    for j, (title, who) in enumerate((
        ("Bump omniauth from 2.1.1 to 2.1.2", "dev-patel"),
        ("Add SiS client config for caregivers", "ben-okafor"),
        ("Docs: update the mock auth guide", "chloe-park"),
    )):
        pr = gh.add_pull_request(SUPPORT_REPO, title, "Automated change.", user=who,
                                 created_at=business_time(now, 9 - j * 3, rng))
        b.summary.pull_requests.append(pr.number)


def _seed_typed_usip(b: _Builder, now: datetime) -> None:
    """A request whose issue type was typed by hand, "USiP Question" (the rules list "usip
    questions"): it is still a Sign-in Service / USiP request, not a generic Help Request. Two
    teammates share it, so the queue shows a request with several GitHub assignees. Added
    last and without the rng, so every other seeded item stays exactly as it was."""
    req = REQUESTERS[3]
    created = business_hours_before(now, 2.5)
    details = "For users who signed in with Login.gov last time, does USiP show that option first?"
    body = va_body("Help Request", req, details, False).replace(
        f"**Issue Type:** {TYPES['Help Request'][1]}", "**Issue Type:** USiP Question")
    assignees = [m.github for m in ROSTER if m.key in ("ben", "chloe")]
    issue = b.gh.add_issue(SUPPORT_REPO, "Which sign-in option comes first for returning users?", body,
                           user=req.github, labels=[LABEL], assignees=assignees, created_at=created)
    seeded = SeededRequest(key="typed-usip", type="Sign-in Service / USiP", path="github", outcome="assigned",
                           created_at=created, requester=req.name, title=issue.title, issue_number=issue.number,
                           assignee="ben")
    b.summary.requests.append(seeded)
    b.respond(seeded, "ben", created + timedelta(minutes=20), "Chloe and I have this; USiP keeps the last CSP first.")


def _seed_outage(b: _Builder, now: datetime) -> None:
    """A production outage filed 20 minutes ago (impacts production: Yes): it leads the queue.

    Added after everything else and without the rng, so every other seeded item stays as it was.
    """
    b.github_request("prod-outage", "Bug Fix", REQUESTERS[7 % len(REQUESTERS)], now - timedelta(minutes=20),
                     title="Production outage: sign-in fails for every Login.gov user",
                     details="Since about 20 minutes ago every Login.gov sign-in on VA.gov ends on the "
                             "\"something went wrong\" page. ID.me still works. Status page is green.",
                     impacts=True)


def _seed_reopen(b: _Builder, now: datetime) -> None:
    repo = b.gh.repo(SUPPORT_REPO)
    candidates = [
        (issue.closed_at, r) for r in b.summary.requests
        if r.outcome == "closed" and r.issue_number
        and (issue := repo.issues[r.issue_number]).closed_at is not None
        and issue.closed_at <= now - timedelta(days=2)
    ]
    if not candidates:
        return
    closed_at, r = max(candidates, key=lambda pair: pair[0])
    reopen_at = b._clamp(closed_at + timedelta(hours=6))
    reclose_at = b._clamp(closed_at + timedelta(hours=30))
    if reopen_at is None or reclose_at is None or r.issue_number is None:
        return
    requester = next(q for q in REQUESTERS if q.name == r.requester)
    member = b.members.get(r.assignee or "", b.members[ME])
    b.gh.add_comment(SUPPORT_REPO, r.issue_number, "Sorry, this is happening again for us on staging.",
                     user=requester.github, at=reopen_at)
    b.gh.reopen_issue(SUPPORT_REPO, r.issue_number, actor=requester.github, at=reopen_at + timedelta(seconds=5))
    b.gh.add_comment(SUPPORT_REPO, r.issue_number, "Found a second cause and fixed it — closing again.",
                     user=member.github, at=reclose_at)
    b.gh.close_issue(SUPPORT_REPO, r.issue_number, actor=member.github, at=reclose_at + timedelta(seconds=10))


WORKFLOW_BOT_ID = "B0WORKFLOW1"
"""A Slack Workflow Builder form's bot (not in ``intake_bot_ids``: its posts count by their shape)."""
WORKFLOW_BOT_NAME = "Identity intake form"


def workflow_form_text(type_name: str, req: Requester, details: str) -> str:
    """What a Slack Workflow Builder intake form posts (``subtype: bot_message``, its own bot)."""
    return (
        f"*Type:* {TYPES[type_name][0]}\n*Requested by:* <@{req.slack}>\n*Team:* {req.team}\n"
        f"*Details:* {_mrkdwn(details)}"
    )


def _seed_queue_truth(b: _Builder, now: datetime) -> None:
    """Requests that only show right when every open thread is re-checked each poll.

    * ``old-open-reply``: a 10-day-old open request with a teammate's reply from 2 hours ago
      (a poller's window never sees it; the open-thread check does).
    * ``old-deleted``: a 12-day-old request whose parent was deleted after a reply (Slack keeps
      a tombstone); it never becomes a row.
    * ``old-linked``: an intake-bot request older than ``history_days`` (45 days; the sandbox
      reads 40) whose GitHub issue is still open: one row with both homes.
    * ``workflow-form``: a Workflow Builder form post by a bot that is not configured.
    Added last, after every other seeded item, so nothing else moves.
    """
    # Placed so that the short keys of every other seeded request stay as they were: the GitHub
    # issue was updated last (listed last), the Slack-only ones are in the second channel and
    # older than its other requests (listed last, newest first).
    title, details = b.pick("Data Pull")
    r = b.bot_request("old-linked", "Data Pull", REQUESTERS[5], business_time(now, 45, b.rng), title=title,
                      details=details)
    b.respond(r, "chloe", r.created_at + timedelta(minutes=50))
    b.gh.add_comment(SUPPORT_REPO, r.issue_number or 0, "Any update on this? Still needed for the quarterly review.",
                     user=REQUESTERS[5].github, at=now - timedelta(hours=3))
    b.slack.add_bot(WORKFLOW_BOT_ID, WORKFLOW_BOT_NAME, app_id="A0WORKFLOW1")
    title, details = b.pick("Test User / Mock Auth")
    req = REQUESTERS[6]
    at = business_hours_before(now, 9)
    msg = b.slack.post(SUPPORT_CHANNEL, WORKFLOW_BOT_ID, workflow_form_text("Test User / Mock Auth", req, details),
                       at=at, subtype="bot_message", username=WORKFLOW_BOT_NAME)
    form = SeededRequest(key="workflow-form", type="Test User / Mock Auth", path="slack", outcome="new",
                         created_at=at, requester=req.name, title=title, slack_ts=msg.ts, channel=SUPPORT_CHANNEL)
    b.summary.requests.append(form)
    b.respond(form, "ana", at + timedelta(minutes=40))
    title, details = b.pick("Help Request")
    r = b.slack_request("old-open-reply", "Help Request", REQUESTERS[3], business_time(now, 10, b.rng),
                        text=f"Hi team! {details}", marker="ben", channel=SUPPORT_CHANNEL)
    b.respond(r, "dev", now - timedelta(hours=2))
    r = b.slack_request("old-deleted", "Other", REQUESTERS[4], business_time(now, 12, b.rng),
                        text="Does anyone know who approves new CSP test accounts?", marker="chloe",
                        channel=SUPPORT_CHANNEL)
    b.respond(r, "erin", r.created_at + timedelta(hours=1))
    b.slack.delete(SUPPORT_CHANNEL, r.slack_ts or "", tombstone=True)
    r.outcome = "deleted"


def survey_csv(summary: SeedSummary | None = None, now: datetime | None = None) -> str:
    """About 15 survey responses (``rating,date,request,comment``) for seeded closed requests.

    Args:
        summary: the seed summary to refer to; seeded afresh (in throwaway states) when None.
        now: the reference instant used when seeding afresh.
    """
    if summary is None:
        summary = seed_month(GitHubState(now=now), SlackState(now=now), now)
    rng = random.Random(SEED + 1)
    comments = {
        5: ["Super fast, thank you!", "Great help from the team.", "Exactly what we needed."],
        4: ["Good, took a day but solved.", "Helpful docs link."],
        3: ["OK, a bit slow to first reply.", "Resolved, but I had to ask twice."],
        2: ["Took too long.", "Had to chase for an update."],
        1: ["No response for two days.", "Closed without fixing our problem."],
    }
    closed = [r for r in summary.closed() if r.github_url]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rating", "date", "request", "comment"])
    weights = (1, 1, 2, 5, 6)
    for r in closed[:15]:
        rating = r.rating or rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
        answered = (r.created_at + timedelta(days=rng.randint(1, 4))).date()
        answered = min(answered, summary.now.date())
        writer.writerow([rating, answered.isoformat(), r.github_url, rng.choice(comments[rating])])
    return out.getvalue()


def monday_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


# --------------------------------------------------------------------------- scale


def seed_bulk(
    gh_state: GitHubState,
    slack_state: SlackState,
    n_issues: int = 10_000,
    n_messages: int = 10_000,
    now: datetime | None = None,
) -> None:
    """Add many plain items quickly (benchmarks): issues in the support repo, messages in #vsp-identity.

    Builds the records directly (no events, no per-item helpers) so 10k + 10k take well under
    a second or two.
    """
    from idqueue.sandbox.github_emulator import GhIssue
    from idqueue.sandbox.slack_emulator import SlackMessage

    now = (now or default_now()).astimezone(UTC)
    rng = random.Random(SEED + 2)
    with gh_state.lock, slack_state.lock:
        seed_directory(gh_state, slack_state)
        repo = gh_state.repo(SUPPORT_REPO)
        types = list(TYPES)
        span = 400 * 24 * 3600
        for i in range(n_issues):
            created = now - timedelta(seconds=rng.randint(60, span))
            type_name = types[i % len(types)]
            closed = rng.random() < 0.85
            number = repo.next_number
            repo.next_number += 1
            requester = REQUESTERS[i % len(REQUESTERS)]
            issue = GhIssue(
                repo=repo.full_name, number=number, id=gh_state._next_id("issue"),
                title=f"[bulk {i}] {CATALOG[type_name][i % len(CATALOG[type_name])][0]}",
                body=f"**Name:** {requester.name}\n**Team Name:** {requester.team}\n"
                     f"**Issue Type:** {TYPES[type_name][1]}\n",
                user=requester.github, created_at=created, updated_at=created, labels=[LABEL],
            )
            if closed:
                done = min(now, created + timedelta(hours=rng.randint(1, 120)))
                issue.state, issue.state_reason, issue.closed_at, issue.updated_at = "closed", "completed", done, done
            repo.issues[number] = issue
        ch = slack_state.channel(CHANNEL)
        # Slack requests in intake-form shape, inside the first sync's 31-day window, so the
        # benchmark measures 10k *requests*, not chatter the poller skips.
        slack_span = 29 * 24 * 3600
        for i in range(n_messages):
            at = now - timedelta(seconds=rng.randint(60, slack_span))
            ts = slack_state.new_ts(at)
            requester = REQUESTERS[i % len(REQUESTERS)]
            type_name = types[i % len(types)]
            ch.messages[ts] = SlackMessage(
                channel=CHANNEL, ts=ts, user=requester.slack,
                text=(f"*Type:* {TYPES[type_name][1]}\n*Requested by:* <@{requester.slack}>\n"
                      f"*Details:* [bulk {i}] {CATALOG[type_name][0][1]}"),
            )
