"""What counts as a Slack request: intake bots, intake forms, ``:ticket:`` reactions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idqueue.config import Settings
from idqueue.domain.intake import slack_block_texts
from idqueue.domain.models import (
    Person,
)
from idqueue.integrations import registry
from idqueue.integrations.slack.fields import message_fields, reaction_map
from idqueue.integrations.slack.users import unknown_user_name

# Top-level message subtypes that can be requests; everything else (channel_join,
# channel_leave, channel_topic, tombstone, …) is channel noise.
REQUEST_SUBTYPES = frozenset({None, "bot_message", "file_share", "me_message"})
BOT_FORM_MIN_FIELDS = 2  # a bot's post is an intake form with a Type/Requested-by label and one more
_FORM_RE = re.compile(r"^[ \t>]*\*\s*(?:type|requested by)\s*(?::\s*\*|\*\s*:)", re.IGNORECASE | re.MULTILINE)
def is_bot_post(message: Mapping[str, Any]) -> bool:
    """True when a bot posted the message (a ``bot_id``, or the ``bot_message`` subtype)."""
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def is_form_shaped(message: Mapping[str, Any]) -> bool:
    """True when the message's text or blocks carry an intake-form label (``*Type:*``,
    ``*Requested by:*``)."""
    text = message.get("text")
    texts = [text] if isinstance(text, str) else []
    texts.extend(slack_block_texts(message.get("blocks")))
    return any(_FORM_RE.search(t) for t in texts)


def is_bot_form(message: Mapping[str, Any]) -> bool:
    """A bot's intake-form post (Slack Workflow Builder forms, intake bots).

    It must look like a form: a ``*Type:*`` or ``*Requested by:*`` label and at least
    ``BOT_FORM_MIN_FIELDS`` labelled fields, so a deploy bot's one-line ``*Type:* deploy`` status
    is not a request.
    """
    return is_bot_post(message) and is_form_shaped(message) and len(message_fields(message)) >= BOT_FORM_MIN_FIELDS


def is_request(message: Mapping[str, Any], ctx: SlackContext) -> bool:
    """Whether a top-level channel message is a support request (DESIGN.md).

    A message by a configured intake bot, one that matches the intake form (``*Type:*``,
    ``*Requested by:*`` lines) whoever posts it — a person, Slack Workflow Builder or an intake
    bot not listed in ``slack.intake_bot_ids`` (see :func:`is_bot_form`) — or a human message
    someone reacted to with the intake reaction. Never: thread replies, join/leave and other
    subtypes, our own messages, other bots' posts that are not forms.
    """
    ts = message.get("ts")
    if not isinstance(ts, str) or message.get("hidden"):
        return False
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != ts:
        return False
    subtype = message.get("subtype")
    if subtype not in REQUEST_SUBTYPES:
        return False
    if ctx.is_own(message):
        return False
    if ctx.is_intake_bot(message):
        return True
    if is_bot_post(message):
        return is_bot_form(message)
    text = message.get("text")
    if isinstance(text, str) and _FORM_RE.search(text):
        return True
    return bool(reaction_map(message).get(ctx.intake_reaction)) or any(
        isinstance(r, dict) and r.get("name") == ctx.intake_reaction and r.get("count")
        for r in message.get("reactions") or []
    )


@dataclass(slots=True)
class SlackContext:
    """What the pure converters need to know besides the payload.

    Attributes:
        workspace_url: web root of the workspace, for permalinks.
        intake_bot_ids: ``bot_id``s or user ids of intake bots.
        intake_reaction: reaction name that turns a human message into a request.
        own_ids: our own user id and bot id (from ``auth.test``).
        github_roots: GitHub web roots whose issue URLs are links.
        users: user id → :class:`Person` (resolved names).
        team_names: roster key → display name (for idqueue action actors).
        team_slack: roster key → Slack user id.
        link_finders: other systems' link recognisers (a Jira issue URL or key), from the
            registry: their item ids in a message are links like GitHub issue URLs.
    """

    workspace_url: str = "https://slack.com"
    intake_bot_ids: frozenset[str] = frozenset()
    intake_reaction: str = "ticket"
    own_ids: frozenset[str] = frozenset()
    github_roots: tuple[str, ...] = ("https://github.com",)
    users: dict[str, Person] = field(default_factory=dict)
    team_names: dict[str, str] = field(default_factory=dict)
    team_slack: dict[str, str] = field(default_factory=dict)
    link_finders: tuple[Callable[[str], list[str]], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, *, workspace_url: str | None = None,
                      own_ids: Iterable[str] = ()) -> SlackContext:
        """Build a context from settings (and what ``auth.test`` said)."""
        roots = tuple(dict.fromkeys(["https://github.com", settings.github_web_url()]))
        return cls(
            workspace_url=(settings.slack.workspace_url or workspace_url or "https://slack.com").rstrip("/"),
            intake_bot_ids=frozenset(settings.slack.intake_bot_ids),
            intake_reaction=settings.slack.intake_reaction,
            own_ids=frozenset(i for i in own_ids if i),
            github_roots=roots,
            team_names={k: m.name for k, m in settings.team.items()},
            team_slack={k: m.slack for k, m in settings.team.items() if m.slack},
            link_finders=tuple(registry.link_finders(settings, exclude="slack")),
        )

    def names(self) -> dict[str, str]:
        """User id → display name."""
        return {uid: p.name for uid, p in self.users.items()}

    def person(self, user_id: str) -> Person:
        """The resolved person for a user id (``unknown user (U…)`` when unresolved)."""
        return self.users.get(user_id) or Person(user_id, unknown_user_name(user_id),
                                                  is_bot=user_id in self.intake_bot_ids)

    def is_intake_bot(self, message: Mapping[str, Any]) -> bool:
        """True when the message was posted by a configured intake bot."""
        return bool(
            (message.get("bot_id") and message.get("bot_id") in self.intake_bot_ids)
            or (message.get("user") and message.get("user") in self.intake_bot_ids)
        )

    def is_intake_post(self, message: Mapping[str, Any]) -> bool:
        """True for a configured intake bot's post or any bot's intake-form post.

        Such a post's requester is the person its form names (``*Requested by:*``), not the bot.
        """
        return self.is_intake_bot(message) or is_bot_form(message)

    def is_own(self, message: Mapping[str, Any]) -> bool:
        """True when the message was posted by idqueue's own token."""
        return bool(
            (message.get("user") and message.get("user") in self.own_ids)
            or (message.get("bot_id") and message.get("bot_id") in self.own_ids)
        )
